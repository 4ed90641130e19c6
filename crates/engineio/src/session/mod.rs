//! The EngineSession actor: one per Engine.IO session, a thin shell around
//! the pure `core::SessionState`. It feeds the state machine events
//! (requests, packets, transports coming and going; a session opened by a
//! WebSocket reads that connection itself), runs ONE timer for the
//! state's next deadline, carries out the `Action`s it returns (answer a
//! GET, write to a WebSocket sink, close a transport, finish), and runs the
//! [`EngineHandler`] of the layer above in its own context.
//!
//! Owns: the session's I/O resources (the waiting GET's channel, the
//! WebSocket sinks) and its mailbox. Must not touch: session logic (that is
//! the core's), the registry of sessions (it is handed a callback to leave
//! it), anything Socket.IO.
//!
//! Every entry point (a mailbox message, a timer, the handler's own
//! `run_later`) ends with `EngineSession::after`, the one place that acts
//! on a close requested from elsewhere, tells the handler the session
//! closed, carries out pending actions and re-arms the timer.

pub(crate) mod core;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
use std::time::Instant;

use actix::prelude::*;
use actix_web::error::PayloadError;
use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::oneshot;

pub use self::core::TransportMismatch;
use self::core::{Action, ConnId, GetOutcome, Limits, SessionState};
use super::config::EngineConfig;
use super::data::{CloseReason, Message as Msg, RequestInfo};
use super::outgoing::Admit;
use super::outgoing::Outgoing;
use super::outlet::Outlet;
use super::packet::{Frame, Packet, ProtocolVersion};
use super::queue::PollBody;
use super::sink::WsSink;
use super::stats::EngineStats;
use super::websocket::WsReader;

