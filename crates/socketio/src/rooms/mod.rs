//! Rooms: the RoomRegistry actor (one per namespace) that answers the
//! socket layer's room requests: it keeps the [`RoomIndex`](index), resolves
//! a broadcast's targets, and hands the once-encoded frames to each
//! target's session.
//!
//! It never encodes per recipient and never waits on a recipient: a session
//! whose mailbox is full loses a volatile packet (counted) or, for any other
//! packet, is disconnected as a slow consumer (counted). The registry knows
//! only this node's sockets: the operators take what is not `local` to the
//! other nodes through the namespace's adapter. With connection state
//! recovery it also keeps the namespace's broadcasts and sessions
//! (`recovery`), in the same order as it delivers.

mod index;
mod recovery;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::Waker;
use std::time::Instant;

use actix::prelude::*;

use crate::client::{Client, Encoded};
use crate::recovery::RecoveryLog;
use crate::socket::Adapter;
use crate::socket::{
    AckRefused, Broadcast, BroadcastOptions, BroadcastWithAck, BulkRooms, DisconnectSockets,
    EffectError, Fetch, Local, NamespaceCore, NamespaceParts, Observed, Observers, Register,
    RoomStats, Rooms, RoomsOf, SocketRef, Summary, Waiter,
};
use index::RoomIndex;
use switchyard_engineio::{
    CloseReason, Outgoing, ProtocolVersion, SendError, SessionHandle, SharedFrames,
};

/// Starts a namespace's registry; returns the state its sockets share.
pub(crate) fn start(name: &str, parts: NamespaceParts<'_>) -> Arc<NamespaceCore> {
    let name: Arc<str> = name.into();
    let stats = Arc::new(RoomStats::default());
    let recovery = parts.recovery.map(|config| {
        // Short: it prefixes every offset on the wire.
        let tag = switchyard_engineio::id::random_id()[..8].to_string();
        RecoveryLog::new(config, tag, stats.recovery.clone())
    });
    let max_rooms = parts.limits.max_rooms_per_socket;
    let window = parts.recovery.map(|r| r.max_disconnection_duration);
    let observers = parts.observers.clone();
    let registry =
        RoomRegistry::new(stats.clone(), max_rooms, recovery, observers, name.clone()).start();
    let core = NamespaceCore::new(name, Rooms::new(registry.clone()), stats, parts, |core| {
        Arc::new(Local { core, window })
    });
    let follow = core.adapter.follows_rooms();
    if follow && core.recovery.is_some() {
        // Recovery keeps what a disconnected socket's rooms get; an
        // adapter that stops hearing a room once its last socket left
        // would leave holes that look complete.
        log::warn!(
            "namespace {}: connection state recovery cannot be exact with an adapter \
                 that follows rooms (Redis sharded, dynamic modes); use the static mode",
            core.name
        );
    }
    if follow || core.recovery.is_some() {
        let adapter = core.adapter.clone();
        registry.do_send(UseAdapter { adapter, follow });
    }
    core
}

/// The namespace's adapter, for recovery's sessions and, with `follow`,
/// to tell of each room that comes to exist or ceases to.
#[derive(Message)]
#[rtype(result = "()")]
struct UseAdapter {
    adapter: Arc<dyn Adapter>,
    follow: bool,
}

impl Handler<UseAdapter> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, UseAdapter { adapter, follow }: UseAdapter, _: &mut Context<Self>) {
        if follow {
            self.index.track_changes();
            self.follower = Some(adapter.clone());
        }
        self.adapter = Some(adapter);
    }
}

/// A socket as the registry keeps it: its session beside it, so a
/// broadcast reaches each target's queue without another pointer hop.
struct Member {
    socket: SocketRef,
    session: SessionHandle<Client>,
}

/// The rooms of one namespace, as an actor.
pub(crate) struct RoomRegistry {
    index: RoomIndex<Member>,
    /// Most rooms a socket may be in besides its own (0: no bound).
    max_rooms: usize,
    /// The adapter that follows the rooms coming and going, if any.
    follower: Option<Arc<dyn Adapter>>,
    /// The namespace's adapter, when recovery may keep sessions in it.
    adapter: Option<Arc<dyn Adapter>>,
    stats: Arc<RoomStats>,
    /// WebSocket writers with broadcasts queued and not yet woken: woken
    /// together once the mailbox is drained, so a writer that several
    /// broadcasts reached sends them in one write. At most one per socket.
    wakes: Vec<Waker>,
    /// Broadcasts queued since the writers were last woken.
    deferred: usize,
    /// What recovery keeps, when on; with the live sockets' private ids
    /// (pid to id), and who waits for the live socket of a pid to go.
    recovery: Option<RecoveryLog<Arc<SharedFrames>>>,
    pids: HashMap<Arc<str>, Arc<str>>,
    waiting: HashMap<Arc<str>, recovery::Waiting>,
    /// Who hears of each join and leave, server-wide; the namespace's name for them.
    observers: Arc<Observers>,
    name: Arc<str>,
}

