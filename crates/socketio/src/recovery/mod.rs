//! Connection state recovery (socket.io 4.6+'s `connectionStateRecovery`)
//! as plain data: what a namespace keeps so that a client whose transport
//! blinked comes back as the same socket, and the rules that decide whether
//! it may. No actors, no I/O; time is passed in.
//!
//! - Every broadcast event without an ack that is not volatile gets an
//!   *offset* ([`RecoveryLog::next_offset`]), which travels as the packet's
//!   last argument (socket.io-client 4 keeps the last one it saw), and is
//!   kept ([`RecoveryLog::push`]) in one bounded log per namespace: by
//!   count, by bytes and by age (the disconnection window).
//! - A socket that disconnects for a reason that allows it (the transport
//!   went, not the server or the client) leaves its session: id, private id
//!   (`pid`), rooms and `data` ([`RecoveryLog::persist`]), for the window.
//! - A CONNECT with that `pid` and an offset claims the session
//!   ([`RecoveryLog::claim`]): once, inside the window, and only if every
//!   packet after the offset is still kept. Then its missed packets are
//!   those after the offset that its rooms select ([`RecoveryLog::missed`]).
//!   A replay is complete or not offered: never one with a hole.
//!
//! The log's owner (the namespace's room registry) appends and delivers a
//! broadcast in one step, and restores a socket (rooms, then the missed
//! packets) in one step, so each packet reaches a recovering socket exactly
//! once: in the replay if it was kept before the socket was back, live if
//! after.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use switchyard_core::BroadcastOptions;

#[cfg(test)]
mod tests;

/// Connection state recovery settings (socket.io's
/// `connectionStateRecovery`); off unless set in
/// [`SocketIoConfig::recovery`](crate::io::SocketIoConfig::recovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected socket's session, and the packets it may
    /// miss, are kept (socket.io's `maxDisconnectionDuration`).
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the connect middleware (socket.io's
    /// `skipMiddlewares`).
    pub skip_middlewares: bool,
    /// Most packets kept per namespace; the oldest go first.
    pub max_packets: usize,
    /// Most bytes of packets kept per namespace; the oldest go first.
    pub max_bytes: usize,
    /// Most sessions kept per namespace; the oldest go first.
    pub max_sessions: usize,
    /// Most bytes one replay may carry; a socket that missed more starts
    /// afresh (a replay larger than the client's outgoing bound would only
    /// close its connection again).
    pub max_replay_bytes: usize,
}

impl Default for RecoveryConfig {
    /// socket.io's 2 minutes with middleware skipped; 10,000 packets and
    /// 8 MiB kept per namespace, 100,000 sessions, 1 MiB per replay (the
    /// Engine.IO outgoing bound).
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
            max_bytes: 8 << 20,
            max_sessions: 100_000,
            max_replay_bytes: 1 << 20,
        }
    }
}

/// Why a CONNECT asking for recovery got a fresh socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotRecovered {
    /// The offset is not one this namespace gave out.
    #[error("unknown offset")]
    UnknownOffset,
    /// No session has that `pid` (never, already recovered, or forgotten).
    #[error("unknown session")]
    UnknownSession,
    /// The session's window had passed.
    #[error("session expired")]
    Expired,
    /// Packets after the offset are no longer kept: a replay would have a hole.
    #[error("missed packets no longer kept")]
    OffsetNotKept,
    /// The socket missed more than one replay may carry.
    #[error("too much missed")]
    TooMuchMissed,
}

/// The session a disconnected socket leaves behind.
pub(crate) use switchyard_core::RecoverySession as Session;

/// A session claimed for recovery: restore it, then replay what it missed
/// after packet `after`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Claimed {
    pub session: Session,
    pub after: u64,
}

/// Packets after a claimed offset were dropped before the socket was back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hole;

/// One kept packet.
struct Kept<T> {
    seq: u64,
    /// The offset the cluster gave it (a Redis stream entry id), if not ours.
    given: Option<Arc<str>>,
    rooms: Vec<String>,
    except: Vec<String>,
    item: T,
    bytes: usize,
    at: Instant,
}

impl<T> Kept<T> {
    /// socket.io's `shouldIncludePacket`: the rooms select it, and none
    /// excludes it.
    fn selects(&self, rooms: &[String]) -> bool {
        let included = self.rooms.is_empty() || rooms.iter().any(|r| self.rooms.contains(r));
        included && !rooms.iter().any(|r| self.except.contains(r))
    }
}

struct Persisted {
    session: Session,
    at: Instant,
}

/// One namespace's kept packets (items of type `T`, the encoded frames in
/// use) and disconnected sessions.
pub(crate) struct RecoveryLog<T> {
    config: RecoveryConfig,
    /// Prefix of every offset: a log's offsets mean nothing to another
    /// (another namespace, or this one after a restart).
    tag: String,
    next_seq: u64,
    kept: VecDeque<Kept<T>>,
    /// The sequence numbers of the kept packets whose offset the cluster gave.
    given: HashMap<Arc<str>, u64>,
    bytes: usize,
    sessions: HashMap<Arc<str>, Persisted>,
    /// Sessions by age, oldest first, to expire them in order (an entry
    /// whose session was claimed or persisted again since is skipped).
    ages: VecDeque<(Arc<str>, Instant)>,
    pub stats: Arc<RecoveryStats>,
}

