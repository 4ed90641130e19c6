//! What a [`SocketRef`] does (the type is defined in `shared`): emit, ack,
//! join and leave, listen, disconnect; and [`Emitter`], one emit with its
//! flags.
//!
//! A handle writes to its client itself, through the client's session:
//! never through the socket actor, whose mailbox would let an ack or a
//! broadcast overtake an emit made before it.

use std::sync::atomic::Ordering::{self, Relaxed};
use std::time::Duration;

use actix::Recipient;
use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::oneshot;

use super::acks::{AckRefused, Waiter};
use super::applied::Applied;
use super::errors::{AckError, EmitError, check_event};
use super::handshake::Handshake;
use super::into_rooms::IntoRooms;
use super::operator::{BroadcastOperator, NamespaceRef};
use super::shared::{
    AnyEvent, AnyOutgoing, Observed, PacketMiddleware, Register, Restore, RoomsOf, SocketRef,
};
use crate::client::{ClientUpcall, ClientView, Connection, Reply, payload_frames};
use switchyard_core::Payload;
use switchyard_core::protocol::Packet;
use switchyard_engineio::{Outgoing, RequestInfo};

/// The client's answer to an emit, or why there is none. The packet was
/// written when the emit was called; this only waits.
pub type AckFuture = BoxFuture<'static, Result<Payload, AckError>>;

/// One emit to one socket with its flags (`socket.volatile()`,
/// `socket.compress(false)`), written straight to the client like
/// [`SocketRef::emit`].
#[derive(Clone, Debug)]
pub struct Emitter {
    socket: SocketRef,
    volatile: bool,
    compress: bool,
}

impl Emitter {
    /// Drop the packet (counted) if the client cannot take it right now.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Whether the packet may be compressed (permessage-deflate / HTTP).
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Emits `event` with `payload` to this client, now.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        check_event(event)?;
        self.write(event, None, payload.into())
    }

    /// Emits `event` now and waits up to `timeout` for the client's ack.
    /// The packet is written when this is called, not when it is awaited.
    pub fn emit_with_ack(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> AckFuture {
        let info = self.socket.info.clone();
        let sent = check_event(event).map_err(AckError::from).and_then(|()| {
            let id = info.ns.next_ack_id();
            let (tx, rx) = oneshot::channel();
            match info
                .acks
                .insert(id, Waiter::Single(tx), info.ns.limits.max_pending_acks)
            {
                Ok(()) => {}
                Err(AckRefused::Closed) => return Err(AckError::Disconnected),
                Err(AckRefused::Full) => {
                    let stats = &info.ns.stats;
                    stats.acks_refused.fetch_add(1, Relaxed);
                    if let Some(n) = stats.refusals.event(std::time::Instant::now()) {
                        log::warn!(
                            "socket {}: room joins or acks refused ({n} in the last second or so), \
                             at max_pending_acks",
                            info.id
                        );
                    }
                    return Err(AckError::TooManyPending);
                }
            }
            self.write(event, Some(id), payload.into())?;
            Ok((id, rx))
        });
        Box::pin(async move {
            let (id, rx) = sent?;
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(_)) => Err(AckError::Disconnected),
                Err(_) => {
                    info.acks.forget(id);
                    info.ns.stats.acks_timed_out.fetch_add(1, Relaxed);
                    Err(AckError::Timeout)
                }
            }
        })
    }

    /// Writes EVENT `event` (ack id `id`) with `payload`, encoded straight
    /// from the payload (no packet built).
    fn write(&self, event: &str, id: Option<u64>, payload: Payload) -> Result<(), EmitError> {
        let info = &self.socket.info;
        if !self.socket.connected() {
            return Err(EmitError::Disconnected);
        }
        // Listeners hear the emit as it is written; the payload is
        // copied for them only when there are any.
        self.socket.notify_emit(event, &payload);
        let reply = Reply::Event(event, id);
        let version = info.session.version();
        let frames = payload_frames(&info.nsp, reply, payload, info.ns.parser, version);
        let out = Outgoing::new(frames)
            .volatile(self.volatile)
            .compress(self.compress);
        if self.volatile {
            // A full mailbox means the client cannot take it now: dropped, counted.
            if info.session.try_send(out).is_err() {
                info.ns.stats.volatile_dropped.fetch_add(1, Relaxed);
            }
        } else {
            info.session.send(out);
        }
        Ok(())
    }
}

