//! The link to Redis: one connection that publishes (and asks `PUBSUB
//! NUMSUB`) and one that subscribes, each a task on the adapter's own
//! thread; each reconnects by itself with a backoff, and the subscriber
//! subscribes everything again. It knows channels and bytes, not Socket.IO.
//!
//! Bounds: publishes wait in a bounded queue (a full queue drops, counted);
//! each namespace's inbound messages wait in a bounded queue (a full one
//! drops, counted). While Redis is away, publishes fail fast and are counted
//! as dropped; local delivery never waits on Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout};

use super::wire::Sub;
use switchyard_core::AdapterCounters;

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

/// A message for one namespace.
pub(crate) struct Inbound {
    pub channel: String,
    pub payload: Vec<u8>,
}

/// A subscription: how it is made, and whose it is.
#[derive(Clone)]
pub(crate) struct Route {
    pub sub: Sub,
    pub to: mpsc::Sender<Inbound>,
}

enum Command {
    /// `PUBLISH`, or `SPUBLISH` when sharded.
    Publish(String, Vec<u8>, bool),
    /// `PUBSUB NUMSUB`, or `PUBSUB SHARDNUMSUB` when sharded.
    NumSub(String, bool, oneshot::Sender<redis::RedisResult<usize>>),
}

/// The node's way to Redis.
pub(crate) struct Link {
    commands: mpsc::Sender<Command>,
    /// Unbounded, yet bounded by what it carries: one change per namespace
    /// and per room coming or going (rooms are bounded per socket), and the
    /// subscriber drains it before anything else it waits on.
    changes: mpsc::UnboundedSender<Change>,
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
        let (changes, changes_rx) = mpsc::unbounded_channel();
        let (up_tx, up_rx) = oneshot::channel();
        let (sub_up_tx, sub_up_rx) = oneshot::channel();
        let routes = Routes::default();
        // Messages arrive as RESP3 pushes on the subscribing connection.
        let info = client.get_connection_info().clone();
        let resp3 = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let subscribing = redis::Client::open(info.set_redis_settings(resp3));
        arbiter.spawn(publisher(client, command_rx, stats.clone(), up_tx));
        match subscribing {
            Ok(client) => {
                let stats = stats.clone();
                arbiter.spawn(subscriber(client, routes, changes_rx, stats, sub_up_tx));
            }
            Err(e) => drop(sub_up_tx.send(Err(e))),
        }
        let first = |r: Result<redis::RedisResult<()>, _>| {
            r.unwrap_or_else(|_| Err(redis::RedisError::from(std::io::Error::other("stopped"))))
        };
        let result = first(up_rx.await).and(first(sub_up_rx.await));
        let link = Link {
            commands,
            changes,
            stats,
        };
        (link, result)
    }

    /// Publishes without waiting (`SPUBLISH` when `sharded`); a full queue
    /// drops it (counted).
    pub fn publish(&self, channel: String, payload: Vec<u8>, sharded: bool) {
        let command = Command::Publish(channel, payload, sharded);
        if self.commands.try_send(command).is_err() {
            self.stats.dropped.fetch_add(1, Relaxed);
        }
    }

    /// How many connections subscribe to `channel` (`PUBSUB NUMSUB`, or
    /// `SHARDNUMSUB` when `sharded`).
    pub async fn numsub(&self, channel: &str, sharded: bool) -> Result<usize, String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .try_send(Command::NumSub(channel.to_string(), sharded, tx))
            .map_err(|_| "the publishing queue is full".to_string())?;
        match rx.await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the link to Redis has stopped".to_string()),
        }
    }

    /// Subscribes to `channel` (or pattern), now and after every reconnection.
    pub fn subscribe(&self, channel: String, route: Route) {
        let _ = self.changes.send(Change::Subscribe(channel, route));
    }

    /// Stops following `channel`.
    pub fn unsubscribe(&self, channel: String) {
        let _ = self.changes.send(Change::Unsubscribe(channel));
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
                    Command::NumSub(_, _, reply) => {
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
                Command::Publish(channel, payload, sharded) => {
                    let verb = if sharded { "SPUBLISH" } else { "PUBLISH" };
                    pipe.cmd(verb).arg(channel).arg(payload).ignore();
                    published += 1;
                }
                Command::NumSub(channel, sharded, reply) => {
                    let verb = if sharded { "SHARDNUMSUB" } else { "NUMSUB" };
                    pipe.cmd("PUBSUB").arg(verb).arg(channel);
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

/// A change to the subscriptions.
enum Change {
    Subscribe(String, Route),
    Unsubscribe(String),
}

/// Keeps one subscribing connection up, with every route subscribed, and
/// hands each message to its namespace: a RESP3 connection, whose messages
/// arrive as pushes (the `redis` crate's own pub/sub type cannot
/// SSUBSCRIBE outside Redis Cluster; one loop serves all three kinds).
async fn subscriber(
    client: redis::Client,
    routes: Routes,
    mut changes: mpsc::UnboundedReceiver<Change>,
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
        let lost = Arc::new(tokio::sync::Notify::new());
        let pushes = Pushes {
            routes: routes.clone(),
            stats: stats.clone(),
            lost: lost.clone(),
        };
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_push_sender(move |info| pushes.take(info));
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await;
        if let Some(up) = up.take() {
            let _ = up.send(conn.as_ref().map(|_| ()).map_err(|e| e.clone()));
        }
        let mut conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                outage.failed(&stats, &e);
                // Keep taking changes while down: they are made on reconnection.
                let wait = tokio::time::sleep(backoff);
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        _ = &mut wait => break,
                        Some(change) = changes.recv() => apply(&routes, change),
                    }
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let current: Vec<(String, Sub)> = (lock(&routes).iter())
            .map(|(c, r)| (c.clone(), r.sub))
            .collect();
        let mut ok = true;
        for (channel, sub) in current {
            ok = ok
                && send(&mut conn, subscribe_command(sub, true), &channel)
                    .await
                    .is_ok();
        }
        if ok {
            outage.restored(&stats);
            backoff = BACKOFF_MIN;
            loop {
                tokio::select! {
                    _ = lost.notified() => break,
                    change = changes.recv() => {
                        let Some(change) = change else { return };
                        let command = match &change {
                            Change::Subscribe(channel, route) => {
                                Some((subscribe_command(route.sub, true), channel.clone()))
                            }
                            Change::Unsubscribe(channel) => (lock(&routes).get(channel))
                                .map(|r| (subscribe_command(r.sub, false), channel.clone())),
                        };
                        apply(&routes, change);
                        if let Some((command, channel)) = command
                            && send(&mut conn, command, &channel).await.is_err()
                        {
                            break;
                        }
                    }
                }
            }
        }
        outage.failed(&stats, &"connection lost");
        tokio::time::sleep(backoff).await;
    }
}

fn apply(routes: &Routes, change: Change) {
    match change {
        Change::Subscribe(channel, route) => drop(lock(routes).insert(channel, route)),
        Change::Unsubscribe(channel) => drop(lock(routes).remove(&channel)),
    }
}

/// Takes the subscribing connection's pushes, on the connection's task:
/// messages go to their namespace's bounded queue (a full one drops,
/// counted); a lost connection wakes the subscriber.
struct Pushes {
    routes: Routes,
    stats: Arc<Stats>,
    lost: Arc<tokio::sync::Notify>,
}

impl Pushes {
    fn take(&self, info: redis::PushInfo) -> Result<(), std::convert::Infallible> {
        if info.kind == redis::PushKind::Disconnection {
            self.lost.notify_one();
            return Ok(());
        }
        let Some((key, channel, payload)) = message(info) else {
            return Ok(());
        };
        let Some(route) = lock(&self.routes).get(&key).cloned() else {
            return Ok(());
        };
        if route.to.try_send(Inbound { channel, payload }).is_err() {
            self.stats.dropped.fetch_add(1, Relaxed);
        }
        Ok(())
    }
}

/// A published message as (subscription key, channel, payload): the key is
/// the pattern for `pmessage`, else the channel. `None` for other pushes
/// (subscription confirmations).
fn message(info: redis::PushInfo) -> Option<(String, String, Vec<u8>)> {
    use redis::{PushKind, Value};
    let text = |v: Value| match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        _ => None,
    };
    let mut items = info.data.into_iter();
    let key = match info.kind {
        PushKind::PMessage => Some(text(items.next()?)?),
        PushKind::Message | PushKind::SMessage => None,
        _ => return None,
    };
    let channel = text(items.next()?)?;
    let Value::BulkString(payload) = items.next()? else {
        return None;
    };
    Some((key.unwrap_or_else(|| channel.clone()), channel, payload))
}

