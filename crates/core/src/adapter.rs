//! The cluster seam: what a namespace asks of the other nodes (the
//! [`Adapter`] trait), and what the other nodes may ask of this one's local
//! sockets ([`LocalSockets`], handed to the adapter as a [`LocalNamespace`]).
//!
//! Every operator first does its work on this node through the room
//! registry, then, unless it is `local`, hands the same request to the
//! namespace's adapter. The default adapter (`switchyard_socketio`'s
//! `LocalAdapter`) is a single node: it has nobody to tell. A cluster
//! adapter (`switchyard-redis`) carries the request to the other nodes, and
//! on each of them applies it through [`LocalSockets`], which only ever
//! touches that node's own sockets, so a request never bounces between nodes.
//!
//! This module names no transport, no wire format and no actor: the Socket.IO
//! layer implements [`LocalSockets`], adapter crates implement [`Adapter`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::{BroadcastOptions, Payload};

/// What a namespace tells, and asks, the rest of the cluster. One instance
/// per namespace, made by an [`AdapterFactory`]. Every call comes after the
/// same request was applied on this node, and never for a `local` operator.
pub trait Adapter: Send + Sync + 'static {
    /// Whether there are other nodes to tell at all; `false` spares the
    /// operators the copies a request to them would need.
    fn spans_nodes(&self) -> bool {
        true
    }

    /// A broadcast, already delivered to this node's sockets.
    fn broadcast(&self, event: &str, payload: &Payload, opts: &BroadcastOptions);

    /// A broadcast expecting an ack from every target. Each answer from
    /// another node's client goes to `answers`; the result says how many
    /// nodes will report a client count, and where the counts arrive.
    fn broadcast_with_ack(
        &self,
        event: &str,
        payload: &Payload,
        opts: &BroadcastOptions,
        timeout: Duration,
        answers: mpsc::UnboundedSender<Payload>,
    ) -> BoxFuture<'static, RemoteCounts>;

    /// `socketsJoin` (`join`) or `socketsLeave` on the other nodes.
    fn sockets_rooms(&self, opts: &BroadcastOptions, rooms: &[String], join: bool);

    /// `disconnectSockets` on the other nodes.
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);

    /// `fetchSockets` on the other nodes, within `timeout` (else the
    /// adapter's own request timeout).
    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
        timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<SocketDetails>, ClusterError<Vec<SocketDetails>>>>;

    /// `serverSideEmit`: the other nodes' server-side handlers get `event`.
    /// With `ack`, their answers are collected within `timeout` (else the
    /// adapter's own request timeout); without, it resolves at once.
    fn server_side_emit(
        &self,
        event: &str,
        payload: &Payload,
        ack: bool,
        timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, ClusterError<Vec<Payload>>>>;

    /// How many nodes serve this namespace, this one included.
    fn server_count(&self) -> BoxFuture<'static, Result<usize, ClusterError<usize>>>;

    /// What the adapter sent, received, dropped and recovered from.
    fn counters(&self) -> AdapterCounters {
        AdapterCounters::default()
    }

    /// Whether the link to the other nodes is up right now (a readiness
    /// probe asks). An adapter without one (the local adapter) always is.
    fn link_up(&self) -> bool {
        true
    }

    /// Whether this adapter delivers every broadcast that is not `local`,
    /// this node's own included, in the cluster's one order, each with the
    /// offset the cluster gave it ([`LocalSockets::broadcast_at`]): then the
    /// operators leave this node's delivery to it. Connection state
    /// recovery across nodes needs one order: a Redis stream has it, and so
    /// has pub/sub through one Redis.
    fn orders_broadcasts(&self) -> bool {
        false
    }

    /// Keeps a disconnected socket's session where every node finds it,
    /// for `ttl`; `false` when this adapter keeps none (the namespace then
    /// keeps it itself, for this node).
    fn persist_session(&self, session: &RecoverySession, ttl: Duration) -> bool {
        let _ = (session, ttl);
        false
    }

    /// Takes (once) the session `pid` from where the cluster keeps it;
    /// `None` when this adapter keeps none.
    fn take_session(&self, pid: &str) -> Option<BoxFuture<'static, Option<RecoverySession>>> {
        let _ = pid;
        None
    }

    /// Whether the adapter wants [`on_room`](Self::on_room) calls.
    fn follows_rooms(&self) -> bool {
        false
    }

    /// A room of this node came to exist (its first socket joined) or
    /// ceased to (its last one left); `is_socket_id` when it is a socket's
    /// own-id room. Only called when [`follows_rooms`](Self::follows_rooms).
    fn on_room(&self, room: &str, exists: bool, is_socket_id: bool) {
        let _ = (room, exists, is_socket_id);
    }
}

