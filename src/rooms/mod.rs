//! Rooms: the RoomRegistry actor (one per namespace) that knows which
//! sockets are in which rooms, resolves a broadcast's targets, and hands the
//! once-encoded frames to each target's session.
//!
//! It never encodes per recipient and never waits on a recipient: a session
//! whose mailbox is full loses a volatile packet (counted) or, for any other
//! packet, is disconnected as a slow consumer (counted).

mod operator;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::Waker;

use actix::prelude::*;
use tokio::sync::{mpsc, oneshot, watch};

pub use operator::{BroadcastAckError, BroadcastError, BroadcastOperator, NamespaceRef};

/// Fast hashing for the per-delivery lookups, randomly seeded: room names
/// can come from clients, so no fixed hash function.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

use crate::adapter::{Adapter, LocalAdapter};
use crate::engine::{Outgoing, ProtocolVersion, SendError, SharedFrames};
use crate::socket::{Payload, SocketRef, Waiter};

/// Which sockets a broadcast (or a bulk operation) is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Only sockets in any of these rooms (all sockets when empty).
    pub rooms: Vec<String>,
    /// Not sockets in any of these rooms.
    pub except: Vec<String>,
    /// Not this socket (the sender, for `socket.broadcast` / `socket.to`).
    pub except_id: Option<String>,
    pub volatile: bool,
    pub compress: bool,
    /// This node only, even once an adapter spans several.
    pub local: bool,
}

/// An event encoded once, for every protocol version that asks for it.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub packet: crate::protocol::Packet,
    v4: std::sync::OnceLock<Arc<SharedFrames>>,
    v3: std::sync::OnceLock<Arc<SharedFrames>>,
}

impl Encoded {
    pub fn new(packet: crate::protocol::Packet) -> Encoded {
        Encoded {
            packet,
            v4: Default::default(),
            v3: Default::default(),
        }
    }

    pub fn frames(&self, version: ProtocolVersion) -> Arc<SharedFrames> {
        let cell = match version {
            ProtocolVersion::V4 => &self.v4,
            ProtocolVersion::V3 => &self.v3,
        };
        cell.get_or_init(|| {
            Arc::new(SharedFrames::new(crate::io::client::frames(
                &self.packet,
                version,
            )))
        })
        .clone()
    }
}

/// Counters of one namespace's fan-out.
#[derive(Debug, Default)]
pub struct RoomStats {
    pub delivered: AtomicU64,
    pub volatile_dropped: AtomicU64,
    pub slow_consumers: AtomicU64,
    /// Requests (join, leave, server-side emit, ...) refused because the
    /// registry's mailbox was full.
    pub overloaded: AtomicU64,
}

struct Member {
    socket: SocketRef,
    rooms: HashSet<Arc<str>>,
}

pub struct RoomRegistry {
    nsp: Arc<str>,
    rooms: HashMap<Arc<str>, HashSet<Arc<str>>>,
    members: HashMap<Arc<str>, Member>,
    adapter: Box<dyn Adapter>,
    stats: Arc<RoomStats>,
    /// WebSocket writers with broadcasts queued and not yet woken: woken
    /// together once the mailbox is drained, so a writer that several
    /// broadcasts reached sends them in one write. At most one per socket.
    wakes: Vec<Waker>,
    /// Broadcasts queued since the writers were last woken.
    deferred: usize,
}

/// Most broadcasts queued before the writers are woken even though more
/// wait in the mailbox: batching without letting a busy mailbox starve them.
const MAX_DEFERRED_BROADCASTS: usize = 16;

impl RoomRegistry {
    pub(crate) fn new(nsp: Arc<str>, stats: Arc<RoomStats>) -> Self {
        RoomRegistry {
            nsp,
            rooms: HashMap::default(),
            members: HashMap::default(),
            adapter: Box::new(LocalAdapter),
            stats,
            wakes: Vec::new(),
            deferred: 0,
        }
    }