impl SocketRef {
    /// The socket id: 20 random base64url characters.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// The namespace's name.
    pub fn nsp(&self) -> &str {
        &self.info.nsp
    }

    /// Counts one request of this socket refused for a per-socket bound
    /// kept by a layer above (Sails' `vr_max_in_flight`): it shows in the
    /// namespace's [`NamespaceCounters::requests_refused`]. Returns how many
    /// refusals to report when a log line is due (one a second at most).
    ///
    /// [`NamespaceCounters::requests_refused`]: crate::socket::NamespaceCounters::requests_refused
    pub fn count_request_refused(&self) -> Option<u64> {
        let stats = &self.info.ns.stats;
        stats
            .requests_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        stats.refusals.event(std::time::Instant::now())
    }

    /// What the client's first request and CONNECT packet said.
    pub fn handshake(&self) -> &Handshake {
        &self.info.handshake
    }

    /// The Engine.IO connection under this socket (socket.io's
    /// `socket.conn`): transport now, its upgrade, ready state, address,
    /// protocol revision.
    ///
    /// ```no_run
    /// # fn f(socket: switchyard_socketio::socket::SocketRef) {
    /// let conn = socket.conn();
    /// println!("{} over {} (EIO {})", conn.id(), conn.transport(), conn.protocol());
    /// # }
    /// ```
    pub fn conn(&self) -> Connection {
        Connection {
            session: self.info.session.clone(),
            shared: self.info.conn.clone(),
        }
    }

    /// The HTTP request that opened the connection (socket.io's
    /// `socket.request`): method, URL, headers, cookies, address.
    pub fn request(&self) -> &RequestInfo {
        self.info.session.request()
    }

    /// The client behind this socket (socket.io's `socket.client`), with
    /// its sockets in the other namespaces of the same connection.
    pub fn client(&self) -> ClientView {
        ClientView { conn: self.conn() }
    }

