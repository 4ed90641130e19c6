//! [`SocketRef`]: the cheap, cloneable handle through which application
//! code talks to one socket actor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::{Addr, Recipient};
use serde_json::Value;
use tokio::sync::oneshot;

use super::actor::{Emit, ExpectAck, ServerDisconnect, SocketActor, UsePacket};
use super::events::{AnyEvent, AnyOutgoing};
use super::{Handshake, MiddlewareError, Payload};
use crate::protocol::{Packet, RESERVED_EVENTS};
use crate::rooms::{BroadcastOperator, NamespaceCore, NamespaceRef, RoomsOf};

/// What every handle of one socket shares.
pub(crate) struct SocketInfo {
    pub id: Arc<str>,
    pub nsp: Arc<str>,
    pub handshake: Arc<Handshake>,
    pub data: Mutex<Value>,
    pub ns: Arc<NamespaceCore>,
    pub any_incoming: Listeners<AnyEvent>,
    pub any_outgoing: Listeners<AnyOutgoing>,
}

impl SocketInfo {
    pub fn new(id: Arc<str>, handshake: Arc<Handshake>, ns: Arc<NamespaceCore>) -> SocketInfo {
        SocketInfo {
            id,
            nsp: ns.name.clone(),
            handshake,
            data: Mutex::new(Value::Null),
            ns,
            any_incoming: Listeners::default(),
            any_outgoing: Listeners::default(),
        }
    }
}

/// Catch-all listeners (socket.io's `onAny` family), cheap to check when empty.
pub(crate) struct Listeners<M: actix::Message + Send>
where
    M::Result: Send,
{
    any: AtomicBool,
    list: Mutex<Vec<Recipient<M>>>,
}

impl<M: actix::Message + Send> Default for Listeners<M>
where
    M::Result: Send,
{
    fn default() -> Self {
        Listeners {
            any: AtomicBool::new(false),
            list: Mutex::new(Vec::new()),
        }
    }
}

impl<M: actix::Message<Result = ()> + Send + Clone + 'static> Listeners<M> {
    fn edit(&self, f: impl FnOnce(&mut Vec<Recipient<M>>)) {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut list);
        self.any.store(!list.is_empty(), Ordering::Release);
    }

    fn len(&self) -> usize {
        self.list.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Tells every listener; `make` runs only when there is one.
    pub fn notify(&self, make: impl FnOnce() -> Option<M>) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let Some(msg) = make() else { return };
        for r in self.list.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            // A listener that cannot keep up misses events rather than growing a queue.
            let _ = r.try_send(msg.clone());
        }
    }
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
    #[error("the socket's mailbox is full; the emit was dropped")]
    Overloaded,
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
            .map_err(emit_error)
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
        self.addr.try_send(emit).map_err(emit_error)?;
        rx.await.unwrap_or(Err(AckError::Disconnected))
    }

    /// socket.io's `send`: emits a `message` event.
    pub fn send(&self, payload: impl Into<Payload>) -> Result<(), EmitError> {
        self.emit("message", payload)
    }

    pub fn join(&self, rooms: impl IntoIterator<Item = impl Into<String>>) {
        self.only().sockets_join(rooms);
    }

    pub fn leave(&self, room: impl Into<String>) {
        self.only().sockets_leave([room.into()]);
    }

    /// The rooms this socket is in (its own id included); empty once disconnected.
    pub async fn rooms(&self) -> Vec<String> {
        self.info
            .ns
            .registry
            .send(RoomsOf {
                id: self.info.id.clone(),
            })
            .await
            .unwrap_or_default()
    }

    /// Everyone in `room` but this socket (socket.io's `socket.to`).
    pub fn to(&self, room: impl Into<String>) -> BroadcastOperator {
        self.broadcast().to(room)
    }

    /// Same as [`Self::to`] (socket.io's `socket.in`).
    pub fn within(&self, room: impl Into<String>) -> BroadcastOperator {
        self.broadcast().to(room)
    }

    /// Everyone but this socket and those in `room`.
    pub fn except(&self, room: impl Into<String>) -> BroadcastOperator {
        self.broadcast().except(room)
    }

    /// The namespace this socket is in, for namespace-wide operators.
    pub fn namespace(&self) -> NamespaceRef {
        NamespaceRef {
            core: self.info.ns.clone(),
        }
    }

    /// This socket alone, through the operators: `socket.volatile().emit(..)`
    /// and `socket.compress(false).emit(..)` as in socket.io.
    fn only(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.info.ns.clone(), None).to(self.id())
    }

    /// The next emit is dropped (and counted) if this client cannot take it now.
    pub fn volatile(&self) -> BroadcastOperator {
        self.only().volatile()
    }

    /// Whether the next emit may be compressed (permessage-deflate / HTTP).
    pub fn compress(&self, compress: bool) -> BroadcastOperator {
        self.only().compress(compress)
    }

    /// Everyone in the namespace but this socket (socket.io's `socket.broadcast`).
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.info.ns.clone(), Some(self.id().to_string()))
    }

    /// Adds a listener for every incoming event (socket.io's `onAny`).
    pub fn on_any(&self, r: Recipient<AnyEvent>) {
        self.info.any_incoming.edit(|l| l.push(r));
    }

    /// Adds a listener for every incoming event, before the others (`prependAny`).
    pub fn prepend_any(&self, r: Recipient<AnyEvent>) {
        self.info.any_incoming.edit(|l| l.insert(0, r));
    }

    /// Removes one listener, or all with `None` (`offAny`).
    pub fn off_any(&self, r: Option<&Recipient<AnyEvent>>) {
        self.info.any_incoming.edit(|l| match r {
            Some(r) => l.retain(|x| x != r),
            None => l.clear(),
        });
    }

    /// How many catch-all listeners there are (`listenersAny().length`).
    pub fn listeners_any(&self) -> usize {
        self.info.any_incoming.len()
    }

    /// Adds a listener for every outgoing event, broadcasts included (`onAnyOutgoing`).
    pub fn on_any_outgoing(&self, r: Recipient<AnyOutgoing>) {
        self.info.any_outgoing.edit(|l| l.push(r));
    }

    pub fn prepend_any_outgoing(&self, r: Recipient<AnyOutgoing>) {
        self.info.any_outgoing.edit(|l| l.insert(0, r));
    }

    pub fn off_any_outgoing(&self, r: Option<&Recipient<AnyOutgoing>>) {
        self.info.any_outgoing.edit(|l| match r {
            Some(r) => l.retain(|x| x != r),
            None => l.clear(),
        });
    }

    pub fn listeners_any_outgoing(&self) -> usize {
        self.info.any_outgoing.len()
    }

    /// Tells the outgoing listeners about an EVENT packet sent to this socket.
    pub(crate) fn notify_outgoing(&self, packet: &Packet) {
        self.info.any_outgoing.notify(|| {
            let (name, payload) = Payload::from_event(packet.clone())?;
            Some(AnyOutgoing {
                socket: self.clone(),
                name,
                payload,
            })
        });
    }

    /// Has the socket actor record a broadcast's pending ack and send its packet.
    pub(crate) fn expect_ack(&self, expect: ExpectAck) -> bool {
        self.addr.try_send(expect).is_ok()
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

fn emit_error<M>(e: actix::prelude::SendError<M>) -> EmitError {
    match e {
        actix::prelude::SendError::Full(_) => EmitError::Overloaded,
        actix::prelude::SendError::Closed(_) => EmitError::Disconnected,
    }
}

pub(crate) fn check_event(event: &str) -> Result<(), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::Reserved(event.to_string()));
    }
    Ok(())
}
