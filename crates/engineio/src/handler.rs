//! The seam between the Engine.IO layer and whatever runs on top of it:
//! what the context a handler acts through ([`SessionCtx`]) and the handle
//! other actors keep ([`SessionHandle`]) can do. The types, and the
//! [`EngineHandler`] trait, are defined beside the session actor they name
//! (`session`), so that the actor need not import this file.
//!
//! Owns: the public API of a session, and how a handle reaches it (direct
//! WebSocket writes through the outlet, a bounded mailbox, the close flag).
//! Must not touch: session logic (the session core's) or the transports.
//! The plain data it passes along lives in [`data`](super::data).

use std::sync::Arc;
use std::time::Duration;

use actix::{AsyncContext, SpawnHandle};

pub use super::data::{CloseReason, Message, RequestInfo};
use super::outgoing::Admit;
use super::outgoing::Outgoing;
use super::outlet::Route;
use super::packet::{Frame, Packet, ProtocolVersion};
use super::session::{CutOff, Upcall, Wake};
pub use super::session::{EngineHandler, SessionCtx, SessionHandle};

impl<H: EngineHandler> SessionCtx<'_, H> {
    /// The session id (`sid` in the handshake).
    pub fn sid(&self) -> &Arc<str> {
        &self.shell.shared.sid
    }

    /// The Engine.IO protocol revision the client speaks.
    pub fn version(&self) -> ProtocolVersion {
        self.shell.shared.version
    }

    /// The handshake request that opened the session.
    pub fn request(&self) -> &Arc<RequestInfo> {
        &self.shell.shared.request
    }

    /// The transport the session is on now: `polling` or `websocket`.
    pub fn transport(&self) -> &'static str {
        self.shell.transport_name()
    }

    /// A handle other actors can keep to send to this session.
    pub fn handle(&self) -> SessionHandle<H> {
        SessionHandle {
            shared: self.shell.shared.clone(),
            addr: self.ctx.address(),
        }
    }

    /// Queues a message for the client.
    pub fn send(&mut self, message: Message) {
        let packet = match message {
            Message::Text(text) => Packet::Message(text),
            Message::Binary(data) => Packet::Binary(data),
        };
        let frame = packet.encode(self.shell.shared.version);
        self.send_frames(Outgoing::new(vec![frame]));
    }

    /// Queues already-encoded frames (kept together, e.g. a packet and its attachments).
    pub fn send_frames(&mut self, out: Outgoing) {
        super::trace::outgoing(&self.shell.shared.sid, out.frames.frames());
        self.shell.push(out, self.ctx);
    }

    /// Closes the session once what already waits in its mailbox has been
    /// handled; `on_close` follows with `reason`.
    pub fn close(&mut self, reason: CloseReason) {
        self.shell.shared.close(&self.ctx.address(), reason);
    }

    /// Runs `f` on the handler after `delay`, unless cancelled.
    pub fn run_later<F>(&mut self, delay: Duration, f: F) -> SpawnHandle
    where
        F: FnOnce(&mut H, &mut SessionCtx<'_, H>) + 'static,
    {
        self.ctx.run_later(delay, move |session, ctx| {
            session.with_handler(ctx, f);
            session.after(ctx);
        })
    }

    /// Cancels a [`run_later`](Self::run_later) that has not run yet.
    pub fn cancel(&mut self, handle: SpawnHandle) {
        self.ctx.cancel_future(handle);
    }
}

/// Why [`SessionHandle::try_send`] did not queue the frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The session's mailbox is at its bound: the client is that far behind.
    #[error("the session's mailbox is full")]
    Full,
    /// The session has ended.
    #[error("the session is closed")]
    Closed,
}

fn send_error<M>(e: actix::prelude::SendError<M>) -> SendError {
    match e {
        actix::prelude::SendError::Full(_) => SendError::Full,
        actix::prelude::SendError::Closed(_) => SendError::Closed,
    }
}

impl<H: EngineHandler> SessionHandle<H> {
    /// The session id (`sid` in the handshake).
    pub fn sid(&self) -> &Arc<str> {
        &self.shared.sid
    }

