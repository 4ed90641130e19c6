//! The state every handle shares, and the messages that carry it. These
//! types name each other (a socket's state holds its namespace's, whose
//! rooms take requests that carry sockets; a socket's catch-all listeners
//! take events that carry the socket), so they live together, here, as
//! definitions only; what a socket and an operator do is in `handle` and
//! `operator`, above this file.
//!
//! - A socket: [`SocketRef`] and the [`SocketInfo`] its handles share, its
//!   catch-all listeners ([`AnyEvent`], [`AnyOutgoing`]) and its per-packet
//!   middleware ([`PacketMiddleware`]).
//! - A namespace: [`NamespaceCore`], and the request messages its rooms
//!   answer, carried by [`Rooms`]. Whoever answers them (the RoomRegistry
//!   actor in `rooms`) plugs in through [`Rooms::new`], so this layer never
//!   names it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock, Weak};

use actix::dev::ToEnvelope;
use actix::prelude::*;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::acks::Acks;
use super::applied::{Departure, EffectError};
use super::errors::MiddlewareError;
use super::handshake::Handshake;
use super::server_side::ServerSideHandlers;
use crate::client::{Client, ConnShared, DisconnectReason, Encoded};
use crate::recovery::{Claimed, NotRecovered, RecoveryConfig, RecoveryStats, Session};
use switchyard_core::protocol::Parser;
use switchyard_core::{Adapter, AdapterFactory, BroadcastOptions, LocalNamespace, Payload};
use switchyard_engineio::SessionHandle;

/// A handle to one socket. Clone it freely; it stays valid (and its sends
/// become no-ops) after the socket disconnects.
///
/// Writes to the client leave in the order they are made: an emit, an ack
/// and a disconnect go straight into the client's one outbound queue on the
/// caller's thread, before the call returns. Operators that go through the
/// namespace's room registry (`to`, `broadcast`, `namespace()`) are in that
/// queue once their future resolves.
///
/// ```no_run
/// use actix::prelude::*;
/// use serde_json::json;
/// use switchyard_socketio::socket::Event;
///
/// struct Chat;
/// impl Actor for Chat {
///     type Context = Context<Self>;
/// }
/// impl Handler<Event> for Chat {
///     type Result = ();
///     fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
///         let socket = ev.socket;
///         // socket.io's `socket.emit("echo", ...args)`
///         let _ = socket.emit("echo", ev.payload);
///         // socket.io's `callback(...)` for an emit that asked for an ack
///         if let Some(ack) = ev.ack {
///             ack.send(json!("ok"));
///         }
///         // socket.io's `socket.join("lobby")`, then a broadcast to the others there
///         let joined = socket.join(["lobby"]);
///         actix::spawn(async move {
///             if joined.await.is_ok() {
///                 let _ = socket.to("lobby").emit("joined", json!(socket.id())).await;
///             }
///         });
///     }
/// }
/// ```
#[derive(Clone)]
pub struct SocketRef {
    pub(crate) info: Arc<SocketInfo>,
}

impl std::fmt::Debug for SocketRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketRef")
            .field("id", &self.info.id)
            .field("nsp", &self.info.nsp)
            .finish()
    }
}

/// What every handle of one socket shares.
pub(crate) struct SocketInfo {
    pub id: Arc<str>,
    /// The private id a client recovers this socket with; set when the
    /// namespace has recovery and the client's protocol can use it.
    pub pid: Option<Arc<str>>,
    /// Whether this socket is a recovered one (socket.io's `socket.recovered`).
    pub recovered: bool,
    pub nsp: Arc<str>,
    pub handshake: Arc<Handshake>,
    pub data: Mutex<Value>,
    pub ns: Arc<NamespaceCore>,
    /// The client's session: the one ordered, bounded way to the client.
    pub session: SessionHandle<Client>,
    /// What the client's sockets share about their connection.
    pub conn: Arc<ConnShared>,
    pub acks: Acks,
    /// Per-packet middleware, the namespace's then the socket's own; swapped
    /// whole when one is added, so a packet runs against one snapshot.
    pub middleware: RwLock<Arc<[PacketMiddleware]>>,
    /// Set when the socket starts disconnecting.
    pub closed: AtomicBool,
    /// Fires once the socket has left every room.
    pub gone: Departure,
    pub any_incoming: Listeners<AnyEvent>,
    pub any_outgoing: Listeners<AnyOutgoing>,
}

