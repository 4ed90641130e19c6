//! The link to Redis: one connection that publishes (and asks `PUBSUB
//! NUMSUB`), one that subscribes, each in a task of the adapter's own
//! thread, each reconnecting by itself with a backoff. It knows channels
//! and bytes, not Socket.IO.
//!
//! Bounds: publishes wait in a bounded queue (a full queue drops, counted);
//! each namespace's inbound messages wait in a bounded queue (a full one
//! drops, counted). While Redis is away, publishes fail fast and are counted
//! as dropped; local delivery never waits on Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout};

use crate::socket::AdapterCounters;

/// Publishes waiting for the publishing connection.
const PUBLISH_QUEUE: usize = 16 * 1024;
/// Messages waiting for one namespace's handler.
pub(crate) const INBOUND_QUEUE: usize = 16 * 1024;
/// Most publishes sent in one pipeline (one round trip).
const PIPELINE: usize = 256;
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Backoff between reconnection attempts, doubling up to the maximum.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// What the link has done; one set per node, shared by its namespaces.
#[derive(Default)]
pub(crate) struct Stats {
    pub published: AtomicU64,
    pub received: AtomicU64,
    pub errors: AtomicU64,
    pub reconnects: AtomicU64,
    pub dropped: AtomicU64,
}

impl Stats {
    pub fn snapshot(&self) -> AdapterCounters {
        AdapterCounters {
            published: self.published.load(Relaxed),
            received: self.received.load(Relaxed),
            errors: self.errors.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
        }
    }
}

/// Which of a namespace's subscriptions a message came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Broadcast,
    Request,
    Response,
}

/// A message for one namespace.
pub(crate) struct Inbound {
    pub via: Via,
    pub channel: String,
    pub payload: Vec<u8>,
}

/// A subscription: a channel (or, for broadcasts, a pattern) and whose it is.
#[derive(Clone)]
pub(crate) struct Route {
    pub via: Via,
    pub to: mpsc::Sender<Inbound>,
}

enum Command {
    Publish(String, Vec<u8>),
    NumSub(String, oneshot::Sender<redis::RedisResult<usize>>),
}

/// The node's way to Redis.
pub(crate) struct Link {
    commands: mpsc::Sender<Command>,
    subscribe: mpsc::UnboundedSender<(String, Route)>,
    pub stats: Arc<Stats>,
}

/// Every subscription made so far, by pattern (broadcasts) or channel:
/// made again on each new subscribing connection.
type Routes = Arc<Mutex<HashMap<String, Route>>>;

impl Link {
    /// Starts both connections' tasks in `arbiter`; resolves once each has
    /// connected once, or with the first error.
    pub async fn start(
        client: redis::Client,
        arbiter: &actix::ArbiterHandle,
    ) -> (Link, redis::RedisResult<()>) {
        let stats = Arc::new(Stats::default());
        let (commands, command_rx) = mpsc::channel(PUBLISH_QUEUE);
        let (subscribe, subscribe_rx) = mpsc::unbounded_channel();
        let (up_tx, up_rx) = oneshot::channel();
        let (sub_up_tx, sub_up_rx) = oneshot::channel();
        let routes = Routes::default();
        let publisher = publisher(client.clone(), command_rx, stats.clone(), up_tx);
        let subscriber = subscriber(client, routes, subscribe_rx, stats.clone(), sub_up_tx);
        arbiter.spawn(publisher);
        arbiter.spawn(subscriber);
        let first = |r: Result<redis::RedisResult<()>, _>| {
            r.unwrap_or_else(|_| Err(redis::RedisError::from(std::io::Error::other("stopped"))))
        };
        let result = first(up_rx.await).and(first(sub_up_rx.await));
        let link = Link {
            commands,
            subscribe,
            stats,
        };
        (link, result)
    }

    /// Publishes without waiting; a full queue drops it (counted).
    pub fn publish(&self, channel: String, payload: Vec<u8>) {
        if self
            .commands
            .try_send(Command::Publish(channel, payload))
            .is_err()
        {
            self.stats.dropped.fetch_add(1, Relaxed);
        }
    }

    /// How many connections subscribe to `channel` (`PUBSUB NUMSUB`).
    pub async fn numsub(&self, channel: &str) -> Result<usize, String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .try_send(Command::NumSub(channel.to_string(), tx))
            .map_err(|_| "the publishing queue is full".to_string())?;
        match rx.await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the link to Redis has stopped".to_string()),
        }
    }

    /// Subscribes to `channel` (a pattern for [`Via::Broadcast`]), now and
    /// after every reconnection.
    pub fn subscribe(&self, channel: String, route: Route) {
        let _ = self.subscribe.send((channel, route));
    }
}

/// Logs a lost or refused connection once per outage, not once per try.
struct Outage {
    what: &'static str,
    down: bool,
}

impl Outage {
    fn failed(&mut self, stats: &Stats, error: &dyn std::fmt::Display) {
        stats.errors.fetch_add(1, Relaxed);
        if !self.down {
            log::warn!("redis adapter: {} connection down: {error}", self.what);
            self.down = true;
        }
    }

    fn restored(&mut self, stats: &Stats) {
        if std::mem::take(&mut self.down) {
            stats.reconnects.fetch_add(1, Relaxed);
            log::info!("redis adapter: {} connection restored", self.what);
        }
    }
}

async fn connect<T, F>(f: F) -> redis::RedisResult<T>
where
    F: Future<Output = redis::RedisResult<T>>,
{
    timeout(CONNECT_TIMEOUT, f).await.unwrap_or_else(|_| {
        Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "connection timed out",
        )))
    })
}

