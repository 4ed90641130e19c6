//! The link to Redis: one connection that publishes (and asks `PUBSUB
//! NUMSUB`) and one that subscribes, on the adapter's own thread. It knows
//! channels and bytes, not Socket.IO.
//!
//! The two connections are one link, up or down as a whole. A supervisor
//! task makes the subscribing connection (and subscribes every route
//! again), then the publishing one, and only then calls the link up.
//! Either connection lost (its `Disconnection` push, or a failed publish)
//! takes the link down, and both are made again at once, then after each
//! failed attempt on [`retry_delay`]'s schedule (node-redis' default: 50 ms
//! more per failure, at most 500 ms). So an idle publisher never sits on a
//! dead connection: the first publish after Redis is back goes out.
//!
//! The publisher task decides what becomes of each publish by
//! [`Backlog::admit`]: sent now while the link is up and nothing older
//! waits; else kept in the backlog (at most [`BACKLOG`] publishes, oldest
//! first) and sent, before anything newer, once the link is up again; what
//! does not fit is dropped, counted and logged (at most every
//! [`DROP_LOG_EVERY`]). A pipeline lost with its connection is dropped and
//! counted, not sent again: Redis may have taken it (at most once, as in
//! Node). `PUBSUB NUMSUB` while down fails at once: a cluster request never
//! waits on Redis, and local delivery never does either. Each namespace's
//! inbound messages wait in a bounded queue (a full one drops, counted).
//!
//! On a Redis Cluster ([`Target::Cluster`]) both connections are the redis
//! crate's cluster connections, and nothing else changes: lost when any of
//! their nodes' connections is lost (a master gone), or when a node stops
//! serving a slot the link subscribes in (its `sunsubscribe` push), and
//! made again from the seed nodes, which then name the new masters (after
//! a failover, the replica that took over): every sharded channel is
//! subscribed again on its slot's master. A pipeline goes to one slot's
//! master, so publishes are sent in runs of the same slot, in order, and
//! `SHARDNUMSUB` alone, summed over every master.
//!
//! Why not the `redis` crate's `ConnectionManager`: it reconnects one
//! connection, and its retries stop after `number_of_retries`; from then on
//! it reconnects only when a command fails on the dead connection (the lost
//! first publish this link exists to avoid). While it reconnects, commands
//! wait on it unbounded, and it does not say whether it is up, so it cannot
//! feed a bounded backlog nor let `NUMSUB` fail fast. For subscribing, it
//! has no `SSUBSCRIBE` outside Redis Cluster, and it subscribes again with
//! a pipeline whose failures it ignores, telling nobody when it is done.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::time::Instant;

use super::target::{Conn, Target};
use super::wire::Sub;
use switchyard_core::AdapterCounters;

/// Publishes on their way to the publisher task (a full channel drops,
/// counted); it takes them at once, up or down.
const PUBLISH_QUEUE: usize = 16 * 1024;
/// Most publishes kept while the link is down; the next ones are dropped.
const BACKLOG: usize = 16 * 1024;
/// Messages waiting for one namespace's handler.
pub(crate) const INBOUND_QUEUE: usize = 16 * 1024;
/// Most publishes sent in one pipeline (one round trip).
const PIPELINE: usize = 256;
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The backoff grows by this much per failed attempt...
const BACKOFF_STEP: Duration = Duration::from_millis(50);
/// ...up to this (node-redis: `Math.min(retries * 50, 500)`).
const BACKOFF_MAX: Duration = Duration::from_millis(500);
/// At most one warning about dropped publishes this often.
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// What the link has done; one set per node, shared by its namespaces.
#[derive(Default)]
pub(crate) struct Stats {
    pub published: AtomicU64,
    pub received: AtomicU64,
    pub errors: AtomicU64,
    pub reconnects: AtomicU64,
    pub dropped: AtomicU64,
    /// Times messages from the other nodes may have been lost on the way
    /// in (a full namespace queue, a lost subscribing connection): not a
    /// counter to show, a mark for connection state recovery.
    pub gaps: AtomicU64,
    /// How many of the link's parts (connections, or the Streams adapter's
    /// reading and appending tasks) are down now: 0 is up. Each part's
    /// outage changes it once on the way down and once on the way back.
    pub down: AtomicU64,
    /// Requests to the other nodes answered in full, by round trip.
    pub round_trips: switchyard_core::RoundTripRecorder,
    /// Requests to the other nodes that timed out.
    pub request_timeouts: AtomicU64,
}