    fn join(&mut self, id: &str, room: &str) {
        let Some((id, _)) = self.members.get_key_value(id) else {
            return;
        };
        let id = id.clone();
        // Share one allocation of the room name between both maps.
        let room: Arc<str> = self
            .rooms
            .get_key_value(room)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| room.into());
        let member = self.members.get_mut(&id).expect("looked up above");
        if member.rooms.insert(room.clone()) {
            self.rooms.entry(room).or_default().insert(id);
        }
    }

    fn leave(&mut self, id: &str, room: &str) {
        let Some(member) = self.members.get_mut(id) else {
            return;
        };
        if member.rooms.remove(room) {
            remove_from_room(&mut self.rooms, room, id);
        }
    }

    /// The ids of the sockets `opts` selects, each once.
    fn targets(&self, opts: &BroadcastOptions) -> Vec<Arc<str>> {
        let mut ids = Vec::new();
        for_each_target(&self.rooms, &self.members, opts, |id, _| {
            ids.push(id.clone())
        });
        ids
    }

    fn wake_writers(&mut self) {
        self.deferred = 0;
        for waker in self.wakes.drain(..) {
            waker.wake();
        }
    }
}

/// Calls `f` once for each member `opts` selects.
fn for_each_target<'a>(
    rooms: &'a HashMap<Arc<str>, HashSet<Arc<str>>>,
    members: &'a HashMap<Arc<str>, Member>,
    opts: &BroadcastOptions,
    mut f: impl FnMut(&'a Arc<str>, &'a Member),
) {
    let mut excluded: HashSet<&str> = HashSet::default();
    for room in &opts.except {
        if let Some(ids) = rooms.get(room.as_str()) {
            excluded.extend(ids.iter().map(|id| &**id));
        }
    }
    if let Some(id) = &opts.except_id {
        excluded.insert(id);
    }
    let mut visit = |id: &'a Arc<str>| {
        if !excluded.contains(&**id)
            && let Some(member) = members.get(id)
        {
            f(id, member);
        }
    };
    match opts.rooms.as_slice() {
        [] => members.keys().for_each(visit),
        [room] => rooms
            .get(room.as_str())
            .into_iter()
            .flatten()
            .for_each(visit),
        several => {
            let mut seen: HashSet<&str> = HashSet::default();
            for id in several
                .iter()
                .filter_map(|room| rooms.get(room.as_str()))
                .flatten()
            {
                if seen.insert(id) {
                    visit(id);
                }
            }
        }
    }
}

/// One broadcast on its way out: its packet for each protocol version that
/// a target speaks, built on first use, and how many were handed over.
struct Delivery<'a> {
    encoded: &'a Encoded,
    opts: &'a BroadcastOptions,
    outgoing: [Option<Outgoing>; 2],
    delivered: u64,
}

impl<'a> Delivery<'a> {
    fn new(encoded: &'a Encoded, opts: &'a BroadcastOptions) -> Self {
        Delivery {
            encoded,
            opts,
            outgoing: [None, None],
            delivered: 0,
        }
    }

    /// Hands the broadcast to one member's session, counting the outcome.
    fn to(&mut self, member: &Member, stats: &RoomStats, wakes: &mut Vec<Waker>) {
        let (encoded, opts) = (self.encoded, self.opts);
        let session = &member.socket.info.session;
        let version = session.version();
        let out = self.outgoing[version as usize].get_or_insert_with(|| {
            Outgoing::shared(encoded.frames(version))
                .volatile(opts.volatile)
                .compress(opts.compress)
        });
        match session.try_send_deferred(out, wakes) {
            Ok(()) => {
                self.delivered += 1;
                member.socket.notify_outgoing(&encoded.packet);
            }
            Err(SendError::Full) if opts.volatile => {
                stats.volatile_dropped.fetch_add(1, Relaxed);
            }
            Err(SendError::Full) => {
                stats.slow_consumers.fetch_add(1, Relaxed);
                log::warn!(
                    "socket {}: session mailbox full, disconnecting slow consumer",
                    member.socket.id()
                );
                session.close(crate::engine::CloseReason::TransportError);
            }
            Err(SendError::Closed) => {}
        }
    }
}

