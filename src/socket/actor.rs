//! The socket actor: one per client per namespace. Owns the socket's
//! pending acks and packet middleware pipeline, delivers events to the
//! namespace's handler actors and runs `disconnecting` then `disconnect`.
//! Its rooms live in the namespace's RoomRegistry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::{mpsc, oneshot};

use super::Payload;
use super::events::{
    AckSender, AnyEvent, Connect, Disconnect, DisconnectReason, Disconnecting, Event, SocketError,
};
use super::handle::{AckError, EventPacket, PacketMiddleware, SocketInfo, SocketRef};
use crate::engine::{Outgoing, SessionHandle};
use crate::io::Client;
use crate::io::client::{ClientUpcall, frames};
use crate::namespace::{Handlers, SocketGone};
use crate::protocol::{Packet, PacketKind};
use crate::rooms::{RoomsOf, Unregister};

/// How long a socket waits for the handler's `disconnecting` before it
/// leaves its rooms anyway.
const DISCONNECTING_WAIT: Duration = Duration::from_secs(5);

pub struct SocketActor {
    info: Arc<SocketInfo>,
    session: SessionHandle<Client>,
    namespace: Recipient<SocketGone>,
    handlers: Arc<Handlers>,
    middleware: Vec<PacketMiddleware>,
    acks: HashMap<u64, (PendingAck, SpawnHandle)>,
    closing: bool,
}

/// Who waits for an ack: one emit, or a broadcast collecting every answer.
enum PendingAck {
    Single(oneshot::Sender<Result<Payload, AckError>>),
    Broadcast(mpsc::Sender<Payload>),
}

impl SocketActor {
    pub(crate) fn new(
        info: Arc<SocketInfo>,
        session: SessionHandle<Client>,
        namespace: Recipient<SocketGone>,
        handlers: Arc<Handlers>,
        middleware: Vec<PacketMiddleware>,
    ) -> Self {
        SocketActor {
            info,
            session,
            namespace,
            handlers,
            middleware,
            acks: HashMap::new(),
            closing: false,
        }
    }

    fn socket_ref(&self, ctx: &Context<Self>) -> SocketRef {
        SocketRef {
            info: self.info.clone(),
            addr: ctx.address(),
        }
    }

    fn send_packet(&self, packet: &Packet) {
        self.session
            .send(Outgoing::new(frames(packet, self.session.version())));
    }

