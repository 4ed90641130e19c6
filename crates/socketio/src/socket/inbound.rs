//! The socket's per-packet step: an incoming EVENT through the per-packet
//! middleware to the handler actor that hears it, an ACK to whoever waits
//! for it; and the one rule for who runs it. The client runs it itself, in
//! its session's context (no mailbox hop), whenever nothing of the socket's
//! waits: its greeting (`Connect`, after a recovered socket's replay) and
//! any packet a handler's full mailbox has not taken yet. Otherwise the
//! packet goes through the socket actor's mailbox, behind what waits, and
//! the actor runs the same step. Either way the handlers hear one socket's
//! packets in the order the client sent them.
//!
//! Owns: the per-packet step and the count of what waits in the socket
//! actor. Must not touch: the socket's lifecycle (its actor's), the
//! transport (handles write to the client themselves).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::AcqRel, Ordering::Acquire};

use actix::prelude::*;
use futures_util::future::BoxFuture;

use super::Payload;
use super::events::{AckSender, Event, Handlers, SocketError};
use super::shared::{AnyEvent, EventPacket, SocketInfo, SocketRef};
use crate::client::{DisconnectReason, SocketMailboxFull, SocketPath, ToSocket};
use switchyard_core::protocol::{Packet, PacketKind};

/// A message a handler's full mailbox did not take, as the wait for room
/// in it: the socket actor reads nothing else until it is done.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Stalled(pub BoxFuture<'static, ()>);

/// Hands `msg` to a handler actor: at once if its mailbox has room, else
/// as the wait the socket must make (back-pressure). A handler that is
/// gone takes nothing, as before.
pub(super) fn offer<M>(r: &Recipient<M>, msg: M) -> Option<Stalled>
where
    M: Message<Result = ()> + Send + 'static,
{
    match r.try_send(msg) {
        Err(SendError::Full(msg)) => {
            let send = r.send(msg);
            Some(Stalled(Box::pin(async move {
                let _ = send.await;
            })))
        }
        _ => None,
    }
}

/// One socket's incoming path, shared by the client and the socket actor.
pub(crate) struct Inbound {
    pub info: Arc<SocketInfo>,
    pub handlers: Arc<Handlers>,
    to_actor: Recipient<ToSocket>,
    stalled: Recipient<Stalled>,
    /// What the socket actor holds that a handler has not taken yet: its
    /// greeting, then the packets handed to it. While any, packets go
    /// behind them, through its mailbox.
    waiting: AtomicUsize,
}

impl Inbound {
    /// The path of a socket whose actor has not greeted its handlers yet.
    pub fn new(
        info: Arc<SocketInfo>,
        handlers: Arc<Handlers>,
        to_actor: Recipient<ToSocket>,
        stalled: Recipient<Stalled>,
    ) -> Inbound {
        Inbound {
            info,
            handlers,
            to_actor,
            stalled,
            waiting: AtomicUsize::new(1),
        }
    }

    /// One thing the socket actor held has been taken by its handler.
    pub fn release(&self) {
        self.waiting.fetch_sub(1, AcqRel);
    }

    /// Runs the per-packet step: what waits for room in a handler's mailbox, if anything.
    pub fn step(&self, packet: Packet) -> Option<Stalled> {
        match packet.kind {
            PacketKind::Event | PacketKind::BinaryEvent => self.on_event(packet),
            PacketKind::Ack | PacketKind::BinaryAck => {
                if let Some(id) = packet.id {
                    self.info.acks.answer(id, Payload::from_ack(packet));
                }
                None
            }
            _ => None,
        }
    }

    fn socket_ref(&self) -> SocketRef {
        SocketRef {
            info: self.info.clone(),
        }
    }

    fn on_event(&self, packet: Packet) -> Option<Stalled> {
        let id = packet.id;
        let (name, payload) = Payload::from_event(packet)?;
        let socket = self.socket_ref();
        let dropped = &self.info.ns.stats.listener_dropped;
        self.info.any_incoming.notify(dropped, || {
            Some(AnyEvent {
                socket: socket.clone(),
                name: name.clone(),
                payload: payload.clone(),
            })
        });
        let mut event = EventPacket { name, payload };
        if let Err(error) = self
            .info
            .middleware()
            .iter()
            .try_for_each(|mw| mw(&socket, &mut event))
        {
            let r = self.handlers.error.as_ref()?;
            return offer(r, SocketError { socket, error });
        }
        // Borrowed, not cloned: cloning an actix recipient allocates (a
        // boxed sender and its task slot), per event.
        let r = self.handlers.event_for(&event.name)?;
        let ack = id.map(|id| AckSender {
            session: self.info.session.clone(),
            nsp: self.info.nsp.clone(),
            id,
            parser: self.info.ns.parser,
        });
        let event = Event {
            socket,
            name: event.name,
            payload: event.payload,
            ack,
        };
        offer(r, event)
    }
}

impl SocketPath for Inbound {
    fn packet(&self, packet: Packet) -> Result<(), SocketMailboxFull> {
        // Whatever the actor holds was handed to it before this packet, and
        // it releases each only once a handler has taken it: with none,
        // running the step here keeps the order.
        if self.waiting.load(Acquire) == 0 {
            let Some(stalled) = self.step(packet) else {
                return Ok(());
            };
            self.waiting.fetch_add(1, AcqRel);
            return self
                .stalled
                .try_send(stalled)
                .map_err(|_| SocketMailboxFull);
        }
        self.waiting.fetch_add(1, AcqRel);
        (self.to_actor.try_send(ToSocket::Inbound(packet))).map_err(|_| SocketMailboxFull)
    }

    fn closed(&self, reason: DisconnectReason) {
        // Bounded: once per socket, which has just left the client's map.
        self.to_actor.do_send(ToSocket::Closed(reason));
    }
}
