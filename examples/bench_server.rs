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
//! `cargo build --release --example bench_server`; `bench/run.sh` runs it.

use std::time::Duration;

use actix::prelude::*;
use serde_json::{Value, json};
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

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init();
    let io = SocketIo::builder(SocketIoConfig::default())
        .ns(
            "/",
            NamespaceBuilder::default().handler_per_worker(|| Bench),
        )
        .build();
    let options = ServeOptions {
        addr: format!("127.0.0.1:{}", port()),
        path: "/socket.io/".into(),
        static_dir: None,
        shutdown_timeout: Duration::from_secs(2),
        ws_endpoints: Vec::new(),
    };
    serve(io, options, |_| {}).await
}
