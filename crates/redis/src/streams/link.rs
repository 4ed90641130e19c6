//! The streams dialect's link to Redis: one connection that appends
//! (`XADD`, pipelined, in order) and one that reads the stream (`XREAD
//! COUNT n BLOCK 5000` from the last id read), each a `ConnectionManager`
//! (on a Redis Cluster, a cluster connection, which routes both to the
//! stream's master and finds the new one after a failover) on the
//! adapter's own thread. It knows streams and fields, not Socket.IO.
//!
//! Nothing is lost while Redis is away: the reader goes on from the last
//! id it read (the stream keeps what came meanwhile, up to `MAXLEN`), and
//! appends wait in a bounded queue (a full one drops, counted) and go out
//! in order once Redis answers again, retried with a backoff capped at
//! 500 ms (node-redis's). When the answer to a pipeline of appends is lost
//! with the link, the stream is read back first, and what of it is there
//! already is not sent again. Nor is anything dropped when a namespace is
//! slow: the reader waits for room in its queue, and the stream holds what
//! comes meanwhile.
//!
//! `ConnectionManager` fits both connections: it reconnects by itself and
//! fails what is in flight, which the tasks here retry. It does not queue
//! what fails, nor keep the reader's place, so the tasks here do; and the
//! blocking `XREAD` needs a connection of its own, as in Node (`isolated`).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Value;
use tokio::sync::mpsc;

use super::{pack, unpack};
use crate::link::{Inbound, Reason, Route, Stats};
use crate::node::Bus;
use crate::sessions::Sessions;
use crate::target::{Conn, Target};

/// Appends waiting for Redis.
const PUBLISH_QUEUE: usize = 16 * 1024;
/// Most appends sent in one pipeline (one round trip).
const PIPELINE: usize = 256;
/// How long `XREAD` blocks (Node's `BLOCK 5000`).
const BLOCK: Duration = Duration::from_secs(5);
/// How long a connection attempt, or an append, may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Backoff between attempts while Redis is away, doubling up to the maximum.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_millis(500);

/// The stream, and how the node uses it.
#[derive(Debug, Clone)]
pub(crate) struct StreamOptions {
    pub name: String,
    pub max_len: usize,
    pub read_count: usize,
}

/// An entry's fields, in order.
type Fields = Vec<(String, String)>;

/// Namespaces, by name: where the entries naming them go.
type Routes = Arc<Mutex<HashMap<String, Route>>>;

/// The node's way to its stream.
pub(crate) struct StreamLink {
    /// Recovery's sessions, kept where every node finds them.
    pub sessions: Arc<Sessions>,
    appends: mpsc::Sender<Fields>,
    routes: Routes,
    /// The id of the last entry read; empty before the first read.
    last_id: Arc<Mutex<String>>,
    stats: Arc<Stats>,
}

impl StreamLink {
    /// Starts both tasks in `arbiter`; resolves once Redis answered a
    /// `PING`, or with why it did not (the tasks keep trying).
    pub async fn start(
        target: Target,
        options: StreamOptions,
        arbiter: &actix::ArbiterHandle,
    ) -> (StreamLink, redis::RedisResult<()>) {
        // One connection attempt per command: the tasks here retry, with
        // their own backoff, and start-up does not wait out the manager's.
        let stats = Arc::new(Stats::default());
        let (appends, queue) = mpsc::channel(PUBLISH_QUEUE);
        // Lazy: connecting is the tasks' business; this fails only for a
        // configuration the redis crate refuses (none is made here).
        let managers = (target.managed(TIMEOUT, TIMEOUT))
            .and_then(|w| Ok((w, target.managed(TIMEOUT, BLOCK + TIMEOUT)?)));
        let (mut writer, reader) = match managers {
            Ok(managers) => managers,
            Err(e) => {
                // A link that never connects: its queues only fill up (counted).
                let sessions = Arc::new(Sessions::new(None, arbiter, stats.clone()));
                let link = StreamLink::new(sessions, appends, stats);
                return (link, Err(e));
            }
        };
        // Session commands share the appending connection (it multiplexes).
        let sessions = Sessions::new(Some(writer.clone()), arbiter, stats.clone());
        let link = StreamLink::new(Arc::new(sessions), appends, stats.clone());
        let up = redis::cmd("PING").exec_async(&mut writer).await;
        // The caller tells why Redis was not there at start (the error, or
        // its warning): the tasks log only what comes after.
        let told = up.as_ref().err();
        let append = Appender {
            conn: writer,
            stream: options.name.clone(),
            max_len: options.max_len,
            stats: stats.clone(),
            outage: Outage::new("appending", stats.clone(), told),
            confirmed: None,
        };
        arbiter.spawn(append.run(queue));
        let read = Reader {
            conn: reader,
            options,
            routes: link.routes.clone(),
            last_id: link.last_id.clone(),
            outage: Outage::new("reading", stats, told),
        };
        arbiter.spawn(read.run());
        (link, up)
    }