impl SocketInfo {
    pub fn new(
        identity: Identity,
        handshake: Arc<Handshake>,
        ns: Arc<NamespaceCore>,
        session: SessionHandle<Client>,
        conn: Arc<ConnShared>,
        middleware: Arc<[PacketMiddleware]>,
    ) -> SocketInfo {
        SocketInfo {
            id: identity.id,
            pid: identity.pid,
            recovered: identity.recovered,
            nsp: ns.name.clone(),
            handshake,
            data: Mutex::new(identity.data),
            ns,
            session,
            conn,
            acks: Acks::default(),
            middleware: RwLock::new(middleware),
            closed: AtomicBool::new(false),
            gone: Departure::default(),
            any_incoming: Listeners::default(),
            any_outgoing: Listeners::default(),
        }
    }

    /// The middleware to run a packet through.
    pub fn middleware(&self) -> Arc<[PacketMiddleware]> {
        self.middleware
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Who a new socket is: a fresh one, or the one it recovers.
pub(crate) struct Identity {
    pub id: Arc<str>,
    pub pid: Option<Arc<str>>,
    pub recovered: bool,
    pub data: Value,
}

impl Identity {
    /// A new socket; with a private id when it may be recovered later.
    pub fn fresh(recoverable: bool) -> Identity {
        let id = || Arc::<str>::from(switchyard_engineio::id::random_id());
        Identity {
            id: id(),
            pid: recoverable.then(id),
            recovered: false,
            // socket.io's `socket.data` starts as an empty object.
            data: Value::Object(Default::default()),
        }
    }

    /// The socket a claimed session was.
    pub fn recovered(session: Session) -> Identity {
        Identity {
            id: session.sid.into(),
            pid: Some(session.pid.into()),
            recovered: true,
            data: session.data,
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
    /// Listeners set once, at start.
    pub(crate) fn with(list: Vec<Recipient<M>>) -> Self {
        Listeners {
            any: AtomicBool::new(!list.is_empty()),
            list: Mutex::new(list),
        }
    }

    /// Whether anyone listens.
    pub(crate) fn is_listened(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    pub(crate) fn edit(&self, f: impl FnOnce(&mut Vec<Recipient<M>>)) {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut list);
        self.any.store(!list.is_empty(), Ordering::Release);
    }

    pub(super) fn len(&self) -> usize {
        self.list.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Tells every listener; `make` runs only when there is one. A listener
    /// that cannot keep up misses the event rather than growing a queue; the
    /// miss is counted in `dropped`.
    pub fn notify(&self, dropped: &AtomicU64, make: impl FnOnce() -> Option<M>) {
        if !self.any.load(Ordering::Acquire) {
            return;
        }
        let Some(msg) = make() else { return };
        for r in self.list.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if r.try_send(msg.clone()).is_err() {
                dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

/// An incoming event as per-packet middleware sees it (and may change it).
#[derive(Debug, Clone, PartialEq)]
pub struct EventPacket {
    /// The event name.
    pub name: String,
    /// Its arguments.
    pub payload: Payload,
}

/// A per-packet middleware (socket.io's `socket.use`): pass with `Ok`, change
/// the packet in place, or reject it with `Err` (the packet is dropped and
/// the namespace's error handler hears why).
pub type PacketMiddleware =
    Arc<dyn Fn(&SocketRef, &mut EventPacket) -> Result<(), MiddlewareError> + Send + Sync>;

/// Any incoming event, for catch-all listeners (`SocketRef::on_any`).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct AnyEvent {
    /// The socket the event came from.
    pub socket: SocketRef,
    /// The event name.
    pub name: String,
    /// The arguments after the name.
    pub payload: Payload,
}

/// Any outgoing event, for `SocketRef::on_any_outgoing` listeners.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct AnyOutgoing {
    /// The socket the event was sent to.
    pub socket: SocketRef,
    /// The event name.
    pub name: String,
    /// The arguments after the name.
    pub payload: Payload,
}

/// What a server-wide observer hears of every namespace (see
/// [`SocketIoBuilder::observe`](crate::io::SocketIoBuilder::observe)): the
/// feed socket.io's admin UI shows. Each namespace tells its own, in order.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub enum Observed {
    /// A socket connected (before its namespace's `connection` handler hears of it).
    Connected(SocketRef),
    /// A socket disconnected, once out of its rooms.
    Disconnected {
        /// The socket.
        socket: SocketRef,
        /// Why, as socket.io names it.
        reason: DisconnectReason,
    },
    /// A socket's `data` was replaced ([`SocketRef::set_data`]).
    DataSet(SocketRef),
    /// Socket `id` of namespace `nsp` joined `room` (its own-id room included;
    /// the adapter's `join-room` in socket.io).
    RoomJoined {
        /// The namespace.
        nsp: Arc<str>,
        /// The room.
        room: Arc<str>,
        /// The socket id.
        id: Arc<str>,
    },
    /// Socket `id` of namespace `nsp` left `room` (`leave-room`).
    RoomLeft {
        /// The namespace.
        nsp: Arc<str>,
        /// The room.
        room: Arc<str>,
        /// The socket id.
        id: Arc<str>,
    },
}

/// The server-wide observers, shared by every namespace.
pub(crate) type Observers = Listeners<Observed>;

/// Counters of one namespace's fan-out.
#[derive(Debug, Default)]
pub(crate) struct RoomStats {
    /// Packets handed to a client's session by broadcasts.
    pub delivered: AtomicU64,
    /// Volatile packets dropped because the client could not take them.
    pub volatile_dropped: AtomicU64,
    /// Clients disconnected because their session's mailbox was full.
    pub slow_consumers: AtomicU64,
    /// Requests (join, leave, server-side emit, ...) refused because the
    /// registry's mailbox was full.
    pub overloaded: AtomicU64,
    /// Events a catch-all listener (`on_any`, `on_any_outgoing`) missed
    /// because its mailbox was full.
    pub listener_dropped: AtomicU64,
    /// Room joins refused: the socket was in `max_rooms_per_socket` rooms.
    pub rooms_refused: AtomicU64,
    /// Acks not awaited: the socket had `max_pending_acks` waiting.
    pub acks_refused: AtomicU64,
    /// Virtual requests answered 429: the socket had its maximum in flight.
    pub requests_refused: AtomicU64,
    /// Broadcasts this node's registry fanned out (from here or another node).
    pub broadcasts: AtomicU64,
    /// Acks the server gave up waiting for: a socket's `emit_with_ack`, or a
    /// target of a broadcast with ack that did not answer in time.
    pub acks_timed_out: AtomicU64,
    /// Sockets disconnected, by [`DisconnectReason`] (its index).
    ///
    /// [`DisconnectReason`]: crate::client::DisconnectReason
    pub disconnects: [AtomicU64; crate::client::DisconnectReason::ALL.len()],
    /// Refusals of rooms, acks and requests, for their log lines.
    pub refusals: switchyard_engineio::burst::Burst,
    /// What connection state recovery did.
    pub recovery: Arc<RecoveryStats>,
}

/// Per-socket bounds of a namespace; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLimits {
    /// Most rooms one socket may be in, besides its own-id room.
    pub max_rooms_per_socket: usize,
    /// Most acks the server may await from one socket at once.
    pub max_pending_acks: usize,
}

impl Default for SocketLimits {
    /// The safe bounds the `switchyard` binary documents: 1,000 rooms and
    /// 1,000 acks awaited per socket.
    fn default() -> Self {
        SocketLimits {
            max_rooms_per_socket: 1000,
            max_pending_acks: 1000,
        }
    }
}

/// A socket is live: it can be targeted, and is in the room of its own id
/// (and, recovered, in its rooms again, with what it missed replayed).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Register {
    pub socket: SocketRef,
    pub restore: Option<Restore>,
}

/// What a recovered socket gets back when it registers.
#[derive(Debug)]
pub(crate) struct Restore {
    pub rooms: Vec<String>,
    /// Replay the packets after this one.
    pub after: u64,
    /// Fired once the replay is queued: the socket's handlers hear of it
    /// only then, so nothing they write overtakes the replay.
    pub done: Option<oneshot::Sender<()>>,
}

/// A socket is gone: out of every room; with `persist`, its session is
/// kept for recovery (with the rooms it was in).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Unregister {
    pub id: Arc<str>,
    pub persist: Option<Persist>,
}

/// A disconnected socket's session, less the rooms the registry knows.
pub(crate) struct Persist {
    pub pid: Arc<str>,
    pub data: Value,
}

/// Claim the session `pid` for a client that reconnects having seen
/// `offset` (see `recovery`); answered on `reply`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Claim {
    pub pid: String,
    pub offset: String,
    pub from: ClaimFrom,
    pub reply: oneshot::Sender<Result<Claimed, NotRecovered>>,
}

/// Another node asks for the session of private id `pid`: close this
/// node's socket that has it and answer with its session (or `None`).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct HandOver {
    pub pid: String,
    pub reply: oneshot::Sender<Option<Session>>,
}