fn remove_from_room(rooms: &mut HashMap<Arc<str>, HashSet<Arc<str>>>, room: &str, id: &str) {
    if let Some(ids) = rooms.get_mut(room) {
        ids.remove(id);
        if ids.is_empty() {
            rooms.remove(room);
        }
    }
}

impl Actor for RoomRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(crate::engine::session::MAILBOX_CAPACITY);
    }
}

/// A socket is live: it can be targeted, and is in the room of its own id.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Register {
    pub socket: SocketRef,
}

impl Handler<Register> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, Register { socket }: Register, _: &mut Context<Self>) {
        let id: Arc<str> = socket.id().into();
        self.members.insert(
            id.clone(),
            Member {
                socket,
                rooms: HashSet::default(),
            },
        );
        self.join(&id, &id);
    }
}

/// A socket is gone: out of every room.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Unregister {
    pub id: Arc<str>,
}

impl Handler<Unregister> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, Unregister { id }: Unregister, _: &mut Context<Self>) {
        if let Some(member) = self.members.remove(&id) {
            for room in member.rooms {
                remove_from_room(&mut self.rooms, &room, &id);
            }
        }
    }
}

/// The rooms one socket is in.
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub(crate) struct RoomsOf {
    pub id: Arc<str>,
}

impl Handler<RoomsOf> for RoomRegistry {
    type Result = Vec<String>;
    fn handle(&mut self, RoomsOf { id }: RoomsOf, _: &mut Context<Self>) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .members
            .get(&id)
            .map(|m| m.rooms.iter().map(|r| r.to_string()).collect())
            .unwrap_or_default();
        rooms.sort();
        rooms
    }
}

/// Deliver an encoded event to the sockets `opts` selects.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct Broadcast {
    pub event: String,
    pub payload: Payload,
    pub encoded: Encoded,
    pub opts: BroadcastOptions,
}

impl Handler<Broadcast> for RoomRegistry {
    type Result = usize;
    fn handle(&mut self, msg: Broadcast, ctx: &mut Context<Self>) -> usize {
        let RoomRegistry {
            rooms,
            members,
            wakes,
            stats,
            ..
        } = self;
        let mut targets = 0;
        let mut delivery = Delivery::new(&msg.encoded, &msg.opts);
        for_each_target(rooms, members, &msg.opts, |_, member| {
            targets += 1;
            delivery.to(member, stats, wakes);
        });
        stats.delivered.fetch_add(delivery.delivered, Relaxed);
        self.deferred += 1;
        if self.deferred >= MAX_DEFERRED_BROADCASTS {
            self.wake_writers();
        } else if !self.wakes.is_empty() {
            // Handled once the mailbox is drained (actix runs notified
            // messages when no mailbox message is waiting).
            ctx.notify(WakeWriters);
        }
        if !msg.opts.local {
            self.adapter
                .publish_broadcast(&self.nsp, &msg.event, &msg.payload, &msg.opts);
        }
        targets
    }
}

/// Wakes the writers that broadcasts have queued for.
#[derive(Message)]
#[rtype(result = "()")]
struct WakeWriters;

impl Handler<WakeWriters> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, _: WakeWriters, _: &mut Context<Self>) {
        self.wake_writers();
    }
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

impl Handler<BroadcastWithAck> for RoomRegistry {
    type Result = usize;
    fn handle(&mut self, msg: BroadcastWithAck, _: &mut Context<Self>) -> usize {
        let mut sent = 0;
        for_each_target(&self.rooms, &self.members, &msg.opts, |_, member| {
            let info = &member.socket.info;
            // The wait is recorded before the packet leaves, so no answer is missed.
            if !info.acks.insert(msg.id, Waiter::Broadcast(msg.tx.clone())) {
                return;
            }
            let out = Outgoing::shared(msg.encoded.frames(info.session.version()))
                .volatile(msg.opts.volatile)
                .compress(msg.opts.compress);
            match info.session.try_send(out) {
                Ok(()) => {
                    sent += 1;
                    member.socket.notify_outgoing(&msg.encoded.packet);
                }
                Err(_) => info.acks.forget(msg.id),
            }
        });
        sent
    }
}

