//! Scenario 2, echo over WebSocket: C clients emit `echo` at a fixed total rate (open loop:
//! each client on its own evenly staggered schedule) for a duration; round trip from the
//! moment a frame is written to the moment its echo (or ack) is read.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::procfs::CpuMark;
use crate::proto::{In, echo_msg, now_ns, pad, read};
use crate::util::{ClientResult, EchoCounts, EchoReport, Schedule, Target, Ws, open_many};

pub struct EchoOpts {
    pub clients: usize,
    pub rate: f64,
    pub duration: Duration,
    pub ack: bool,
    pub pad: usize,
    pub drain: Duration,
}

async fn client(
    mut ws: Ws,
    first_tick: Instant,
    schedule: Schedule,
    ack: bool,
    pad: Arc<str>,
    counts: Arc<EchoCounts>,
) -> ClientResult {
    let Schedule {
        period,
        end,
        drain_until,
        ..
    } = schedule;
    let mut ticker = tokio::time::interval_at(first_tick, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut res = ClientResult::new();
    let (mut sent, mut received) = (0u64, 0u64);
    let mut next_id = 0u64;
    let mut nums = [0u64; 1];
    loop {
        let sending = Instant::now() < end;
        if !sending && received >= sent {
            break;
        }
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(m)) => match read(&m, &mut nums) {
                    In::Ping if ws.send(Message::text("3")).await.is_err() => {
                        counts.errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    In::Echo(1) | In::Ack(_, 1) => {
                        let _ = res.lat.record(now_ns().saturating_sub(nums[0]).max(1));
                        received += 1;
                        res.last_rx = Some(Instant::now());
                        counts.received.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                },
                _ => {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            },
            tick = ticker.tick(), if sending => {
                if tick >= end {
                    continue;
                }
                let lag = Instant::now().saturating_duration_since(tick).as_nanos() as u64;
                res.max_lag_ns = res.max_lag_ns.max(lag);
                let id = ack.then(|| { next_id += 1; next_id });
                if ws.send(echo_msg(id, now_ns(), &pad)).await.is_err() {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                sent += 1;
                counts.sent.fetch_add(1, Ordering::Relaxed);
            },
            _ = tokio::time::sleep_until(drain_until), if !sending => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    res
}

pub async fn run(target: Arc<Target>, o: &EchoOpts, label: &'static str) -> Value {
    let pid = target.server_pid;
    let (sessions, connect_failed, connect_errors) =
        open_many(&target, o.clients, 64, Duration::from_secs(10)).await;
    let schedule = Schedule::new(sessions.len(), o.rate, o.duration, o.drain);
    let counts = Arc::new(EchoCounts::default());
    let _p = counts.progress(label);
    let pad: Arc<str> = pad(o.pad).into();
    let cpu = CpuMark::now(pid);
    let tasks: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, ws)| {
            tokio::spawn(client(
                ws,
                schedule.first_tick(i),
                schedule,
                o.ack,
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
    let mut json = report.finish(&counts, ClientResult::gather(tasks).await);
    json["ack"] = json!(o.ack);
    json
}
