//! The socket actor: one per client per namespace. Owns the socket's rooms,
//! pending acks and packet middleware pipeline, delivers events to the
//! namespace's handler actors and runs `disconnecting` then `disconnect`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::Payload;
use super::events::{
    AckSender, Connect, Disconnect, DisconnectReason, Disconnecting, Event, SocketError,
};
use super::handle::{AckError, EventPacket, PacketMiddleware, SocketInfo, SocketRef};
use crate::engine::{Outgoing, SessionHandle};
use crate::io::Client;
use crate::io::client::{ClientUpcall, frames};
use crate::namespace::{Handlers, SocketGone};
use crate::protocol::{Packet, PacketKind};

/// How long a socket waits for the handler's `disconnecting` before it
/// leaves its rooms anyway.
const DISCONNECTING_WAIT: Duration = Duration::from_secs(5);

pub struct SocketActor {
    info: Arc<SocketInfo>,
    session: SessionHandle<Client>,
    namespace: Recipient<SocketGone>,
    handlers: Arc<Handlers>,
    middleware: Vec<PacketMiddleware>,
    rooms: BTreeSet<String>,
    acks: HashMap<u64, (oneshot::Sender<Result<Payload, AckError>>, SpawnHandle)>,
    next_ack: u64,
    closing: bool,
}

impl SocketActor {
    pub(crate) fn new(
        info: Arc<SocketInfo>,
        session: SessionHandle<Client>,
        namespace: Recipient<SocketGone>,
        handlers: Arc<Handlers>,
        middleware: Vec<PacketMiddleware>,
    ) -> Self {
        let rooms = BTreeSet::from([info.id.to_string()]);
        SocketActor {
            info,
            session,
            namespace,
            handlers,
            middleware,
            rooms,
            acks: HashMap::new(),
            next_ack: 0,
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
        if let Some((tx, timer)) = self.acks.remove(&id) {
            ctx.cancel_future(timer);
            let _ = tx.send(Ok(Payload::from_ack(packet)));
        }
    }

    /// Runs `disconnecting` (rooms still visible), then leaves every room,
    /// runs `disconnect` and stops.
    fn close(&mut self, reason: DisconnectReason, ctx: &mut Context<Self>) {
        if self.closing {
            return;
        }
        self.closing = true;
        for (_, (tx, timer)) in self.acks.drain() {
            ctx.cancel_future(timer);
            let _ = tx.send(Err(AckError::Disconnected));
        }
        let socket = self.socket_ref(ctx);
        let rooms: Vec<String> = self.rooms.iter().cloned().collect();
        let disconnecting = self.handlers.disconnecting.clone().map(|r| {
            r.send(Disconnecting {
                socket: socket.clone(),
                reason,
                rooms,
            })
            .timeout(DISCONNECTING_WAIT)
        });
        async move {
            if let Some(wait) = disconnecting {
                let _ = wait.await;
            }
        }
        .into_actor(self)
        .then(move |_, act, _| {
            act.rooms.clear();
            let disconnect = act.handlers.disconnect.clone();
            async move {
                if let Some(r) = disconnect {
                    let _ = r.send(Disconnect { socket, reason }).await;
                }
            }
            .into_actor(act)
        })
        .map(|_, act, ctx| {
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
            let id = self.next_ack;
            self.next_ack += 1;
            let timer = ctx.run_later(timeout, move |act, _| {
                if let Some((tx, _)) = act.acks.remove(&id) {
                    let _ = tx.send(Err(AckError::Timeout));
                }
            });
            self.acks.insert(id, (tx, timer));
            packet.id = Some(id);
        }
        self.send_packet(&packet);
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
pub(super) struct Join(pub Vec<String>);

impl Handler<Join> for SocketActor {
    type Result = ();
    fn handle(&mut self, Join(rooms): Join, _: &mut Context<Self>) {
        if !self.closing {
            self.rooms.extend(rooms);
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Leave(pub String);

impl Handler<Leave> for SocketActor {
    type Result = ();
    fn handle(&mut self, Leave(room): Leave, _: &mut Context<Self>) {
        self.rooms.remove(&room);
    }
}

#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub(super) struct Rooms;

impl Handler<Rooms> for SocketActor {
    type Result = Vec<String>;
    fn handle(&mut self, _: Rooms, _: &mut Context<Self>) -> Vec<String> {
        self.rooms.iter().cloned().collect()
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