impl Stats {
    /// Whether every part of the link is up.
    pub fn link_up(&self) -> bool {
        self.down.load(Relaxed) == 0
    }

    pub fn snapshot(&self) -> AdapterCounters {
        AdapterCounters {
            published: self.published.load(Relaxed),
            received: self.received.load(Relaxed),
            errors: self.errors.load(Relaxed),
            reconnects: self.reconnects.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            request_round_trips: self.round_trips.snapshot(),
            request_timeouts: self.request_timeouts.load(Relaxed),
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

/// `PUBLISH channel payload`, or `SPUBLISH` when sharded.
pub(crate) struct Publish {
    channel: String,
    payload: Vec<u8>,
    sharded: bool,
}

enum Command {
    Publish(Publish),
    /// `PUBSUB NUMSUB`, or `PUBSUB SHARDNUMSUB` when sharded.
    NumSub(String, bool, oneshot::Sender<redis::RedisResult<usize>>),
}

/// The link while up: the publishing connection, and how to say it is lost
/// (the supervisor waits on it). `None` while down.
type Live = Option<(Conn, Arc<Notify>)>;

/// The node's way to Redis.
pub(crate) struct Link {
    commands: mpsc::Sender<Command>,
    /// Unbounded, yet bounded by what it carries: one change per namespace
    /// and per room coming or going (rooms are bounded per socket), and the
    /// supervisor drains it before anything else it waits on.
    changes: mpsc::UnboundedSender<Change>,
    pub stats: Arc<Stats>,
}

/// Every subscription made so far, by pattern (broadcasts) or channel:
/// made again on each new subscribing connection.
type Routes = Arc<Mutex<HashMap<String, Route>>>;

impl Link {
    /// Starts the supervisor and the publisher in `arbiter`; resolves once
    /// the link is up for the first time, or with the first attempt's error
    /// (the supervisor goes on trying).
    pub async fn start(
        target: Target,
        arbiter: &actix::ArbiterHandle,
    ) -> (Link, redis::RedisResult<()>) {
        let stats = Arc::new(Stats::default());
        let (commands, command_rx) = mpsc::channel(PUBLISH_QUEUE);
        let (changes, changes_rx) = mpsc::unbounded_channel();
        let (first_tx, first_rx) = oneshot::channel();
        let (live_tx, live_rx) = watch::channel(None);
        let routes = Routes::default();
        arbiter.spawn(publisher(command_rx, live_rx, stats.clone()));
        let supervised = supervisor(target, routes, changes_rx, live_tx, stats.clone(), first_tx);
        arbiter.spawn(supervised);
        let first = first_rx
            .await
            .unwrap_or_else(|_| Err(redis::RedisError::from(std::io::Error::other("stopped"))));
        let link = Link {
            commands,
            changes,
            stats,
        };
        (link, first)
    }

    /// Publishes without waiting (`SPUBLISH` when `sharded`); a full
    /// channel drops it (counted).
    pub fn publish(&self, channel: String, payload: Vec<u8>, sharded: bool) {
        let command = Command::Publish(Publish {
            channel,
            payload,
            sharded,
        });
        if self.commands.try_send(command).is_err() {
            self.stats.dropped.fetch_add(1, Relaxed);
        }
    }

    /// How many connections subscribe to `channel` (`PUBSUB NUMSUB`, or
    /// `SHARDNUMSUB` when `sharded`); an error at once while the link is down.
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

/// How long the supervisor waits before its next attempt, after `failures`
/// attempts in a row failed: not at all right after a loss, then 50 ms
/// more per failure, at most 500 ms.
pub(crate) fn retry_delay(failures: u32) -> Duration {
    BACKOFF_STEP.saturating_mul(failures).min(BACKOFF_MAX)
}

/// What [`Backlog::admit`] made of a publish.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admit<T> {
    /// Send it now.
    Send(T),
    /// It waits in the backlog.
    Queued,
    /// No room: dropped.
    Dropped,
}

/// Publishes waiting for the link, oldest first, at most `bound` of them.
pub(crate) struct Backlog<T> {
    waiting: VecDeque<T>,
    bound: usize,
}

impl<T> Backlog<T> {
    pub fn new(bound: usize) -> Backlog<T> {
        Backlog {
            waiting: VecDeque::new(),
            bound,
        }
    }

    /// The rule: out now only while `up` and nothing older waits (nothing
    /// overtakes the backlog); else it waits if there is room, else it is
    /// dropped (the older ones keep their place).
    pub fn admit(&mut self, publish: T, up: bool) -> Admit<T> {
        if up && self.waiting.is_empty() {
            Admit::Send(publish)
        } else if self.waiting.len() < self.bound {
            self.waiting.push_back(publish);
            Admit::Queued
        } else {
            Admit::Dropped
        }
    }

    /// The oldest `most` publishes, taken out to be sent.
    pub fn take(&mut self, most: usize) -> impl Iterator<Item = T> + '_ {
        let n = most.min(self.waiting.len());
        self.waiting.drain(..n)
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

/// Lets one log line through per `every`.
pub(crate) struct Throttle {
    every: Duration,
    next: Option<Instant>,
}

impl Throttle {
    pub fn new(every: Duration) -> Throttle {
        Throttle { every, next: None }
    }

    /// Whether to log at `now`.
    pub fn allow(&mut self, now: Instant) -> bool {
        if self.next.is_some_and(|next| now < next) {
            return false;
        }
        self.next = Some(now + self.every);
        true
    }
}

/// The reasons an outage has been logged with: a failure is logged when the
/// outage starts and again for each new reason (Redis is back, but its
/// certificate does not verify), not once per try. At most
/// [`REASONS_TOLD`] per outage, so reasons that take turns cannot flood.
#[derive(Default)]
pub(crate) struct Reason {
    told: Vec<String>,
}

/// Most reasons logged in one outage.
const REASONS_TOLD: usize = 8;

impl Reason {
    /// `error`'s text when it is news: not told yet in this outage, and
    /// fewer than [`REASONS_TOLD`] told.
    pub fn news(&mut self, error: &dyn std::fmt::Display) -> Option<String> {
        let text = error.to_string();
        if self.told.len() >= REASONS_TOLD || self.told.contains(&text) {
            return None;
        }
        self.told.push(text.clone());
        Some(text)
    }

    /// The outage is over: the next failure is news.
    pub fn clear(&mut self) {
        self.told.clear();
    }
}

/// Logs a lost or refused link once per [`Reason`] it gives, not once per
/// try; counts the tries.
#[derive(Default)]
struct Outage {
    down: bool,
    reason: Reason,
}

impl Outage {
    fn failed(&mut self, stats: &Stats, error: &dyn std::fmt::Display) {
        stats.errors.fetch_add(1, Relaxed);
        if !self.down {
            self.down = true;
            stats.down.fetch_add(1, Relaxed);
        }
        if let Some(reason) = self.reason.news(error) {
            log::warn!("redis adapter: link down: {reason}");
        }
    }

    fn restored(&mut self, stats: &Stats) {
        self.reason.clear();
        if std::mem::take(&mut self.down) {
            stats.down.fetch_sub(1, Relaxed);
            stats.reconnects.fetch_add(1, Relaxed);
            log::info!("redis adapter: link restored");
        }
    }
}

/// Sends publishes in pipelines, the backlog first, in order; answers
/// NUMSUB. Follows the link's state from `live`.
async fn publisher(
    mut commands: mpsc::Receiver<Command>,
    mut live: watch::Receiver<Live>,
    stats: Arc<Stats>,
) {
    let mut up: Live = None;
    let mut backlog = Backlog::new(BACKLOG);
    let mut drops = Throttle::new(DROP_LOG_EVERY);
    let mut batch = Vec::with_capacity(PIPELINE);
    loop {
        while up.is_some() && !backlog.is_empty() {
            let older = backlog.take(PIPELINE).map(Command::Publish).collect();
            send(&mut up, older, &stats).await;
        }
        tokio::select! {
            // The link's state first: a publish taken after the link was
            // known down waits in the backlog rather than failing.
            biased;
            changed = live.changed() => {
                if changed.is_err() {
                    return;
                }
                up = live.borrow_and_update().clone();
            }
            n = commands.recv_many(&mut batch, PIPELINE) => {
                if n == 0 {
                    return;
                }
                let mut now = Vec::with_capacity(n);
                for command in batch.drain(..) {
                    match command {
                        Command::Publish(p) => match backlog.admit(p, up.is_some()) {
                            Admit::Send(p) => now.push(Command::Publish(p)),
                            Admit::Queued => {}
                            Admit::Dropped => {
                                let dropped = stats.dropped.fetch_add(1, Relaxed) + 1;
                                if drops.allow(Instant::now()) {
                                    log::warn!(
                                        "redis adapter: link down and {BACKLOG} publishes \
                                         waiting: dropping ({dropped} dropped so far)"
                                    );
                                }
                            }
                        },
                        Command::NumSub(_, _, reply) if up.is_none() => {
                            let e = std::io::Error::other("redis is unreachable");
                            let _ = reply.send(Err(e.into()));
                        }
                        numsub @ Command::NumSub(..) => now.push(numsub),
                    }
                }
                send(&mut up, now, &stats).await;
            }
        }
    }
}

/// Sends `commands` on the live link: in one pipeline on one server, in
/// runs of one slot each on a cluster ([`runs`]). A run that fails is
/// dropped (counted), and so is what follows it when the connection is
/// lost, which takes the link down.
async fn send(up: &mut Live, commands: Vec<Command>, stats: &Stats) {
    let Some((conn, lost)) = up.as_mut() else {
        return;
    };
    let cluster = matches!(conn, Conn::Cluster(_));
    let mut runs = runs(commands, cluster).into_iter();
    let mut gone = None;
    for run in runs.by_ref() {
        if let Err(e) = send_run(conn, run, stats).await
            && (e.is_unrecoverable_error() || e.is_io_error() || e.is_connection_dropped())
        {
            gone = Some(e);
            break;
        }
    }
    if let Some(e) = gone {
        log::debug!("redis adapter: publishing connection lost: {e}");
        for run in runs {
            fail(run, &e, stats);
        }
        lost.notify_one();
        *up = None;
    }
}

/// What goes to Redis in one request.
enum Run {
    /// One pipeline (on a cluster, of one slot's publishes).
    Pipeline(Vec<Command>),
    /// On a cluster: `PUBSUB SHARDNUMSUB`, asked of every master and
    /// summed (the subscribers are on the master of the channel's slot).
    ClusterCount(String, oneshot::Sender<redis::RedisResult<usize>>),
}

/// The commands in the runs they are sent in, in order: all of them in one
/// pipeline on one server; on a cluster, publishes of one slot together (a
/// pipeline goes to one master) and each count alone.
fn runs(commands: Vec<Command>, cluster: bool) -> Vec<Run> {
    if !cluster {
        return vec![Run::Pipeline(commands)];
    }
    let mut runs: Vec<Run> = Vec::new();
    let mut slot = None;
    for command in commands {
        let publish = match command {
            Command::Publish(p) => p,
            Command::NumSub(channel, _, reply) => {
                runs.push(Run::ClusterCount(channel, reply));
                slot = None;
                continue;
            }
        };
        let this = Some(redis::cluster_routing::Slot::for_key(&publish.channel));
        match runs.last_mut() {
            Some(Run::Pipeline(run)) if this == slot => run.push(Command::Publish(publish)),
            _ => runs.push(Run::Pipeline(vec![Command::Publish(publish)])),
        }
        slot = this;
    }
    runs
}

/// Sends one run; its publishes are counted as published or dropped, its
/// counts answered.
async fn send_run(conn: &mut Conn, run: Run, stats: &Stats) -> redis::RedisResult<()> {
    let run = match run {
        Run::Pipeline(run) => run,
        Run::ClusterCount(channel, reply) => {
            let mut numsub = redis::cmd("PUBSUB");
            numsub.arg("SHARDNUMSUB").arg(&channel);
            let counts = numsub.query_async::<HashMap<String, usize>>(conn).await;
            let count = counts.map(|counts| counts.get(&channel).copied().unwrap_or(0));
            if count.is_err() {
                stats.errors.fetch_add(1, Relaxed);
            }
            let _ = reply.send(count.clone());
            return count.map(drop);
        }
    };
    let mut pipe = redis::pipe();
    let mut published = 0;
    let mut replies = Vec::new();
    for command in run {
        match command {
            Command::Publish(Publish {
                channel,
                payload,
                sharded,
            }) => {
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
    match pipe.query_async::<Vec<(String, usize)>>(conn).await {
        Ok(counts) => {
            stats.published.fetch_add(published, Relaxed);
            for (reply, (_, n)) in replies.into_iter().zip(counts) {
                let _ = reply.send(Ok(n));
            }
            Ok(())
        }
        Err(e) => {
            stats.dropped.fetch_add(published, Relaxed);
            stats.errors.fetch_add(1, Relaxed);
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
            Err(e)
        }
    }
}

/// A run not sent: its publishes dropped (counted), its counts failed.
fn fail(run: Run, error: &redis::RedisError, stats: &Stats) {
    let commands = match run {
        Run::Pipeline(commands) => commands,
        Run::ClusterCount(_, reply) => return drop(reply.send(Err(error.clone()))),
    };
    for command in commands {
        match command {
            Command::Publish(_) => drop(stats.dropped.fetch_add(1, Relaxed)),
            Command::NumSub(_, _, reply) => drop(reply.send(Err(error.clone()))),
        }
    }
}

/// A change to the subscriptions.
enum Change {
    Subscribe(String, Route),
    Unsubscribe(String),
}

/// Keeps the link up: makes both connections (every route subscribed),
/// hands the publishing one to the publisher, serves the subscription
/// changes until either connection is lost, then tells the publisher the
/// link is down and starts again, on [`retry_delay`]'s schedule. Ends when
/// the [`Link`] is dropped. `first` gets the first attempt's outcome.
async fn supervisor(
    target: Target,
    routes: Routes,
    mut changes: mpsc::UnboundedReceiver<Change>,
    live: watch::Sender<Live>,
    stats: Arc<Stats>,
    first: oneshot::Sender<redis::RedisResult<()>>,
) {
    let mut outage = Outage::default();
    let mut first = Some(first);
    let mut failures = 0;
    loop {
        // A fresh one per attempt: a loss told to an older link is no news.
        let lost = Arc::new(Notify::new());
        let attempt = establish(&target, &routes, &stats, &lost).await;
        let is_first = first.take().map(|first| {
            let _ = first.send(attempt.as_ref().map(|_| ()).map_err(|e| e.clone()));
        });
        match attempt {
            Ok((mut subscribing, publishing)) => {
                failures = 0;
                live.send_replace(Some((publishing, lost.clone())));
                outage.restored(&stats);
                let served = serve(&mut subscribing, &routes, &mut changes, &lost).await;
                // What was published until the next subscription is lost
                // to this node; marked before anything after it arrives.
                stats.gaps.fetch_add(1, Relaxed);
                // Down before counted: whoever sees the count also sees
                // the publisher queueing.
                live.send_replace(None);
                if !served {
                    return;
                }
                outage.failed(&stats, &"connection lost");
            }
            Err(e) => {
                if is_first.is_some() {
                    // The first attempt's failure is the caller's to tell (the
                    // error at start, or its warning): one line, not two.
                    outage.reason.news(&e);
                }
                outage.failed(&stats, &e);
                failures += 1;
            }
        }
        // Keep taking changes while down: they are made on reconnection.
        let wait = tokio::time::sleep(retry_delay(failures));
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                change = changes.recv() => match change {
                    Some(change) => apply(&routes, change),
                    None => return,
                },
            }
        }
    }
}

/// Both connections, subscribing first (every route subscribed), each
/// telling `lost` when it goes.
async fn establish(
    target: &Target,
    routes: &Routes,
    stats: &Arc<Stats>,
    lost: &Arc<Notify>,
) -> redis::RedisResult<(Conn, Conn)> {
    let pushes = Pushes {
        routes: routes.clone(),
        stats: stats.clone(),
        lost: lost.clone(),
        cluster: target.is_cluster(),
    };
    let push = move |info| pushes.take(info);
    let mut subscribing = target.pushing(CONNECT_TIMEOUT, push).await?;
    let current: Vec<(String, Sub)> = (lock(routes).iter())
        .map(|(c, r)| (c.clone(), r.sub))
        .collect();
    for (channel, sub) in current {
        send_subscription(&mut subscribing, sub, true, &channel).await?;
    }
    let lost = lost.clone();
    let push = move |info: redis::PushInfo| {
        if info.kind == redis::PushKind::Disconnection {
            lost.notify_one();
        }
        Ok::<(), std::convert::Infallible>(())
    };
    let publishing = target.pushing(CONNECT_TIMEOUT, push).await?;
    Ok((subscribing, publishing))
}

/// Makes the subscription changes on the live subscribing connection until
/// the link is lost (`true`) or the [`Link`] is dropped (`false`).
async fn serve(
    conn: &mut Conn,
    routes: &Routes,
    changes: &mut mpsc::UnboundedReceiver<Change>,
    lost: &Notify,
) -> bool {
    loop {
        tokio::select! {
            _ = lost.notified() => return true,
            change = changes.recv() => {
                let Some(change) = change else { return false };
                let command = match &change {
                    Change::Subscribe(channel, route) => Some((route.sub, true, channel.clone())),
                    Change::Unsubscribe(channel) => {
                        (lock(routes).get(channel)).map(|r| (r.sub, false, channel.clone()))
                    }
                };
                apply(routes, change);
                if let Some((sub, on, channel)) = command
                    && send_subscription(conn, sub, on, &channel).await.is_err()
                {
                    return true;
                }
            }
        }
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
/// counted); a lost connection wakes the supervisor, and so does, on a
/// cluster, a node that stops serving a channel still followed (its slot
/// moved: the channel is to be subscribed on the slot's new master).
struct Pushes {
    routes: Routes,
    stats: Arc<Stats>,
    lost: Arc<Notify>,
    cluster: bool,
}

impl Pushes {
    fn take(&self, info: redis::PushInfo) -> Result<(), std::convert::Infallible> {
        if info.kind == redis::PushKind::Disconnection {
            self.lost.notify_one();
            return Ok(());
        }
        if self.cluster && info.kind == redis::PushKind::SUnsubscribe {
            // The link's own unsubscriptions leave the routes first.
            if let Some(redis::Value::BulkString(channel)) = info.data.first()
                && lock(&self.routes).contains_key(&*String::from_utf8_lossy(channel))
            {
                self.lost.notify_one();
            }
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
            self.stats.gaps.fetch_add(1, Relaxed);
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

/// One (un)subscription, one channel: its one confirmation is its reply.
async fn send_subscription(
    conn: &mut Conn,
    sub: Sub,
    on: bool,
    channel: &str,
) -> redis::RedisResult<()> {
    let command = match (sub, on) {
        (Sub::Shard, on) => return conn.shard_subscription(channel, on).await,
        (Sub::Channel, true) => "SUBSCRIBE",
        (Sub::Channel, false) => "UNSUBSCRIBE",
        (Sub::Pattern, true) => "PSUBSCRIBE",
        (Sub::Pattern, false) => "PUNSUBSCRIBE",
    };
    redis::cmd(command).arg(channel).exec_async(conn).await
}

fn lock(routes: &Routes) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
    routes.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::{
        Admit, Backlog, Command, Publish, Reason, Run, Throttle, message, retry_delay, runs,
    };
    use redis::{PushInfo, PushKind, Value};
    use std::time::Duration;
    use tokio::time::Instant;

    #[test]
    fn the_backoff_starts_at_once_and_grows_to_half_a_second() {
        let ms = |n| retry_delay(n).as_millis();
        let schedule: Vec<_> = (0..13).map(ms).collect();
        let want = [0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 500, 500];
        assert_eq!(schedule, want);
        assert_eq!(retry_delay(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn publishes_go_out_while_up_and_wait_in_order_while_down() {
        let mut backlog = Backlog::new(3);
        assert_eq!(backlog.admit(1, true), Admit::Send(1));
        assert!(backlog.is_empty());
        // Down: they wait, oldest first, up to the bound; the next are dropped.
        for n in 2..=4 {
            assert_eq!(backlog.admit(n, false), Admit::Queued);
        }
        assert_eq!(backlog.admit(5, false), Admit::Dropped);
        // Up again, yet older ones wait: a new one queues behind them.
        let mut backlog_with_room = Backlog::new(4);
        for n in 2..=4 {
            backlog_with_room.admit(n, false);
        }
        assert_eq!(backlog_with_room.admit(6, true), Admit::Queued);
        assert_eq!(backlog_with_room.take(2).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(backlog_with_room.take(10).collect::<Vec<_>>(), [4, 6]);
        assert!(backlog_with_room.is_empty());
        assert_eq!(backlog_with_room.admit(7, true), Admit::Send(7));
        // Full and up: still dropped, the older ones keep their place.
        assert_eq!(backlog.admit(8, true), Admit::Dropped);
        assert_eq!(backlog.take(10).collect::<Vec<_>>(), [2, 3, 4]);
    }

    #[test]
    fn a_zero_bound_drops_everything_while_down() {
        let mut backlog = Backlog::new(0);
        assert_eq!(backlog.admit("a", false), Admit::Dropped);
        assert_eq!(backlog.admit("b", true), Admit::Send("b"));
    }

    #[test]
    fn an_outage_is_told_once_per_reason() {
        let mut reason = Reason::default();
        assert_eq!(
            reason.news(&"connection lost").as_deref(),
            Some("connection lost")
        );
        let refused = "Connection refused (os error 111)";
        assert_eq!(reason.news(&refused).as_deref(), Some(refused));
        assert_eq!(reason.news(&refused), None);
        let tls = "invalid peer certificate: UnknownIssuer";
        assert_eq!(reason.news(&tls).as_deref(), Some(tls));
        assert_eq!(reason.news(&tls), None);
        // Reasons taking turns are told once each...
        assert_eq!(reason.news(&refused), None);
        // ...and no more than eight of them in one outage.
        for n in 0..5 {
            assert!(reason.news(&n).is_some());
        }
        assert_eq!(reason.news(&"a ninth"), None);
        reason.clear();
        assert_eq!(reason.news(&tls).as_deref(), Some(tls));
    }

    #[test]
    fn the_drop_warning_comes_once_per_period() {
        let t0 = Instant::now();
        let mut throttle = Throttle::new(Duration::from_secs(10));
        assert!(throttle.allow(t0));
        assert!(!throttle.allow(t0));
        assert!(!throttle.allow(t0 + Duration::from_millis(9_999)));
        assert!(throttle.allow(t0 + Duration::from_secs(10)));
        assert!(!throttle.allow(t0 + Duration::from_secs(15)));
        assert!(throttle.allow(t0 + Duration::from_secs(60)));
    }

    fn publish(channel: &str) -> Command {
        let (channel, payload, sharded) = (channel.to_string(), Vec::new(), true);
        Command::Publish(Publish {
            channel,
            payload,
            sharded,
        })
    }

    fn numsub(channel: &str) -> Command {
        Command::NumSub(channel.into(), true, tokio::sync::oneshot::channel().0)
    }

    /// Each run as its channels, a count as `#channel`.
    fn shape(runs: Vec<Run>) -> Vec<Vec<String>> {
        let name = |command: &Command| match command {
            Command::Publish(p) => p.channel.clone(),
            Command::NumSub(channel, ..) => format!("#{channel}"),
        };
        (runs.into_iter())
            .map(|run| match run {
                Run::Pipeline(commands) => commands.iter().map(name).collect(),
                Run::ClusterCount(channel, _) => vec![format!("#{channel}")],
            })
            .collect()
    }

    #[test]
    fn on_a_cluster_a_pipeline_holds_one_slots_publishes_in_order() {
        // `{a}` hash tags: the same slot; "x" and "y" land on others.
        let batch = || {
            ["{a}1", "{a}2", "x", "{a}3", "#{a}", "{a}4", "y", "y"]
                .map(|c| c.strip_prefix('#').map_or_else(|| publish(c), numsub))
        };
        let want = [
            vec!["{a}1", "{a}2"],
            vec!["x"],
            vec!["{a}3"],
            vec!["#{a}"],
            vec!["{a}4"],
            vec!["y", "y"],
        ];
        assert_eq!(shape(runs(batch().into(), true)), want);
        // One server: one pipeline, counts and all, in order.
        let one = ["{a}1", "{a}2", "x", "{a}3", "#{a}", "{a}4", "y", "y"];
        assert_eq!(shape(runs(batch().into(), false)), [one]);
    }

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
