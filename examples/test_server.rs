//! The server the end-to-end tests (`tests/js/`) drive with real clients.
//! Every lifecycle event is printed as one stdout line so tests can see
//! server-side reasons: `connect NSP ID`, `disconnecting NSP ID REASON rooms=N`,
//! `disconnect NSP ID REASON`, `error NSP ID MESSAGE`.
//!
//! Namespaces: `/` and `/custom` (echo, acks, handshake, rooms, data, server
//! acks, server disconnects; `/` also has per-packet middleware), `/private`
//! (connect middleware wants `auth.token == "secret"`), and dynamic
//! `/dyn-<digits>`.

use std::time::Duration;

use actix::prelude::*;
use serde_json::{Value, json};
use switchyard::engine::{Cors, EngineConfig};
use switchyard::io::{SocketIo, SocketIoConfig};
use switchyard::namespace::NamespaceBuilder;
use switchyard::server::{ServeOptions, serve};
use switchyard::socket::{
    Connect, Disconnect, Disconnecting, Event, EventPacket, MiddlewareError, SocketError, SocketRef,
};

struct TestHandler;

impl Actor for TestHandler {
    type Context = Context<Self>;
}

impl Handler<Connect> for TestHandler {
    type Result = ();
    fn handle(&mut self, Connect { socket }: Connect, _: &mut Context<Self>) {
        println!("connect {} {}", socket.nsp(), socket.id());
        if socket.nsp().starts_with("/dyn-") {
            let _ = socket.emit("nsp", json!(socket.nsp()));
        } else {
            let _ = socket.emit("auth", socket.handshake().auth.clone());
        }
    }
}

impl Handler<Event> for TestHandler {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        let socket = ev.socket;
        let first = ev.payload.args.first().cloned().unwrap_or(Value::Null);
        match (ev.name.as_str(), ev.ack) {
            ("message", _) => drop(socket.emit("message-back", ev.payload)),
            ("message-with-ack", Some(ack)) => ack.send(ev.payload),
            ("double", _) => drop(socket.emit("double-back", ev.payload)),
            ("handshake", Some(ack)) => ack.send(serde_json::to_value(socket.handshake()).unwrap_or_default()),
            ("rooms", Some(ack)) => {
                actix::spawn(async move { ack.send(json!(socket.rooms().await)) });
            }
            ("set-data", _) => socket.set_data(first),
            ("get-data", Some(ack)) => ack.send(socket.data()),
            ("ask", _) => {
                let timeout = Duration::from_millis(first.as_u64().unwrap_or(1000));
                actix::spawn(ask(socket, timeout));
            }
            ("disconnect-me", _) => socket.disconnect(false),
            ("close-me", _) => socket.disconnect(true),
            _ => {}
        }
    }
}

/// Emits `question` with an ack and reports how it went.
async fn ask(socket: SocketRef, timeout: Duration) {
    match socket.emit_with_ack("question", json!("ready?"), timeout).await {
        Ok(answer) => drop(socket.emit("answer", answer)),
        Err(e) => drop(socket.emit("answer-timeout", json!(e.to_string()))),
    }
}

impl Handler<Disconnecting> for TestHandler {
    type Result = ();
    fn handle(&mut self, msg: Disconnecting, _: &mut Context<Self>) {
        let s = &msg.socket;
        println!("disconnecting {} {} {} rooms={}", s.nsp(), s.id(), msg.reason, msg.rooms.len());
    }
}

impl Handler<Disconnect> for TestHandler {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        println!("disconnect {} {} {}", msg.socket.nsp(), msg.socket.id(), msg.reason);
    }
}

impl Handler<SocketError> for TestHandler {
    type Result = ();
    fn handle(&mut self, msg: SocketError, _: &mut Context<Self>) {
        let s = &msg.socket;
        println!("error {} {} {}", s.nsp(), s.id(), msg.error.message);
        let _ = s.emit("middleware-error", json!(msg.error.message));
    }
}

/// Rejects `forbidden`; doubles the number sent with `double`.
fn packet_middleware(_: &SocketRef, packet: &mut EventPacket) -> Result<(), MiddlewareError> {
    match packet.name.as_str() {
        "forbidden" => Err(MiddlewareError::new("forbidden event")),
        "double" => {
            if let Some(n) = packet.payload.args.first().and_then(Value::as_f64) {
                packet.payload.args[0] = json!(n * 2.0);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn port() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|w| w[0] == "--port").and_then(|w| w[1].parse().ok()).unwrap_or(3000)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init();
    let config = SocketIoConfig {
        engine: EngineConfig {
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            max_payload: 100_000,
            cors: Cors::Any,
            ..EngineConfig::default()
        },
        connect_timeout: Duration::from_millis(1000),
        ..SocketIoConfig::default()
    };
    let handler = TestHandler.start();
    let ns = || {
        NamespaceBuilder::default()
            .handler(handler.clone())
            .on_disconnecting(handler.clone().recipient())
            .on_error(handler.clone().recipient())
    };
    let private = ns().use_connect(|req| {
        let ok = req.auth().get("token").and_then(Value::as_str) == Some("secret");
        async move {
            if ok {
                Ok(())
            } else {
                Err(MiddlewareError::new("unauthorized").with_data(json!({ "reason": "bad token" })))
            }
        }
    });
    let io = SocketIo::builder(config)
        .ns("/", ns().use_packet(packet_middleware))
        .ns("/custom", ns())
        .ns("/private", private)
        .dynamic_ns(regex::Regex::new(r"^/dyn-\d+$").expect("valid regex"), ns())
        .build();
    let options = ServeOptions {
        addr: format!("127.0.0.1:{}", port()),
        path: "/socket.io/".into(),
        static_dir: None,
        shutdown_timeout: Duration::from_secs(3),
    };
    serve(io, options, |_| {}).await
}
