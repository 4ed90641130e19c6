//! WebSocket sessions (handshake + namespace connect), latency summaries, progress lines.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use crate::procfs::CpuMark;
use crate::proto;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

pub type Ws = WebSocketStream<TcpStream>;

/// IP_BIND_ADDRESS_NO_PORT: the source port of a socket bound to (ip, 0) is chosen at
/// connect time from the whole 4-tuple, instead of by bind's search for a port free on that
/// address, which gets slow (and runs out) with tens of thousands of sessions.
fn bind_address_no_port(socket: &TcpSocket) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd and a pointer to a c_int of the length given.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Where the server is, and the loopback source addresses clients bind to (round robin).
pub struct Target {
    pub host: IpAddr,
    pub port: u16,
    pub sources: Vec<IpAddr>,
    next_source: AtomicUsize,
    pub server_pid: Option<u32>,
}

impl Target {
    pub fn new(host: IpAddr, port: u16, sources: Vec<IpAddr>, server_pid: Option<u32>) -> Target {
        Target {
            host,
            port,
            sources,
            next_source: AtomicUsize::new(0),
            server_pid,
        }
    }

    /// A TCP connection to the server, from the next source address when a list was given.
    pub async fn tcp(&self) -> std::io::Result<TcpStream> {
        let socket = match self.host {
            IpAddr::V4(_) => TcpSocket::new_v4()?,
            IpAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if !self.sources.is_empty() {
            let i = self.next_source.fetch_add(1, Ordering::Relaxed) % self.sources.len();
            bind_address_no_port(&socket);
            socket.bind(SocketAddr::new(self.sources[i], 0))?;
        }
        let stream = socket
            .connect(SocketAddr::new(self.host, self.port))
            .await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    pub fn authority(&self) -> String {
        match self.host {
            IpAddr::V4(ip) => format!("{ip}:{}", self.port),
            IpAddr::V6(ip) => format!("[{ip}]:{}", self.port),
        }
    }

    /// A WebSocket Engine.IO session joined to the main namespace: the WebSocket handshake,
    /// the open packet, `40`, and the server's `40{...}`. Bounded by `timeout`.
    pub async fn socketio_ws(&self, timeout: Duration) -> Result<Ws, String> {
        tokio::time::timeout(timeout, self.socketio_ws_inner())
            .await
            .map_err(|_| "timeout".to_string())?
    }

    /// A WebSocket to `/socket.io/?EIO=4&transport=websocket{query}` (e.g. `&sid=...` for an
    /// upgrade), handshake done, no Engine.IO packet read yet. Not bounded: callers wrap it in a
    /// timeout.
    pub async fn ws(&self, query: &str) -> Result<Ws, String> {
        let stream = self.tcp().await.map_err(|e| format!("tcp: {e}"))?;
        let url = format!(
            "ws://{}/socket.io/?EIO=4&transport=websocket{query}",
            self.authority()
        );
        // tungstenite allocates its read buffer eagerly (128 KiB by default, an mmap + munmap per
        // session); 16 KiB keeps the client cheap and still reads many frames per syscall.
        let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
        let (ws, _) = client_async_with_config(url, stream, Some(config))
            .await
            .map_err(|e| format!("ws handshake: {e}"))?;
        Ok(ws)
    }

    async fn socketio_ws_inner(&self) -> Result<Ws, String> {
        let mut ws = self.ws("").await?;
        let mut opened = false;
        // A handful of frames at most: open, (pings), the CONNECT answer.
        for _ in 0..16 {
            let msg = match ws.next().await {
                Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
                Some(Ok(m)) => m,
                Some(Err(e)) => return Err(format!("ws: {e}")),
                None => return Err("eof".into()),
            };
            if !opened {
                // The Engine.IO open packet, then CONNECT in the chosen parser.
                opened = msg.to_text().is_ok_and(|t| t.starts_with('0'));
                if opened {
                    ws.send(proto::connect_msg())
                        .await
                        .map_err(|e| format!("send CONNECT: {e}"))?;
                }
                continue;
            }
            match proto::read(&msg, &mut []) {
                proto::In::Ping => ws
                    .send(Message::text("3"))
                    .await
                    .map_err(|e| format!("pong: {e}"))?,
                proto::In::Connected => return Ok(ws),
                proto::In::ConnectError(e) => return Err(format!("connect_error: {e}")),
                _ => {}
            }
        }
        Err("no CONNECT answer".into())
    }
}

/// A latency histogram in nanoseconds (1 ns .. 120 s) with `sigfig` significant digits.
pub fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000_000, sigfig).expect("histogram bounds")
}

/// mean/p50/p90/p99/p99.9/max in microseconds of a histogram of nanoseconds.
pub fn latency_summary(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({"samples": 0});
    }
    let us = |ns: u64| round1(ns as f64 / 1000.0);
    json!({
        "samples": h.len(),
        "mean_us": round1(h.mean() / 1000.0),
        "p50_us": us(h.value_at_quantile(0.50)),
        "p90_us": us(h.value_at_quantile(0.90)),
        "p99_us": us(h.value_at_quantile(0.99)),
        "p999_us": us(h.value_at_quantile(0.999)),
        "max_us": us(h.max()),
    })
}

pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Prints `make()` on stderr every second until the returned guard is dropped.
pub fn progress(label: &'static str, make: impl Fn() -> String + Send + 'static) -> Progress {
    let handle = tokio::spawn(async move {
        let start = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            eprintln!(
                "[{label}] t={:>4.1}s {}",
                start.elapsed().as_secs_f64(),
                make()
            );
        }
    });
    Progress(handle)
}

