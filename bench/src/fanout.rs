//! Scenario 3, fan-out: N receivers join one room; one sender emits `fanout` (room,
//! [seq, t_ns, pad]) keeping at most W requests not yet acked. Receivers count every delivery
//! exactly, check the order, and take the latency from the sender's timestamp.
//!
//! With `sender` set the sender connects to another node of a cluster (e.g. over the Redis
//! adapter), so every delivery crosses from that node to the receivers' one; that node's CPU
//! time is then reported apart (`sender_server_cpu_*`).
//!
//! With `more_nodes` the receivers are spread round robin over the first node and those (the
//! scaling runs of `cluster.sh`); each node's CPU time is then reported against the deliveries
//! to its own receivers (`nodes`), and the Redis servers' CPU time beside them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::procfs::CpuMark;
use crate::proto::{In, fanout_msg, join_msg, now_ns, pad, read};
use crate::util::{Target, Ws, histogram, latency_summary, open_many, progress, round1, round3};

pub struct FanoutOpts {
    pub receivers: usize,
    pub window: usize,
    pub duration: Duration,
    pub pad: usize,
    /// Longest wait for the last deliveries after the last ack.
    pub drain: Duration,
    /// The wait ends earlier when no delivery came for this long.
    pub drain_idle: Duration,
    pub room: String,
    /// The node the sender connects to, when not the receivers' one (`None`: the same).
    pub sender: Option<Arc<Target>>,
    /// Further nodes holding receivers, besides the first one.
    pub more_nodes: Vec<Arc<Target>>,
    /// Redis servers whose CPU time, summed, is reported too (`redis_cpu_*`): one, or a
    /// Redis Cluster's.
    pub redis_pids: Vec<u32>,
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    errors: AtomicU64,
}

struct ReceiverResult {
    /// Index of the node it is connected to.
    node: usize,
    delivered: u64,
    out_of_order: u64,
    hist: Histogram<u64>,
    last_rx: Option<Instant>,
    broke: bool,
}