    /// A copy of the application's data for this socket (`{}` until set).
    pub fn data(&self) -> Value {
        self.info
            .data
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the application's data for this socket (the server-wide
    /// observers hear of it).
    pub fn set_data(&self, value: Value) {
        *self.info.data.lock().unwrap_or_else(|e| e.into_inner()) = value;
        self.info.ns.observed(|| Observed::DataSet(self.clone()));
    }

    /// Whether this socket is one that came back after its transport
    /// blinked, with its id, rooms, `data` and missed packets (socket.io's
    /// `socket.recovered`; see [`RecoveryConfig`](crate::io::RecoveryConfig)).
    pub fn recovered(&self) -> bool {
        self.info.recovered
    }

    /// False once the socket has started disconnecting.
    pub fn connected(&self) -> bool {
        !self.info.closed.load(Ordering::Acquire)
    }

    fn emitter(&self) -> Emitter {
        Emitter {
            socket: self.clone(),
            volatile: false,
            compress: true,
        }
    }

    /// Emits `event` with `payload` to this client, now.
    pub fn emit(&self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        self.emitter().emit(event, payload)
    }

    /// Emits `event` now and waits up to `timeout` for the client's ack.
    pub fn emit_with_ack(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> AckFuture {
        self.emitter().emit_with_ack(event, payload, timeout)
    }

    /// socket.io's `send`: emits a `message` event.
    pub fn send(&self, payload: impl Into<Payload>) -> Result<(), EmitError> {
        self.emit("message", payload)
    }

    /// The next emit is dropped (and counted) if this client cannot take it now.
    pub fn volatile(&self) -> Emitter {
        self.emitter().volatile()
    }

    /// Whether the next emit may be compressed (permessage-deflate / HTTP).
    pub fn compress(&self, compress: bool) -> Emitter {
        self.emitter().compress(compress)
    }

    /// Joins `rooms`; the returned [`Applied`] resolves once the socket is in them.
    pub fn join(&self, rooms: impl IntoIterator<Item = impl Into<String>>) -> Applied {
        self.only().sockets_join(rooms)
    }

    /// Leaves `room`; the returned [`Applied`] resolves once it is out.
    pub fn leave(&self, room: impl Into<String>) -> Applied {
        self.only().sockets_leave([room.into()])
    }

    /// The rooms this socket is in (its own id included); empty once disconnected.
    pub async fn rooms(&self) -> Vec<String> {
        self.info
            .ns
            .rooms
            .rooms_of
            .send(RoomsOf {
                id: self.info.id.clone(),
            })
            .await
            .unwrap_or_default()
    }

    /// Everyone in `rooms` but this socket, one room or several
    /// (socket.io's `socket.to(room)` and `socket.to([a, b])`; see [`IntoRooms`]).
    pub fn to<M>(&self, rooms: impl IntoRooms<M>) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Same as [`Self::to`] (socket.io's `socket.in`).
    pub fn within<M>(&self, rooms: impl IntoRooms<M>) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Everyone but this socket and those in `rooms` (socket.io's `socket.except`).
    pub fn except<M>(&self, rooms: impl IntoRooms<M>) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// The namespace this socket is in, for namespace-wide operators.
    pub fn namespace(&self) -> NamespaceRef {
        NamespaceRef {
            core: self.info.ns.clone(),
        }
    }

    /// This socket alone, for the bulk room operations: `local`, since
    /// the socket lives here and no other node needs telling.
    fn only(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.info.ns.clone(), None)
            .to(self.id())
            .local()
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

    /// Adds an outgoing listener before the others (`prependAnyOutgoing`).
    pub fn prepend_any_outgoing(&self, r: Recipient<AnyOutgoing>) {
        self.info.any_outgoing.edit(|l| l.insert(0, r));
    }

    /// Removes one outgoing listener, or all with `None` (`offAnyOutgoing`).
    pub fn off_any_outgoing(&self, r: Option<&Recipient<AnyOutgoing>>) {
        self.info.any_outgoing.edit(|l| match r {
            Some(r) => l.retain(|x| x != r),
            None => l.clear(),
        });
    }

    /// How many outgoing listeners there are (`listenersAnyOutgoing().length`).
    pub fn listeners_any_outgoing(&self) -> usize {
        self.info.any_outgoing.len()
    }

    /// Tells the outgoing listeners about an EVENT packet sent to this socket.
    pub(crate) fn notify_outgoing(&self, packet: &Packet) {
        self.notify_outgoing_with(|| Payload::from_event(packet.clone()));
    }

    /// [`notify_outgoing`](Self::notify_outgoing) for an emit made of its parts.
    fn notify_emit(&self, name: &str, payload: &Payload) {
        self.notify_outgoing_with(|| Some((name.to_owned(), payload.clone())));
    }

    /// Tells the outgoing listeners, if any, of the event `make` gives.
    fn notify_outgoing_with(&self, make: impl FnOnce() -> Option<(String, Payload)>) {
        let dropped = &self.info.ns.stats.listener_dropped;
        self.info.any_outgoing.notify(dropped, || {
            let (name, payload) = make()?;
            Some(AnyOutgoing {
                socket: self.clone(),
                name,
                payload,
            })
        });
    }

    /// Adds a per-packet middleware to this socket's pipeline, for packets
    /// that arrive from now on. Namespace-wide middleware is set on the namespace.
    pub fn use_packet(&self, middleware: PacketMiddleware) {
        let mut list = self
            .info
            .middleware
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let mut grown = list.to_vec();
        grown.push(middleware);
        *list = grown.into();
    }

    /// Disconnects this socket from its namespace; with `close`, closes the
    /// whole connection (every namespace of this client). The DISCONNECT
    /// packet takes its place after what was written before; the returned
    /// [`Applied`] resolves once the socket has left its rooms.
    pub fn disconnect(&self, close: bool) -> Applied {
        self.request_disconnect(close);
        Applied::gone(&self.info.gone)
    }

    /// Makes the socket targetable in its namespace's rooms (its own-id
    /// room; a recovered one's rooms too, after its missed packets). Sent
    /// by the client once per admitted socket, right after CONNECT.
    pub(crate) fn register(&self, restore: Option<Restore>) {
        // Bounded: one per admitted socket, and admissions wait in the
        // namespace supervisor's bounded mailbox first.
        self.info.ns.rooms.register.do_send(Register {
            socket: self.clone(),
            restore,
        });
    }

    /// Asks the client to send DISCONNECT and close this socket, in order
    /// after everything written to it before.
    pub(crate) fn request_disconnect(&self, close: bool) {
        if self.connected() {
            self.info.session.upcall(ClientUpcall::Disconnect {
                nsp: self.info.nsp.to_string(),
                id: self.info.id.clone(),
                close,
            });
        }
    }
}
