//! Benchmark peer, the floor: a raw WebSocket server that speaks only what the load generator
//! needs of Engine.IO v4 / Socket.IO v5 (see ../../README.md, "The contract"), with no JSON
//! values: every frame is read by scanning bytes and answered by slicing them.
//!
//! - the Engine.IO open packet (sid, no upgrades, pingInterval 25000, pingTimeout 20000,
//!   maxPayload 1e6), pings every interval, the session closed when a pong is late;
//! - `40` / `40{auth}` → `40{"sid":...}`;
//! - `echo`: without an ack id the frame goes back as it came (the same buffer); with one,
//!   `43<id>[args...]` sliced from it;
//! - `join` (room) → member of the room, ack `"ok"`;
//! - `fanout` (room, payload) → `42["fanout",payload]` encoded once, the same buffer queued to
//!   every member, then ack `"ok"`.
//!
//! Not served: HTTP long-polling and upgrades (HTTP 400), other namespaces, events or binary
//! packets (ignored, counted). Every connection has a bounded outbox (`outbox.rs`): a full one
//! drops the frame and counts it. The counters are printed as `counters {...}` at SIGTERM/SIGINT.
//!
//! WebSocket: fastwebsockets (denoland's, Deno's server) rather than tokio-tungstenite,
//! as the leaner of the two: a frame's payload is split off the read buffer without a copy and
//! there is no message type or Sink layer between the socket and the bytes (tokio-tungstenite
//! drives tungstenite's blocking-style state machine through a waker proxy on every poll).
//! tokio's default multi-threaded runtime, as the socketioxide peer.
//!
//! Port: `--port N` or `PORT`; prints `listening on 127.0.0.1:PORT` when bound.

mod counters;
mod handshake;
mod outbox;
mod packet;
mod rooms;
mod session;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::handshake::Outcome;
use crate::rooms::Rooms;

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
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port())).await?;
    println!("listening on {}", listener.local_addr()?);
    let rooms = Arc::new(Rooms::default());
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut conn = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((mut stream, _)) => {
                    conn += 1;
                    let (rooms, conn) = (rooms.clone(), conn);
                    tokio::spawn(async move {
                        // Small frames, answered at once: no Nagle delay.
                        let _ = stream.set_nodelay(true);
                        if let Outcome::Upgraded = handshake::accept(&mut stream).await {
                            session::serve(stream, rooms, conn).await;
                        }
                    });
                }
                Err(e) => {
                    // E.g. out of file descriptors: wait for some to be freed.
                    eprintln!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    println!("counters {}", counters::json());
    Ok(())
}
