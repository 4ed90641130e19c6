//! [`SocketRef`]: the cheap, cloneable handle through which application
//! code talks to one socket actor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::Addr;
use serde_json::Value;
use tokio::sync::oneshot;

use super::actor::{Emit, Join, Leave, Rooms, ServerDisconnect, SocketActor, UsePacket};
use super::{Handshake, MiddlewareError, Payload};

/// Event names a server may not emit (socket.io reserves them).
pub const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// What every handle of one socket shares.
#[derive(Debug)]
pub(crate) struct SocketInfo {
    pub id: Arc<str>,
    pub nsp: Arc<str>,
    pub handshake: Arc<Handshake>,
    pub data: Mutex<Value>,
}

/// A handle to one socket. Clone it freely; it stays valid (and its sends
/// become no-ops) after the socket disconnects.
#[derive(Clone)]
pub struct SocketRef {
    pub(crate) info: Arc<SocketInfo>,
    pub(crate) addr: Addr<SocketActor>,
}

impl std::fmt::Debug for SocketRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketRef")
            .field("id", &self.info.id)
            .field("nsp", &self.info.nsp)
            .finish()
    }
}

/// Why an emit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
    #[error("the socket is disconnected")]
    Disconnected,
}

/// Why an emit with ack did not get its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("operation has timed out")]
    Timeout,
    #[error("the socket disconnected before answering")]
    Disconnected,
    #[error(transparent)]
    Emit(#[from] EmitError),
}

/// An incoming event as per-packet middleware sees it (and may change it).
#[derive(Debug, Clone, PartialEq)]
pub struct EventPacket {
    pub name: String,
    pub payload: Payload,
}

/// A per-packet middleware (socket.io's `socket.use`): pass with `Ok`, change
/// the packet in place, or reject it with `Err` (the packet is dropped and
/// the namespace's error handler hears why).
pub type PacketMiddleware =
    Arc<dyn Fn(&SocketRef, &mut EventPacket) -> Result<(), MiddlewareError> + Send + Sync>;

impl SocketRef {
    /// The socket id: 20 random base64url characters.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    pub fn nsp(&self) -> &str {
        &self.info.nsp
    }

    pub fn handshake(&self) -> &Handshake {
        &self.info.handshake
    }

    /// A copy of the application's data for this socket (`null` until set).
    pub fn data(&self) -> Value {
        self.info
            .data
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_data(&self, value: Value) {
        *self.info.data.lock().unwrap_or_else(|e| e.into_inner()) = value;
    }

    pub fn connected(&self) -> bool {
        self.addr.connected()
    }

    /// Emits `event` with `payload` to this client.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        check_event(event)?;
        self.addr
            .try_send(Emit {
                name: event.to_string(),
                payload: payload.into(),
                ack: None,
            })
            .map_err(|_| EmitError::Disconnected)
    }

    /// Emits `event` and waits up to `timeout` for the client's ack.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> Result<Payload, AckError> {
        check_event(event)?;
        let (tx, rx) = oneshot::channel();
        let emit = Emit {
            name: event.to_string(),
            payload: payload.into(),
            ack: Some((tx, timeout)),
        };
        self.addr
            .try_send(emit)
            .map_err(|_| EmitError::Disconnected)?;
        rx.await.unwrap_or(Err(AckError::Disconnected))
    }

    /// socket.io's `send`: emits a `message` event.
    pub fn send(&self, payload: impl Into<Payload>) -> Result<(), EmitError> {
        self.emit("message", payload)
    }

    pub fn join(&self, rooms: impl IntoIterator<Item = impl Into<String>>) {
        self.addr
            .do_send(Join(rooms.into_iter().map(Into::into).collect()));
    }

    pub fn leave(&self, room: impl Into<String>) {
        self.addr.do_send(Leave(room.into()));
    }

    /// The rooms this socket is in (its own id included); empty once disconnected.
    pub async fn rooms(&self) -> Vec<String> {
        self.addr.send(Rooms).await.unwrap_or_default()
    }

    /// Adds a per-packet middleware to this socket's pipeline, for packets
    /// that arrive from now on. Namespace-wide middleware is set on the namespace.
    pub fn use_packet(&self, middleware: PacketMiddleware) {
        self.addr.do_send(UsePacket(middleware));
    }

    /// Disconnects this socket from its namespace; with `close`, closes the
    /// whole connection (every namespace of this client).
    pub fn disconnect(&self, close: bool) {
        self.addr.do_send(ServerDisconnect { close });
    }
}

fn check_event(event: &str) -> Result<(), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::Reserved(event.to_string()));
    }
    Ok(())
}
