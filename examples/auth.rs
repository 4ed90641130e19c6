//! Authentication with a connect middleware, as socket.io's `io.use`: the
//! client sends a token in `auth` (`io(url, { auth: { token } })`); the
//! middleware checks it before any socket exists, puts who it is in
//! `socket.data`, and refuses anyone else with a CONNECT_ERROR whose `data`
//! says why (the client's `connect_error` handler gets `err.message` and
//! `err.data`). A refused client never reaches a handler, a room or a
//! broadcast.
//!
//! ```text
//! cargo run --example auth -- --port 3000
//! ```
//!
//! ```js
//! const socket = io("http://127.0.0.1:3000", { auth: { token: "alice-token" } });
//! socket.on("connect_error", (err) => console.log(err.message, err.data)); // a bad token
//! socket.emit("whoami", (me) => console.log(me)); // { user: "alice", role: "admin" }
//! ```
//!
//! The tokens here are a fixed table; a real server checks a signed token
//! (a JWT, say) or asks its session store, the same way: the middleware is
//! an async function, so it may await a lookup.

#[path = "common/flags.rs"]
mod flags;

use std::time::Duration;

use actix::prelude::*;
use serde_json::{Value, json};
use switchyard_socketio::io::{SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::{ConnectRequest, NamespaceBuilder};
use switchyard_socketio::server::{ServeOptions, Server};
use switchyard_socketio::socket::{Connect, Disconnect, Event, MiddlewareError};

/// Who each token stands for.
fn user_of(token: &str) -> Option<Value> {
    match token {
        "alice-token" => Some(json!({ "user": "alice", "role": "admin" })),
        "bob-token" => Some(json!({ "user": "bob", "role": "member" })),
        _ => None,
    }
}

/// The middleware: a known token, or a CONNECT_ERROR with a reason.
async fn authenticate(req: ConnectRequest) -> Result<(), MiddlewareError> {
    let token = req.auth().get("token").and_then(Value::as_str);
    let Some(token) = token else {
        let data = json!({ "reason": "no token", "hint": "io(url, { auth: { token } })" });
        return Err(MiddlewareError::new("unauthorized").with_data(data));
    };
    match user_of(token) {
        Some(user) => {
            req.set_data(user);
            Ok(())
        }
        None => {
            Err(MiddlewareError::new("unauthorized").with_data(json!({ "reason": "bad token" })))
        }
    }
}

/// Answers `whoami` with the socket's data, which only the middleware set.
struct App;

impl Actor for App {
    type Context = Context<Self>;
}

impl Handler<Connect> for App {
    type Result = ();
    fn handle(&mut self, Connect { socket, .. }: Connect, _: &mut Context<Self>) {
        log::info!("{} connected as {}", socket.id(), socket.data());
    }
}

impl Handler<Event> for App {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        if let ("whoami", Some(ack)) = (ev.name.as_str(), ev.ack) {
            ack.send(ev.socket.data());
        }
    }
}

impl Handler<Disconnect> for App {
    type Result = ();
    fn handle(&mut self, _: Disconnect, _: &mut Context<Self>) {}
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init();
    let ns = NamespaceBuilder::default()
        .use_connect(authenticate)
        .handler(App.start());
    let io = SocketIo::builder(SocketIoConfig::default())
        .ns("/", ns)
        .build();
    let options = ServeOptions {
        addr: format!("127.0.0.1:{}", flags::flag("--port", 3000u16)),
        path: "/socket.io/".into(),
        shutdown_timeout: Duration::from_secs(3),
        ws_endpoints: Vec::new(),
        ..ServeOptions::default()
    };
    let server = Server::bind(io, options, |_| {})?;
    println!("listening on {}", server.local_addr());
    server.run().await
}
