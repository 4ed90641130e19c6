//! The typed messages a namespace's handler actors receive, the reasons a
//! socket ends, and the ack callback handed out with an event.

use std::sync::Arc;

use actix::Message;
use serde_json::Value;

use super::{Payload, SocketRef};
use crate::engine::{CloseReason, Outgoing, SessionHandle};
use crate::io::Client;

/// Why a socket disconnected; the strings are socket.io's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    TransportError,
    TransportClose,
    ServerNamespaceDisconnect,
    ClientNamespaceDisconnect,
    PingTimeout,
    ParseError,
    ForcedClose,
    ServerShutdown,
}

impl DisconnectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ServerShutdown => "server shutting down",
        }
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
            CloseReason::ServerShutdown => DisconnectReason::ServerShutdown,
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A socket joined the namespace (socket.io's `connection` event).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Connect {
    pub socket: SocketRef,
}

/// The client emitted an event. `ack` is set when the client asked for one.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Event {
    pub socket: SocketRef,
    pub name: String,
    pub payload: Payload,
    pub ack: Option<AckSender>,
}

/// Any incoming event, for catch-all listeners (`SocketRef::on_any`).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct AnyEvent {
    pub socket: SocketRef,
    pub name: String,
    pub payload: Payload,
}

/// Any outgoing event, for `SocketRef::on_any_outgoing` listeners.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct AnyOutgoing {
    pub socket: SocketRef,
    pub name: String,
    pub payload: Payload,
}

/// The socket is leaving; `rooms` are the rooms it is still in.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Disconnecting {
    pub socket: SocketRef,
    pub reason: DisconnectReason,
    pub rooms: Vec<String>,
}

/// The socket has left.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub socket: SocketRef,
    pub reason: DisconnectReason,
}

/// A per-packet middleware rejected a packet (socket.io's server-side `error` event).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct SocketError {
    pub socket: SocketRef,
    pub error: MiddlewareError,
}

/// A middleware's refusal: a message and optional data for the client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct MiddlewareError {
    pub message: String,
    pub data: Option<Value>,
}

impl MiddlewareError {
    pub fn new(message: impl Into<String>) -> Self {
        MiddlewareError {
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// Answers one client emit that asked for an ack. Dropping it unanswered
/// leaves the client's callback to its own timeout, as in socket.io.
pub struct AckSender {
    pub(super) session: SessionHandle<Client>,
    pub(super) nsp: Arc<str>,
    pub(super) id: u64,
}

impl AckSender {
    /// Sends the ack with `payload` as its arguments.
    pub fn send(self, payload: impl Into<Payload>) {
        let packet = payload.into().into_ack(&self.nsp, self.id);
        self.session.send(Outgoing::new(crate::io::client::frames(
            &packet,
            self.session.version(),
        )));
    }
}