/// Broadcasts from the cluster were lost: forget what recovery kept.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Lost;

/// Where the claimed session is kept.
pub(crate) enum ClaimFrom {
    /// By this node's registry.
    Node,
    /// By the cluster, which gave it up (or had none).
    Cluster(Option<Session>),
}

/// The rooms one socket is in.
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub(crate) struct RoomsOf {
    pub id: Arc<str>,
}

/// Deliver an encoded event to the sockets `opts` selects.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct Broadcast {
    pub encoded: Encoded,
    pub opts: BroadcastOptions,
    /// The offset the cluster gave it, for recovery to keep it under.
    pub offset: Option<String>,
}

/// Deliver an event that expects an ack from every target; answers go to `tx`.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct BroadcastWithAck {
    pub encoded: Encoded,
    pub opts: BroadcastOptions,
    pub id: u64,
    pub tx: mpsc::UnboundedSender<Payload>,
}

/// The sockets `opts` selects, each with its rooms.
#[derive(Message)]
#[rtype(result = "Vec<(SocketRef, Vec<String>)>")]
pub(crate) struct Fetch {
    pub opts: BroadcastOptions,
}

/// Make (or stop) the sockets `opts` selects join `rooms`; `done` fires
/// once applied, with an error if some socket was at its room limit.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct BulkRooms {
    pub opts: BroadcastOptions,
    pub rooms: Vec<String>,
    pub join: bool,
    pub done: oneshot::Sender<Result<(), EffectError>>,
}

