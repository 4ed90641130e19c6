//! Scenario 4, echo over HTTP long-polling only: C clients, each with two HTTP/1.1 keep-alive
//! connections (one for the long-poll GET, one for POSTs, as a browser has), emit `echo` at a
//! fixed total rate; the round trip is from the POST being written to the echo being read
//! from a GET response.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::procfs::CpuMark;
use crate::proto::{echo_frame, first_numbers, now_ns, pad, sid};
use crate::util::{ClientResult, EchoCounts, EchoReport, Schedule, Target, histogram};

pub struct PollingOpts {
    pub clients: usize,
    pub rate: f64,
    pub duration: Duration,
    pub pad: usize,
    pub drain: Duration,
}

pub(crate) type Conn = SendRequest<Full<Bytes>>;

pub(crate) async fn conn(target: &Target) -> Result<Conn, String> {
    let tcp = target.tcp().await.map_err(|e| format!("tcp: {e}"))?;
    let (send, connection) = http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("http1: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(send)
}

pub(crate) async fn request(
    c: &mut Conn,
    target: &Target,
    method: Method,
    query: &str,
    body: Bytes,
) -> Result<Bytes, String> {
    let uri = format!("/socket.io/?EIO=4&transport=polling{query}");
    send(c, target, method, &uri, body).await
}

/// One HTTP request on `c`; the body of a 2xx answer, else an error.
pub(crate) async fn send(
    c: &mut Conn,
    target: &Target,
    method: Method,
    uri: &str,
    body: Bytes,
) -> Result<Bytes, String> {
    c.ready().await.map_err(|e| format!("not ready: {e}"))?;
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", target.authority())
        .header("content-type", "text/plain;charset=UTF-8")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let resp = c
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    if !status.is_success() {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    Ok(bytes)
}

/// A polling session joined to the main namespace: its GET and POST connections and sid.
pub(crate) struct Session {
    pub get: Conn,
    pub post: Conn,
    pub sid: String,
    /// Packets that came with the CONNECT answer.
    pub early: Vec<String>,
}

pub(crate) async fn open(target: &Target) -> Result<Session, String> {
    let mut get = conn(target).await?;
    let mut post = conn(target).await?;
    let open = request(&mut get, target, Method::GET, "", Bytes::new()).await?;
    let open = String::from_utf8_lossy(&open).to_string();
    let sid = sid(&open).ok_or_else(|| format!("no sid in {open:?}"))?;
    let q = format!("&sid={sid}");
    request(
        &mut post,
        target,
        Method::POST,
        &q,
        Bytes::from_static(b"40"),
    )
    .await?;
    let mut early = Vec::new();
    for _ in 0..4 {
        let body = request(&mut get, target, Method::GET, &q, Bytes::new()).await?;
        let body = String::from_utf8_lossy(&body).to_string();
        let mut connected = false;
        for p in body.split('\x1e') {
            if p.starts_with("40") {
                connected = true;
            } else if p.starts_with("44") {
                return Err(format!("connect_error: {p}"));
            } else {
                early.push(p.to_string());
            }
        }
        if connected {
            return Ok(Session {
                get,
                post,
                sid,
                early,
            });
        }
    }
    Err("no CONNECT answer".into())
}

/// Long-polls until `stop`, recording echoes and forwarding pings to the poster.
#[allow(clippy::too_many_arguments)]
async fn poller(
    mut get: Conn,
    target: Arc<Target>,
    q: String,
    early: Vec<String>,
    pongs: mpsc::UnboundedSender<()>,
    mut stop: watch::Receiver<bool>,
    mine: Arc<AtomicU64>,
    counts: Arc<EchoCounts>,
) -> (Histogram<u64>, Option<Instant>) {
    let mut lat = histogram(3);
    let mut last_rx = None;
    let mut nums = [0u64; 1];
    let mut handle = |p: &str, lat: &mut Histogram<u64>, last_rx: &mut Option<Instant>| {
        if p == "2" {
            let _ = pongs.send(());
        } else if p.starts_with("42[\"echo\"") && first_numbers(p, &mut nums) == 1 {
            let _ = lat.record(now_ns().saturating_sub(nums[0]).max(1));
            *last_rx = Some(Instant::now());
            mine.fetch_add(1, Ordering::Relaxed);
            counts.received.fetch_add(1, Ordering::Relaxed);
        }
    };
    for p in &early {
        handle(p, &mut lat, &mut last_rx);
    }
    loop {
        let body = tokio::select! {
            r = request(&mut get, &target, Method::GET, &q, Bytes::new()) => r,
            _ = stop.changed() => break,
        };
        match body {
            Ok(body) => {
                let body = String::from_utf8_lossy(&body);
                for p in body.split('\x1e') {
                    if p == "1" {
                        // The server closed the session (we close it only after `stop`).
                        if !*stop.borrow() {
                            counts.errors.fetch_add(1, Ordering::Relaxed);
                        }
                        return (lat, last_rx);
                    }
                    handle(p, &mut lat, &mut last_rx);
                }
            }
            Err(_) => {
                if !*stop.borrow() {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                }
                break;
            }
        }
    }
    (lat, last_rx)
}

async fn client(
    s: Session,
    target: Arc<Target>,
    first_tick: Instant,
    schedule: Schedule,
    pad: Arc<str>,
    counts: Arc<EchoCounts>,
) -> ClientResult {
    let q = format!("&sid={}", s.sid);
    let (pong_tx, mut pong_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mine = Arc::new(AtomicU64::new(0));
    let poll = tokio::spawn(poller(
        s.get,
        target.clone(),
        q.clone(),
        s.early,
        pong_tx,
        stop_rx,
        mine.clone(),
        counts.clone(),
    ));
    let mut post = s.post;
    let Schedule {
        period,
        end,
        drain_until,
        ..
    } = schedule;
    let mut ticker = tokio::time::interval_at(first_tick, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut sent = 0u64;
    let mut max_lag_ns = 0;
    let mut broke = false;
    // One POST at a time, as engine.io clients do; pongs ride along with the next echo or go
    // alone when the server's ping comes.
    while Instant::now() < end {
        tokio::select! {
            tick = ticker.tick() => {
                if tick >= end {
                    break;
                }
                max_lag_ns = max_lag_ns.max(Instant::now().saturating_duration_since(tick).as_nanos() as u64);
                let mut body = String::new();
                while pong_rx.try_recv().is_ok() {
                    body.push_str("3\x1e");
                }
                body.push_str(&echo_frame(None, now_ns(), &pad));
                if request(&mut post, &target, Method::POST, &q, Bytes::from(body)).await.is_err() {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    broke = true;
                    break;
                }
                sent += 1;
                counts.sent.fetch_add(1, Ordering::Relaxed);
            }
            Some(()) = pong_rx.recv() => {
                if request(&mut post, &target, Method::POST, &q, Bytes::from_static(b"3")).await.is_err() {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    broke = true;
                    break;
                }
            }
        }
    }
    // Drain: wait (bounded) for the poller to read the last echoes.
    while !broke && mine.load(Ordering::Relaxed) < sent && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Stop the poller, then close the session.
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        request(
            &mut post,
            &target,
            Method::POST,
            &q,
            Bytes::from_static(b"1"),
        ),
    )
    .await;
    let (lat, last_rx) = match tokio::time::timeout(Duration::from_secs(3), poll).await {
        Ok(Ok(r)) => r,
        _ => (histogram(3), None),
    };
    ClientResult {
        lat,
        max_lag_ns,
        last_rx,
    }
}

pub async fn run(target: Arc<Target>, o: &PollingOpts) -> Value {
    let pid = target.server_pid;
    let mut sessions = Vec::new();
    let mut connect_failed = 0;
    let mut connect_errors = Vec::new();
    for _ in 0..o.clients {
        match tokio::time::timeout(Duration::from_secs(10), open(&target)).await {
            Ok(Ok(s)) => sessions.push(s),
            Ok(Err(e)) => {
                connect_failed += 1;
                connect_errors.push(e);
            }
            Err(_) => {
                connect_failed += 1;
                connect_errors.push("timeout".to_string());
            }
        }
    }
    connect_errors.truncate(5);
    let schedule = Schedule::new(sessions.len(), o.rate, o.duration, o.drain);
    let counts = Arc::new(EchoCounts::default());
    let _p = counts.progress("polling");
    let pad: Arc<str> = pad(o.pad).into();
    let cpu = CpuMark::now(pid);
    let tasks: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            tokio::spawn(client(
                s,
                target.clone(),
                schedule.first_tick(i),
                schedule,
                pad.clone(),
                counts.clone(),
            ))
        })
        .collect();
    let report = EchoReport {
        clients: o.clients,
        target_rate: o.rate,
        duration: o.duration,
        connect_failed,
        connect_errors,
        start: schedule.start,
        cpu,
        server_pid: pid,
    };
    report.finish(&counts, ClientResult::gather(tasks).await)
}