pub struct Progress(tokio::task::JoinHandle<()>);

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Opens `n` sessions with at most `concurrency` handshakes in flight; failures are counted
/// (with the first few messages kept).
pub async fn open_many(
    target: &Arc<Target>,
    n: usize,
    concurrency: usize,
    timeout: Duration,
) -> (Vec<Ws>, usize, Vec<String>) {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let target = target.clone();
        let sem = sem.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore");
            target.socketio_ws(timeout).await
        }));
    }
    let mut ok = Vec::with_capacity(n);
    let mut errors = 0;
    let mut samples = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(ws)) => ok.push(ws),
            Ok(Err(e)) => {
                errors += 1;
                if samples.len() < 5 {
                    samples.push(e);
                }
            }
            Err(e) => {
                errors += 1;
                if samples.len() < 5 {
                    samples.push(format!("task: {e}"));
                }
            }
        }
    }
    (ok, errors, samples)
}

/// What one echo client measured: its round trips, how late its sends ran,
/// and when it last heard back.
pub struct ClientResult {
    pub lat: Histogram<u64>,
    pub max_lag_ns: u64,
    pub last_rx: Option<Instant>,
}

impl ClientResult {
    pub fn new() -> ClientResult {
        ClientResult {
            lat: histogram(3),
            max_lag_ns: 0,
            last_rx: None,
        }
    }

    /// Merges every client's result (a client task that failed is left out).
    pub async fn gather(tasks: Vec<tokio::task::JoinHandle<ClientResult>>) -> ClientResult {
        let mut all = ClientResult::new();
        for task in tasks {
            if let Ok(r) = task.await {
                let _ = all.lat.add(&r.lat);
                all.max_lag_ns = all.max_lag_ns.max(r.max_lag_ns);
                all.last_rx = all.last_rx.max(r.last_rx);
            }
        }
        all
    }
}

/// What an echo client counts as it goes (shared by all clients of a run).
#[derive(Default)]
pub struct EchoCounts {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub errors: AtomicU64,
}

impl EchoCounts {
    /// Progress lines with the counts so far, until the returned value is dropped.
    pub fn progress(self: &Arc<Self>, label: &'static str) -> Progress {
        let c = self.clone();
        progress(label, move || {
            format!(
                "sent={} received={} errors={}",
                c.sent.load(Ordering::Relaxed),
                c.received.load(Ordering::Relaxed),
                c.errors.load(Ordering::Relaxed)
            )
        })
    }
}

/// An echo-style run (over WebSocket or long-polling), for its JSON report.
pub struct EchoReport {
    pub clients: usize,
    pub target_rate: f64,
    pub duration: std::time::Duration,
    pub connect_failed: usize,
    pub connect_errors: Vec<String>,
    pub start: Instant,
    pub cpu: CpuMark,
    pub server_pid: Option<u32>,
}

impl EchoReport {
    /// The figures of the run, from its counts and its clients' merged results.
    pub fn finish(self, counts: &EchoCounts, result: ClientResult) -> Value {
        let start = self.start;
        let last_rx = result.last_rx.map_or(start, |at| at.max(start));
        let (server_cpu, my_cpu, wall) = self.cpu.since(self.server_pid);
        let sent = counts.sent.load(Ordering::Relaxed);
        let received = counts.received.load(Ordering::Relaxed);
        let active = last_rx
            .duration_since(start)
            .as_secs_f64()
            .max(self.duration.as_secs_f64());
        json!({
            "clients": self.clients,
            "connect_failed": self.connect_failed,
            "connect_errors": self.connect_errors,
            "target_rate": self.target_rate,
            "duration_s": self.duration.as_secs_f64(),
            "sent": sent,
            "received": received,
            "lost": sent.saturating_sub(received),
            "errors": counts.errors.load(Ordering::Relaxed),
            "achieved_rate": round1(received as f64 / active),
            "max_send_lag_us": round1(result.max_lag_ns as f64 / 1000.0),
            "latency": latency_summary(&result.lat),
            "server_cpu_s": server_cpu.map(round3),
            "server_cpu_pct": server_cpu.map(|s| round1(s * 100.0 / wall)),
            "server_cpu_us_per_msg": server_cpu.filter(|_| received > 0).map(|s| round1(s * 1e6 / received as f64)),
            "loadgen_cpu_pct": round1(my_cpu * 100.0 / wall),
        })
    }
}

/// When the clients of an echo run send: `rate` messages/s in total, each
/// client on its own period, their first ticks evenly staggered over one
/// period; sending stops at `end`, answers are awaited until `drain_until`.
#[derive(Clone, Copy)]
pub struct Schedule {
    pub start: Instant,
    pub period: std::time::Duration,
    pub end: Instant,
    pub drain_until: Instant,
    clients: usize,
}

impl Schedule {
    pub fn new(
        clients: usize,
        rate: f64,
        duration: std::time::Duration,
        drain: std::time::Duration,
    ) -> Schedule {
        let clients = clients.max(1);
        let start = Instant::now() + std::time::Duration::from_millis(50);
        let end = start + duration;
        Schedule {
            start,
            period: std::time::Duration::from_secs_f64(clients as f64 / rate),
            end,
            drain_until: end + drain,
            clients,
        }
    }

    /// Client `i`'s first send.
    pub fn first_tick(&self, i: usize) -> Instant {
        self.start + self.period.mul_f64(i as f64 / self.clients as f64)
    }
}