/// Makes each namespace's [`Adapter`]; `local` is that namespace's way to
/// apply what other nodes ask of it.
pub trait AdapterFactory: Send + Sync + 'static {
    /// The adapter of namespace `nsp`.
    fn create(&self, nsp: &str, local: LocalNamespace) -> Arc<dyn Adapter>;
}

/// The other nodes' share of a broadcast with ack: `nodes` of them will
/// each send one client count on `counts`.
pub struct RemoteCounts {
    /// How many other nodes were asked.
    pub nodes: usize,
    /// One count per node that answered in time.
    pub counts: mpsc::UnboundedReceiver<usize>,
}

impl RemoteCounts {
    /// No other node.
    pub fn none() -> RemoteCounts {
        RemoteCounts {
            nodes: 0,
            counts: mpsc::unbounded_channel().1,
        }
    }
}

/// A socket as another node describes it (socket.io's `SocketDetails`).
#[derive(Debug, Clone, PartialEq)]
pub struct SocketDetails {
    /// Its id.
    pub id: String,
    /// Its `socket.handshake`, as socket.io serialises it.
    pub handshake: Value,
    /// Its rooms, its own id included.
    pub rooms: Vec<String>,
    /// Its `socket.data`.
    pub data: Value,
}

/// A disconnected socket's session, as connection state recovery keeps it
/// (socket.io's `Session`): what a socket that comes back gets again.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoverySession {
    /// The socket's id.
    pub sid: String,
    /// Its private id, which the client recovers it with.
    pub pid: String,
    /// Its rooms, its own id included.
    pub rooms: Vec<String>,
    /// Its `socket.data`.
    pub data: Value,
}

/// Why a request to the other nodes came back incomplete.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClusterError<T> {
    /// Not every node answered in time; `partial` holds what did arrive.
    /// The message is socket.io's adapters' (`@socket.io/redis-adapter`'s
    /// `serverSideEmit`, and `socket.io-adapter`'s cluster adapter):
    /// `timeout reached: only 1 responses received out of 2`.
    #[error(
        "timeout reached: only {} responses received out of {expected}",
        .expected.saturating_sub(*.missing)
    )]
    Timeout {
        /// How many nodes were asked.
        expected: usize,
        /// How many did not answer.
        missing: usize,
        /// The answers that did arrive.
        partial: T,
    },
    /// The cluster could not be reached (the adapter's link is down);
    /// `partial` holds what this node had.
    #[error("the cluster is unreachable: {reason}")]
    Unreachable {
        /// What failed.
        reason: String,
        /// This node's own answers.
        partial: T,
    },
}

impl<T> ClusterError<T> {
    /// What did arrive.
    pub fn into_partial(self) -> T {
        match self {
            ClusterError::Timeout { partial, .. } | ClusterError::Unreachable { partial, .. } => {
                partial
            }
        }
    }
}

