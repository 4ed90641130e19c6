//! The Engine.IO session as a pure state machine: handshake state,
//! heartbeat, polling GET/POST bookkeeping, the WebSocket upgrade and its
//! probe, the outgoing queue and the close sequence.
//!
//! Owns: every decision about what a session does next. Must not touch:
//! actix, sockets, channels, the handler of the layer above, or a clock. Time
//! comes in as an argument (`now`), I/O goes out as [`Action`]s the caller
//! carries out in order, and the one timer the caller runs is for
//! [`SessionState::poll_timeout`] (the quinn-proto shape). That is what lets
//! every transition, races included, be unit-tested without a runtime.
//!
//! The heartbeat is plain data (the next deadline), not a timer per packet:
//! a pong costs a comparison, and a pong nobody asked for costs nothing.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::EngineConfig;
use crate::data::{CloseReason, Message};
use crate::outgoing::{Admit, Outgoing, WS_WRITABLE_BYTES, admit};
use crate::packet::{Frame, Packet, ProtocolVersion};
use crate::queue::OutQueue;

/// Identifies one WebSocket connection of a session (its transport or its probe).
pub type ConnId = u64;

/// How long a GET that arrives while the client is being upgraded (its
/// probe WebSocket open) is held before it gets a noop. Holding it lets the
/// `2probe` and `5` that the client sent on the other connection, perhaps
/// before this GET but read after it, decide its fate (400), whatever order
/// the two connections' bytes were read in. It is engine.io's upgrade check
/// period, so a real client's upgrade waits no longer than on engine.io (and
/// its data still flows: a held GET takes what comes).
pub const PROBE_GET_HOLD: Duration = Duration::from_millis(100);

/// How long a session the client closed (a POSTed `1`) with no GET waiting
/// keeps the noop for its next GET: the GET it sent beside the close, read
/// after it, comes within this. Short, because the session's client address
/// slot is held until it ends.
pub const CLIENT_CLOSE_HOLD: Duration = Duration::from_secs(1);

/// The timings and limits the core needs.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub upgrade_timeout: Duration,
    pub max_buffer_bytes: usize,
}

impl Limits {
    pub fn from_config(config: &EngineConfig) -> Limits {
        Limits {
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
            upgrade_timeout: config.upgrade_timeout,
            max_buffer_bytes: config.max_buffer_bytes,
        }
    }

    /// How long a session closed server-side keeps its close packet for the
    /// client's next GET, as engine.io does; and how long a v3 client may go
    /// without pinging.
    fn grace(&self) -> Duration {
        self.ping_interval + self.ping_timeout
    }
}

/// Who drives the heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatMode {
    /// Engine.IO v4: the server pings every `pingInterval` and wants a pong
    /// within `pingTimeout`.
    ServerPings,
    /// Engine.IO v3: the client pings, the server answers with a pong and
    /// closes the session when no ping came within interval + timeout.
    ClientPings,
}

impl HeartbeatMode {
    /// The mode a protocol revision uses.
    fn of(version: ProtocolVersion) -> HeartbeatMode {
        match version {
            ProtocolVersion::V3 => HeartbeatMode::ClientPings,
            ProtocolVersion::V4 => HeartbeatMode::ServerPings,
        }
    }
}

/// The heartbeat's state: one deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heartbeat {
    /// The server's next ping is due then.
    PingAt(Instant),
    /// A ping is out; its pong is due by then.
    PongBy(Instant),
    /// The client's next ping is due by then.
    PingBy(Instant),
}

impl Heartbeat {
    /// How the heartbeat starts (at the handshake) or restarts (after the
    /// pong or ping that kept the session alive).
    fn start(mode: HeartbeatMode, now: Instant, limits: &Limits) -> Heartbeat {
        match mode {
            HeartbeatMode::ServerPings => Heartbeat::PingAt(now + limits.ping_interval),
            HeartbeatMode::ClientPings => Heartbeat::PingBy(now + limits.grace()),
        }
    }

    fn deadline(self) -> Instant {
        match self {
            Heartbeat::PingAt(t) | Heartbeat::PongBy(t) | Heartbeat::PingBy(t) => t,
        }
    }
}