/// Most broadcasts queued before the writers are woken even though more
/// wait in the mailbox: batching without letting a busy mailbox starve them.
const MAX_DEFERRED_BROADCASTS: usize = 16;

impl RoomRegistry {
    fn new(
        stats: Arc<RoomStats>,
        max_rooms: usize,
        recovery: Option<RecoveryLog<Arc<SharedFrames>>>,
        observers: Arc<Observers>,
        name: Arc<str>,
    ) -> Self {
        let mut index = RoomIndex::default();
        if observers.is_listened() {
            index.track_memberships();
        }
        RoomRegistry {
            index,
            max_rooms,
            follower: None,
            adapter: None,
            stats,
            wakes: Vec::new(),
            deferred: 0,
            recovery,
            pids: HashMap::new(),
            waiting: HashMap::new(),
            observers,
            name,
        }
    }

    /// Counts a broadcast's deliveries and wakes the writers it queued for:
    /// at once every few broadcasts, else once the mailbox is drained.
    fn delivered(&mut self, delivery: Delivery<'_>, ctx: &mut Context<Self>) {
        self.stats.delivered.fetch_add(delivery.delivered, Relaxed);
        self.deferred += 1;
        if self.deferred >= MAX_DEFERRED_BROADCASTS {
            self.wake_writers();
        } else if !self.wakes.is_empty() {
            // Handled once the mailbox is drained (actix runs notified
            // messages when no mailbox message is waiting).
            ctx.notify(WakeWriters);
        }
    }

    /// Tells the follower of the rooms that came and went, and the
    /// observers who joined and left which.
    fn rooms_changed(&mut self) {
        for m in self.index.take_memberships() {
            let nsp = self.name.clone();
            let (room, id) = (m.room, m.id);
            self.observers.notify(&self.stats.listener_dropped, || {
                Some(match m.joined {
                    true => Observed::RoomJoined { nsp, room, id },
                    false => Observed::RoomLeft { nsp, room, id },
                })
            });
        }
        if let Some(adapter) = &self.follower {
            for change in self.index.take_changes() {
                adapter.on_room(&change.room, change.exists, change.is_member_id);
            }
        }
    }

    fn wake_writers(&mut self) {
        self.deferred = 0;
        for waker in self.wakes.drain(..) {
            waker.wake();
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

    /// Hands the broadcast to one member's session, counting the outcome;
    /// `true` if it was handed over.
    fn to(&mut self, member: &Member, stats: &RoomStats, wakes: &mut Vec<Waker>) -> bool {
        let (encoded, opts) = (self.encoded, self.opts);
        let Member { socket, session } = member;
        let version = session.version();
        let out = self.outgoing[version as usize].get_or_insert_with(|| {
            Outgoing::shared(encoded.frames(version))
                .volatile(opts.volatile)
                .compress(opts.compress)
        });
        match session.try_send_deferred(out, wakes) {
            Ok(()) => {
                self.delivered += 1;
                socket.notify_outgoing(&encoded.packet);
                return true;
            }
            Err(SendError::Full) if opts.volatile => {
                stats.volatile_dropped.fetch_add(1, Relaxed);
            }
            Err(SendError::Full) => {
                stats.slow_consumers.fetch_add(1, Relaxed);
                log::warn!(
                    "socket {}: session mailbox full, disconnecting slow consumer",
                    socket.id()
                );
                session.close(CloseReason::TransportError);
            }
            Err(SendError::Closed) => {}
        }
        false
    }
}

impl Actor for RoomRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(switchyard_engineio::MAILBOX_CAPACITY);
    }
}

impl Handler<Register> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, Register { socket, restore }: Register, _: &mut Context<Self>) {
        let session = socket.info.session.clone();
        let id: Arc<str> = socket.id().into();
        if let Some(pid) = &socket.info.pid {
            self.pids.insert(pid.clone(), id.clone());
        }
        self.index.insert(id.clone(), Member { socket, session });
        if let Some(restore) = restore {
            self.restore(&id, restore);
        }
        self.rooms_changed();
    }
}

impl Handler<RoomsOf> for RoomRegistry {
    type Result = Vec<String>;
    fn handle(&mut self, RoomsOf { id }: RoomsOf, _: &mut Context<Self>) -> Vec<String> {
        self.index.rooms_of(&id)
    }
}

