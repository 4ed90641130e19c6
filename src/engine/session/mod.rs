//! The EngineSession actor: one per Engine.IO session. Owns the heartbeat,
//! the bounded outgoing queue, the current transport and the upgrade probe,
//! and runs the [`EngineHandler`] of the layer above in its own context.

use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::config::EngineConfig;
use super::handler::{CloseReason, EngineHandler, Message as Msg, RequestInfo, SessionCtx};
use super::outgoing::Outgoing;
use super::outlet::{Admit, Outlet, WS_WRITABLE_BYTES, admit};
use super::packet::{Frame, Packet, ProtocolVersion};
use super::queue::{OutQueue, PollBody, payload};
use super::server::Registry;
use super::stats::EngineStats;
use super::websocket::{WsSink, WsStop};

/// Closes the session with a reason.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Close(pub CloseReason);

/// A value for the handler from another actor.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct Upcall<U: Send + 'static>(pub U);

/// A long-polling GET asks for data.
#[derive(actix::Message)]
#[rtype(result = "Result<Poll, TransportMismatch>")]
pub struct PollGet;

/// The answer to a GET: data now, or a receiver that yields it later.
pub enum Poll {
    Ready(PollBody),
    Wait(oneshot::Receiver<PollBody>),
}

/// A request that does not fit the session's state: a second concurrent
/// GET or POST, or a polling request to a session that is not polling. The
/// session is closed (`transport error`) when this is returned.
#[derive(Debug)]
pub struct TransportMismatch;

/// A long-polling POST starts; refused if another is in flight.
#[derive(actix::Message)]
#[rtype(result = "Result<(), TransportMismatch>")]
pub struct PostStart;

/// The decoded body of a POST, or why it could not be read.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct PostDone(pub Result<Vec<Packet>, CloseReason>);

/// A WebSocket transport has started (probe: it came for an existing session).
#[derive(actix::Message)]
#[rtype(result = "bool")]
pub struct WsOpened {
    pub conn: u64,
    pub sink: WsSink,
    pub stop: Recipient<WsStop>,
    pub probe: bool,
}

/// A packet arrived on WebSocket `conn`.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct WsIn {
    pub conn: u64,
    pub packet: Packet,
}

/// WebSocket `conn` ended, and why.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub struct WsClosed {
    pub conn: u64,
    pub reason: CloseReason,
}

enum Transport {
    /// A WebSocket handshake whose actor has not started yet.
    Pending,
    Polling {
        get: Option<oneshot::Sender<PollBody>>,
        post: bool,
    },
    WebSocket {
        conn: u64,
        sink: WsSink,
        stop: Recipient<WsStop>,
    },
}

struct Probe {
    conn: u64,
    sink: WsSink,
    stop: Recipient<WsStop>,
    timeout: SpawnHandle,
}

/// The session's state apart from its handler (so both can be borrowed at once).
pub struct Core {
    pub(super) sid: Arc<str>,
    pub(super) version: ProtocolVersion,
    pub(super) request: Arc<RequestInfo>,
    config: Arc<EngineConfig>,
    pub(super) stats: Arc<EngineStats>,
    transport: Transport,
    probe: Option<Probe>,
    queue: OutQueue,
    /// Shared with every handle: the direct path while on a WebSocket.
    pub(super) outlet: Arc<Outlet>,
    heartbeat: Option<SpawnHandle>,
    closing: bool,
}

pub struct EngineSession<H: EngineHandler> {
    core: Core,
    handler: H,
    registry: Registry<H>,
}

/// What a new session starts from.
pub(super) struct SessionInit<H: EngineHandler> {
    pub sid: Arc<str>,
    pub version: ProtocolVersion,
    pub request: Arc<RequestInfo>,
    pub config: Arc<EngineConfig>,
    pub stats: Arc<EngineStats>,
    pub registry: Registry<H>,
    pub handler: H,
    pub websocket: bool,
}

impl<H: EngineHandler> EngineSession<H> {
    pub(super) fn new(init: SessionInit<H>) -> Self {
        let transport = if init.websocket {
            Transport::Pending
        } else {
            Transport::Polling {
                get: None,
                post: false,
            }
        };
        EngineSession {
            core: Core {
                sid: init.sid,
                version: init.version,
                request: init.request,
                outlet: Arc::new(Outlet::new(init.config.max_buffer_bytes)),
                config: init.config,
                stats: init.stats,
                transport,
                probe: None,
                queue: OutQueue::default(),
                heartbeat: None,
                closing: false,
            },
            handler: init.handler,
            registry: init.registry,
        }
    }

    /// Queues a frame before the session starts (the WebSocket handshake's open packet).
    pub(super) fn queue_first(&mut self, frame: Frame) {
        self.core.enqueue(frame);
    }