/// The long-polling GET, if one waits for data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Get {
    Idle,
    Waiting,
    /// Came while the upgrade probe was answered: held until then (see
    /// [`PROBE_GET_HOLD`]); refused if the upgrade completes first.
    Held {
        until: Instant,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    /// A WebSocket handshake whose transport has not registered yet.
    Pending,
    Polling {
        get: Get,
        post: bool,
    },
    WebSocket {
        conn: ConnId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Probe {
    conn: ConnId,
    /// The client must send `5` (upgrade) by then.
    deadline: Instant,
    /// `3probe` has been sent.
    answered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    /// Closed while polling with no GET waiting: the close packet (server
    /// side) or the noop (the client's own close) waits for the client's
    /// next GET until then.
    Draining {
        until: Instant,
    },
    Closed,
}

/// Something the session's shell must do, in the order given.
#[derive(Debug)]
pub enum Action {
    /// Answer the waiting GET with these frames (as one payload). If the GET
    /// is gone, give them back with [`SessionState::restore`].
    AnswerGet(Vec<(Frame, bool)>),
    /// Answer the held GET with HTTP 400: the session moved to WebSocket.
    RefuseGet,
    /// Write frames to WebSocket `conn`.
    WsWrite {
        conn: ConnId,
        frames: Vec<(Frame, bool)>,
    },
    /// Write a pong to WebSocket `conn` unless an earlier one is still
    /// waiting there (then that one answers).
    WsPong { conn: ConnId, frame: Frame },
    /// Write the layer above's frames to WebSocket `conn` (shared framing).
    WsOutgoing { conn: ConnId, out: Outgoing },
    /// Close WebSocket `conn` and stop its transport.
    WsClose { conn: ConnId },
    /// WebSocket `conn` is the transport and nothing is queued: other
    /// threads may write to it directly from now on.
    Attach { conn: ConnId },
    /// Direct writes stop (closing).
    Detach,
    /// The session is over: forget its sid and stop.
    Finish,
}

/// A polling GET's answer.
#[derive(Debug)]
pub enum GetOutcome {
    Ready(Vec<(Frame, bool)>),
    /// Wait for an [`Action::AnswerGet`] or [`Action::RefuseGet`].
    Wait,
}

/// A request that does not fit the session's state: a polling request to a
/// session that is not polling, or a second concurrent GET or POST (then
/// the session is closed with `transport error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportMismatch;

/// One Engine.IO session's logic. See the module docs.
#[derive(Debug)]
pub struct SessionState {
    version: ProtocolVersion,
    mode: HeartbeatMode,
    limits: Limits,
    transport: Transport,
    probe: Option<Probe>,
    heartbeat: Heartbeat,
    queue: OutQueue,
    phase: Phase,
    /// Why the session closed, until the shell has told the handler.
    closed: Option<CloseReason>,
    actions: VecDeque<Action>,
}

impl SessionState {
    /// A session opened at `now` (the handshake), on polling or, when
    /// `websocket`, on a WebSocket that registers with [`ws_opened`](Self::ws_opened).
    /// The heartbeat follows `version` (see [`HeartbeatMode`]).
    pub fn new(
        now: Instant,
        version: ProtocolVersion,
        limits: Limits,
        websocket: bool,
    ) -> SessionState {
        let transport = if websocket {
            Transport::Pending
        } else {
            Transport::Polling {
                get: Get::Idle,
                post: false,
            }
        };
        let mode = HeartbeatMode::of(version);
        SessionState {
            version,
            mode,
            limits,
            transport,
            probe: None,
            heartbeat: Heartbeat::start(mode, now, &limits),
            queue: OutQueue::default(),
            phase: Phase::Open,
            closed: None,
            actions: VecDeque::new(),
        }
    }

    /// The WebSocket that is the session's transport, if it is on one.
    pub fn ws_conn(&self) -> Option<ConnId> {
        match self.transport {
            Transport::WebSocket { conn } => Some(conn),
            _ => None,
        }
    }

    /// Whether WebSocket `conn` is the registered upgrade probe.
    pub fn is_probe(&self, conn: ConnId) -> bool {
        self.probe.is_some_and(|p| p.conn == conn)
    }

    /// The transport's name, as Engine.IO writes it: `polling` or `websocket`.
    pub fn transport_name(&self) -> &'static str {
        match self.transport {
            Transport::Polling { .. } => "polling",
            Transport::Pending | Transport::WebSocket { .. } => "websocket",
        }
    }

    /// Whether the session has begun closing (sending is a no-op from then).
    pub fn is_closing(&self) -> bool {
        self.phase != Phase::Open
    }

    /// The next thing to carry out.
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if action.is_none() && self.actions.capacity() > 0 {
            // Drained: an idle session keeps no action buffer.
            self.actions = VecDeque::new();
        }
        action
    }

    /// Why the session closed, once, so the shell tells its handler exactly once.
    pub fn take_closed(&mut self) -> Option<CloseReason> {
        self.closed.take()
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work; a timer
    /// that fires early is harmless.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closed => None,
            Phase::Draining { until } => Some(until),
            Phase::Open => {
                let mut next = self.heartbeat.deadline();
                if let Some(p) = &self.probe {
                    next = next.min(p.deadline);
                }
                if let Transport::Polling {
                    get: Get::Held { until },
                    ..
                } = self.transport
                {
                    next = next.min(until);
                }
                Some(next)
            }
        }
    }

    /// Does what is due at `now`: a ping, a ping timeout, a probe timeout,
    /// the end of a held GET or of the close grace period.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Phase::Draining { until } = self.phase
            && until <= now
        {
            self.finish();
            return;
        }
        if self.phase != Phase::Open {
            return;
        }
        if let Some(probe) = self.probe
            && probe.deadline <= now
        {
            log::debug!("probe {} timed out", probe.conn);
            self.drop_probe();
            self.actions.push_back(Action::WsClose { conn: probe.conn });
        }
        if let Transport::Polling { get, .. } = &mut self.transport
            && let Get::Held { until } = *get
            && until <= now
        {
            // The client is pausing for the upgrade: end its poll.
            *get = Get::Waiting;
            if self.queue.is_empty() {
                self.enqueue(Packet::Noop);
            }
            self.flush();
        }
        match self.heartbeat {
            Heartbeat::PingAt(t) if t <= now => {
                self.enqueue(Packet::Ping(String::new()));
                self.flush();
                // Counted from when the ping was due, not from when a timer
                // that fired late sent it: the deadline is a rule of the
                // schedule (a GET sent `ping_interval + ping_timeout` after
                // the handshake finds the session closed, as on engine.io).
                self.heartbeat = Heartbeat::PongBy(t + self.limits.ping_timeout);
            }
            Heartbeat::PongBy(t) | Heartbeat::PingBy(t) if t <= now => {
                self.close(now, CloseReason::PingTimeout);
            }
            _ => {}
        }
    }

    /// Does what was due by `now` before an event from the client is
    /// handled: a deadline that has passed (a pong not received in time, a
    /// grace period over) means the session is closed, whether or not the
    /// shell's timer has fired yet. The outcome of a request that races a
    /// deadline is then decided by the times alone, not by which thread ran
    /// first.
    fn catch_up(&mut self, now: Instant) {
        // Each step moves to the next deadline (a ping due, then its pong's
        // deadline); a deadline that does not move ends the loop.
        let mut last = None;
        while let Some(due) = self.poll_timeout()
            && due <= now
            && last != Some(due)
        {
            last = Some(due);
            self.handle_timeout(now);
        }
    }

    /// Queues a frame before the transport exists (the WebSocket handshake's open packet).
    pub fn enqueue_first(&mut self, frame: Frame) {
        self.queue.push(frame, false);
    }

    /// A packet from the session's current transport; a message for the
    /// handler comes back.
    pub fn on_packet(&mut self, now: Instant, packet: Packet) -> Option<Message> {
        if self.phase != Phase::Open {
            return None;
        }
        // A v3 client is alive while anything arrives, as engine.io 3 counts it.
        if let Heartbeat::PingBy(_) = self.heartbeat {
            self.heartbeat = Heartbeat::start(self.mode, now, &self.limits);
        }
        match packet {
            Packet::Message(text) => Some(Message::Text(text)),
            Packet::Binary(data) => Some(Message::Binary(data)),
            Packet::Pong(_) => {
                self.on_pong(now);
                None
            }
            Packet::Ping(data) if self.mode == HeartbeatMode::ClientPings => {
                self.answer_ping(data);
                None
            }
            Packet::Close => {
                self.close(now, CloseReason::TransportClose);
                None
            }
            other => {
                log::debug!("ignoring {other:?}");
                None
            }
        }
    }

    /// Only a pong that answers the outstanding ping counts; any other is
    /// ignored without work (a storm of them must cost nothing).
    fn on_pong(&mut self, now: Instant) {
        if let Heartbeat::PongBy(_) = self.heartbeat {
            self.heartbeat = Heartbeat::start(self.mode, now, &self.limits);
        }
    }

    /// A v3 client's ping gets its pong, but never more than one waiting:
    /// a client that pings without reading must not grow its queue.
    fn answer_ping(&mut self, data: String) {
        let pong = Packet::Pong(data).encode(self.version);
        match self.transport {
            Transport::WebSocket { conn } if self.queue.is_empty() => {
                self.actions.push_back(Action::WsPong { conn, frame: pong });
            }
            _ => {
                self.queue.push_pong(pong);
                self.flush();
            }
        }
    }

    // ----- polling -------------------------------------------------------

    /// A long-polling GET arrives. What was due by `now` is done first (see
    /// [`catch_up`](Self::catch_up)).
    pub fn poll_get(&mut self, now: Instant) -> Result<GetOutcome, TransportMismatch> {
        self.catch_up(now);
        let Transport::Polling { get, .. } = &mut self.transport else {
            // Upgraded (or never polling): refused, the session is untouched.
            return Err(TransportMismatch);
        };
        match self.phase {
            Phase::Closed => return Err(TransportMismatch),
            Phase::Draining { .. } => {
                // The client collects what was queued and the close packet.
                let frames = self.queue.take();
                self.finish();
                return Ok(GetOutcome::Ready(frames));
            }
            Phase::Open => {}
        }
        if *get != Get::Idle {
            // Two GETs at once: engine.io closes the session.
            self.close(now, CloseReason::TransportError);
            return Err(TransportMismatch);
        }
        match self.probe {
            // Upgrading, whether or not the probe's `2probe` has been read yet: its `5` may
            // follow on the other connection and decide this GET's fate (400), whatever order
            // the two were read in, even with packets queued (they go out on the WebSocket
            // then); else the hold ends with what is queued, or a noop, and the client pauses.
            Some(_) => {
                *get = Get::Held {
                    until: now + PROBE_GET_HOLD,
                };
                Ok(GetOutcome::Wait)
            }
            None if !self.queue.is_empty() => Ok(GetOutcome::Ready(self.queue.take())),
            None => {
                *get = Get::Waiting;
                Ok(GetOutcome::Wait)
            }
        }
    }

    /// A GET's HTTP connection closed before its answer was written (the
    /// tab was closed, the network dropped): engine.io's "poll connection
    /// closed prematurely". While polling, the session ends with `transport
    /// error` at once, as on engine.io, rather than at the ping timeout: the
    /// client cannot be reached, and whatever the GET was answered with is
    /// lost. What was due by `now` is done first, so a session that had
    /// already timed out keeps that reason. After an upgrade the GET no longer
    /// matters and nothing happens; a closed session stays as it is.
    pub fn get_abandoned(&mut self, now: Instant) {
        self.catch_up(now);
        if matches!(self.transport, Transport::Polling { .. }) && self.phase == Phase::Open {
            self.close(now, CloseReason::TransportError);
        }
    }

    /// The waiting GET's receiver was dropped; see also
    /// [`get_abandoned`](Self::get_abandoned), which the connection's end
    /// brings right after.
    pub fn get_gone(&mut self) {
        if let Transport::Polling { get, .. } = &mut self.transport {
            *get = Get::Idle;
        }
    }

    /// Frames of an [`Action::AnswerGet`] that could not be delivered.
    pub fn restore(&mut self, frames: Vec<(Frame, bool)>) {
        self.get_gone();
        self.queue.restore(frames);
    }

    /// A POST starts; a second concurrent one closes the session. What was
    /// due by `now` is done first.
    pub fn post_started(&mut self, now: Instant) -> Result<(), TransportMismatch> {
        self.catch_up(now);
        match &mut self.transport {
            Transport::Polling { post, .. } if !*post && self.phase == Phase::Open => {
                *post = true;
                Ok(())
            }
            Transport::Polling { post: true, .. } => {
                self.close(now, CloseReason::TransportError);
                Err(TransportMismatch)
            }
            _ => Err(TransportMismatch),
        }
    }

    /// The POST's body has been read (its packets follow through
    /// [`on_packet`](Self::on_packet)); `false` when no POST was in flight
    /// (its start was refused), and its packets are not the session's.
    pub fn post_finished(&mut self) -> bool {
        match &mut self.transport {
            Transport::Polling { post, .. } => std::mem::replace(post, false),
            _ => false,
        }
    }

    // ----- WebSocket and upgrade ----------------------------------------

    /// WebSocket `conn` registers: the transport of a WebSocket handshake,
    /// or (`probe`) an upgrade of a polling session. `false`: refused, the
    /// shell closes it.
    pub fn ws_opened(&mut self, now: Instant, conn: ConnId, probe: bool) -> bool {
        if self.phase != Phase::Open {
            return false;
        }
        match (self.transport, probe) {
            (Transport::Pending, false) => {
                self.transport = Transport::WebSocket { conn };
                self.flush();
                self.attach();
                true
            }
            (Transport::Polling { .. }, true) if self.probe.is_none() => {
                self.probe = Some(Probe {
                    conn,
                    deadline: now + self.limits.upgrade_timeout,
                    answered: false,
                });
                true
            }
            // Already upgraded or upgrading: the new WebSocket is turned away.
            _ => false,
        }
    }

    /// A packet arrived on WebSocket `conn`. What was due by `now` is done first.
    pub fn ws_packet(&mut self, now: Instant, conn: ConnId, packet: Packet) -> Option<Message> {
        self.catch_up(now);
        if self.phase != Phase::Open {
            return None;
        }
        match self.transport {
            Transport::WebSocket { conn: c } if c == conn => self.on_packet(now, packet),
            _ if self.probe.is_some_and(|p| p.conn == conn) => {
                self.probe_packet(conn, packet);
                None
            }
            _ => None,
        }
    }

    /// The probe answers `2probe` with `3probe` and switches on `5`.
    fn probe_packet(&mut self, conn: ConnId, packet: Packet) {
        match packet {
            Packet::Ping(data) if data == "probe" => {
                let pong = Packet::Pong(data).encode(self.version);
                self.actions.push_back(Action::WsWrite {
                    conn,
                    frames: vec![(pong, false)],
                });
                if let Some(p) = &mut self.probe {
                    p.answered = true;
                }
                // End the client's pending GET so it can pause polling.
                if let Transport::Polling {
                    get: Get::Waiting, ..
                } = self.transport
                    && self.queue.is_empty()
                {
                    self.enqueue(Packet::Noop);
                }
                self.flush();
            }
            Packet::Upgrade => {
                self.probe = None;
                let old = std::mem::replace(&mut self.transport, Transport::WebSocket { conn });
                match old {
                    Transport::Polling {
                        get: Get::Waiting, ..
                    } => {
                        let noop = Packet::Noop.encode(self.version);
                        self.actions
                            .push_back(Action::AnswerGet(vec![(noop, false)]));
                    }
                    // Sent after the `5`, whatever order it was read in.
                    Transport::Polling {
                        get: Get::Held { .. },
                        ..
                    } => self.actions.push_back(Action::RefuseGet),
                    _ => {}
                }
                self.flush();
                self.attach();
            }
            other => log::debug!("unexpected probe packet {other:?}"),
        }
    }

    /// WebSocket `conn` ended with `reason`.
    pub fn ws_closed(&mut self, now: Instant, conn: ConnId, reason: CloseReason) {
        match self.transport {
            Transport::WebSocket { conn: c } if c == conn => self.close(now, reason),
            _ if self.probe.is_some_and(|p| p.conn == conn) => self.drop_probe(),
            _ => {}
        }
    }

    fn drop_probe(&mut self) {
        self.probe = None;
        // A GET held for the upgrade goes back to waiting for data, and takes
        // what was queued meanwhile.
        if let Transport::Polling { get, .. } = &mut self.transport
            && matches!(get, Get::Held { .. })
        {
            *get = Get::Waiting;
            self.flush();
        }
    }

    // ----- outgoing -------------------------------------------------------

    /// Bytes waiting for this client, given what its WebSocket sink holds.
    fn buffered(&self, ws_buffered: usize) -> usize {
        let sink = match self.transport {
            Transport::WebSocket { .. } => ws_buffered,
            _ => 0,
        };
        self.queue.bytes() + sink
    }

    /// Whether a volatile packet would go out now rather than wait.
    fn writable(&self, ws_buffered: usize) -> bool {
        match self.transport {
            Transport::Polling { get, .. } => get == Get::Waiting && self.probe.is_none(),
            Transport::WebSocket { .. } => ws_buffered < WS_WRITABLE_BYTES,
            Transport::Pending => false,
        }
    }

    /// Frames from the layer above; `ws_buffered` is what the WebSocket
    /// sink holds. `Overflow` means the caller must close the session (it
    /// logs and counts); nothing was queued. A closing session takes
    /// nothing and says `Send`.
    pub fn push(&mut self, out: Outgoing, ws_buffered: usize) -> Admit {
        if self.phase != Phase::Open {
            return Admit::Send;
        }
        let verdict = admit(
            self.writable(ws_buffered),
            self.buffered(ws_buffered),
            &out,
            self.limits.max_buffer_bytes,
        );
        if verdict != Admit::Send {
            return verdict;
        }
        if let Transport::WebSocket { conn } = self.transport
            && self.queue.is_empty()
        {
            self.actions.push_back(Action::WsOutgoing { conn, out });
            return verdict;
        }
        for frame in out.frames.frames() {
            self.queue.push(frame.clone(), out.compress);
        }
        self.flush();
        verdict
    }

    /// An Engine.IO control packet (never compressed).
    fn enqueue(&mut self, packet: Packet) {
        self.queue.push(packet.encode(self.version), false);
    }

    /// Hands queued frames to the transport if it can take them now.
    fn flush(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        match &mut self.transport {
            // A GET held for an upgrade is not answered before its hold ends: the `5` may
            // still come and refuse it (see `poll_get`).
            Transport::Polling { get, .. } => {
                if *get == Get::Waiting {
                    *get = Get::Idle;
                    self.actions.push_back(Action::AnswerGet(self.queue.take()));
                }
            }
            Transport::WebSocket { conn } => {
                let conn = *conn;
                let frames = self.queue.take();
                self.actions.push_back(Action::WsWrite { conn, frames });
            }
            Transport::Pending => {}
        }
    }

    /// Opens the direct path once the WebSocket has taken everything queued.
    fn attach(&mut self) {
        if let Transport::WebSocket { conn } = self.transport
            && self.phase == Phase::Open
            && self.queue.is_empty()
        {
            self.actions.push_back(Action::Attach { conn });
        }
    }

    // ----- close ----------------------------------------------------------

    /// Ends the session once: the handler hears why (through
    /// [`take_closed`](Self::take_closed)), what is queued goes where the
    /// transport can take it, and the session finishes — at once, or, for a
    /// polling session closed server-side with no GET waiting, when its next
    /// GET has collected the close packet (or the grace period ran out).
    pub fn close(&mut self, now: Instant, reason: CloseReason) {
        if self.phase != Phase::Open {
            return;
        }
        self.phase = Phase::Closed;
        self.closed = Some(reason);
        self.actions.push_back(Action::Detach);
        // A client mid-upgrade may already have moved to the probe: close it
        // too, so it sees the close rather than silence.
        if let Some(probe) = self.probe.take() {
            self.actions.push_back(Action::WsClose { conn: probe.conn });
        }
        let server_side = matches!(
            reason,
            CloseReason::ForcedClose | CloseReason::ServerShutdown
        );
        match self.transport {
            // The client said close itself (a POSTed `1`): its pending GET, or the next one
            // if none waits (it may have been sent beside the POST and read after it; see
            // CLIENT_CLOSE_HOLD), ends with a noop, as on engine.io; only the GET after that
            // finds the session gone.
            Transport::Polling { get, .. } if reason == CloseReason::TransportClose => {
                self.enqueue(Packet::Noop);
                if get == Get::Idle {
                    self.phase = Phase::Draining {
                        until: now + CLIENT_CLOSE_HOLD,
                    };
                    return;
                }
                self.flush_polling();
            }
            Transport::Polling { get, .. } => {
                self.enqueue(Packet::Close);
                if server_side && get == Get::Idle {
                    self.phase = Phase::Draining {
                        until: now + self.limits.grace(),
                    };
                    return;
                }
                self.flush_polling();
            }
            Transport::WebSocket { conn } => {
                if server_side {
                    self.flush_ws(conn);
                }
                self.actions.push_back(Action::WsClose { conn });
            }
            Transport::Pending => {}
        }
        self.finish();
    }

    fn flush_polling(&mut self) {
        if let Transport::Polling { get, .. } = &mut self.transport
            && *get != Get::Idle
        {
            *get = Get::Idle;
            self.actions.push_back(Action::AnswerGet(self.queue.take()));
        }
    }

    fn flush_ws(&mut self, conn: ConnId) {
        if !self.queue.is_empty() {
            let frames = self.queue.take();
            self.actions.push_back(Action::WsWrite { conn, frames });
        }
    }

    fn finish(&mut self) {
        self.phase = Phase::Closed;
        self.actions.push_back(Action::Finish);
    }
}

#[cfg(test)]
mod tests;