/// Application logic on top of one Engine.IO session. It runs inside the
/// session actor, so its methods are called in order and never concurrently.
///
/// Other actors reach a handler through [`SessionHandle::upcall`], which
/// delivers a [`EngineHandler::Upcall`] value to [`EngineHandler::on_upcall`].
pub trait EngineHandler: Unpin + Sized + 'static {
    /// Messages other actors send to this handler.
    type Upcall: Send + 'static;

    /// The session is open (the handshake has been queued).
    fn on_open(&mut self, _session: &mut SessionCtx<'_, Self>) {}

    /// The client sent a message.
    fn on_message(&mut self, message: Msg, session: &mut SessionCtx<'_, Self>);

    /// The session moved from HTTP long-polling to WebSocket (Engine.IO's
    /// `upgrade` event); [`SessionCtx::transport`] says `websocket` from now on.
    fn on_upgrade(&mut self, _session: &mut SessionCtx<'_, Self>) {}

    /// Another actor sent this handler a message.
    fn on_upcall(&mut self, _upcall: Self::Upcall, _session: &mut SessionCtx<'_, Self>) {}

    /// The session has ended; called exactly once. Sending is a no-op from here.
    fn on_close(&mut self, reason: CloseReason, session: &mut SessionCtx<'_, Self>);
}

/// What a handler can do with its session while one of its methods runs.
pub struct SessionCtx<'a, H: EngineHandler> {
    pub(crate) shell: &'a mut Shell,
    pub(crate) ctx: &'a mut Context<EngineSession<H>>,
}

/// A cloneable, thread-safe handle to one session.
pub struct SessionHandle<H: EngineHandler> {
    pub(crate) shared: Arc<SessionShared>,
    pub(crate) addr: Addr<EngineSession<H>>,
}

impl<H: EngineHandler> Clone for SessionHandle<H> {
    fn clone(&self) -> Self {
        SessionHandle {
            shared: self.shared.clone(),
            addr: self.addr.clone(),
        }
    }
}

/// Closes the session with a reason.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Close(pub CloseReason);

/// Tells a transport actor to stop reading (its session is done with it).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct WsStop;

/// Makes the session look at its shared state (a close was requested).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub(crate) struct Wake;

/// A value for the handler from another actor.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Upcall<U: Send + 'static>(pub U);

/// A long-polling GET asks for data. Its answer goes to `reply`, at once
/// when there is data (or a refusal), else once there is: one message to the
/// session and one answer back, so a GET that waits costs no extra wake-up
/// of its thread. A `reply` dropped unanswered means the session ended
/// before it took the GET (a waiting GET is answered with the close packet).
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct PollGet {
    pub reply: oneshot::Sender<PollAnswer>,
}

/// What a GET is answered with.
pub type PollAnswer = Result<PollBody, TransportMismatch>;

/// A WebSocket for this polling session is about to be accepted as its
/// upgrade probe: registered before its `101` is written, so that a request
/// the client sends once it has seen the `101` (a GET on the other
/// connection) finds the upgrade under way, whichever thread reads it first.
/// A probe the session does not take (closed, upgraded or already probing)
/// is closed once its transport opens.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct ProbeComing {
    pub conn: ConnId,
}

/// A GET's HTTP connection closed before its answer was written.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct PollAbandoned;

/// A long-polling POST starts (a second one in flight closes the session).
/// Not answered: its [`PostDone`] follows at once when the body came with
/// the request, so both reach the session with one wake-up, and the answer
/// to `PostDone` says whether the POST was taken.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct PostStart;

/// The decoded body of a POST, or why it could not be read; refused when
/// its [`PostStart`] was (wrong transport, session closing).
#[derive(actix::Message)]
#[rtype(result = "Result<(), TransportMismatch>")]
pub struct PostDone(pub Result<Vec<Packet>, CloseReason>);

/// Something that happened on WebSocket `conn`, in the order it happened.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct WsIn {
    pub conn: ConnId,
    pub event: WsEvent,
}

pub enum WsEvent {
    /// The transport of an upgrade probe started.
    Opened {
        sink: WsSink,
        stop: Recipient<WsStop>,
    },
    Packet(Packet),
    /// The connection ended, and why.
    Closed(CloseReason),
}

/// What the session shares with every [`SessionHandle`]
/// on any thread: identity, counters, the direct path to a WebSocket, and
/// the close-request flag.
pub(crate) struct SessionShared {
    pub sid: Arc<str>,
    pub version: ProtocolVersion,
    pub request: Arc<RequestInfo>,
    pub stats: Arc<EngineStats>,
    pub outlet: Outlet,
    /// 0, or 1 + the index of the first requested [`CloseReason`]: a close
    /// that must get through a full mailbox (or need not wait its turn). The
    /// session checks it after every message.
    close_request: AtomicU8,
    /// A `Close` has been put in the mailbox: one per session, never more.
    close_sent: AtomicBool,
    /// Whether the transport is a WebSocket now (set by the session when it
    /// changes; read by handles on any thread).
    websocket: AtomicBool,
    /// Set once the session has ended (its handler heard `on_close`).
    ended: AtomicBool,
}

/// Why a session is cut off for falling behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CutOff {
    /// Its outgoing bytes would go over `max_buffer_bytes`, or its mailbox
    /// was full for an outgoing packet.
    Outgoing,
    /// Its mailbox was full for an upcall.
    Upcall,
}

const REASONS: [CloseReason; 6] = [
    CloseReason::TransportError,
    CloseReason::TransportClose,
    CloseReason::PingTimeout,
    CloseReason::ParseError,
    CloseReason::ForcedClose,
    CloseReason::ServerShutdown,
];

impl SessionShared {
    /// Asks the session to close with `reason`; `true` for the first request
    /// (the caller then wakes the session).
    pub fn request_close(&self, reason: CloseReason) -> bool {
        let code = REASONS.iter().position(|r| *r == reason).expect("listed") as u8 + 1;
        self.close_request
            .compare_exchange(0, code, SeqCst, SeqCst)
            .is_ok()
    }

    /// Closes the session with `reason` once what is already in its mailbox
    /// has been handled (a `Close` message, in order); when the mailbox is
    /// full, through the flag instead, which cannot be lost. Bounded either
    /// way: one message per session, then nothing.
    pub fn close<H: EngineHandler>(&self, addr: &Addr<EngineSession<H>>, reason: CloseReason) {
        if self.close_sent.swap(true, SeqCst) {
            return;
        }
        if let Err(SendError::Full(_)) = addr.try_send(Close(reason)) {
            self.request_close(reason);
        }
    }