fn subscribe_command(sub: Sub, on: bool) -> &'static str {
    match (sub, on) {
        (Sub::Channel, true) => "SUBSCRIBE",
        (Sub::Channel, false) => "UNSUBSCRIBE",
        (Sub::Pattern, true) => "PSUBSCRIBE",
        (Sub::Pattern, false) => "PUNSUBSCRIBE",
        (Sub::Shard, true) => "SSUBSCRIBE",
        (Sub::Shard, false) => "SUNSUBSCRIBE",
    }
}

/// One (un)subscription, one channel: its one confirmation is its reply.
async fn send(
    conn: &mut redis::aio::MultiplexedConnection,
    command: &str,
    channel: &str,
) -> redis::RedisResult<()> {
    redis::cmd(command).arg(channel).exec_async(conn).await
}

fn lock(routes: &Routes) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
    routes.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::message;
    use redis::{PushInfo, PushKind, Value};

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn messages_are_keyed_by_their_subscription() {
        let push = |kind, data| PushInfo { kind, data };
        let got = message(push(PushKind::Message, vec![bulk("c"), bulk("p")]));
        assert_eq!(got, Some(("c".into(), "c".into(), b"p".to_vec())));
        let got = message(push(PushKind::SMessage, vec![bulk("s"), bulk("p")]));
        assert_eq!(got, Some(("s".into(), "s".into(), b"p".to_vec())));
        let data = vec![bulk("socket.io#/#*"), bulk("socket.io#/#r#"), bulk("p")];
        let got = message(push(PushKind::PMessage, data));
        assert_eq!(
            got,
            Some((
                "socket.io#/#*".into(),
                "socket.io#/#r#".into(),
                b"p".to_vec()
            ))
        );
        // Confirmations and malformed pushes are not messages.
        let confirmation = vec![bulk("c"), Value::Int(1)];
        assert_eq!(message(push(PushKind::Subscribe, confirmation)), None);
        assert_eq!(message(push(PushKind::Message, vec![bulk("c")])), None);
        assert_eq!(
            message(push(PushKind::Message, vec![bulk("c"), Value::Int(1)])),
            None
        );
    }
}