    /// The Engine.IO protocol revision the client speaks.
    pub fn version(&self) -> ProtocolVersion {
        self.shared.version
    }

    /// The handshake request that opened the session.
    pub fn request(&self) -> &Arc<RequestInfo> {
        &self.shared.request
    }

    /// The transport the session is on now: `polling` or `websocket`.
    pub fn transport(&self) -> &'static str {
        self.shared.transport_name()
    }

    /// Engine.IO's `readyState`: `open`, `closing` or `closed`.
    pub fn ready_state(&self) -> &'static str {
        self.shared.ready_state()
    }

    /// Encodes `packet` for this session's protocol version.
    pub fn encode(&self, packet: &Packet) -> Frame {
        packet.encode(self.shared.version)
    }

    /// Queues frames without waiting; a full mailbox is reported, never grown.
    /// On a WebSocket this writes straight into the connection's sink, with
    /// the session's own rules: volatile drops and the outgoing bound.
    pub fn try_send(&self, out: Outgoing) -> Result<(), SendError> {
        self.route(&out, None)
    }

    /// Like [`try_send`](Self::try_send) for a fan-out: a WebSocket writer
    /// that needs waking is added to `wakes` instead, so the caller can wake
    /// each once after queueing several packets (one write carries them all).
    pub fn try_send_deferred(
        &self,
        out: &Outgoing,
        wakes: &mut Vec<std::task::Waker>,
    ) -> Result<(), SendError> {
        self.route(out, Some(wakes))
    }

    fn route(
        &self,
        out: &Outgoing,
        wakes: Option<&mut Vec<std::task::Waker>>,
    ) -> Result<(), SendError> {
        super::trace::outgoing(self.sid(), out.frames.frames());
        let route = self.shared.outlet.send_or(out, wakes, |out| {
            self.addr.try_send(out.clone()).map_err(send_error)
        })?;
        match route {
            Route::Direct(Admit::DropVolatile) => self.shared.stats.count_volatile_drop(),
            Route::Direct(Admit::Overflow) => self.cut_off(CutOff::Outgoing),
            Route::Direct(Admit::Send) | Route::Mailbox => {}
        }
        Ok(())
    }

    /// Closes the session as a slow consumer (logged and counted once).
    fn cut_off(&self, why: CutOff) {
        if self.shared.cut_off(why) {
            self.wake();
        }
    }

    /// Makes the session act on its close-request flag. A full mailbox
    /// needs no wake: the session checks the flag after every message.
    fn wake(&self) {
        let _ = self.addr.try_send(Wake);
    }

    /// Queues frames for one client: delivered, or, when the session's
    /// mailbox is full (the client is that far behind), the session is closed
    /// as a slow consumer and counted. Never grows a queue past its bound.
    pub fn send(&self, out: Outgoing) {
        if let Err(SendError::Full) = self.try_send(out) {
            self.cut_off(CutOff::Outgoing);
        }
    }

    /// Delivers `upcall` to the session's handler; when the session's
    /// mailbox is full, the session is closed as a slow consumer (counted)
    /// rather than the mailbox grown.
    pub fn upcall(&self, upcall: H::Upcall) {
        if let Err(SendError::Full) = self.try_upcall(upcall) {
            self.cut_off(CutOff::Upcall);
        }
    }

    /// Delivers `upcall` if the session's mailbox has room.
    pub fn try_upcall(&self, upcall: H::Upcall) -> Result<(), SendError> {
        // Counted like an `Outgoing`: what it writes must not be overtaken.
        self.shared
            .outlet
            .counted(|| self.addr.try_send(Upcall(upcall)).map_err(send_error))
    }

    /// Closes the session with `reason` after flushing what is queued. In
    /// order with what this handle sent before; never lost to a full
    /// mailbox, and never queued twice.
    pub fn close(&self, reason: CloseReason) {
        self.shared.close(&self.addr, reason);
    }

    /// Whether the session is still running (its actor has not stopped).
    pub fn connected(&self) -> bool {
        self.addr.connected()
    }
}