    /// The transport now: `polling` or `websocket`.
    pub fn transport_name(&self) -> &'static str {
        if self.websocket.load(SeqCst) {
            "websocket"
        } else {
            "polling"
        }
    }

    /// Engine.IO's `readyState`: `open`, `closing` (a close was asked
    /// for) or `closed`.
    pub fn ready_state(&self) -> &'static str {
        if self.ended.load(SeqCst) {
            "closed"
        } else if self.close_sent.load(SeqCst) || self.close_requested().is_some() {
            "closing"
        } else {
            "open"
        }
    }

    fn close_requested(&self) -> Option<CloseReason> {
        match self.close_request.load(SeqCst) {
            0 => None,
            n => Some(REASONS[usize::from(n - 1)]),
        }
    }

    /// The one slow-consumer policy, wherever it is detected: request a
    /// `transport error` close, and log and count it once per session.
    /// `true` when this was the first close request (wake the session).
    pub fn cut_off(&self, why: CutOff) -> bool {
        let first = self.request_close(CloseReason::TransportError);
        if first {
            log::warn!("session {}: slow consumer ({why:?}), closing", self.sid);
            match why {
                CutOff::Outgoing => self.stats.count_overflow(),
                CutOff::Upcall => self.stats.count_upcall_overflow(),
            }
        }
        first
    }
}

/// A WebSocket the session writes to: its transport or its upgrade probe.
struct WsIo {
    conn: ConnId,
    sink: WsSink,
    reader: Reader,
}

/// Who reads a WebSocket of the session, and so how to stop reading it.
enum Reader {
    /// A transport actor (an upgrade probe).
    Actor(Recipient<WsStop>),
    /// The session itself: the connection's stream in its context.
    Session(SpawnHandle),
}

impl WsIo {
    /// Closes the connection and stops reading it.
    fn close<H: EngineHandler>(self, ctx: &mut Context<EngineSession<H>>) {
        self.sink.close(1000);
        match self.reader {
            Reader::Actor(stop) => stop.do_send(WsStop),
            Reader::Session(handle) => drop(ctx.cancel_future(handle)),
        }
    }
}

/// Everything of the session but its handler (so both can be borrowed at once).
pub struct Shell {
    pub(crate) shared: Arc<SessionShared>,
    state: SessionState,
    /// The waiting GET's answer channel.
    get: Option<oneshot::Sender<PollAnswer>>,
    /// At most two: the transport and a probe.
    ws: Vec<WsIo>,
    /// The one timer, and the deadline it was armed for.
    timer: Option<(Instant, SpawnHandle)>,
    /// Takes the session out of the endpoint's registry.
    unregister: Option<Box<dyn FnOnce() + Send>>,
}

impl Shell {
    /// Forgets the session (its sid, its admission) and counts it closed, once.
    fn unregister(&mut self) {
        if let Some(unregister) = self.unregister.take() {
            let websocket = self.state.transport_name() == "websocket";
            self.shared
                .stats
                .count_close(websocket, self.shared.version);
            unregister();
        }
    }

    /// The session's transport now: `polling` or `websocket`.
    pub(crate) fn transport_name(&self) -> &'static str {
        self.state.transport_name()
    }
}

pub struct EngineSession<H: EngineHandler> {
    shell: Shell,
    handler: H,
    /// The WebSocket this session reads itself (one it was opened by).
    reader: Option<WsReader>,
}

/// What a new session starts from.
pub(super) struct SessionInit<H: EngineHandler> {
    pub sid: Arc<str>,
    pub version: ProtocolVersion,
    pub request: Arc<RequestInfo>,
    pub config: Arc<EngineConfig>,
    pub stats: Arc<EngineStats>,
    pub unregister: Box<dyn FnOnce() + Send>,
    pub handler: H,
    pub websocket: bool,
}

impl<H: EngineHandler> EngineSession<H> {
    pub(super) fn new(init: SessionInit<H>) -> Self {
        let state = SessionState::new(
            Instant::now(),
            init.version,
            Limits::from_config(&init.config),
            init.websocket,
        );
        let shared = SessionShared {
            sid: init.sid,
            version: init.version,
            request: init.request,
            stats: init.stats,
            outlet: Outlet::new(init.config.max_buffer_bytes),
            close_request: AtomicU8::new(0),
            close_sent: AtomicBool::new(false),
            websocket: AtomicBool::new(init.websocket),
            ended: AtomicBool::new(false),
        };
        EngineSession {
            shell: Shell {
                shared: Arc::new(shared),
                state,
                get: None,
                ws: Vec::new(),
                timer: None,
                unregister: Some(init.unregister),
            },
            handler: init.handler,
            reader: None,
        }
    }