    pub(super) fn with_handler<F>(&mut self, ctx: &mut Context<Self>, f: F)
    where
        F: FnOnce(&mut H, &mut SessionCtx<'_, H>),
    {
        let mut sctx = SessionCtx {
            core: &mut self.core,
            ctx,
        };
        f(&mut self.handler, &mut sctx);
    }

    /// Ends the session once: the handler hears why, what is queued is
    /// flushed where the transport can take it, and the actor stops.
    fn close(&mut self, reason: CloseReason, ctx: &mut Context<Self>) {
        if self.core.closing {
            return;
        }
        self.core.closing = true;
        self.core.outlet.detach();
        if let Some(h) = self.core.heartbeat.take() {
            ctx.cancel_future(h);
        }
        log::debug!("session {} closing: {reason}", self.core.sid);
        // A client mid-upgrade may already have moved to the probe: close it
        // too, so it sees the close rather than silence.
        if let Some(probe) = self.core.probe.take() {
            ctx.cancel_future(probe.timeout);
            probe.sink.close(1000);
            let _ = probe.stop.try_send(WsStop);
        }
        self.with_handler(ctx, |h, s| h.on_close(reason, s));
        let server_side = matches!(
            reason,
            CloseReason::ForcedClose | CloseReason::ServerShutdown
        );
        match &self.core.transport {
            // The client said close itself: its pending GET just ends (noop).
            Transport::Polling { .. } if reason == CloseReason::TransportClose => {
                self.core.enqueue(Packet::Noop.encode(self.core.version));
                self.core.flush();
            }
            Transport::Polling { .. } => {
                self.core.enqueue(Packet::Close.encode(self.core.version));
                if server_side && !self.core.writable() {
                    // Hold the close (and the sid) until the client's next GET
                    // collects it and what is queued, as engine.io does.
                    let grace = self.core.config.ping_interval + self.core.config.ping_timeout;
                    ctx.run_later(grace, |_, ctx| ctx.stop());
                    return;
                }
                self.core.flush();
            }
            Transport::WebSocket { .. } => {
                if server_side {
                    self.core.flush();
                }
                if let Transport::WebSocket { sink, stop, .. } = &self.core.transport {
                    sink.close(1000);
                    let _ = stop.try_send(WsStop);
                }
            }
            Transport::Pending => {}
        }
        // Unknown from now on, as engine.io forgets a closed sid at once.
        self.registry.remove(&self.core.sid);
        ctx.stop();
    }

    fn schedule_ping(&mut self, ctx: &mut Context<Self>) {
        if self.core.version == ProtocolVersion::V3 {
            // v3 clients ping; the server only waits for them.
            let wait = self.core.config.ping_interval + self.core.config.ping_timeout;
            self.core.heartbeat =
                Some(ctx.run_later(wait, |s, ctx| s.close(CloseReason::PingTimeout, ctx)));
            return;
        }
        let interval = self.core.config.ping_interval;
        self.core.heartbeat = Some(ctx.run_later(interval, |s, ctx| {
            s.core
                .enqueue(Packet::Ping(String::new()).encode(s.core.version));
            s.core.flush();
            let timeout = s.core.config.ping_timeout;
            s.core.heartbeat =
                Some(ctx.run_later(timeout, |s, ctx| s.close(CloseReason::PingTimeout, ctx)));
        }));
    }

    fn on_packet(&mut self, packet: Packet, ctx: &mut Context<Self>) {
        match packet {
            Packet::Message(text) => {
                self.with_handler(ctx, |h, s| h.on_message(Msg::Text(text), s))
            }
            Packet::Binary(data) => {
                self.with_handler(ctx, |h, s| h.on_message(Msg::Binary(data), s))
            }
            Packet::Pong(_) if self.core.version == ProtocolVersion::V4 => {
                self.reset_heartbeat(ctx)
            }
            Packet::Ping(data) if self.core.version == ProtocolVersion::V3 => {
                self.core
                    .enqueue(Packet::Pong(data).encode(self.core.version));
                self.core.flush();
                self.reset_heartbeat(ctx);
            }
            Packet::Close => self.close(CloseReason::TransportClose, ctx),
            other => log::debug!("session {}: ignoring {other:?}", self.core.sid),
        }
    }

    fn reset_heartbeat(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.core.heartbeat.take() {
            ctx.cancel_future(h);
        }
        self.schedule_ping(ctx);
    }

    /// A probe WebSocket sent a packet: answer `2probe`, switch on `5`.
    fn on_probe_packet(&mut self, packet: Packet, ctx: &mut Context<Self>) {
        let Some(probe) = &self.core.probe else {
            return;
        };
        match packet {
            Packet::Ping(data) if data == "probe" => {
                probe
                    .sink
                    .send(&Packet::Pong(data).encode(self.core.version), false);
                // Complete the client's pending GET so it can pause polling.
                if self.core.queue.is_empty() && self.core.writable_poll() {
                    self.core.enqueue(Packet::Noop.encode(self.core.version));
                }
                self.core.flush();
            }
            Packet::Upgrade => {
                let probe = self.core.probe.take().expect("checked above");
                ctx.cancel_future(probe.timeout);
                if let Transport::Polling { get: Some(get), .. } = std::mem::replace(
                    &mut self.core.transport,
                    Transport::WebSocket {
                        conn: probe.conn,
                        sink: probe.sink,
                        stop: probe.stop,
                    },
                ) {
                    let noop = Packet::Noop.encode(self.core.version);
                    let _ = get.send(payload(&[(noop, false)], self.core.version));
                }
                self.core.flush();
                self.core.attach_outlet();
            }
            other => log::debug!(
                "session {}: unexpected probe packet {other:?}",
                self.core.sid
            ),
        }
    }
}

impl Core {
    /// Queues an Engine.IO control frame (never compressed).
    fn enqueue(&mut self, frame: Frame) {
        self.queue.push(frame, false);
    }