/// Sends publishes in pipelines of what is queued, in order; answers NUMSUB.
async fn publisher(
    client: redis::Client,
    mut commands: mpsc::Receiver<Command>,
    stats: Arc<Stats>,
    up: oneshot::Sender<redis::RedisResult<()>>,
) {
    let mut outage = Outage {
        what: "publishing",
        down: false,
    };
    let mut conn = connect(client.get_multiplexed_async_connection()).await;
    let mut up = Some(up);
    if let Some(up) = up.take() {
        let _ = up.send(conn.as_ref().map(|_| ()).map_err(|e| e.clone()));
    }
    if let Err(e) = &conn {
        outage.failed(&stats, e);
    }
    let mut retry_at = Instant::now() + BACKOFF_MIN;
    let mut batch = Vec::with_capacity(PIPELINE);
    while commands.recv_many(&mut batch, PIPELINE).await > 0 {
        if conn.is_err() && Instant::now() >= retry_at {
            conn = connect(client.get_multiplexed_async_connection()).await;
            retry_at = Instant::now() + BACKOFF_MAX;
            match &conn {
                Ok(_) => outage.restored(&stats),
                Err(e) => outage.failed(&stats, e),
            }
        }
        let Ok(c) = conn.as_mut() else {
            // Down: fail fast, so nothing waits on Redis.
            for command in batch.drain(..) {
                match command {
                    Command::Publish(..) => drop(stats.dropped.fetch_add(1, Relaxed)),
                    Command::NumSub(_, reply) => {
                        let e = std::io::Error::other("redis is unreachable");
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            continue;
        };
        let mut pipe = redis::pipe();
        let mut published = 0;
        let mut replies = Vec::new();
        for command in batch.drain(..) {
            match command {
                Command::Publish(channel, payload) => {
                    pipe.publish(channel, payload).ignore();
                    published += 1;
                }
                Command::NumSub(channel, reply) => {
                    pipe.cmd("PUBSUB").arg("NUMSUB").arg(channel);
                    replies.push(reply);
                }
            }
        }
        match pipe.query_async::<Vec<(String, usize)>>(c).await {
            Ok(counts) => {
                stats.published.fetch_add(published, Relaxed);
                for (reply, (_, n)) in replies.into_iter().zip(counts) {
                    let _ = reply.send(Ok(n));
                }
            }
            Err(e) => {
                stats.dropped.fetch_add(published, Relaxed);
                outage.failed(&stats, &e);
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
                if e.is_unrecoverable_error() || e.is_io_error() || e.is_connection_dropped() {
                    conn = Err(e);
                    retry_at = Instant::now() + BACKOFF_MIN;
                }
            }
        }
    }
}

/// Keeps one subscribing connection up, with every route subscribed, and
/// hands each message to its namespace.
async fn subscriber(
    client: redis::Client,
    routes: Routes,
    mut new: mpsc::UnboundedReceiver<(String, Route)>,
    stats: Arc<Stats>,
    up: oneshot::Sender<redis::RedisResult<()>>,
) {
    let mut outage = Outage {
        what: "subscribing",
        down: false,
    };
    let mut up = Some(up);
    let mut backoff = BACKOFF_MIN;
    loop {
        let pubsub = connect(client.get_async_pubsub()).await;
        if let Some(up) = up.take() {
            let _ = up.send(pubsub.as_ref().map(|_| ()).map_err(|e| e.clone()));
        }
        let (mut sink, mut stream) = match pubsub {
            Ok(p) => p.split(),
            Err(e) => {
                outage.failed(&stats, &e);
                // Keep taking new routes while down: they are made on reconnection.
                let wait = tokio::time::sleep(backoff);
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        _ = &mut wait => break,
                        Some((channel, route)) = new.recv() => {
                            lock(&routes).insert(channel, route);
                        }
                    }
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let current: Vec<(String, Via)> = (lock(&routes).iter())
            .map(|(c, r)| (c.clone(), r.via))
            .collect();
        let mut ok = true;
        for (channel, via) in current {
            ok &= subscribe(&mut sink, &channel, via).await.is_ok();
        }
        if !ok {
            outage.failed(&stats, &"could not subscribe");
            continue;
        }
        outage.restored(&stats);
        backoff = BACKOFF_MIN;
        loop {
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(msg) => dispatch(&routes, &stats, msg),
                    None => break,
                },
                Some((channel, route)) = new.recv() => {
                    let via = route.via;
                    lock(&routes).insert(channel.clone(), route);
                    if subscribe(&mut sink, &channel, via).await.is_err() {
                        break;
                    }
                }
            }
        }
        outage.failed(&stats, &"connection lost");
        tokio::time::sleep(backoff).await;
    }
}

fn lock(routes: &Routes) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
    routes.lock().unwrap_or_else(|e| e.into_inner())
}

async fn subscribe(
    sink: &mut redis::aio::PubSubSink,
    channel: &str,
    via: Via,
) -> redis::RedisResult<()> {
    match via {
        Via::Broadcast => sink.psubscribe(channel).await,
        Via::Request | Via::Response => sink.subscribe(channel).await,
    }
}

fn dispatch(routes: &Routes, stats: &Stats, msg: redis::Msg) {
    let channel = msg.get_channel_name().to_string();
    let key = match msg.from_pattern() {
        true => msg.get_pattern::<String>().unwrap_or_default(),
        false => channel.clone(),
    };
    let Some(route) = lock(routes).get(&key).cloned() else {
        return;
    };
    let inbound = Inbound {
        via: route.via,
        channel,
        payload: msg.get_payload_bytes().to_vec(),
    };
    if route.to.try_send(inbound).is_err() {
        stats.dropped.fetch_add(1, Relaxed);
    }
}