    /// A context for a session started later (see [`Self::run_reading`]),
    /// its address known before.
    pub(super) fn context() -> Context<Self> {
        let mut ctx = Context::new();
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        ctx
    }

    /// Starts the session in `ctx` as the reader of the WebSocket it was
    /// opened by: what `input` brings is decoded and handled in the
    /// session's own context, with no mailbox between.
    pub(super) fn run_reading<S>(mut self, mut ctx: Context<Self>, reader: WsReader, input: S)
    where
        S: Stream<Item = Result<Bytes, PayloadError>> + 'static,
    {
        let conn = reader.conn();
        let handle = ctx.add_stream(input);
        self.shell.ws.reserve_exact(1);
        self.shell.ws.push(WsIo {
            conn,
            sink: reader.sink().clone(),
            reader: Reader::Session(handle),
        });
        // A new session takes its first transport (the core queues the open
        // packet for it); `started` carries out what that asks for.
        let taken = self.shell.state.ws_opened(Instant::now(), conn, false);
        debug_assert!(taken, "a new session takes its WebSocket");
        self.reader = Some(reader);
        ctx.run(self);
    }

    /// Hands one packet read from WebSocket `conn` to the core and the
    /// handler.
    fn ws_packet(&mut self, now: Instant, conn: ConnId, packet: Packet, ctx: &mut Context<Self>) {
        self.shell.shared.stats.count_in(&packet);
        // The core switches transports on the probe's `5`; `after` counts it.
        let message = self.shell.state.ws_packet(now, conn, packet);
        self.deliver(message, ctx);
    }

    /// WebSocket `conn` ended with `reason`.
    fn ws_closed(&mut self, now: Instant, conn: ConnId, reason: CloseReason) {
        self.shell.state.ws_closed(now, conn, reason);
        self.shell.ws.retain(|w| w.conn != conn);
    }

    /// Queues a frame before the session starts (the WebSocket handshake's open packet).
    pub(super) fn queue_first(&mut self, frame: Frame) {
        self.shell.state.enqueue_first(frame);
    }

    pub(super) fn with_handler<F>(&mut self, ctx: &mut Context<Self>, f: F)
    where
        F: FnOnce(&mut H, &mut SessionCtx<'_, H>),
    {
        let mut sctx = SessionCtx {
            shell: &mut self.shell,
            ctx,
        };
        f(&mut self.handler, &mut sctx);
    }

    fn deliver(&mut self, message: Option<Msg>, ctx: &mut Context<Self>) {
        // Once a close is asked for (by the handler, or a handle), what
        // arrives meanwhile is not handed over, as engine.io ignores packets
        // after its close: a flood that overflowed the layer above stops at
        // the first packet that did, not one refusal per packet.
        if self.shell.shared.close_sent.load(SeqCst) {
            return;
        }
        if let Some(message) = message {
            crate::trace::incoming(&self.shell.shared.sid, &message);
            self.with_handler(ctx, |h, s| h.on_message(message, s));
        }
    }

    /// Ends every entry point: acts on a close requested from elsewhere,
    /// tells the handler once that the session closed, carries out what the
    /// core asked for and re-arms the timer.
    pub(super) fn after(&mut self, ctx: &mut Context<Self>) {
        if let Some(reason) = self.shell.shared.close_requested() {
            self.shell.state.close(Instant::now(), reason);
        }
        // A polling session whose core switched to WebSocket has upgraded:
        // the one place that sees every transition, whichever message made it.
        let websocket = self.shell.state.transport_name() == "websocket";
        if websocket && !self.shell.shared.websocket.swap(true, SeqCst) {
            let shared = &self.shell.shared;
            shared.stats.count_upgrade(shared.version);
            self.with_handler(ctx, |h, s| h.on_upgrade(s));
        }
        if let Some(reason) = self.shell.state.take_closed() {
            self.shell.shared.ended.store(true, SeqCst);
            log::debug!("session {} closing: {reason}", self.shell.shared.sid);
            self.with_handler(ctx, |h, s| h.on_close(reason, s));
        }
        self.shell.run_actions(ctx);
        self.shell.rearm(ctx);
    }

    /// Whether the waiting GET's client is still there.
    fn sync_get(&mut self) {
        if self.shell.get.as_ref().is_some_and(|g| g.is_closed()) {
            self.shell.get = None;
            self.shell.state.get_gone();
        }
    }
}

impl Shell {
    /// Bytes waiting in the transport WebSocket's sink.
    fn ws_buffered(&self) -> usize {
        self.state
            .ws_conn()
            .and_then(|c| self.ws(c))
            .map_or(0, |w| w.sink.buffered())
    }