    /// Bytes waiting for this client: in the queue and in the WebSocket sink.
    fn buffered(&self) -> usize {
        let sink = match &self.transport {
            Transport::WebSocket { sink, .. } => sink.buffered(),
            _ => 0,
        };
        self.queue.bytes() + sink
    }

    /// Whether a polling GET is waiting for data.
    fn writable_poll(&self) -> bool {
        matches!(&self.transport, Transport::Polling { get: Some(g), .. } if !g.is_closed())
    }

    /// Whether a volatile packet would go out now rather than wait.
    fn writable(&self) -> bool {
        match &self.transport {
            Transport::Polling { .. } => self.writable_poll() && self.probe.is_none(),
            Transport::WebSocket { sink, .. } => sink.buffered() < WS_WRITABLE_BYTES,
            Transport::Pending => false,
        }
    }

    /// Queues frames from the layer above, honouring the volatile flag and the bound.
    pub(super) fn push<H: EngineHandler>(
        &mut self,
        out: Outgoing,
        ctx: &mut Context<EngineSession<H>>,
    ) {
        if self.closing {
            return;
        }
        match admit(
            self.writable(),
            self.buffered(),
            &out,
            self.config.max_buffer_bytes,
        ) {
            Admit::Send => {}
            Admit::DropVolatile => return self.stats.count_volatile_drop(),
            Admit::Overflow => {
                log::warn!(
                    "session {}: outgoing queue over {} bytes, closing",
                    self.sid,
                    self.config.max_buffer_bytes
                );
                self.stats.count_overflow();
                ctx.address().do_send(Close(CloseReason::TransportError));
                return;
            }
        }
        if let Transport::WebSocket { sink, .. } = &self.transport
            && self.queue.is_empty()
        {
            return sink.send_outgoing(&out);
        }
        for frame in out.frames.frames() {
            self.queue.push(frame.clone(), out.compress);
        }
        self.flush();
    }

    /// Opens the direct path once the WebSocket has taken everything queued.
    fn attach_outlet(&self) {
        if let Transport::WebSocket { sink, .. } = &self.transport
            && !self.closing
            && self.queue.is_empty()
        {
            self.outlet.attach(sink);
        }
    }

    /// Hands queued frames to the transport if it can take them now.
    fn flush(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        match &mut self.transport {
            Transport::Polling { get, .. } => {
                let Some(sender) = get.take() else { return };
                let frames = self.queue.take();
                if sender.send(payload(&frames, self.version)).is_err() {
                    // The GET went away before we answered: keep the frames.
                    log::debug!("session {}: poll dropped, requeueing", self.sid);
                    self.queue.restore(frames);
                }
            }
            Transport::WebSocket { sink, .. } => {
                for (frame, compress) in self.queue.take() {
                    sink.send(&frame, compress);
                }
            }
            Transport::Pending => {}
        }
    }
}

impl<H: EngineHandler> Actor for EngineSession<H> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.schedule_ping(ctx);
        self.with_handler(ctx, |h, s| h.on_open(s));
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        self.registry.remove(&self.core.sid);
        // Reached without close() when the system stops under us.
        if !self.core.closing {
            self.close(CloseReason::ServerShutdown, ctx);
        }
    }
}

/// Bound of the session's mailbox; fan-out senders use `try_send` against it.
pub const MAILBOX_CAPACITY: usize = 4096;

impl<H: EngineHandler> Handler<Outgoing> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, out: Outgoing, ctx: &mut Context<Self>) {
        self.core.push(out, ctx);
        self.core.outlet.handled();
    }
}