/// The sockets `opts` selects.
#[derive(Message)]
#[rtype(result = "Vec<SocketRef>")]
pub(crate) struct Fetch {
    pub opts: BroadcastOptions,
}

impl Handler<Fetch> for RoomRegistry {
    type Result = Vec<SocketRef>;
    fn handle(&mut self, Fetch { opts }: Fetch, _: &mut Context<Self>) -> Vec<SocketRef> {
        let mut sockets = Vec::new();
        for_each_target(&self.rooms, &self.members, &opts, |_, member| {
            sockets.push(member.socket.clone())
        });
        sockets
    }
}

/// Make (or stop) the sockets `opts` selects join `rooms`; `done` fires once applied.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct BulkRooms {
    pub opts: BroadcastOptions,
    pub rooms: Vec<String>,
    pub join: bool,
    pub done: oneshot::Sender<()>,
}

impl Handler<BulkRooms> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, msg: BulkRooms, _: &mut Context<Self>) {
        for id in self.targets(&msg.opts) {
            for room in &msg.rooms {
                if msg.join {
                    self.join(&id, room)
                } else {
                    self.leave(&id, room)
                }
            }
        }
        let _ = msg.done.send(());
    }
}

/// Disconnect the sockets `opts` selects; answers with a watch on each one's departure.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct DisconnectSockets {
    pub opts: BroadcastOptions,
    pub close: bool,
    pub done: oneshot::Sender<Vec<watch::Receiver<bool>>>,
}

impl Handler<DisconnectSockets> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, msg: DisconnectSockets, _: &mut Context<Self>) {
        let mut gone = Vec::new();
        for_each_target(&self.rooms, &self.members, &msg.opts, |_, member| {
            // The DISCONNECT takes its place in the client's outbound order.
            member.socket.request_disconnect(msg.close);
            gone.push(member.socket.info.gone.subscribe());
        });
        let _ = msg.done.send(gone);
    }
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

impl Handler<Summary> for RoomRegistry {
    type Result = MessageResult<Summary>;
    fn handle(&mut self, _: Summary, _: &mut Context<Self>) -> Self::Result {
        let mut rooms: Vec<(String, usize)> = self
            .rooms
            .iter()
            // A socket's own-id room is the one named after a member, with it inside.
            .filter(|(r, ids)| !(self.members.contains_key(*r) && ids.contains(*r)))
            .map(|(r, ids)| (r.to_string(), ids.len()))
            .collect();
        rooms.sort();
        MessageResult(RoomSummary {
            rooms,
            sockets: self.members.len(),
        })
    }
}

/// `serverSideEmit`: for the other nodes' handlers, through the adapter.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ServerSideEmit {
    pub event: String,
    pub payload: Payload,
}

impl Handler<ServerSideEmit> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, msg: ServerSideEmit, _: &mut Context<Self>) {
        self.adapter
            .server_side_emit(&self.nsp, &msg.event, &msg.payload);
    }
}

/// What every handle of a namespace shares: its name, its registry, and the
/// ack id counter its sockets and broadcasts draw from (one counter, so a
/// broadcast's ack id never collides with a socket's own).
#[derive(Debug)]
pub(crate) struct NamespaceCore {
    pub name: Arc<str>,
    pub registry: Addr<RoomRegistry>,
    pub stats: Arc<RoomStats>,
    ack_ids: AtomicU64,
}

impl NamespaceCore {
    pub fn start(name: &str) -> Arc<NamespaceCore> {
        let name: Arc<str> = name.into();
        let stats = Arc::new(RoomStats::default());
        let registry = RoomRegistry::new(name.clone(), stats.clone()).start();
        Arc::new(NamespaceCore {
            name,
            registry,
            stats,
            ack_ids: AtomicU64::new(0),
        })
    }

    pub fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Relaxed)
    }
}
