//! The socket actor: one per client per namespace. Runs the client's
//! incoming packets through the per-packet middleware to the namespace's
//! handler actors (with back-pressure), hands ack answers to whoever waits
//! for them, and runs `disconnecting` then `disconnect`.
//!
//! It never writes to the client: handles do that themselves, in order
//! (see [`SocketRef`]). Its rooms live in the namespace's RoomRegistry.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::prelude::*;

use super::Payload;
use super::events::{
    AckSender, AnyEvent, Connect, Disconnect, Disconnecting, Event, Handlers, SocketError,
    SocketGone,
};
use super::handle::{EventPacket, SocketInfo, SocketRef};
use super::requests::{RoomsOf, Unregister};
use crate::client::{DisconnectReason, ToSocket};
use crate::protocol::{Packet, PacketKind};

/// How long a socket waits for the handler's `disconnecting` before it
/// leaves its rooms anyway.
const DISCONNECTING_WAIT: Duration = Duration::from_secs(5);

/// The actor behind one socket; users reach it through [`SocketRef`].
pub struct SocketActor {
    info: Arc<SocketInfo>,
    namespace: Recipient<SocketGone>,
    handlers: Arc<Handlers>,
    closing: bool,
}

impl SocketActor {
    pub(crate) fn new(
        info: Arc<SocketInfo>,
        namespace: Recipient<SocketGone>,
        handlers: Arc<Handlers>,
    ) -> Self {
        SocketActor {
            info,
            namespace,
            handlers,
            closing: false,
        }
    }

    fn socket_ref(&self) -> SocketRef {
        SocketRef {
            info: self.info.clone(),
        }
    }

    fn on_event(&mut self, packet: Packet, ctx: &mut Context<Self>) {
        let id = packet.id;
        let Some((name, payload)) = Payload::from_event(packet) else {
            return;
        };
        let socket = self.socket_ref();
        self.info.any_incoming.notify(|| {
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
            if let Some(r) = self.handlers.error.clone() {
                deliver(&r, SocketError { socket, error }, self, ctx);
            }
            return;
        }
        let Some(r) = self.handlers.event.clone() else {
            return;
        };
        let ack = id.map(|id| AckSender {
            session: self.info.session.clone(),
            nsp: self.info.nsp.clone(),
            id,
        });
        deliver(
            &r,
            Event {
                socket,
                name: event.name,
                payload: event.payload,
                ack,
            },
            self,
            ctx,
        );
    }

    /// Runs `disconnecting` (rooms still visible), then leaves every room,
    /// runs `disconnect` and stops.
    fn close(&mut self, reason: DisconnectReason, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.info.closed.store(true, Ordering::Release);
        self.info.acks.close();
        let socket = self.socket_ref();
        let ns = self.info.ns.clone();
        let (id, handlers) = (self.info.id.clone(), self.handlers.clone());
        async move {
            if let Some(r) = handlers.disconnecting.clone() {
                let rooms = ns
                    .rooms
                    .rooms_of
                    .send(RoomsOf { id: id.clone() })
                    .await
                    .unwrap_or_default();
                let msg = Disconnecting {
                    socket: socket.clone(),
                    reason,
                    rooms,
                };
                let _ = r.send(msg).timeout(DISCONNECTING_WAIT).await;
            }
            let _ = ns.rooms.unregister.send(Unregister { id }).await;
            socket.info.gone.mark();
            if let Some(r) = handlers.disconnect.clone() {
                let _ = r.send(Disconnect { socket, reason }).await;
            }
        }
        .into_actor(self)
        .map(|_, act, ctx| {
            // Bounded: once per socket, to the supervisor that started it.
            act.namespace.do_send(SocketGone {
                id: act.info.id.clone(),
            });
            ctx.stop();
        })
        .wait(ctx);
    }
}

/// Hands `msg` to a handler actor: at once if its mailbox has room,
/// otherwise this socket stops reading until it has (back-pressure).
fn deliver<M>(r: &Recipient<M>, msg: M, act: &mut SocketActor, ctx: &mut Context<SocketActor>)
where
    M: Message<Result = ()> + Send + 'static,
{
    if let Err(SendError::Full(msg)) = r.try_send(msg) {
        ctx.wait(r.send(msg).into_actor(act).map(|_, _, _| ()));
    }
}

impl Actor for SocketActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(crate::engine::session::MAILBOX_CAPACITY);
        if let Some(r) = self.handlers.connect.clone() {
            let socket = self.socket_ref();
            deliver(&r, Connect { socket }, self, ctx);
        }
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if self.closing {
            return;
        }
        // Stopped without close(): the system is stopping, or the session
        // ended before it took the socket. Nothing may wait forever.
        self.info.closed.store(true, Ordering::Release);
        self.info.acks.close();
        self.info.ns.rooms.unregister.do_send(Unregister {
            id: self.info.id.clone(),
        });
        self.info.gone.mark();
        self.namespace.do_send(SocketGone {
            id: self.info.id.clone(),
        });
    }
}

impl Handler<ToSocket> for SocketActor {
    type Result = ();
    fn handle(&mut self, msg: ToSocket, ctx: &mut Context<Self>) {
        let packet = match msg {
            ToSocket::Closed(reason) => return self.close(reason, ctx),
            _ if self.closing => return,
            ToSocket::Inbound(packet) => packet,
        };
        match packet.kind {
            PacketKind::Event | PacketKind::BinaryEvent => self.on_event(packet, ctx),
            PacketKind::Ack | PacketKind::BinaryAck => {
                if let Some(id) = packet.id {
                    self.info.acks.answer(id, Payload::from_ack(packet));
                }
            }
            _ => {}
        }
    }
}