/// What a cluster adapter has done, and what went wrong, since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AdapterCounters {
    /// Messages published to the other nodes.
    pub published: u64,
    /// Messages received from the other nodes and handled.
    pub received: u64,
    /// Messages that could not be published or decoded.
    pub errors: u64,
    /// Times the link to the cluster was lost and made again.
    pub reconnects: u64,
    /// Messages dropped: a bounded queue was full, or they were on their way
    /// when the link went.
    pub dropped: u64,
    /// Requests to the other nodes (fetchSockets, serverSideEmit with an
    /// ack, broadcasts with acks: every node's count and every asked
    /// client's ack) that got every answer, by how long that took.
    pub request_round_trips: crate::RoundTrips,
    /// Requests to the other nodes that timed out before every answer came.
    pub request_timeouts: u64,
}

/// One namespace's sockets on this node, as the other nodes reach them:
/// what an [`Adapter`] applies when another node asks. Everything here is
/// `local`: it never goes back to the cluster. The Socket.IO layer
/// implements it; an adapter only calls it.
pub trait LocalSockets: Send + Sync + 'static {
    /// Delivers a broadcast from another node to this node's sockets.
    ///
    /// The broadcast takes its place in the namespace's order when the
    /// returned future is first polled; the future resolves once it has
    /// been handed to the sockets. So an adapter may poll it once, go on to
    /// the next message, and wait for it later (bounding how many it leaves
    /// unfinished): broadcasts still arrive in the order they were polled.
    fn broadcast(
        &self,
        event: &str,
        payload: Payload,
        opts: &BroadcastOptions,
    ) -> BoxFuture<'static, ()>;

    /// Like [`broadcast`](Self::broadcast) for a broadcast to which the
    /// cluster gave an `offset` (a stream entry id), in the cluster's order:
    /// connection state recovery keeps it under that offset.
    fn broadcast_at(
        &self,
        event: &str,
        payload: Payload,
        opts: &BroadcastOptions,
        offset: &str,
    ) -> BoxFuture<'static, ()> {
        let _ = offset;
        self.broadcast(event, payload, opts)
    }

    /// How long this namespace keeps disconnected sockets recoverable, if
    /// it has connection state recovery.
    fn recovery_window(&self) -> Option<Duration> {
        None
    }

    /// Closes this node's socket of private id `pid`, if there is one (its
    /// client has come back on another node), and resolves with the session
    /// it leaves, for that node to recover it; `None` if there is none.
    fn hand_over(&self, pid: &str) -> BoxFuture<'static, Option<RecoverySession>> {
        let _ = pid;
        Box::pin(std::future::ready(None))
    }

    /// Broadcasts from the cluster may have been lost on their way here
    /// (before the next one delivered): connection state recovery forgets
    /// what it kept, so no replay has a hole.
    fn lost(&self) {}

    /// Delivers a broadcast with ack: the number of sockets it reached, and
    /// their answers (the channel closes once every one answered or left, or
    /// after `timeout`).
    fn broadcast_with_ack(
        &self,
        event: &str,
        payload: Payload,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, (usize, mpsc::UnboundedReceiver<Payload>)>;

    /// This node's sockets that `opts` selects.
    fn fetch(&self, opts: &BroadcastOptions) -> BoxFuture<'static, Vec<SocketDetails>>;

    /// Makes this node's selected sockets join or leave `rooms`; resolves
    /// once that has taken effect.
    fn sockets_rooms(
        &self,
        opts: &BroadcastOptions,
        rooms: Vec<String>,
        join: bool,
    ) -> BoxFuture<'static, ()>;

    /// Disconnects this node's selected sockets (the request is made at once).
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool);

    /// Every room of this node's sockets, their own-id rooms included
    /// (socket.io's `allRooms`).
    fn all_rooms(&self) -> BoxFuture<'static, Vec<String>>;

    /// Hands a server-side event from another node to the namespace's
    /// server-side handlers; `None` for the answer when there is no handler
    /// or it did not answer.
    fn server_side_event(
        &self,
        name: String,
        payload: Payload,
        wants_ack: bool,
    ) -> Option<oneshot::Receiver<Payload>>;
}

/// How an [`AdapterFactory`] receives a namespace's [`LocalSockets`].
pub type LocalNamespace = Arc<dyn LocalSockets>;