    fn new(sessions: Arc<Sessions>, appends: mpsc::Sender<Fields>, stats: Arc<Stats>) -> Self {
        StreamLink {
            sessions,
            appends,
            routes: Routes::default(),
            last_id: Arc::default(),
            stats,
        }
    }

    /// The id of the last entry this node has read (`None` before the
    /// first): where a recovering session's missed packets start.
    pub fn last_id(&self) -> Option<String> {
        let id = lock(&self.last_id).clone();
        (!id.is_empty()).then_some(id)
    }
}

impl Bus for StreamLink {
    /// Queues an append of the [`pack`]ed fields to the link's stream
    /// (the one the dialect names as `channel`); a full queue drops it
    /// (counted).
    fn publish(&self, _: String, payload: Vec<u8>, _: bool) {
        let Some(fields) = unpack(&payload) else {
            self.stats.errors.fetch_add(1, Relaxed);
            return;
        };
        if self.appends.try_send(fields).is_err() {
            self.stats.dropped.fetch_add(1, Relaxed);
        }
    }

    /// Hands the entries naming namespace `channel` to `route`.
    fn subscribe(&self, channel: String, route: Route) {
        lock(&self.routes).insert(channel, route);
    }

    fn unsubscribe(&self, channel: String) {
        lock(&self.routes).remove(&channel);
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// Logs a lost link once per [`Reason`] it gives, not once per try; counts
/// the tries.
struct Outage {
    what: &'static str,
    stats: Arc<Stats>,
    down: bool,
    reason: Reason,
    backoff: Duration,
}

impl Outage {
    /// `told`: a failure already logged elsewhere, not logged again.
    fn new(what: &'static str, stats: Arc<Stats>, told: Option<&redis::RedisError>) -> Outage {
        let mut reason = Reason::default();
        if let Some(error) = told {
            reason.news(error);
        }
        Outage {
            what,
            stats,
            down: false,
            reason,
            backoff: BACKOFF_MIN,
        }
    }

    /// Counts and logs the failure, then waits the backoff.
    async fn failed(&mut self, error: &redis::RedisError) {
        self.stats.errors.fetch_add(1, Relaxed);
        if !self.down {
            self.down = true;
            self.stats.down.fetch_add(1, Relaxed);
        }
        if let Some(reason) = self.reason.news(error) {
            log::warn!("redis streams adapter: {} down: {reason}", self.what);
        }
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    fn restored(&mut self) {
        self.backoff = BACKOFF_MIN;
        self.reason.clear();
        if std::mem::take(&mut self.down) {
            self.stats.down.fetch_sub(1, Relaxed);
            self.stats.reconnects.fetch_add(1, Relaxed);
            log::info!("redis streams adapter: {} restored", self.what);
        }
    }
}

/// Whether an append may succeed if tried again: anything but an error
/// about the command or the key itself.
fn transient(error: &redis::RedisError) -> bool {
    !matches!(error.code(), Some("ERR" | "WRONGTYPE"))
}

/// Appends what is queued, in order, in pipelines of up to [`PIPELINE`].
struct Appender {
    conn: Conn,
    stream: String,
    max_len: usize,
    stats: Arc<Stats>,
    outage: Outage,
    /// The id of the last append Redis confirmed.
    confirmed: Option<String>,
}

impl Appender {
    /// Sends each batch until it goes through (or is refused for good). A
    /// batch whose answer was lost may have gone through in part: before
    /// it is sent again, what of it is already in the stream is left out,
    /// so an append is not made twice.
    async fn run(mut self, mut queue: mpsc::Receiver<Fields>) {
        let mut batch = Vec::with_capacity(PIPELINE);
        let mut unsure = false;
        loop {
            if batch.is_empty() && queue.recv_many(&mut batch, PIPELINE).await == 0 {
                return;
            }
            if unsure {
                match self.landed(&batch).await {
                    Ok(n) => {
                        // Redis answered: up again, whether or not the rest is sent
                        // (the batch may have landed whole, leaving nothing to append).
                        self.outage.restored();
                        self.stats.published.fetch_add(n as u64, Relaxed);
                        batch.drain(..n);
                        unsure = false;
                        continue;
                    }
                    Err(e) => {
                        self.outage.failed(&e).await;
                        continue;
                    }
                }
            }
            match self.append(&batch).await {
                Ok(ids) => {
                    self.outage.restored();
                    self.stats.published.fetch_add(batch.len() as u64, Relaxed);
                    self.confirmed = ids.into_iter().last().or(self.confirmed.take());
                    batch.clear();
                }
                Err(e) if transient(&e) => {
                    unsure = true;
                    self.outage.failed(&e).await;
                }
                Err(e) => {
                    log::warn!("redis streams adapter: appends refused: {e}");
                    self.stats.errors.fetch_add(1, Relaxed);
                    self.stats.dropped.fetch_add(batch.len() as u64, Relaxed);
                    batch.clear();
                }
            }
        }
    }

    /// `XADD`s the batch in one pipeline; the ids Redis gave.
    async fn append(&mut self, batch: &[Fields]) -> redis::RedisResult<Vec<String>> {
        let mut pipe = redis::pipe();
        for fields in batch {
            let xadd = pipe.cmd("XADD").arg(&self.stream).arg("MAXLEN").arg("~");
            let xadd = xadd.arg(self.max_len).arg("*");
            for (k, v) in fields {
                xadd.arg(k).arg(v);
            }
        }
        pipe.query_async(&mut self.conn).await
    }

    /// How many of the batch's first entries are in the stream after the
    /// last confirmed append (this node's appends land in order, and its
    /// uids are its own, so they are the batch's, not older ones).
    async fn landed(&mut self, batch: &[Fields]) -> redis::RedisResult<usize> {
        let from = self.confirmed.as_deref().map_or("-".into(), next_id);
        let reply: Value = (redis::cmd("XRANGE").arg(&self.stream).arg(from).arg("+"))
            .query_async(&mut self.conn)
            .await?;
        let (n, last) = landed_prefix(batch, entries_of(reply));
        log::debug!(
            "redis streams adapter: {n} of {} unanswered appends are in the stream",
            batch.len()
        );
        self.confirmed = last.or(self.confirmed.take());
        Ok(n)
    }
}

/// How many of `batch`'s first entries are among `entries` (in order,
/// others between them), and the id of the last one found.
pub(crate) fn landed_prefix(
    batch: &[Fields],
    entries: Vec<(String, Fields)>,
) -> (usize, Option<String>) {
    let mut n = 0;
    let mut last = None;
    for (id, fields) in entries {
        if batch.get(n) == Some(&fields) {
            n += 1;
            last = Some(id);
        }
    }
    (n, last)
}

/// The smallest id after `id` (`XRANGE`'s exclusive `(` needs Redis 6.2).
pub(crate) fn next_id(id: &str) -> String {
    match id.split_once('-').map(|(ms, seq)| (ms, seq.parse::<u64>())) {
        Some((ms, Ok(seq))) => format!("{ms}-{}", seq + 1),
        _ => id.to_string(),
    }
}

/// Reads the stream from the last id read, and hands each entry to the
/// namespace it names.
struct Reader {
    conn: Conn,
    options: StreamOptions,
    routes: Routes,
    last_id: Arc<Mutex<String>>,
    outage: Outage,
}

impl Reader {
    async fn run(mut self) {
        // Behind: after a failed read, or one that filled its batch. Then
        // the next read also checks, in the same transaction, that the last
        // entry read is still in the stream: a stream is trimmed from its
        // start (`MAXLEN`), so if it went, entries after it may have gone
        // unread too (or the stream was lost with a Redis restart), and
        // connection state recovery is told (`Stats::gaps`).
        let mut behind = false;
        loop {
            match self.read(behind).await {
                Ok((entries, trimmed)) => {
                    self.outage.restored();
                    if trimmed {
                        log::warn!(
                            "redis streams adapter: entries may have been trimmed before this node read them"
                        );
                        self.outage.stats.gaps.fetch_add(1, Relaxed);
                    }
                    behind = entries.len() >= self.options.read_count;
                    for (id, fields) in entries {
                        self.deliver(&id, fields).await;
                        *lock(&self.last_id) = id;
                    }
                }
                Err(e) => {
                    behind = true;
                    self.outage.failed(&e).await;
                }
            }
        }
    }

    /// The next entries after the last id read; the first read starts
    /// after the stream's last entry (Node's `$`, made an id so that a
    /// lost link cannot skip what comes meanwhile).
    /// With `behind`, also whether entries after the last one read may
    /// have been trimmed unread.
    async fn read(&mut self, behind: bool) -> redis::RedisResult<(Vec<(String, Fields)>, bool)> {
        let stream = &self.options.name;
        let mut from = lock(&self.last_id).clone();
        if from.is_empty() {
            let last: Value = (redis::cmd("XREVRANGE").arg(stream).arg("+").arg("-"))
                .arg("COUNT")
                .arg(1)
                .query_async(&mut self.conn)
                .await?;
            from = entries_of(last).pop().map_or("0-0".into(), |(id, _)| id);
            *lock(&self.last_id) = from.clone();
        }
        if behind {
            // One transaction: whether the last entry read is still there,
            // and what follows it (not blocking: there is more to read).
            let (found, reply): (Value, Value) = redis::pipe()
                .atomic()
                .cmd("XRANGE")
                .arg(stream)
                .arg(&from)
                .arg(&from)
                .cmd("XREAD")
                .arg("COUNT")
                .arg(self.options.read_count)
                .arg("STREAMS")
                .arg(stream)
                .arg(&from)
                .query_async(&mut self.conn)
                .await?;
            let trimmed = from != "0-0" && entries_of(found).is_empty();
            return Ok((xread_entries(reply), trimmed));
        }
        let reply: Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(self.options.read_count)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(stream)
            .arg(from)
            .query_async(&mut self.conn)
            .await?;
        Ok((xread_entries(reply), false))
    }

    /// Hands an entry to its namespace's bounded queue, as `Inbound {
    /// channel: id, payload: packed fields }`. A full queue holds the
    /// reading back rather than drop: the stream keeps what comes
    /// meanwhile (up to `MAXLEN`), and recovery's replays need every entry.
    async fn deliver(&self, id: &str, fields: Fields) {
        let Some((_, nsp)) = fields.iter().find(|(k, _)| k == "nsp") else {
            return;
        };
        let Some(route) = lock(&self.routes).get(nsp).cloned() else {
            return;
        };
        let inbound = Inbound {
            channel: id.to_string(),
            payload: pack(&fields),
        };
        // Closed only when the namespace is gone: nothing to count.
        let _ = route.to.send(inbound).await;
    }
}

/// The entries of an `XREAD` reply (`[[stream, entries]]`, or nil when the
/// block timed out).
pub(crate) fn xread_entries(reply: Value) -> Vec<(String, Fields)> {
    let Value::Array(streams) = reply else {
        return Vec::new();
    };
    (streams.into_iter())
        .filter_map(|stream| match stream {
            Value::Array(mut pair) if pair.len() == 2 => pair.pop(),
            _ => None,
        })
        .flat_map(entries_of)
        .collect()
}

/// The entries of an `XRANGE`-like reply: `[[id, [field, value, ...]], ...]`.
pub(crate) fn entries_of(reply: Value) -> Vec<(String, Fields)> {
    let Value::Array(entries) = reply else {
        return Vec::new();
    };
    let text = |v: Value| match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Value::SimpleString(s) => Some(s),
        _ => None,
    };
    (entries.into_iter())
        .filter_map(|entry| {
            let Value::Array(entry) = entry else {
                return None;
            };
            let mut entry = entry.into_iter();
            let id = text(entry.next()?)?;
            let Value::Array(flat) = entry.next()? else {
                return None;
            };
            let mut flat = flat.into_iter().filter_map(text);
            let mut fields = Vec::new();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                fields.push((k, v));
            }
            Some((id, fields))
        })
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