/// Disconnect the sockets `opts` selects; answers with a receiver for each one's departure.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct DisconnectSockets {
    pub opts: BroadcastOptions,
    pub close: bool,
    pub done: oneshot::Sender<Vec<Option<oneshot::Receiver<()>>>>,
}

/// Named rooms with their sizes, and the number of sockets.
#[derive(Message)]
#[rtype(result = "RoomSummary")]
pub(crate) struct Summary;

/// What a namespace's rooms look like right now.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RoomSummary {
    /// The rooms sockets joined, with their member counts, by name. Each
    /// socket's own-id room is not listed: there is one per socket.
    pub rooms: Vec<(String, usize)>,
    /// How many sockets the namespace has (and so own-id rooms).
    pub sockets: usize,
}

/// The way to a namespace's rooms: one recipient per request.
pub(crate) struct Rooms {
    pub register: Recipient<Register>,
    pub unregister: Recipient<Unregister>,
    pub claim: Recipient<Claim>,
    pub lost: Recipient<Lost>,
    pub hand_over: Recipient<HandOver>,
    pub rooms_of: Recipient<RoomsOf>,
    pub broadcast: Recipient<Broadcast>,
    pub broadcast_with_ack: Recipient<BroadcastWithAck>,
    pub fetch: Recipient<Fetch>,
    pub bulk: Recipient<BulkRooms>,
    pub disconnect: Recipient<DisconnectSockets>,
    pub summary: Recipient<Summary>,
}