impl<T> RecoveryLog<T> {
    pub fn new(config: RecoveryConfig, tag: String, stats: Arc<RecoveryStats>) -> Self {
        RecoveryLog {
            config,
            tag,
            next_seq: 0,
            kept: VecDeque::new(),
            given: HashMap::new(),
            bytes: 0,
            sessions: HashMap::new(),
            ages: VecDeque::new(),
            stats,
        }
    }

    /// The offset the next packet pushed gets.
    pub fn next_offset(&self) -> String {
        format!("{}-{}", self.tag, self.next_seq)
    }

    /// The sequence number of the packet of `offset`: one of ours (even
    /// dropped since), or one the cluster gave that is still kept.
    fn seq_of(&self, offset: &str) -> Option<u64> {
        if let Some(&seq) = self.given.get(offset) {
            return Some(seq);
        }
        let seq = offset.strip_prefix(&self.tag)?.strip_prefix('-')?;
        let seq: u64 = seq.parse().ok()?;
        (seq < self.next_seq).then_some(seq)
    }

    /// The sequence number of the oldest packet kept (the next one's when none is).
    fn first_seq(&self) -> u64 {
        self.kept.front().map_or(self.next_seq, |k| k.seq)
    }

    /// Keeps a broadcast under [`Self::next_offset`], or under `given`, the
    /// offset the cluster gave it, then drops what no longer fits or is
    /// older than the window.
    pub fn push(
        &mut self,
        opts: &BroadcastOptions,
        given: Option<&str>,
        item: T,
        bytes: usize,
        now: Instant,
    ) {
        let mut except = opts.except.clone();
        except.extend(opts.except_id.clone());
        let given: Option<Arc<str>> = given.map(Into::into);
        if let Some(offset) = &given {
            self.given.insert(offset.clone(), self.next_seq);
        }
        self.kept.push_back(Kept {
            seq: self.next_seq,
            given,
            rooms: opts.rooms.clone(),
            except,
            item,
            bytes,
            at: now,
        });
        self.next_seq += 1;
        self.bytes += bytes;
        while self.kept.len() > self.config.max_packets || self.bytes > self.config.max_bytes {
            self.drop_oldest();
        }
        self.expire(now);
    }

    fn drop_oldest(&mut self) {
        if let Some(k) = self.kept.pop_front() {
            self.bytes -= k.bytes;
            if let Some(offset) = k.given {
                self.given.remove(&offset);
            }
        }
    }

    /// Forgets every packet kept (some between them were lost): a socket
    /// whose missed packets started before now starts afresh. Counted.
    pub fn forget_kept(&mut self) {
        while !self.kept.is_empty() {
            self.drop_oldest();
        }
        self.stats.losses.fetch_add(1, Relaxed);
    }

    /// Forgets the packets and sessions older than the window.
    pub fn expire(&mut self, now: Instant) {
        let window = self.config.max_disconnection_duration;
        while self.kept.front().is_some_and(|k| k.at + window < now) {
            self.drop_oldest();
        }
        while let Some((pid, at)) = self.ages.front() {
            if *at + window >= now {
                break;
            }
            if self.forget(&pid.clone(), *at) {
                self.stats.expired.fetch_add(1, Relaxed);
            }
        }
    }

    /// Drops the oldest entry of `ages`, and its session if it is that one
    /// (`true` then).
    fn forget(&mut self, pid: &Arc<str>, at: Instant) -> bool {
        self.ages.pop_front();
        let current = self.sessions.get(pid).is_some_and(|p| p.at == at);
        if current {
            self.sessions.remove(pid);
        }
        current
    }

    /// Keeps a disconnected socket's session for the window.
    pub fn persist(&mut self, session: Session, now: Instant) {
        self.expire(now);
        while self.sessions.len() >= self.config.max_sessions.max(1) {
            let Some((pid, at)) = self.ages.front().cloned() else {
                break;
            };
            self.forget(&pid, at);
        }
        let pid: Arc<str> = session.pid.as_str().into();
        self.ages.push_back((pid.clone(), now));
        self.sessions.insert(pid, Persisted { session, at: now });
    }

    /// Takes the session `pid` for a socket that reconnects having last
    /// seen packet `offset`: once, inside the window, and only if every
    /// packet after the offset is kept and they fit in one replay. Counted
    /// either way.
    pub fn claim(
        &mut self,
        pid: &str,
        offset: &str,
        now: Instant,
    ) -> Result<Claimed, NotRecovered> {
        let result = self.try_claim(pid, offset, now);
        self.stats.count(&result);
        result
    }

