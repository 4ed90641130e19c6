//! `loadgen burst`: the memory a burst of polling messages leaves behind in a server that answers
//! `GET /stats` (Switchyard's `examples/bench_server.rs`).
//!
//! C long-polling clients each open a session, then send `--posts` POSTs of `--events` `echo`
//! packets each (one Engine.IO payload per POST, the packets separated by `\x1e`); with
//! `--read` each also long-polls the echoes back. Then every client closes its session (`1`).
//! Meanwhile the server's VmRSS is sampled every 20 ms (the peak). Once the server reports no
//! session, socket or room entry (bounded wait), and after `--settle` seconds, VmRSS again:
//! what the burst left behind. `/stats?trim=1` at the end gives VmRSS after the allocator returned
//! its free memory, for reference (glibc: `malloc_trim`). One JSON object on stdout.
//!
//! It owns only its clients; the server's statistics come from `soak`'s `/stats` readers. Every
//! loop is bounded in count and in time; all traffic stays on loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep, timeout};

use crate::polling;
use crate::procfs::rss_kib;
use crate::soak::{idle_rss, server_stats, wait_idle};
use crate::util::Target;

pub struct BurstOpts {
    pub clients: usize,
    pub posts: usize,
    pub events: usize,
    pub pad: usize,
    pub read: bool,
    pub timeout: Duration,
    pub idle_bound: Duration,
    pub settle: Duration,
}

/// What the clients saw, summed.
#[derive(Default)]
struct Counts {
    sessions: AtomicU64,
    posted: AtomicU64,
    echoed: AtomicU64,
    closed_by_server: AtomicU64,
    errors: AtomicU64,
}

impl Counts {
    /// Counts an error; the first few are printed (stderr).
    fn error(&self, e: String) {
        if self.errors.fetch_add(1, Relaxed) < 5 {
            eprintln!("[burst] client error: {e}");
        }
    }
}

/// One Engine.IO payload of `n` `echo` events of `pad` bytes each.
fn payload(n: usize, pad: usize) -> Bytes {
    let packet = format!("42[\"echo\",\"{}\"]", "x".repeat(pad));
    let mut body = String::with_capacity(n * (packet.len() + 1));
    for i in 0..n {
        if i > 0 {
            body.push('\x1e');
        }
        body.push_str(&packet);
    }
    Bytes::from(body)
}

/// Echoes (and a close `1`) in one GET answer.
fn count_echoes(body: &[u8]) -> (u64, bool) {
    let body = String::from_utf8_lossy(body);
    let mut echoes = 0;
    let mut closed = false;
    for p in body.split('\x1e') {
        if p.starts_with("42[\"echo\"") {
            echoes += 1;
        } else if p == "1" {
            closed = true;
        }
    }
    (echoes, closed)
}

async fn client(target: Arc<Target>, o: Arc<BurstOpts>, body: Bytes, counts: Arc<Counts>) {
    let mut s = match timeout(o.timeout, polling::open(&target)).await {
        Ok(Ok(s)) => s,
        _ => {
            counts.error("handshake: timeout or refused".into());
            return;
        }
    };
    counts.sessions.fetch_add(1, Relaxed);
    let q = format!("&sid={}", s.sid);
    let expected = (o.posts * o.events) as u64;
    let mut echoed = 0u64;
    let mut closed = false;
    let mut failed = false;
    for _ in 0..o.posts {
        let post = polling::request(&mut s.post, &target, Method::POST, &q, body.clone());
        match timeout(o.timeout, post).await {
            Ok(Ok(_)) => counts.posted.fetch_add(o.events as u64, Relaxed),
            r => {
                counts.error(r.map_or_else(|_| "POST: timeout".into(), |e| e.unwrap_err()));
                break;
            }
        };
        // Reads what the server sent back, until all echoes of this POST or a close.
        let goal = echoed + o.events as u64;
        while o.read && !closed && echoed < goal.min(expected) {
            let get = polling::request(&mut s.get, &target, Method::GET, &q, Bytes::new());
            match timeout(o.timeout, get).await {
                Ok(Ok(b)) => {
                    let (n, c) = count_echoes(&b);
                    echoed += n;
                    closed = c;
                }
                r => {
                    counts.error(r.map_or_else(|_| "GET: timeout".into(), |e| e.unwrap_err()));
                    failed = true;
                    break;
                }
            }
        }
        if closed || failed {
            break;
        }
    }
    counts.echoed.fetch_add(echoed, Relaxed);
    if closed {
        counts.closed_by_server.fetch_add(1, Relaxed);
    } else {
        // The goodbye; a session the server already closed answers 400, which is fine.
        let bye = polling::request(&mut s.post, &target, Method::POST, &q, Bytes::from("1"));
        let _ = timeout(o.timeout, bye).await;
    }
}