impl Rooms {
    /// The requests go to actor `addr`.
    pub fn new<A>(addr: Addr<A>) -> Rooms
    where
        A: Actor
            + Handler<Register>
            + Handler<Unregister>
            + Handler<Claim>
            + Handler<Lost>
            + Handler<HandOver>
            + Handler<RoomsOf>
            + Handler<Broadcast>
            + Handler<BroadcastWithAck>
            + Handler<Fetch>
            + Handler<BulkRooms>
            + Handler<DisconnectSockets>
            + Handler<Summary>,
        A::Context: ToEnvelope<A, Register>
            + ToEnvelope<A, Unregister>
            + ToEnvelope<A, Claim>
            + ToEnvelope<A, Lost>
            + ToEnvelope<A, HandOver>
            + ToEnvelope<A, RoomsOf>
            + ToEnvelope<A, Broadcast>
            + ToEnvelope<A, BroadcastWithAck>
            + ToEnvelope<A, Fetch>
            + ToEnvelope<A, BulkRooms>
            + ToEnvelope<A, DisconnectSockets>
            + ToEnvelope<A, Summary>,
    {
        Rooms {
            register: addr.clone().recipient(),
            unregister: addr.clone().recipient(),
            claim: addr.clone().recipient(),
            lost: addr.clone().recipient(),
            hand_over: addr.clone().recipient(),
            rooms_of: addr.clone().recipient(),
            broadcast: addr.clone().recipient(),
            broadcast_with_ack: addr.clone().recipient(),
            fetch: addr.clone().recipient(),
            bulk: addr.clone().recipient(),
            disconnect: addr.clone().recipient(),
            summary: addr.recipient(),
        }
    }
}

/// What every handle of a namespace shares: its name, its rooms, its
/// counters, its way to the other nodes, and the ack id counter its sockets
/// and broadcasts draw from (one counter, so a broadcast's ack id never
/// collides with a socket's own).
pub(crate) struct NamespaceCore {
    pub name: Arc<str>,
    pub rooms: Rooms,
    pub stats: Arc<RoomStats>,
    pub adapter: Arc<dyn Adapter>,
    /// Hear the other nodes' `serverSideEmit`.
    pub server_side: ServerSideHandlers,
    pub limits: SocketLimits,
    /// Connection state recovery, when on.
    pub recovery: Option<RecoveryConfig>,
    /// Who hears of sockets and rooms server-wide.
    pub observers: Arc<Observers>,
    /// The server's packet encoding, for what the namespace writes.
    pub parser: Parser,
    ack_ids: AtomicU64,
}

/// What a namespace is made of, besides its rooms.
pub(crate) struct NamespaceParts<'a> {
    pub adapters: &'a dyn AdapterFactory,
    pub server_side: ServerSideHandlers,
    pub limits: SocketLimits,
    pub recovery: Option<RecoveryConfig>,
    pub observers: Arc<Observers>,
    pub parser: Parser,
}

impl NamespaceCore {
    /// The namespace's shared state; its adapter is made here, with a way
    /// back to the namespace (`local`, given a reference that does not keep
    /// it alive).
    pub fn new(
        name: Arc<str>,
        rooms: Rooms,
        stats: Arc<RoomStats>,
        parts: NamespaceParts<'_>,
        local: impl FnOnce(Weak<NamespaceCore>) -> LocalNamespace,
    ) -> Arc<NamespaceCore> {
        Arc::new_cyclic(|core| NamespaceCore {
            adapter: parts.adapters.create(&name, local(core.clone())),
            name,
            rooms,
            stats,
            server_side: parts.server_side,
            limits: parts.limits,
            recovery: parts.recovery,
            observers: parts.observers,
            parser: parts.parser,
            ack_ids: AtomicU64::new(0),
        })
    }

    pub fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Relaxed)
    }

    /// Tells the server-wide observers; a missed notice is counted.
    pub fn observed(&self, make: impl FnOnce() -> Observed) {
        self.observers
            .notify(&self.stats.listener_dropped, || Some(make()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Message, Clone)]
    #[rtype(result = "()")]
    struct Seen;

    struct Listener;
    impl Actor for Listener {
        type Context = Context<Self>;
    }
    impl Handler<Seen> for Listener {
        type Result = ();
        fn handle(&mut self, _: Seen, _: &mut Context<Self>) {}
    }

    #[test]
    fn a_listener_that_cannot_keep_up_misses_events_and_each_miss_is_counted() {
        actix::System::new().block_on(async {
            let listeners = Listeners::<Seen>::default();
            listeners.edit(|l| l.push(Listener.start().recipient()));
            let dropped = AtomicU64::new(0);
            // Nothing yields to the listener meanwhile: its mailbox (16) fills up.
            for _ in 0..100 {
                listeners.notify(&dropped, || Some(Seen));
            }
            let dropped = dropped.load(Relaxed);
            assert!((80..100).contains(&dropped), "{dropped} dropped");
        });
    }
}