    fn ws(&self, conn: ConnId) -> Option<&WsIo> {
        self.ws.iter().find(|w| w.conn == conn)
    }

    /// Queues frames from the layer above, honouring the volatile flag and the bound.
    pub(super) fn push<H: EngineHandler>(
        &mut self,
        out: Outgoing,
        ctx: &mut Context<EngineSession<H>>,
    ) {
        match self.state.push(out, self.ws_buffered()) {
            Admit::Send => {}
            Admit::DropVolatile => self.shared.stats.count_volatile_drop(),
            // Acted on in `after`, which every entry point ends with.
            Admit::Overflow => drop(self.shared.cut_off(CutOff::Outgoing)),
        }
        self.run_actions(ctx);
    }

    /// Carries out what the core asked for, in order.
    fn run_actions<H: EngineHandler>(&mut self, ctx: &mut Context<EngineSession<H>>) {
        while let Some(action) = self.state.poll_action() {
            match action {
                Action::AnswerGet(frames) => {
                    if let Some(reply) = self.get.take() {
                        self.answer_get(reply, frames);
                    } else {
                        self.state.restore(frames);
                    }
                }
                Action::RefuseGet => {
                    if let Some(reply) = self.get.take() {
                        self.refuse_get(reply);
                    }
                }
                Action::WsWrite { conn, frames } => {
                    if let Some(ws) = self.ws(conn) {
                        self.shared.stats.count_out(frames.iter().map(|(f, _)| f));
                        for (frame, compress) in &frames {
                            ws.sink.send(frame, *compress);
                        }
                    }
                }
                Action::WsPong { conn, frame } => {
                    if let Some(ws) = self.ws(conn) {
                        self.shared.stats.count_out([&frame]);
                        ws.sink.send_pong_packet(&frame);
                    }
                }
                Action::WsOutgoing { conn, out } => {
                    if let Some(ws) = self.ws(conn) {
                        self.shared.stats.count_out(out.frames.frames());
                        ws.sink.send_outgoing(&out);
                    }
                }
                Action::WsClose { conn } => {
                    if let Some(i) = self.ws.iter().position(|w| w.conn == conn) {
                        self.ws.swap_remove(i).close(ctx);
                    }
                }
                Action::Attach { conn } => {
                    if let Some(ws) = self.ws(conn) {
                        self.shared.outlet.attach(&ws.sink);
                    }
                }
                Action::Detach => self.shared.outlet.detach(),
                Action::Finish => {
                    self.end_get();
                    self.unregister();
                    ctx.stop();
                }
            }
        }
    }

    /// Answers a GET with 400. When the session is on a WebSocket, only once
    /// that has written what was queued before: a client that sent `2probe`,
    /// `5` and then a GET must see the `3probe` first, as engine.io's single
    /// thread writes them (the official suite's "ignores HTTP requests with
    /// same sid after upgrade" reads them in that order).
    fn refuse_get(&self, reply: oneshot::Sender<PollAnswer>) {
        let refuse = move || drop(reply.send(Err(TransportMismatch)));
        match self.state.ws_conn().and_then(|c| self.ws(c)) {
            Some(ws) => ws.sink.when_written(refuse),
            None => refuse(),
        }
    }