/// Samples VmRSS of `pid` every 20 ms until `stop`; the highest.
async fn peak_rss(pid: Option<u32>, stop: Arc<AtomicBool>) -> Option<u64> {
    let mut peak = rss_kib(pid);
    // Bounded: at most an hour of samples.
    for _ in 0..180_000 {
        if stop.load(Relaxed) {
            break;
        }
        peak = peak.max(rss_kib(pid));
        sleep(Duration::from_millis(20)).await;
    }
    peak.max(rss_kib(pid))
}

pub async fn run(target: Arc<Target>, o: BurstOpts) -> Result<Value, String> {
    let o = Arc::new(o);
    let stats = server_stats(&target).await?;
    let allocator = stats.get("allocator").cloned().unwrap_or(Value::Null);
    let (_, before_samples, before_trimmed) = idle_rss(&target, Duration::ZERO).await;
    let before = before_samples.last().copied();
    eprintln!(
        "[burst] before: rss={before:?}KiB, allocator {allocator}; {} clients x {} POSTs x {} events",
        o.clients, o.posts, o.events
    );

    let stop = Arc::new(AtomicBool::new(false));
    let peak = tokio::spawn(peak_rss(target.server_pid, stop.clone()));
    let counts = Arc::new(Counts::default());
    let body = payload(o.events, o.pad);
    let start = Instant::now();
    let tasks: Vec<_> = (0..o.clients)
        .map(|_| {
            tokio::spawn(client(
                target.clone(),
                o.clone(),
                body.clone(),
                counts.clone(),
            ))
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let burst_s = start.elapsed().as_secs_f64();
    let (idle, idle_after) = wait_idle(&target, o.idle_bound, "burst").await;
    stop.store(true, Relaxed);
    let peak = peak.await.ok().flatten();
    let (after, after_samples, after_trimmed) = idle_rss(&target, o.settle).await;
    let delta = |a: Option<u64>| match (a, before) {
        (Some(a), Some(b)) => Some(a as i64 - b as i64),
        _ => None,
    };
    eprintln!(
        "[burst] peak rss={peak:?}KiB, after (idle, settled {}s) rss={after:?}KiB ({:+?}KiB)",
        o.settle.as_secs_f64(),
        delta(after),
    );
    Ok(json!({
        "allocator": allocator,
        "clients": o.clients,
        "posts": o.posts,
        "events": o.events,
        "pad": o.pad,
        "read": o.read,
        "post_bytes": body.len(),
        "sessions": counts.sessions.load(Relaxed),
        "posted": counts.posted.load(Relaxed),
        "echoed": counts.echoed.load(Relaxed),
        "closed_by_server": counts.closed_by_server.load(Relaxed),
        "errors": counts.errors.load(Relaxed),
        "burst_s": burst_s,
        "idle": idle_after.is_some(),
        "idle_after_s": idle_after.map(|d| d.as_secs_f64()),
        "idle_stats": idle,
        "settle_s": o.settle.as_secs_f64(),
        "rss_before_kib": before,
        "rss_peak_kib": peak,
        "rss_after_kib": after,
        "rss_after_samples_kib": after_samples,
        "rss_after_delta_kib": delta(after),
        "rss_before_trimmed_kib": before_trimmed.get("rss_kib"),
        "rss_after_trimmed_kib": after_trimmed.get("rss_kib"),
        "trimmed": after_trimmed.get("trimmed"),
    }))
}
