//! The Switchyard side of the benchmark contract (`bench/README.md`), which the Node
//! socket.io and socketioxide peers in `bench/peers/` implement too:
//!
//! - `echo` (args...) → emits `echo` (args...) back to the sender, or acks (args...) instead
//!   when the client asked for an ack;
//! - `join` (room) → joins the room, acks "ok";
//! - `fanout` (room, payload) → emits `fanout` (payload) to everyone in the room
//!   (socket.io's `io.to(room).emit`), then acks "ok" once the broadcast is handed off.
//!
//! Defaults as socket.io's: pingInterval 25000, pingTimeout 20000, polling + WebSocket,
//! maxPayload 1e6. Listens on 127.0.0.1, port from `--port N` or `PORT` (default 3000), and
//! prints `listening on 127.0.0.1:PORT` when ready.
//!
//! `--adapter redis --redis-url URL` makes the node one of a cluster over Redis (the
//! `@socket.io/redis-adapter` wire), so `fanout` reaches the room's members on every node; the
//! default is the local adapter. On shutdown (SIGTERM/SIGINT) it prints one line to stderr,
//! `counters {...}`: the main namespace's delivery counters and its adapter's.
//!
//! `cargo build --release --example bench_server`; `bench/run.sh` and `bench/cluster.sh` run it.

use std::time::Duration;

use actix::prelude::*;
use serde_json::{Value, json};
use switchyard::adapter::redis::{RedisAdapter, RedisConfig};
use switchyard::io::{SocketIo, SocketIoConfig};
use switchyard::namespace::NamespaceBuilder;
use switchyard::server::{ServeOptions, serve};
use switchyard::socket::{Connect, Disconnect, Event, Payload};

struct Bench;

impl Actor for Bench {
    type Context = Context<Self>;
}

impl Handler<Connect> for Bench {
    type Result = ();
    fn handle(&mut self, _: Connect, _: &mut Context<Self>) {}
}

impl Handler<Disconnect> for Bench {
    type Result = ();
    fn handle(&mut self, _: Disconnect, _: &mut Context<Self>) {}
}

impl Handler<Event> for Bench {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        let socket = ev.socket;
        match (ev.name.as_str(), ev.ack) {
            ("echo", Some(ack)) => ack.send(ev.payload),
            ("echo", None) => drop(socket.emit("echo", ev.payload)),
            ("join", ack) => {
                let joined = match ev.payload.args.first() {
                    Some(Value::String(room)) => Some(socket.join([room.clone()])),
                    _ => None,
                };
                // Acks once the socket is in the room, as socket.io does.
                actix::spawn(async move {
                    if let Some(joined) = joined {
                        let _ = joined.await;
                    }
                    if let Some(ack) = ack {
                        ack.send(json!("ok"));
                    }
                });
            }
            ("fanout", ack) => {
                let mut args = ev.payload.args.into_iter();
                let (Some(Value::String(room)), Some(data)) = (args.next(), args.next()) else {
                    return;
                };
                let payload = Payload {
                    args: vec![data],
                    binary: ev.payload.binary,
                };
                actix::spawn(async move {
                    let _ = socket.namespace().to(room).emit("fanout", payload).await;
                    if let Some(ack) = ack {
                        ack.send(json!("ok"));
                    }
                });
            }
            _ => {}
        }
    }
}

fn port() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|w| w[0] == "--port")
        .map(|w| w[1].clone())
        .or_else(|| std::env::var("PORT").ok())
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000)
}

/// The value after flag `name`, if present.
fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init();
    let mut builder = SocketIo::builder(SocketIoConfig::default());
    match flag("--adapter").as_deref() {
        None | Some("local") => {}
        Some("redis") => {
            let url = flag("--redis-url").unwrap_or_else(|| "redis://127.0.0.1:6379".into());
            let redis = RedisAdapter::connect(RedisConfig::new(url))
                .await
                .map_err(std::io::Error::other)?;
            builder = builder.adapter(redis);
        }
        Some(other) => {
            return Err(std::io::Error::other(format!(
                "unknown --adapter {other:?} (local, redis)"
            )));
        }
    }
    let io = builder
        .ns(
            "/",
            NamespaceBuilder::default().handler_per_worker(|| Bench),
        )
        .build();
    let main_ns = io.main();
    let options = ServeOptions {
        addr: format!("127.0.0.1:{}", port()),
        path: "/socket.io/".into(),
        static_dir: None,
        shutdown_timeout: Duration::from_secs(2),
        ws_endpoints: Vec::new(),
    };
    let served = serve(io, options, |_| {}).await;
    eprintln!(
        "counters {}",
        json!({
            "namespace": main_ns.counters(),
            "adapter": main_ns.adapter_counters(),
        })
    );
    served
}