    fn try_claim(
        &mut self,
        pid: &str,
        offset: &str,
        now: Instant,
    ) -> Result<Claimed, NotRecovered> {
        // Taken before the others expire, so that its own expiry is told apart.
        let persisted = self
            .sessions
            .remove(pid)
            .ok_or(NotRecovered::UnknownSession)?;
        if persisted.at + self.config.max_disconnection_duration < now {
            return Err(NotRecovered::Expired);
        }
        self.expire(now);
        self.replay_from(persisted.session, offset)
    }

    /// How long a disconnected socket's session is kept.
    pub fn window(&self) -> Duration {
        self.config.max_disconnection_duration
    }

    /// A claim of a session the cluster keeps and did not have: counted.
    pub fn claim_none(&self) -> Result<Claimed, NotRecovered> {
        let result = Err(NotRecovered::UnknownSession);
        self.stats.count(&result);
        result
    }

    /// Like [`Self::claim`] for a session the cluster kept (and gave up
    /// to this node): checks only the offset.
    pub fn claim_kept(&mut self, session: Session, offset: &str) -> Result<Claimed, NotRecovered> {
        let result = self.replay_from(session, offset);
        self.stats.count(&result);
        result
    }

    fn replay_from(&self, session: Session, offset: &str) -> Result<Claimed, NotRecovered> {
        let after = self.seq_of(offset).ok_or(NotRecovered::UnknownOffset)?;
        let bytes: usize = (self.missed(after, &session.rooms))
            .map_err(|Hole| NotRecovered::OffsetNotKept)?
            .map(|(_, bytes)| bytes)
            .sum();
        if bytes > self.config.max_replay_bytes {
            return Err(NotRecovered::TooMuchMissed);
        }
        Ok(Claimed { session, after })
    }

    /// The packets after `after` that `rooms` select, oldest first, with
    /// their sizes; `Hole` if some of them are no longer kept.
    pub fn missed<'a>(
        &'a self,
        after: u64,
        rooms: &'a [String],
    ) -> Result<impl Iterator<Item = (&'a T, usize)> + 'a, Hole> {
        let first = self.first_seq();
        if first > after + 1 {
            return Err(Hole);
        }
        // Kept packets have consecutive sequence numbers.
        let skip = (after + 1 - first) as usize;
        Ok((self.kept.iter().skip(skip))
            .filter(move |k| k.selects(rooms))
            .map(|k| (&k.item, k.bytes)))
    }
}

/// What recovery did in one namespace, as counters shared with its handles.
#[derive(Debug, Default)]
pub(crate) struct RecoveryStats {
    pub recovered: AtomicU64,
    pub unknown_offset: AtomicU64,
    pub unknown_session: AtomicU64,
    pub expired: AtomicU64,
    pub offset_not_kept: AtomicU64,
    pub too_much_missed: AtomicU64,
    /// Claimed, then packets after the offset were dropped before the
    /// socket was back: its connection was closed rather than given a hole.
    pub aborted: AtomicU64,
    pub replayed: AtomicU64,
    pub losses: AtomicU64,
}

impl RecoveryStats {
    fn count(&self, result: &Result<Claimed, NotRecovered>) {
        let counter = match result {
            Ok(_) => &self.recovered,
            Err(NotRecovered::UnknownOffset) => &self.unknown_offset,
            Err(NotRecovered::UnknownSession) => &self.unknown_session,
            Err(NotRecovered::Expired) => &self.expired,
            Err(NotRecovered::OffsetNotKept) => &self.offset_not_kept,
            Err(NotRecovered::TooMuchMissed) => &self.too_much_missed,
        };
        counter.fetch_add(1, Relaxed);
    }

    pub fn snapshot(&self) -> RecoveryCounters {
        RecoveryCounters {
            recovered: self.recovered.load(Relaxed),
            unknown_offset: self.unknown_offset.load(Relaxed),
            unknown_session: self.unknown_session.load(Relaxed),
            expired: self.expired.load(Relaxed),
            offset_not_kept: self.offset_not_kept.load(Relaxed),
            too_much_missed: self.too_much_missed.load(Relaxed),
            aborted: self.aborted.load(Relaxed),
            replayed: self.replayed.load(Relaxed),
            losses: self.losses.load(Relaxed),
        }
    }
}

/// What connection state recovery did in a namespace since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecoveryCounters {
    /// Sockets that came back as themselves.
    pub recovered: u64,
    /// Not recovered: the offset was not one this namespace gave out.
    pub unknown_offset: u64,
    /// Not recovered: no session had that `pid`.
    pub unknown_session: u64,
    /// Sessions that expired (whether or not their client came back).
    pub expired: u64,
    /// Not recovered: packets after the offset were no longer kept.
    pub offset_not_kept: u64,
    /// Not recovered: the socket missed more than one replay may carry.
    pub too_much_missed: u64,
    /// Recovered, then closed before the replay: packets it missed were
    /// dropped meanwhile (its next attempt starts afresh).
    pub aborted: u64,
    /// Packets replayed to recovered sockets.
    pub replayed: u64,
    /// Times broadcasts from the cluster were lost on their way here (a
    /// full queue, a lost Redis link) and what was kept was forgotten.
    pub losses: u64,
}