    /// Answers a GET with `frames`; if it went away before we answered, the
    /// frames are kept for the next one.
    fn answer_get(&mut self, reply: oneshot::Sender<PollAnswer>, frames: Vec<(Frame, bool)>) {
        if reply.send(Ok(PollBody::new(&frames))).is_ok() {
            self.shared.stats.count_out(frames.iter().map(|(f, _)| f));
        } else {
            self.state.restore(frames);
        }
    }

    /// The session ends with a GET still waiting: it gets the close packet
    /// (a reply dropped unanswered would say the session was never there).
    fn end_get(&mut self) {
        if let Some(reply) = self.get.take() {
            let close = Packet::Close.encode(self.shared.version);
            let _ = reply.send(Ok(PollBody {
                frames: vec![close],
                compress: false,
            }));
        }
    }

    /// Keeps the one timer armed for the core's next deadline. A deadline
    /// that moved later needs nothing: the timer fires early, finds nothing
    /// due and is armed again.
    fn rearm<H: EngineHandler>(&mut self, ctx: &mut Context<EngineSession<H>>) {
        let Some(next) = self.state.poll_timeout() else {
            if let Some((_, handle)) = self.timer.take() {
                ctx.cancel_future(handle);
            }
            return;
        };
        if let Some((armed, handle)) = self.timer {
            if armed <= next {
                return;
            }
            ctx.cancel_future(handle);
        }
        let delay = next.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(delay, |s, ctx| {
            s.shell.timer = None;
            s.sync_get();
            s.shell.state.handle_timeout(Instant::now());
            s.after(ctx);
        });
        self.timer = Some((next, handle));
    }
}

impl<H: EngineHandler> Actor for EngineSession<H> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.with_handler(ctx, |h, s| h.on_open(s));
        self.after(ctx);
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        // Reached without a close when the system stops under us.
        self.shell
            .state
            .close(Instant::now(), CloseReason::ServerShutdown);
        if let Some(reason) = self.shell.state.take_closed() {
            self.with_handler(ctx, |h, s| h.on_close(reason, s));
        }
        self.shell.run_actions(ctx);
        self.shell.end_get();
        self.shell.unregister();
        // A connection this session read ends with it (its writer drains
        // and stops once the sink is closed).
        for ws in self.shell.ws.drain(..) {
            ws.close(ctx);
        }
    }
}

/// Bound of the session's mailbox; fan-out senders use `try_send` against it.
pub const MAILBOX_CAPACITY: usize = 4096;

impl<H: EngineHandler> Handler<Outgoing> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, out: Outgoing, ctx: &mut Context<Self>) {
        self.sync_get();
        self.shell.push(out, ctx);
        self.shell.shared.outlet.handled();
        self.after(ctx);
    }
}

impl<H: EngineHandler> Handler<Close> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, Close(reason): Close, ctx: &mut Context<Self>) {
        self.sync_get();
        self.shell.state.close(Instant::now(), reason);
        self.after(ctx);
    }
}

impl<H: EngineHandler> Handler<Wake> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, _: Wake, ctx: &mut Context<Self>) {
        self.sync_get();
        self.after(ctx);
    }
}

impl<H: EngineHandler> Handler<Upcall<H::Upcall>> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, Upcall(up): Upcall<H::Upcall>, ctx: &mut Context<Self>) {
        if !self.shell.state.is_closing() {
            self.with_handler(ctx, |h, s| h.on_upcall(up, s));
        }
        self.shell.shared.outlet.handled();
        self.after(ctx);
    }
}

impl<H: EngineHandler> Handler<PollGet> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, PollGet { reply }: PollGet, ctx: &mut Context<Self>) {
        self.sync_get();
        match self.shell.state.poll_get(Instant::now()) {
            Ok(GetOutcome::Ready(frames)) => self.shell.answer_get(reply, frames),
            Ok(GetOutcome::Wait) => {
                // Per-request detail: tests wait for this line to know a GET is pending.
                log::trace!("session {}: GET waits for data", self.shell.shared.sid);
                self.shell.get = Some(reply);
            }
            Err(TransportMismatch) => self.shell.refuse_get(reply),
        }
        self.after(ctx);
    }
}

impl<H: EngineHandler> Handler<ProbeComing> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, ProbeComing { conn }: ProbeComing, ctx: &mut Context<Self>) {
        self.sync_get();
        self.shell.state.ws_opened(Instant::now(), conn, true);
        self.after(ctx);
    }
}

