//! The server socket.io's and Engine.IO's official protocol test suites run
//! against: pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000,
//! connectTimeout 1000 ms, CORS `*`.
//!
//! - Socket.IO at `/socket.io/`: on connection to `/` or `/custom` emits `auth`
//!   with `handshake.auth`; `message` → `message-back` with the same
//!   arguments; `message-with-ack` → ack with the same arguments.
//! - A bare Engine.IO echo server at `/engine.io/`.
//!
//! `cargo run --example conformance [-- --port N]` (default 3000; 0 picks a
//! free port); `--ping-interval MS` and `--ping-timeout MS` change the
//! heartbeat (the default is what the official suites expect).

#[path = "common/flags.rs"]
mod flags;

use flags::flag;
use std::time::Duration;

use actix::prelude::*;
use switchyard_engineio::{
    AdmissionConfig, CloseReason, Cors, Engine, EngineConfig, EngineHandler, Message, SessionCtx,
};
use switchyard_socketio::io::{SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::NamespaceBuilder;
use switchyard_socketio::server::{ServeOptions, Server};
use switchyard_socketio::socket::{Connect, Disconnect, Event};

struct Conformance;

impl Actor for Conformance {
    type Context = Context<Self>;
}

impl Handler<Connect> for Conformance {
    type Result = ();
    fn handle(&mut self, Connect { socket, .. }: Connect, _: &mut Context<Self>) {
        let _ = socket.emit("auth", socket.handshake().auth.clone());
    }
}

impl Handler<Event> for Conformance {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        match (ev.name.as_str(), ev.ack) {
            ("message", _) => drop(ev.socket.emit("message-back", ev.payload)),
            ("message-with-ack", Some(ack)) => ack.send(ev.payload),
            _ => {}
        }
    }
}

impl Handler<Disconnect> for Conformance {
    type Result = ();
    fn handle(&mut self, _: Disconnect, _: &mut Context<Self>) {}
}

/// The bare Engine.IO endpoint: every message comes back.
struct Echo;

impl EngineHandler for Echo {
    type Upcall = ();
    fn on_message(&mut self, message: Message, session: &mut SessionCtx<'_, Self>) {
        session.send(message);
    }
    fn on_close(&mut self, _: CloseReason, _: &mut SessionCtx<'_, Self>) {}
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init();
    let engine = EngineConfig {
        ping_interval: Duration::from_millis(flag("--ping-interval", 300)),
        ping_timeout: Duration::from_millis(flag("--ping-timeout", 200)),
        max_payload: 1_000_000,
        cors: Cors::Any,
        // The official suites open many sessions from one loopback address.
        admission: AdmissionConfig::unlimited(),
        ..EngineConfig::default()
    };
    let config = SocketIoConfig {
        engine: engine.clone(),
        connect_timeout: Duration::from_millis(1000),
        ..SocketIoConfig::default()
    };
    let handler = Conformance.start();
    let ns = || NamespaceBuilder::default().handler(handler.clone());
    let io = SocketIo::builder(config)
        .ns("/", ns())
        .ns("/custom", ns())
        .build();
    let echo = Engine::new(engine, || Echo);
    let options = ServeOptions {
        addr: format!("127.0.0.1:{}", flag("--port", 3000u16)),
        path: "/socket.io/".into(),
        shutdown_timeout: Duration::from_secs(2),
        ws_endpoints: vec![echo.endpoint("/engine.io/")],
        ..ServeOptions::default()
    };
    let server = Server::bind(io, options, echo.configure("/engine.io/"))?;
    println!("listening on {}", server.local_addr());
    server.run().await
}
