//! What the Socket.IO layer asks of a namespace's rooms: the request
//! messages, the [`Rooms`] handle that carries them, and the namespace state
//! every socket and operator shares ([`NamespaceCore`]).
//!
//! Requests are plain data; whoever answers them (the RoomRegistry actor in
//! `rooms`, later one behind an adapter spanning nodes) plugs in through
//! [`Rooms::new`], so this layer never names it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use actix::dev::ToEnvelope;
use actix::prelude::*;
use tokio::sync::{mpsc, oneshot};

use super::local::{Local, ServerSideHandlers};
use super::{Payload, SocketRef};
use crate::client::Encoded;
use switchyard_core::{Adapter, AdapterFactory, BroadcastOptions};

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
    /// Refusals of rooms, acks and requests, for their log lines.
    pub refusals: switchyard_engineio::burst::Burst,
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

/// A socket is live: it can be targeted, and is in the room of its own id.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Register {
    pub socket: SocketRef,
}

/// A socket is gone: out of every room.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Unregister {
    pub id: Arc<str>,
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
    pub done: oneshot::Sender<Result<(), super::EffectError>>,
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
            + Handler<RoomsOf>
            + Handler<Broadcast>
            + Handler<BroadcastWithAck>
            + Handler<Fetch>
            + Handler<BulkRooms>
            + Handler<DisconnectSockets>
            + Handler<Summary>,
        A::Context: ToEnvelope<A, Register>
            + ToEnvelope<A, Unregister>
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
    ack_ids: AtomicU64,
}

/// What a namespace is made of, besides its rooms.
pub(crate) struct NamespaceParts<'a> {
    pub adapters: &'a dyn AdapterFactory,
    pub server_side: ServerSideHandlers,
    pub limits: SocketLimits,
}

impl NamespaceCore {
    /// The namespace's shared state; its adapter is made here, with a way
    /// back to the namespace that does not keep it alive.
    pub fn new(
        name: Arc<str>,
        rooms: Rooms,
        stats: Arc<RoomStats>,
        parts: NamespaceParts<'_>,
    ) -> Arc<NamespaceCore> {
        Arc::new_cyclic(|core| NamespaceCore {
            adapter: parts
                .adapters
                .create(&name, std::sync::Arc::new(Local { core: core.clone() })),
            name,
            rooms,
            stats,
            server_side: parts.server_side,
            limits: parts.limits,
            ack_ids: AtomicU64::new(0),
        })
    }

    pub fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Relaxed)
    }
}
