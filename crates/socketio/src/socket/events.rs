//! The typed messages a namespace's handler actors receive, the reasons a
//! socket ends, and the ack callback handed out with an event.

use std::sync::Arc;

use actix::prelude::*;

use super::errors::MiddlewareError;
use super::shared::SocketRef;
use crate::client::{Client, DisconnectReason, Reply, payload_frames};
use switchyard_core::Payload;
use switchyard_core::protocol::Parser;
use switchyard_engineio::{Outgoing, SessionHandle};

/// A socket joined the namespace (socket.io's `connection` event).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Connect {
    /// The new socket, already registered in its namespace.
    pub socket: SocketRef,
    /// Whether it is a recovered one: the same id, rooms and `data` as
    /// before its transport blinked, its missed packets already replayed
    /// (socket.io's `socket.recovered`).
    pub recovered: bool,
}

/// The client emitted an event. `ack` is set when the client asked for one.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Event {
    /// The socket the event came from.
    pub socket: SocketRef,
    /// The event name (the first element of the emit).
    pub name: String,
    /// The arguments after the name, binary attachments included.
    pub payload: Payload,
    /// The client's ack callback (its emit's last argument), to answer once.
    pub ack: Option<AckSender>,
}

/// The socket is leaving; `rooms` are the rooms it is still in.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Disconnecting {
    /// The leaving socket; it can no longer emit, but its rooms are still known.
    pub socket: SocketRef,
    /// Why it is leaving (socket.io's disconnect reason).
    pub reason: DisconnectReason,
    /// The rooms it is still in (socket.io's `socket.rooms` at `disconnecting`).
    pub rooms: Vec<String>,
}

/// The socket has left.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Disconnect {
    /// The socket that left; it is out of every room.
    pub socket: SocketRef,
    /// Why it left (socket.io's disconnect reason).
    pub reason: DisconnectReason,
}

/// A per-packet middleware rejected a packet (socket.io's server-side `error` event).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct SocketError {
    /// The socket whose packet was rejected.
    pub socket: SocketRef,
    /// The middleware's refusal.
    pub error: MiddlewareError,
}

/// Answers one client emit that asked for an ack. Dropping it unanswered
/// leaves the client's callback to its own timeout, as in socket.io.
pub struct AckSender {
    pub(super) session: SessionHandle<Client>,
    pub(super) nsp: Arc<str>,
    pub(super) id: u64,
    pub(super) parser: Parser,
}

impl AckSender {
    /// Sends the ack with `payload` as its arguments.
    pub fn send(self, payload: impl Into<Payload>) {
        let frames = payload_frames(
            &self.nsp,
            Reply::Ack(self.id),
            payload.into(),
            self.parser,
            self.session.version(),
        );
        self.session.send(Outgoing::new(frames));
    }
}

/// The handler actors of a namespace, each optional.
#[derive(Default, Clone)]
pub struct Handlers {
    /// Hears [`Connect`].
    pub connect: Option<Recipient<Connect>>,
    /// Hears [`Event`].
    pub event: Option<Recipient<Event>>,
    /// Hears [`Disconnecting`].
    pub disconnecting: Option<Recipient<Disconnecting>>,
    /// Hears [`Disconnect`].
    pub disconnect: Option<Recipient<Disconnect>>,
    /// Hears [`SocketError`].
    pub error: Option<Recipient<SocketError>>,
    /// Events taken from `event` by name, first match wins (virtual requests).
    pub(crate) routes: Vec<EventRoute>,
}

/// Events whose name `matches` go to `to` instead of the event handler.
#[derive(Clone)]
pub(crate) struct EventRoute {
    pub matches: fn(&str) -> bool,
    pub to: Recipient<Event>,
}

impl Handlers {
    /// Who hears an event called `name`: its route, else the event handler.
    pub(crate) fn event_for(&self, name: &str) -> Option<&Recipient<Event>> {
        match self.routes.iter().find(|r| (r.matches)(name)) {
            Some(route) => Some(&route.to),
            None => self.event.as_ref(),
        }
    }
}

/// A socket of this namespace has finished disconnecting.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SocketGone {
    pub id: Arc<str>,
}