/// Joins the room (reporting on `joined`), then counts deliveries until `stop`.
async fn receiver(
    (node, mut ws): (usize, Ws),
    room: Arc<str>,
    joined: mpsc::Sender<bool>,
    mut stop: watch::Receiver<bool>,
    counts: Arc<Counts>,
) -> ReceiverResult {
    let mut res = ReceiverResult {
        node,
        delivered: 0,
        out_of_order: 0,
        hist: histogram(2),
        last_rx: None,
        broke: false,
    };
    let join_ok = async {
        ws.send(join_msg(1, &room)).await.ok()?;
        for _ in 0..16 {
            match ws.next().await {
                Some(Ok(m)) => match read(&m, &mut []) {
                    In::Ack(1, _) => return Some(()),
                    In::Ping => ws.send(Message::text("3")).await.ok()?,
                    _ => {}
                },
                _ => return None,
            }
        }
        None
    };
    let ok = tokio::time::timeout(Duration::from_secs(10), join_ok)
        .await
        .ok()
        .flatten()
        .is_some();
    let _ = joined.send(ok).await;
    if !ok {
        res.broke = true;
        return res;
    }
    let mut last_seq: Option<u64> = None;
    let mut nums = [0u64; 2];
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(m)) => match read(&m, &mut nums) {
                    In::Fanout(2) => {
                        let [seq, t_ns] = nums;
                        let _ = res.hist.record(now_ns().saturating_sub(t_ns).max(1));
                        if last_seq.is_some_and(|l| seq != l + 1) {
                            res.out_of_order += 1;
                        }
                        last_seq = Some(seq);
                        res.delivered += 1;
                        res.last_rx = Some(Instant::now());
                        counts.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    In::Ping if ws.send(Message::text("3")).await.is_err() => {
                        res.broke = true;
                        counts.errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    _ => {}
                },
                _ => {
                    res.broke = true;
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            },
            _ = stop.changed() => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    res
}

struct SenderResult {
    sent: u64,
    acked: u64,
    timed_out: bool,
    broke: bool,
}

async fn sender(
    mut ws: Ws,
    o: (usize, Duration, Arc<str>, Arc<str>),
    start: Instant,
    counts: Arc<Counts>,
) -> SenderResult {
    let (window, duration, room, pad) = o;
    let end = start + duration;
    // Acks still missing this long after the end are given up on (and reported).
    let give_up = end + Duration::from_secs(10);
    let mut res = SenderResult {
        sent: 0,
        acked: 0,
        timed_out: false,
        broke: false,
    };
    let mut inflight = 0usize;
    tokio::time::sleep_until(start).await;
    loop {
        let now = Instant::now();
        if now < end && inflight < window {
            while inflight < window {
                res.sent += 1;
                inflight += 1;
                let frame = fanout_msg(res.sent, &room, res.sent, now_ns(), &pad);
                if ws.feed(frame).await.is_err() {
                    res.broke = true;
                    return res;
                }
            }
            counts.sent.store(res.sent, Ordering::Relaxed);
            if ws.flush().await.is_err() {
                res.broke = true;
                return res;
            }
        } else if now >= end && inflight == 0 {
            break;
        }
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(m)) => match read(&m, &mut []) {
                    In::Ack(..) => {
                        inflight = inflight.saturating_sub(1);
                        res.acked += 1;
                        counts.acked.store(res.acked, Ordering::Relaxed);
                    }
                    In::Ping if ws.send(Message::text("3")).await.is_err() => {
                        res.broke = true;
                        return res;
                    }
                    _ => {}
                },
                _ => {
                    res.broke = true;
                    return res;
                }
            },
            _ = tokio::time::sleep_until(end), if now < end => {}
            _ = tokio::time::sleep_until(give_up) => {
                res.timed_out = true;
                break;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    res
}

pub async fn run(target: Arc<Target>, o: &FanoutOpts, label: &'static str) -> Value {
    let pid = target.server_pid;
    let nodes: Vec<Arc<Target>> = std::iter::once(target.clone())
        .chain(o.more_nodes.iter().cloned())
        .collect();
    eprintln!(
        "[{label}] opening {} receivers on {} node(s)",
        o.receivers,
        nodes.len()
    );
    let mut sessions = Vec::with_capacity(o.receivers);
    let mut connect_failed = 0;
    let mut connect_errors = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        // Round robin: node i takes receivers i, i + n, i + 2n...
        let share = o.receivers / nodes.len() + usize::from(i < o.receivers % nodes.len());
        let (ws, failed, errors) = open_many(node, share, 64, Duration::from_secs(10)).await;
        sessions.extend(ws.into_iter().map(|ws| (i, ws)));
        connect_failed += failed;
        connect_errors.extend(errors);
    }
    let counts = Arc::new(Counts::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (joined_tx, mut joined_rx) = mpsc::channel(1024);
    let room: Arc<str> = o.room.as_str().into();
    let n_sessions = sessions.len();
    let receivers: Vec<_> = sessions
        .into_iter()
        .map(|ws| {
            tokio::spawn(receiver(
                ws,
                room.clone(),
                joined_tx.clone(),
                stop_rx.clone(),
                counts.clone(),
            ))
        })
        .collect();
    drop(joined_tx);
    let mut joined = 0u64;
    let mut join_failed = 0u64;
    for _ in 0..n_sessions {
        match joined_rx.recv().await {
            Some(true) => joined += 1,
            Some(false) => join_failed += 1,
            None => break,
        }
    }
    let sender_target = o.sender.as_deref().unwrap_or(&target);
    let sender_ws = match sender_target.socketio_ws(Duration::from_secs(10)).await {
        Ok(ws) => ws,
        Err(e) => {
            let _ = stop_tx.send(true);
            return json!({ "error": format!("sender connect: {e}") });
        }
    };
    eprintln!(
        "[{label}] {joined} receivers joined ({join_failed} failed); sending for {:?} with window {}{}",
        o.duration,
        o.window,
        match &o.sender {
            Some(t) => format!(", sender on port {}", t.port),
            None => String::new(),
        }
    );
    let _p = {
        let c = counts.clone();
        progress(label, move || {
            format!(
                "sent={} acked={} delivered={} errors={}",
                c.sent.load(Ordering::Relaxed),
                c.acked.load(Ordering::Relaxed),
                c.delivered.load(Ordering::Relaxed),
                c.errors.load(Ordering::Relaxed)
            )
        })
    };
    let start = Instant::now() + Duration::from_millis(50);
    let cpu = CpuMark::now(pid);
    let node_cpu: Vec<CpuMark> = nodes.iter().map(|n| CpuMark::now(n.server_pid)).collect();
    let redis_cpu: Vec<CpuMark> = o
        .redis_pids
        .iter()
        .map(|&p| CpuMark::now(Some(p)))
        .collect();
    let sender_pid = o.sender.as_ref().and_then(|t| t.server_pid);
    let sender_cpu = sender_pid.map(|p| CpuMark::now(Some(p)));
    let s = sender(
        sender_ws,
        (o.window, o.duration, room.clone(), pad(o.pad).into()),
        start,
        counts.clone(),
    )
    .await;
    // Wait for the deliveries still on their way: until all have come, or none came for
    // `drain_idle` (a second by default), or the drain bound.
    let expected = s.sent * joined;
    let drain_end = Instant::now() + o.drain;
    let mut last_seen = counts.delivered.load(Ordering::Relaxed);
    let mut last_change = Instant::now();
    while counts.delivered.load(Ordering::Relaxed) < expected && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let d = counts.delivered.load(Ordering::Relaxed);
        if d != last_seen {
            last_seen = d;
            last_change = Instant::now();
        } else if last_change.elapsed() > o.drain_idle {
            break;
        }
    }
    let (server_cpu, my_cpu, wall) = cpu.since(pid);
    let node_cpu: Vec<Option<f64>> = nodes
        .iter()
        .zip(&node_cpu)
        .map(|(n, m)| m.since(n.server_pid).0)
        .collect();
    // Summed over the servers; unknown if any of them is gone.
    let redis_cpu: Option<f64> = o
        .redis_pids
        .iter()
        .zip(&redis_cpu)
        .map(|(&p, m)| m.since(Some(p)).0)
        .sum();
    let sender_server_cpu = sender_cpu.and_then(|m| m.since(sender_pid).0);
    let _ = stop_tx.send(true);
    let mut hist = histogram(2);
    let (mut delivered, mut out_of_order, mut broke) = (0u64, 0u64, 0u64);
    let mut last_rx = start;
    let mut min_per_receiver = u64::MAX;
    // Per node: (receivers joined or not, deliveries to them).
    let mut per_node = vec![(0u64, 0u64); nodes.len()];
    for r in receivers {
        if let Ok(r) = r.await {
            per_node[r.node].0 += 1;
            per_node[r.node].1 += r.delivered;
            delivered += r.delivered;
            out_of_order += r.out_of_order;
            broke += r.broke as u64;
            let _ = hist.add(&r.hist);
            if let Some(at) = r.last_rx {
                last_rx = last_rx.max(at);
            }
            min_per_receiver = min_per_receiver.min(r.delivered);
        }
    }
    let active = last_rx.saturating_duration_since(start).as_secs_f64();
    let mut out = json!({
        "receivers": o.receivers,
        "connect_failed": connect_failed,
        "connect_errors": connect_errors,
        "joined": joined,
        "join_failed": join_failed,
        "window": o.window,
        "duration_s": o.duration.as_secs_f64(),
        "sent": s.sent,
        "acked": s.acked,
        "ack_timed_out": s.timed_out,
        "sender_broke": s.broke,
        "expected": expected,
        "delivered": delivered,
        "lost": expected.saturating_sub(delivered),
        "out_of_order": out_of_order,
        "receivers_broken": broke,
        "min_delivered_per_receiver": if min_per_receiver == u64::MAX { 0 } else { min_per_receiver },
        "broadcasts_per_s": round1(s.acked as f64 / o.duration.as_secs_f64()),
        "delivered_per_s": if active > 0.0 { round1(delivered as f64 / active) } else { 0.0 },
        "latency": latency_summary(&hist),
        "server_cpu_s": server_cpu.map(round3),
        "server_cpu_pct": server_cpu.map(|c| round1(c * 100.0 / wall)),
        // The first node's CPU over the deliveries to its own receivers (all of them when it
        // is the only node).
        "server_cpu_ns_per_delivery": server_cpu.filter(|_| per_node[0].1 > 0).map(|c| round1(c * 1e9 / per_node[0].1 as f64)),
        "loadgen_cpu_pct": round1(my_cpu * 100.0 / wall),
    });
    if let Some(t) = &o.sender {
        out["sender_port"] = json!(t.port);
    }
    if nodes.len() > 1 {
        let rows: Vec<Value> = nodes
            .iter()
            .zip(&node_cpu)
            .zip(&per_node)
            .map(|((n, cpu), &(receivers, delivered))| {
                json!({
                    "port": n.port,
                    "receivers": receivers,
                    "delivered": delivered,
                    "cpu_s": cpu.map(round3),
                    "cpu_pct": cpu.map(|c| round1(c * 100.0 / wall)),
                    "cpu_ns_per_delivery": cpu.filter(|_| delivered > 0).map(|c| round1(c * 1e9 / delivered as f64)),
                })
            })
            .collect();
        out["nodes"] = json!(rows);
    }
    if !o.redis_pids.is_empty() {
        out["redis_cpu_s"] = json!(redis_cpu.map(round3));
        out["redis_cpu_pct"] = json!(redis_cpu.map(|c| round1(c * 100.0 / wall)));
    }
    if sender_pid.is_some() {
        out["sender_server_cpu_s"] = json!(sender_server_cpu.map(round3));
        out["sender_server_cpu_pct"] = json!(sender_server_cpu.map(|c| round1(c * 100.0 / wall)));
        out["sender_server_cpu_ns_per_delivery"] = json!(
            sender_server_cpu
                .filter(|_| delivered > 0)
                .map(|c| round1(c * 1e9 / delivered as f64))
        );
    }
    out
}
