//! The test server's parts for tests/js/socketio/api.test.mjs: handlers that
//! take only some messages (`/event-only`, `/event-connect`), a server-side
//! handler of one event name, lists of rooms given to `to` / `except` whole,
//! and the error strings of emits and acks as the server sees them.

use std::time::Duration;

use actix::prelude::*;
use serde_json::{Value, json};
use switchyard_socketio::namespace::{NamespaceBuilder, Takes};
use switchyard_socketio::socket::{AckSender, Connect, Event, SocketRef};

/// `/event-only`: one actor for the namespace that implements only
/// `Handler<Event>`. Answers an ack with `{event, args}`, else emits `echo-back`.
struct EventOnly;

impl Actor for EventOnly {
    type Context = Context<Self>;
}

impl Handler<Event> for EventOnly {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        match ev.ack {
            Some(ack) => ack.send(json!({ "event": ev.name, "args": ev.payload.args })),
            None => drop(ev.socket.emit("echo-back", ev.payload)),
        }
    }
}

/// `/event-connect`: one actor per worker that implements `Handler<Connect>`
/// and `Handler<Event>`, no `Disconnect`. Prints `greeter-connect NSP ID`
/// and emits `welcome` (the namespace) on connect; answers an ack with the
/// event's name and how many events this worker's actor has seen.
#[derive(Default)]
struct Greeter {
    events: u64,
}

impl Actor for Greeter {
    type Context = Context<Self>;
}

impl Handler<Connect> for Greeter {
    type Result = ();
    fn handle(&mut self, Connect { socket, .. }: Connect, _: &mut Context<Self>) {
        println!("greeter-connect {} {}", socket.nsp(), socket.id());
        let _ = socket.emit("welcome", json!(socket.nsp()));
    }
}

impl Handler<Event> for Greeter {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        self.events += 1;
        if let Some(ack) = ev.ack {
            ack.send(json!({ "event": ev.name, "seen": self.events }));
        }
    }
}

/// The namespaces of handlers that take only some messages.
pub fn namespaces() -> [(&'static str, NamespaceBuilder); 2] {
    [
        (
            "/event-only",
            NamespaceBuilder::default().handler_with(EventOnly.start(), Takes::new().event()),
        ),
        (
            "/event-connect",
            NamespaceBuilder::default()
                .handler_per_worker_with(Greeter::default, Takes::new().connect().event()),
        ),
    ]
}

/// The server-side event that has a handler of its own name.
pub const BY_NAME: &str = "sse-by-name";

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => (items.iter())
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// `to-many {rooms, except, data, from}`: emits `room-msg` with `data` to
/// the lists of rooms given whole to `to` and `except`, from the socket
/// (`socket.to([...]).except([...])`, the sender left out) or, with `from:
/// "io"`, from the server (`io.to([...]).except([...])`); answers how many
/// sockets of this node it reached.
pub async fn to_many(socket: SocketRef, spec: Value) -> Value {
    let rooms = strings(&spec["rooms"]);
    let except = strings(&spec["except"]);
    let data = spec["data"].clone();
    let sent = match (spec["from"].as_str(), crate::IO.get()) {
        (Some("io"), Some(io)) => io.to(&rooms).except(&except).emit("room-msg", data).await,
        _ => {
            socket
                .to(&rooms)
                .except(&except)
                .emit("room-msg", data)
                .await
        }
    };
    json!(sent.ok())
}

/// `ask-report {timeout}`: emits `question` expecting an ack within
/// `timeout` ms and prints `ask-report NSP ID RESULT` (`ok` or the error's
/// message), then emits `answer` or `answer-error` (the message) and prints
/// `emit-report NSP ID RESULT` the same way: what a disconnected or silent
/// client makes of both, as the server sees it.
pub fn ask_report(socket: SocketRef, spec: &Value, ack: Option<AckSender>) {
    let timeout = Duration::from_millis(spec["timeout"].as_u64().unwrap_or(1000));
    let asked = socket.emit_with_ack("question", json!("ready?"), timeout);
    if let Some(ack) = ack {
        ack.send(json!("asked"));
    }
    actix::spawn(async move {
        let (nsp, id) = (socket.nsp(), socket.id());
        let emitted = match asked.await {
            Ok(answer) => {
                println!("ask-report {nsp} {id} ok");
                socket.emit("answer", answer)
            }
            Err(e) => {
                println!("ask-report {nsp} {id} {e}");
                socket.emit("answer-error", json!(e.to_string()))
            }
        };
        match emitted {
            Ok(()) => println!("emit-report {nsp} {id} ok"),
            Err(e) => println!("emit-report {nsp} {id} {e}"),
        }
    });
}
