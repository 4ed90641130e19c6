//! Benchmark peer: the bench contract (see ../../README.md) on socketioxide, set up as in
//! socketioxide's own axum example (one `SocketIoLayer` on an axum `Router`, tokio's default
//! multi-threaded runtime). socketioxide 0.18 takes async handlers only.
//!
//! - `echo` (arg) → emits `echo` (arg) back, or acks (arg) when the client asked for an ack.
//!   socketioxide's `Data<Value>` extractor yields the first argument; the load generator always
//!   sends exactly one.
//! - `join` (room) → joins the room, acks "ok".
//! - `fanout` (room, payload) → `io.to(room).emit("fanout", payload)`, then acks "ok".
//!
//! Port: `--port N` or `PORT`; prints `listening on 127.0.0.1:PORT` when bound.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::handler::{FromMessageParts, Value as RawValue};
use socketioxide::socket::Socket;
use socketioxide::{SocketIo, TransportType};

/// Whether the client asked for an ack (socketioxide's `AckSender` does not say; this
/// extractor reads the packet's ack id the same way).
struct AckRequested(bool);

impl<A: Adapter> FromMessageParts<A> for AckRequested {
    type Error = Infallible;
    fn from_message_parts(
        _: &Arc<Socket<A>>,
        _: &mut RawValue,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(AckRequested(ack_id.is_some()))
    }
}

async fn on_connect(socket: SocketRef) {
    socket.on(
        "echo",
        async |socket: SocketRef, AckRequested(wants_ack), Data::<Value>(data), ack: AckSender| {
            if wants_ack {
                ack.send(&data).ok();
            } else {
                socket.emit("echo", &data).ok();
            }
        },
    );
    socket.on(
        "join",
        async |socket: SocketRef, Data::<String>(room), ack: AckSender| {
            socket.join(room);
            ack.send("ok").ok();
        },
    );
    socket.on(
        "fanout",
        async |io: SocketIo, Data::<(String, Value)>((room, payload)), ack: AckSender| {
            io.to(room).emit("fanout", &payload).await.ok();
            ack.send("ok").ok();
        },
    );
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (layer, io) = SocketIo::builder()
        .req_path("/socket.io")
        .ping_interval(Duration::from_millis(25_000))
        .ping_timeout(Duration::from_millis(20_000))
        .max_payload(1_000_000)
        .transports([TransportType::Polling, TransportType::Websocket])
        .build_layer();
    io.ns("/", on_connect);

    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "socketioxide peer" }))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port())).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
