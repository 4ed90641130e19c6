//! Scenario 1, connect: ramp N WebSocket sessions (handshake + `40` + `40{...}`), hold them
//! idle, read the server's VmRSS before and after, then close them all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::procfs::{CpuMark, rss_kib};
use crate::util::{Target, Ws, progress, round1, round3};

pub struct ConnectOpts {
    pub n: usize,
    pub concurrency: usize,
    /// How long the sessions are held, idle, before RSS is read again.
    pub settle: Duration,
    pub timeout: Duration,
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Sessions the server closed (or that broke) while held.
    dropped: AtomicU64,
}

/// Holds one session: answers pings, notes a close, ends on `stop` (sending a close frame).
async fn hold(mut ws: Ws, mut stop: watch::Receiver<bool>, counts: Arc<Counts>) {
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    if ws.send(Message::text("3")).await.is_err() {
                        counts.dropped.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
                Some(Ok(_)) => {}
                _ => {
                    counts.dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            },
            _ = stop.changed() => {
                let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                return;
            }
        }
    }
}

pub async fn run(target: Arc<Target>, o: &ConnectOpts) -> Value {
    let pid = target.server_pid;
    let rss_before = rss_kib(pid);
    let counts = Arc::new(Counts::default());
    let _p = {
        let c = counts.clone();
        let n = o.n;
        progress("connect", move || {
            format!(
                "ok={}/{} failed={} dropped={}",
                c.ok.load(Ordering::Relaxed),
                n,
                c.failed.load(Ordering::Relaxed),
                c.dropped.load(Ordering::Relaxed)
            )
        })
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let sem = Arc::new(tokio::sync::Semaphore::new(o.concurrency.max(1)));
    let cpu = CpuMark::now(pid);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(o.n);
    let mut first_errors: Vec<String> = Vec::new();
    let errors = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    for _ in 0..o.n {
        let (target, sem, counts, stop_rx, errors) = (
            target.clone(),
            sem.clone(),
            counts.clone(),
            stop_rx.clone(),
            errors.clone(),
        );
        let timeout = o.timeout;
        tasks.push(tokio::spawn(async move {
            let permit = sem.acquire_owned().await.expect("semaphore");
            let result = target.socketio_ws(timeout).await;
            drop(permit);
            match result {
                Ok(ws) => {
                    counts.ok.fetch_add(1, Ordering::Relaxed);
                    let at = Instant::now();
                    tokio::spawn(hold(ws, stop_rx, counts));
                    Some(at)
                }
                Err(e) => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    let mut errs = errors.lock().unwrap();
                    if errs.len() < 5 {
                        errs.push(e);
                    }
                    None
                }
            }
        }));
    }
    let mut last = start;
    for t in tasks {
        if let Ok(Some(at)) = t.await {
            last = last.max(at);
        }
    }
    let ramp = last.duration_since(start).as_secs_f64();
    let (cpu_ramp, my_cpu_ramp, _) = cpu.since(pid);
    let ok = counts.ok.load(Ordering::Relaxed);
    let failed = counts.failed.load(Ordering::Relaxed);
    eprintln!(
        "[connect] {ok} sessions in {ramp:.2}s, holding {:?}",
        o.settle
    );
    tokio::time::sleep(o.settle).await;
    let rss_after = rss_kib(pid);
    let dropped_while_held = counts.dropped.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    // Let the closes go out before the next scenario.
    tokio::time::sleep(Duration::from_secs(1)).await;
    first_errors.extend(errors.lock().unwrap().drain(..));
    let per_session = match (rss_before, rss_after) {
        (Some(a), Some(b)) if ok > 0 => Some(round3((b as f64 - a as f64) / ok as f64)),
        _ => None,
    };
    json!({
        "n": o.n,
        "ok": ok,
        "failed": failed,
        "dropped_while_held": dropped_while_held,
        "ramp_s": round3(ramp),
        "sessions_per_s": if ramp > 0.0 { round1(ok as f64 / ramp) } else { 0.0 },
        "server_cpu_s": cpu_ramp.map(round3),
        "server_cpu_us_per_session": cpu_ramp.filter(|_| ok > 0).map(|c| round1(c * 1e6 / ok as f64)),
        "loadgen_cpu_s": round3(my_cpu_ramp),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_per_session_kib": per_session,
        "errors": first_errors,
    })
}
