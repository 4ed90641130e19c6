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
//! packets (ignored, counted). Every connection has a bounded outbox (`outbox.rs`): a broadcast
//! waits up to a second for room in it, then drops the frame (counted); a connection's answers
//! to itself are dropped (counted) when it is full. The counters are printed as
//! `counters {...}` at SIGTERM/SIGINT.
//!
//! WebSocket: fastwebsockets (denoland's, Deno's server) rather than tokio-tungstenite,
//! as the leaner of the two: a frame's payload is split off the read buffer without a copy and
//! there is no message type or Sink layer between the socket and the bytes (tokio-tungstenite
//! drives tungstenite's blocking-style state machine through a waker proxy on every poll).
//!
//! Threads: one single-threaded tokio runtime per CPU (`--threads N`, default: the CPUs), each
//! accepting on its own SO_REUSEPORT listener and serving its connections to the end, as actix
//! (under Switchyard) does; a fan-out crosses threads only to queue to the members served by
//! the others (the rooms are shared). Quick runs on this loaded 2-core machine, 2 rounds each
//! (noisy): against tokio's work-stealing runtime with 2 workers, echo cost the same CPU per
//! message and fan-out 0.8-0.9× the CPU per delivery; one runtime on one thread (`--threads 1`)
//! cost less again (0.6-0.85× per echo, 0.75-0.85× per delivery) at about the same fan-out rates,
//! the single-threaded load generator being the limit there. The default follows the cores, as
//! the servers it is compared with do.
//!
//! Port: `--port N` or `PORT`; prints `listening on 127.0.0.1:PORT` when every thread is bound.

mod counters;
mod handshake;
mod outbox;
mod packet;
mod rooms;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::runtime::{Builder, Runtime};
use tokio::signal::unix::{SignalKind, signal};

use crate::handshake::Outcome;
use crate::rooms::Rooms;

/// Connections accepted, on every thread: each one's number.
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// The value of `--NAME V`, if given.
fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

fn port() -> u16 {
    arg("--port")
        .or_else(|| std::env::var("PORT").ok())
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000)
}

fn single_thread() -> std::io::Result<Runtime> {
    Builder::new_current_thread().enable_all().build()
}

/// A listener on `addr` that other threads may bind too (the kernel spreads the connections).
fn listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn main() -> std::io::Result<()> {
    let threads = arg("--threads")
        .and_then(|t| t.parse().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(Into::into))
        .unwrap_or(1)
        .max(1);
    let rooms = Arc::new(Rooms::default());
    let mut addr = SocketAddr::from(([127, 0, 0, 1], port()));
    let mut workers = Vec::with_capacity(threads);
    for _ in 0..threads {
        let runtime = single_thread()?;
        // Bound inside its runtime, whose reactor the listener is registered with.
        let listener = runtime.block_on(async { listener(addr) })?;
        // With port 0, the others bind the port the first one got.
        addr = listener.local_addr()?;
        workers.push((runtime, listener));
    }
    for (runtime, listener) in workers {
        let rooms = rooms.clone();
        std::thread::spawn(move || runtime.block_on(accept(listener, rooms)));
    }
    println!("listening on {addr}");
    single_thread()?.block_on(async {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        println!("counters {}", counters::json());
        Ok(())
    })
}

/// Accepts connections and serves them on this thread's runtime.
async fn accept(listener: TcpListener, rooms: Arc<Rooms>) {
    loop {
        match listener.accept().await {
            Ok((mut stream, _)) => {
                let conn = CONNECTIONS.fetch_add(1, Ordering::Relaxed) + 1;
                let rooms = rooms.clone();
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
        }
    }
}