impl<H: EngineHandler> Handler<Close> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, Close(reason): Close, ctx: &mut Context<Self>) {
        self.close(reason, ctx);
    }
}

impl<H: EngineHandler> Handler<Upcall<H::Upcall>> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, Upcall(up): Upcall<H::Upcall>, ctx: &mut Context<Self>) {
        if !self.core.closing {
            self.with_handler(ctx, |h, s| h.on_upcall(up, s));
        }
        self.core.outlet.handled();
    }
}

impl<H: EngineHandler> Handler<PollGet> for EngineSession<H> {
    type Result = Result<Poll, TransportMismatch>;
    fn handle(&mut self, _: PollGet, ctx: &mut Context<Self>) -> Self::Result {
        let upgrading = self.core.probe.is_some();
        let Transport::Polling { get, .. } = &mut self.core.transport else {
            return Err(TransportMismatch);
        };
        if get.as_ref().is_some_and(|g| !g.is_closed()) {
            self.close(CloseReason::TransportError, ctx);
            return Err(TransportMismatch);
        }
        if !self.core.queue.is_empty() || upgrading {
            if self.core.queue.is_empty() {
                // Upgrading: let the client finish this poll and pause.
                self.core.enqueue(Packet::Noop.encode(self.core.version));
            }
            let body = payload(&self.core.queue.take(), self.core.version);
            if self.core.closing {
                ctx.stop();
            }
            return Ok(Poll::Ready(body));
        }
        let (tx, rx) = oneshot::channel();
        *get = Some(tx);
        Ok(Poll::Wait(rx))
    }
}

impl<H: EngineHandler> Handler<PostStart> for EngineSession<H> {
    type Result = Result<(), TransportMismatch>;
    fn handle(&mut self, _: PostStart, ctx: &mut Context<Self>) -> Self::Result {
        match &mut self.core.transport {
            Transport::Polling { post, .. } if !*post => {
                *post = true;
                Ok(())
            }
            _ => {
                self.close(CloseReason::TransportError, ctx);
                Err(TransportMismatch)
            }
        }
    }
}

impl<H: EngineHandler> Handler<PostDone> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, PostDone(body): PostDone, ctx: &mut Context<Self>) {
        if let Transport::Polling { post, .. } = &mut self.core.transport {
            *post = false;
        }
        match body {
            Ok(packets) => {
                for packet in packets {
                    if self.core.closing {
                        break;
                    }
                    self.on_packet(packet, ctx);
                }
            }
            Err(reason) => self.close(reason, ctx),
        }
    }
}

impl<H: EngineHandler> Handler<WsOpened> for EngineSession<H> {
    type Result = bool;
    fn handle(&mut self, open: WsOpened, ctx: &mut Context<Self>) -> bool {
        if self.core.closing {
            return false;
        }
        let WsOpened {
            conn,
            sink,
            stop,
            probe,
        } = open;
        match (&self.core.transport, probe) {
            (Transport::Pending, false) => {
                self.core.transport = Transport::WebSocket { conn, sink, stop };
                self.core.flush();
                self.core.attach_outlet();
                true
            }
            (Transport::Polling { .. }, true) if self.core.probe.is_none() => {
                let timeout = ctx.run_later(self.core.config.upgrade_timeout, move |s, _| {
                    if s.core.probe.as_ref().is_some_and(|p| p.conn == conn) {
                        let probe = s.core.probe.take().expect("checked");
                        probe.sink.close(1000);
                        let _ = probe.stop.try_send(WsStop);
                    }
                });
                self.core.probe = Some(Probe {
                    conn,
                    sink,
                    stop,
                    timeout,
                });
                true
            }
            // Already upgraded or upgrading: the new WebSocket is ignored.
            _ => false,
        }
    }
}

impl<H: EngineHandler> Handler<WsIn> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, WsIn { conn, packet }: WsIn, ctx: &mut Context<Self>) {
        if self.core.closing {
            return;
        }
        match &self.core.transport {
            Transport::WebSocket { conn: c, .. } if *c == conn => self.on_packet(packet, ctx),
            _ if self.core.probe.as_ref().is_some_and(|p| p.conn == conn) => {
                self.on_probe_packet(packet, ctx)
            }
            _ => {}
        }
    }
}

impl<H: EngineHandler> Handler<WsClosed> for EngineSession<H> {
    type Result = ();
    fn handle(&mut self, WsClosed { conn, reason }: WsClosed, ctx: &mut Context<Self>) {
        if let Transport::WebSocket { conn: c, .. } = &self.core.transport
            && *c == conn
        {
            self.close(reason, ctx);
        } else if self.core.probe.as_ref().is_some_and(|p| p.conn == conn) {
            let probe = self.core.probe.take().expect("checked");
            ctx.cancel_future(probe.timeout);
        }
    }
}