impl<H: EngineHandler> Handler<PollAbandoned> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, _: PollAbandoned, ctx: &mut Context<Self>) {
        self.sync_get();
        self.shell.state.get_abandoned(Instant::now());
        self.after(ctx);
    }
}

impl<H: EngineHandler> Handler<PostStart> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, _: PostStart, ctx: &mut Context<Self>) {
        self.sync_get();
        // A refusal is told in `PostDone`'s answer (the core closes on an overlap).
        let _ = self.shell.state.post_started(Instant::now());
        self.after(ctx);
    }
}

impl<H: EngineHandler> Handler<PostDone> for EngineSession<H> {
    type Result = Result<(), TransportMismatch>;
    fn handle(&mut self, PostDone(body): PostDone, ctx: &mut Context<Self>) -> Self::Result {
        self.sync_get();
        if !self.shell.state.post_finished() {
            self.after(ctx);
            return Err(TransportMismatch);
        }
        // One instant for the whole payload: a packet costs no clock read.
        let now = Instant::now();
        match body {
            Ok(packets) => {
                for packet in packets {
                    if self.shell.state.is_closing() || self.shell.shared.close_sent.load(SeqCst) {
                        break;
                    }
                    self.shell.shared.stats.count_in(&packet);
                    let message = self.shell.state.on_packet(now, packet);
                    self.deliver(message, ctx);
                }
            }
            Err(reason) => self.shell.state.close(now, reason),
        }
        self.after(ctx);
        Ok(())
    }
}

impl<H: EngineHandler> Handler<WsIn> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, WsIn { conn, event }: WsIn, ctx: &mut Context<Self>) {
        self.sync_get();
        let now = Instant::now();
        match event {
            WsEvent::Opened { sink, stop } => {
                // A probe was registered with the core before its `101` (`ProbeComing`); it
                // may have timed out or the session closed since.
                let ws = WsIo {
                    conn,
                    sink,
                    reader: Reader::Actor(stop),
                };
                if self.shell.state.is_probe(conn) {
                    // Exact: an idle session keeps one slot, not a grown Vec's four.
                    self.shell.ws.reserve_exact(1);
                    self.shell.ws.push(ws);
                } else {
                    ws.close(ctx);
                }
            }
            WsEvent::Packet(packet) => self.ws_packet(now, conn, packet, ctx),
            WsEvent::Closed(reason) => self.ws_closed(now, conn, reason),
        }
        self.after(ctx);
    }
}

/// The WebSocket the session was opened by, read in its own context.
impl<H: EngineHandler> StreamHandler<Result<Bytes, PayloadError>> for EngineSession<H> {
    fn handle(&mut self, chunk: Result<Bytes, PayloadError>, ctx: &mut Context<Self>) {
        // Gone once the connection ended or the session stopped reading it.
        let Some(mut reader) = self.reader.take() else {
            return;
        };
        self.sync_get();
        let now = Instant::now();
        let conn = reader.conn();
        let ended = match chunk {
            // A read error is the peer going away without a close frame: as
            // engine.io (and the ws library) see it, a transport close.
            Err(_) => Some(CloseReason::TransportClose),
            Ok(chunk) => {
                reader.push(&chunk);
                loop {
                    match reader.next_packet() {
                        Ok(Some(packet)) => self.ws_packet(now, conn, packet, ctx),
                        Ok(None) => break None,
                        Err(reason) => break Some(reason),
                    }
                    // What the packet led to may have closed the connection.
                    if self.shell.ws(conn).is_none() {
                        break None;
                    }
                }
            }
        };
        match ended {
            Some(reason) => {
                reader.sink().close(1000);
                self.ws_closed(now, conn, reason);
            }
            None if self.shell.ws(conn).is_some() => self.reader = Some(reader),
            None => {}
        }
        self.after(ctx);
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // The peer closed its side: unlike an actor's default, the session
        // lives on to close as the core says.
        if let Some(reader) = self.reader.take() {
            reader.sink().close(1000);
            self.ws_closed(Instant::now(), reader.conn(), CloseReason::TransportClose);
            self.after(ctx);
        }
    }
}

#[cfg(test)]
mod tests;