    fn on_event(&mut self, packet: Packet, ctx: &mut Context<Self>) {
        let id = packet.id;
        let Some((name, payload)) = Payload::from_event(packet) else {
            return;
        };
        let socket = self.socket_ref(ctx);
        self.info.any_incoming.notify(|| {
            Some(AnyEvent {
                socket: socket.clone(),
                name: name.clone(),
                payload: payload.clone(),
            })
        });
        let mut event = EventPacket { name, payload };
        if let Err(error) = self
            .middleware
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
            session: self.session.clone(),
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

    fn on_ack(&mut self, packet: Packet, ctx: &mut Context<Self>) {
        let Some(id) = packet.id else { return };
        let Some((pending, timer)) = self.acks.remove(&id) else {
            return;
        };
        ctx.cancel_future(timer);
        let answer = Payload::from_ack(packet);
        match pending {
            PendingAck::Single(tx) => drop(tx.send(Ok(answer))),
            PendingAck::Broadcast(tx) => drop(tx.try_send(answer)),
        }
    }

    /// Runs `disconnecting` (rooms still visible), then leaves every room,
    /// runs `disconnect` and stops.
    fn close(&mut self, reason: DisconnectReason, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.closing = true;
        for (_, (pending, timer)) in self.acks.drain() {
            ctx.cancel_future(timer);
            if let PendingAck::Single(tx) = pending {
                let _ = tx.send(Err(AckError::Disconnected));
            }
        }
        let socket = self.socket_ref(ctx);
        let registry = self.info.ns.registry.clone();
        let (id, handlers) = (self.info.id.clone(), self.handlers.clone());
        async move {
            if let Some(r) = handlers.disconnecting.clone() {
                let rooms = registry
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
            let _ = registry.send(Unregister { id }).await;
            if let Some(r) = handlers.disconnect.clone() {
                let _ = r.send(Disconnect { socket, reason }).await;
            }
        }
        .into_actor(self)
        .map(|_, act, ctx| {
            act.namespace.do_send(SocketGone {
                id: act.info.id.clone(),
            });
            ctx.stop();
        })
        .wait(ctx);
    }

    /// Records a pending ack that `timeout` clears.
    fn expect(&mut self, id: u64, pending: PendingAck, timeout: Duration, ctx: &mut Context<Self>) {
        let timer = ctx.run_later(timeout, move |act, _| {
            if let Some((PendingAck::Single(tx), _)) = act.acks.remove(&id) {
                let _ = tx.send(Err(AckError::Timeout));
            }
        });
        self.acks.insert(id, (pending, timer));
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
            let socket = self.socket_ref(ctx);
            deliver(&r, Connect { socket }, self, ctx);
        }
    }
}

/// A packet from the client for this socket (EVENT, ACK; DISCONNECT is a [`Closed`]).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Inbound(pub Packet);

impl Handler<Inbound> for SocketActor {
    type Result = ();
    fn handle(&mut self, Inbound(packet): Inbound, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        match packet.kind {
            PacketKind::Event | PacketKind::BinaryEvent => self.on_event(packet, ctx),
            PacketKind::Ack | PacketKind::BinaryAck => self.on_ack(packet, ctx),
            _ => {}
        }
    }
}

/// The connection (or the client, for this namespace) is gone.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Closed(pub DisconnectReason);

impl Handler<Closed> for SocketActor {
    type Result = ();
    fn handle(&mut self, Closed(reason): Closed, ctx: &mut Context<Self>) {
        self.close(reason, ctx);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Emit {
    pub name: String,
    pub payload: Payload,
    pub ack: Option<(oneshot::Sender<Result<Payload, AckError>>, Duration)>,
}

impl Handler<Emit> for SocketActor {
    type Result = ();
    fn handle(&mut self, emit: Emit, ctx: &mut Context<Self>) {
        if self.closing {
            if let Some((tx, _)) = emit.ack {
                let _ = tx.send(Err(AckError::Disconnected));
            }
            return;
        }
        let mut packet = emit.payload.into_event(&self.info.nsp, &emit.name);
        if let Some((tx, timeout)) = emit.ack {
            let id = self.info.ns.next_ack_id();
            self.expect(id, PendingAck::Single(tx), timeout, ctx);
            packet.id = Some(id);
        }
        self.send_packet(&packet);
        self.socket_ref(ctx).notify_outgoing(&packet);
    }
}

/// A broadcast's packet for this socket, whose ack goes to `tx`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ExpectAck {
    pub id: u64,
    pub out: Outgoing,
    pub timeout: Duration,
    pub tx: mpsc::Sender<Payload>,
}

impl Handler<ExpectAck> for SocketActor {
    type Result = ();
    fn handle(&mut self, msg: ExpectAck, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.expect(msg.id, PendingAck::Broadcast(msg.tx), msg.timeout, ctx);
        self.session.send(msg.out);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct ServerDisconnect {
    pub close: bool,
}

impl Handler<ServerDisconnect> for SocketActor {
    type Result = ();
    fn handle(&mut self, ServerDisconnect { close }: ServerDisconnect, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        if self.session.connected() {
            // The client sends the DISCONNECT packet(s) and tells us to close,
            // so packets and the engine close stay in order.
            self.session.upcall(ClientUpcall::Disconnect {
                nsp: self.info.nsp.to_string(),
                close,
            });
        } else {
            self.close(DisconnectReason::TransportClose, ctx);
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct UsePacket(pub PacketMiddleware);

impl Handler<UsePacket> for SocketActor {
    type Result = ();
    fn handle(&mut self, UsePacket(mw): UsePacket, _: &mut Context<Self>) {
        self.middleware.push(mw);
    }
}