impl Handler<Broadcast> for RoomRegistry {
    type Result = usize;
    fn handle(&mut self, mut msg: Broadcast, ctx: &mut Context<Self>) -> usize {
        // Kept for recovery, with its offset as last argument: an event
        // without an ack (those are `BroadcastWithAck`) that is not volatile.
        let kept = self.recovery.as_ref().filter(|_| !msg.opts.volatile);
        if let Some(log) = kept {
            let offset = msg.offset.clone().unwrap_or_else(|| log.next_offset());
            msg.encoded.set_offset(offset);
        }
        let RoomRegistry {
            index,
            wakes,
            stats,
            ..
        } = self;
        let mut targets = 0;
        let mut delivery = Delivery::new(&msg.encoded, &msg.opts);
        index.for_each_target(&msg.opts, |_, member| {
            targets += 1;
            delivery.to(member, stats, wakes);
        });
        self.delivered(delivery, ctx);
        if let Some(log) = self.recovery.as_mut().filter(|_| !msg.opts.volatile) {
            let frames = msg.encoded.frames(ProtocolVersion::V4);
            let bytes = frames.len();
            log.push(
                &msg.opts,
                msg.offset.as_deref(),
                frames,
                bytes,
                Instant::now(),
            );
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

impl Handler<BroadcastWithAck> for RoomRegistry {
    type Result = usize;
    fn handle(&mut self, msg: BroadcastWithAck, ctx: &mut Context<Self>) -> usize {
        let RoomRegistry {
            index,
            wakes,
            stats,
            ..
        } = self;
        let mut delivery = Delivery::new(&msg.encoded, &msg.opts);
        index.for_each_target(&msg.opts, |_, member| {
            let info = &member.socket.info;
            let (acks, max_acks) = (&info.acks, info.ns.limits.max_pending_acks);
            // The wait is recorded before the packet leaves, so no answer is missed.
            match acks.insert(msg.id, Waiter::Broadcast(msg.tx.clone()), max_acks) {
                Ok(()) if !delivery.to(member, stats, wakes) => acks.forget(msg.id),
                Ok(()) => {}
                Err(AckRefused::Full) => drop(stats.acks_refused.fetch_add(1, Relaxed)),
                Err(AckRefused::Closed) => {}
            }
        });
        let sent = delivery.delivered as usize;
        self.delivered(delivery, ctx);
        sent
    }
}

impl Handler<Fetch> for RoomRegistry {
    type Result = Vec<(SocketRef, Vec<String>)>;
    fn handle(&mut self, Fetch { opts }: Fetch, _: &mut Context<Self>) -> Self::Result {
        let mut sockets = Vec::new();
        self.index
            .for_each_target(&opts, |_, m| sockets.push(m.socket.clone()));
        (sockets.into_iter())
            .map(|s| {
                let rooms = self.index.rooms_of(s.id());
                (s, rooms)
            })
            .collect()
    }
}

impl Handler<BulkRooms> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, msg: BulkRooms, _: &mut Context<Self>) {
        let max = self.max_rooms;
        let mut refused = 0;
        for id in self.index.targets(&msg.opts) {
            for room in &msg.rooms {
                if !msg.join {
                    self.index.leave(&id, room)
                } else if self.index.may_join(&id, room, max) {
                    self.index.join(&id, room)
                } else {
                    refused += 1;
                }
            }
        }
        self.rooms_changed();
        if refused > 0 {
            self.stats.rooms_refused.fetch_add(refused, Relaxed);
            if let Some(n) = self.stats.refusals.event(std::time::Instant::now()) {
                log::warn!(
                    "room joins or acks refused ({n} in the last second or so): \
                     sockets at max_rooms_per_socket ({max}) or max_pending_acks"
                );
            }
        }
        let outcome = if refused > 0 {
            Err(EffectError::TooManyRooms)
        } else {
            Ok(())
        };
        let _ = msg.done.send(outcome);
    }
}

impl Handler<DisconnectSockets> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, msg: DisconnectSockets, _: &mut Context<Self>) {
        let mut gone = Vec::new();
        self.index
            .for_each_target(&msg.opts, |_, Member { socket, .. }| {
                // The DISCONNECT takes its place in the client's outbound order.
                socket.request_disconnect(msg.close);
                gone.push(socket.info.gone.subscribe());
            });
        let _ = msg.done.send(gone);
    }
}

impl Handler<Summary> for RoomRegistry {
    type Result = MessageResult<Summary>;
    fn handle(&mut self, _: Summary, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.index.summary())
    }
}
