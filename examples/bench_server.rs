//! The Switchyard side of the benchmark contract (`bench/README.md`), which the Node
//! socket.io and socketioxide peers in `bench/peers/` implement too:
//!
//! - `echo` (args...) → emits `echo` (args...) back to the sender, or acks (args...) instead
//!   when the client asked for an ack;
//! - `join` (room) → joins the room, acks "ok";
//! - `fanout` (room, payload) → emits `fanout` (payload) to everyone in the room
//!   (socket.io's `io.to(room).emit`), then acks "ok" once the broadcast is handed off.
//!
//! Beyond the contract, for `bench/soak.sh`: `leave` (room) → leaves the room, acks "ok"; and
//! `GET /stats` → one JSON object: the live Engine.IO sessions, the main namespace's sockets and
//! room entries (each room's members plus one own-id room per socket), the engine's and the
//! namespace's counters, the ping settings, the allocator (`switchyard::allocator`: the binary's,
//! jemalloc unless built with other features), this process's VmRSS and the heap bytes in use;
//! `GET /stats?trim=1` first returns the allocator's free memory to the system.
//!
//! Defaults as socket.io's: pingInterval 25000, pingTimeout 20000, polling + WebSocket,
//! maxPayload 1e6 (`--ping-interval MS` and `--ping-timeout MS` change the first two; the soak
//! shortens them so that clients that vanish are reaped within its drain); `--recovery 1` turns
//! connection state recovery on with its defaults (to measure what it costs); `--parser msgpack`
//! speaks `socket.io-msgpack-parser` instead of JSON. Listens on
//! 127.0.0.1, port from `--port N` or `PORT` (default 3000), and prints
//! `listening on 127.0.0.1:PORT` when ready.
//!
//! `--adapter redis --redis-url URL` makes the node one of a cluster over Redis (the
//! `@socket.io/redis-adapter` wire), so `fanout` reaches the room's members on every node;
//! `redis-sharded` and `redis-streams` are the sharded pub/sub (dynamic mode) and Streams
//! adapters; `--redis-cluster SEED,SEED` puts them on a Redis Cluster instead. The default is
//! the local adapter. On shutdown (SIGTERM/SIGINT) it prints one line to stderr,
//! `counters {...}`: the main namespace's delivery counters and its adapter's.
//!
//! `cargo build --release --example bench_server`; `bench/run.sh` and `bench/cluster.sh` run it.

use std::time::Duration;

use actix::prelude::*;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use switchyard_engineio::AdmissionConfig;
use switchyard_redis::{RedisAdapter, RedisConfig, SubscriptionMode, Variant};
use switchyard_socketio::io::{RecoveryConfig, SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::NamespaceBuilder;
use switchyard_socketio::server::{ServeOptions, Server};
use switchyard_socketio::socket::{Connect, Disconnect, Event, Payload};

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
            ("leave", ack) => {
                let left = match ev.payload.args.first() {
                    Some(Value::String(room)) => Some(socket.leave(room.clone())),
                    _ => None,
                };
                actix::spawn(async move {
                    if let Some(left) = left {
                        let _ = left.await;
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

/// A duration in ms after flag `name`, or `default`.
fn millis(name: &str, default: Duration) -> std::io::Result<Duration> {
    match flag(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| std::io::Error::other(format!("{name}: milliseconds, not {v:?}"))),
    }
}

/// VmRSS of this process in KiB, from /proc/self/status.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `GET /stats`: what is alive now, the counters, the allocator and the resident memory. With
/// `?trim=1` the allocator first gives its free memory back to the system (glibc's `malloc_trim`,
/// jemalloc's purge, mimalloc's collect), so that VmRSS shows what the server holds rather than
/// what the allocator keeps for later.
async fn stats(io: SocketIo, trim: bool) -> HttpResponse {
    let trimmed = trim && switchyard::allocator::release_free_memory();
    let heap = switchyard::allocator::heap_stats();
    let main_ns = io.main();
    let summary = main_ns.rooms().await;
    let members: usize = summary.rooms.iter().map(|(_, n)| n).sum();
    let config = io.engine().config();
    HttpResponse::Ok().json(json!({
        "sessions": io.engine().session_count(),
        "sockets": summary.sockets,
        "rooms": summary.rooms.len(),
        "room_entries": members + summary.sockets,
        "rss_kib": rss_kib(),
        "trimmed": trimmed,
        "allocator": switchyard::allocator::NAME,
        "heap_in_use_kib": heap.map(|h| h.in_use_kib),
        "heap_free_kib": heap.map(|h| h.free_kib),
        "ping_interval_ms": config.ping_interval.as_millis() as u64,
        "ping_timeout_ms": config.ping_timeout.as_millis() as u64,
        "engine": io.engine().stats().snapshot(),
        "namespace": main_ns.counters(),
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init();
    let mut config = SocketIoConfig::default();
    // The load generator opens thousands of sessions from one loopback address.
    config.engine.admission = AdmissionConfig::unlimited();
    config.engine.ping_interval = millis("--ping-interval", config.engine.ping_interval)?;
    config.engine.ping_timeout = millis("--ping-timeout", config.engine.ping_timeout)?;
    if flag("--recovery").as_deref() == Some("1") {
        config.recovery = Some(RecoveryConfig::default());
    }
    if let Some(parser) = flag("--parser") {
        config.parser = parser
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    }
    let mut builder = SocketIo::builder(config);
    match flag("--adapter").as_deref() {
        None | Some("local") => {}
        Some(kind @ ("redis" | "redis-sharded" | "redis-streams")) => {
            let mut redis = match flag("--redis-cluster") {
                Some(seeds) => RedisConfig::cluster(seeds.split(',')),
                None => RedisConfig::new(
                    flag("--redis-url").unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
                ),
            };
            redis.variant = match kind {
                "redis-streams" => Variant::streams(),
                "redis-sharded" => Variant::Sharded(SubscriptionMode::default()),
                _ => Variant::Classic,
            };
            let redis = RedisAdapter::connect(redis)
                .await
                .map_err(std::io::Error::other)?;
            builder = builder.adapter(redis);
        }
        Some(other) => {
            return Err(std::io::Error::other(format!(
                "unknown --adapter {other:?} (local, redis, redis-sharded, redis-streams)"
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
        shutdown_timeout: Duration::from_secs(2),
        ws_endpoints: Vec::new(),
        ..ServeOptions::default()
    };
    let stats_io = io.clone();
    let routes = move |cfg: &mut web::ServiceConfig| {
        let io = stats_io.clone();
        cfg.route(
            "/stats",
            web::get().to(move |req: actix_web::HttpRequest| {
                let io = io.clone();
                let trim = req.query_string().split('&').any(|kv| kv == "trim=1");
                async move { stats(io, trim).await }
            }),
        );
    };
    let server = Server::bind(io, options, routes)?;
    println!("listening on {}", server.local_addr());
    let served = server.run().await;
    eprintln!(
        "counters {}",
        json!({
            "namespace": main_ns.counters(),
            "adapter": main_ns.adapter_counters(),
        })
    );
    served
}
