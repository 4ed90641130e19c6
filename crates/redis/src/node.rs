//! One namespace's part of the cluster: its uid, its subscriptions, the
//! requests it is waiting on, and what it does with the other nodes'
//! messages (applied to this node's sockets only, in arrival order). The
//! [`Dialect`] decides what goes on which channel, the [`Bus`] carries it
//! (pub/sub's `Link`, or the streams' `StreamLink`); everything here is the
//! same for every dialect. Nodes count each other either by the
//! subscribers of a channel (pub/sub) or, when the dialect has heartbeats
//! (streams), by the uids heard from in the last [`HEARTBEAT_TIMEOUT`],
//! as `ClusterAdapterWithHeartbeat` does. With connection state recovery,
//! when the dialect has one order for every node, a node delivers every
//! broadcast, its own too, as it comes back from Redis, under the offset
//! the cluster gave it, and tells the namespace of what its link lost.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use super::acks::Whole;
use super::link::{INBOUND_QUEUE, Inbound, Link, Route, Stats};
use super::sessions::Sessions;
use super::wire::{self, Broadcast, Dialect, Incoming, Operation, Request, Response};
use switchyard_core::{
    Adapter, AdapterCounters, BroadcastOptions, ClusterError, LocalNamespace, Payload,
    RecoverySession, RemoteCounts, SocketDetails,
};

/// How often a node with heartbeats says it is there when it has sent
/// nothing else (Node's `heartbeatInterval`).
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// How long a node with heartbeats counts another after last hearing from
/// it (Node's `heartbeatTimeout`).
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a recovering client waits for the other nodes to hand its
/// session over. Switchyard nodes answer at once (found or not); only Node
/// nodes, which do not know the request, make it wait this long.
const HAND_OVER_TIMEOUT: Duration = Duration::from_secs(2);

/// What carries a node's messages: channels and bytes, whatever the dialect.
pub(crate) trait Bus: Send + Sync + 'static {
    /// Sends without waiting; what cannot be sent is counted as dropped.
    fn publish(&self, channel: String, payload: Vec<u8>, sharded: bool);
    /// Delivers what arrives on `channel` to `route`.
    fn subscribe(&self, channel: String, route: Route);
    /// Stops delivering `channel`.
    fn unsubscribe(&self, channel: String);
    /// The counters shared by the node's namespaces.
    fn stats(&self) -> &Stats;
}

impl Bus for Link {
    fn publish(&self, channel: String, payload: Vec<u8>, sharded: bool) {
        Link::publish(self, channel, payload, sharded);
    }

    fn subscribe(&self, channel: String, route: Route) {
        Link::subscribe(self, channel, route);
    }

    fn unsubscribe(&self, channel: String) {
        Link::unsubscribe(self, channel);
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }
}

pub(crate) struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    uid: String,
    dialect: Box<dyn Dialect>,
    bus: Arc<dyn Bus>,
    /// Where `PUBSUB NUMSUB` goes, for dialects counting by subscribers.
    link: Option<Arc<Link>>,
    arbiter: actix::ArbiterHandle,
    request_timeout: Duration,
    local: LocalNamespace,
    inbound: mpsc::Sender<Inbound>,
    /// Requests waiting for answers, by request id: bounded by the
    /// requests in flight, each removed at its end or timeout.
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Response>>>,
    /// The other nodes heard from, and when last (heartbeat dialects):
    /// bounded by the nodes of the cluster, pruned as they time out.
    peers: Mutex<HashMap<String, Instant>>,
    /// When this node last sent something (heartbeat dialects).
    last_sent: Mutex<Instant>,
    /// Where recovery's sessions are kept for every node, if the transport can.
    sessions: Option<Arc<Sessions>>,
    /// Whether this node delivers every broadcast, its own included, in
    /// the cluster's one order with the offset the cluster gave it: when
    /// the namespace has connection state recovery and the dialect has one
    /// order (streams, pub/sub classic, sharded static).
    ordered: bool,
    /// The sequence of the offsets this node gives its broadcasts, when
    /// the transport does not name messages (pub/sub).
    offsets: AtomicU64,
    /// The link's losses seen so far (see `Stats::gaps`).
    gaps: AtomicU64,
}

/// Forgets a pending request when its waiter is done, however it ends.
struct Pending {
    inner: Arc<Inner>,
    id: String,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.inner.pending().remove(&self.id);
    }
}

/// What a node needs to start a namespace's part.
pub(crate) struct Setup<'a> {
    pub uid: String,
    pub dialect: Box<dyn Dialect>,
    pub bus: Arc<dyn Bus>,
    /// The pub/sub link, for dialects counting nodes by subscribers.
    pub link: Option<Arc<Link>>,
    pub arbiter: &'a actix::ArbiterHandle,
    pub request_timeout: Duration,
    /// Where recovery's sessions are kept for every node (in Redis).
    pub sessions: Option<Arc<Sessions>>,
}

impl Node {
    pub fn start(setup: Setup<'_>, local: LocalNamespace) -> Arc<Node> {
        let (inbound, rx) = mpsc::channel(INBOUND_QUEUE);
        let ordered = setup.sessions.is_some()
            && setup.dialect.total_order()
            && local.recovery_window().is_some();
        let inner = Arc::new(Inner {
            uid: setup.uid,
            dialect: setup.dialect,
            bus: setup.bus,
            link: setup.link,
            arbiter: setup.arbiter.clone(),
            request_timeout: setup.request_timeout,
            local,
            inbound,
            pending: Mutex::default(),
            peers: Mutex::default(),
            last_sent: Mutex::new(Instant::now()),
            sessions: setup.sessions,
            ordered,
            offsets: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
        });
        for (channel, sub) in inner.dialect.subscriptions() {
            inner.follow(channel, sub);
        }
        setup.arbiter.spawn(receive(inner.clone(), rx));
        if inner.heartbeat(true) {
            setup.arbiter.spawn(heartbeats(Arc::downgrade(&inner)));
        }
        Arc::new(Node { inner })
    }
}

impl Inner {
    fn pending(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Response>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn follow(&self, channel: String, sub: wire::Sub) {
        let to = self.inbound.clone();
        self.bus.subscribe(channel, Route { sub, to });
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn last_sent(&self) -> std::sync::MutexGuard<'_, Instant> {
        self.last_sent.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends this node's heartbeat, if the dialect has them.
    fn heartbeat(&self, initial: bool) -> bool {
        let Some((channel, bytes)) = self.dialect.heartbeat(initial) else {
            return false;
        };
        self.publish(channel, bytes);
        true
    }

    fn publish(&self, channel: String, bytes: Vec<u8>) {
        *self.last_sent() = Instant::now();
        self.bus.publish(channel, bytes, self.dialect.sharded());
    }

    /// Node `uid` was heard from (heartbeat dialects). An emitter (uid
    /// `emitter`, socket.io's emitter packages) is not a node.
    fn heard(&self, uid: &str) {
        if self.dialect.count_channel().is_none() && uid != self.uid && uid != "emitter" {
            self.peers().insert(uid.to_string(), Instant::now());
        }
    }

    /// A new request id, with the receiver of its answers.
    fn register(self: &Arc<Self>) -> (String, mpsc::UnboundedReceiver<Response>, Pending) {
        let id = crate::random_id();
        let (tx, rx) = mpsc::unbounded_channel();
        self.pending().insert(id.clone(), tx);
        let guard = Pending {
            inner: self.clone(),
            id: id.clone(),
        };
        (id, rx, guard)
    }

    /// The session `pid` from whichever other node has it (see
    /// [`Operation::HandOver`]): the first that does, or `None` once every
    /// other node said it has none, or after [`HAND_OVER_TIMEOUT`].
    async fn hand_over(self: &Arc<Self>, pid: String) -> Option<RecoverySession> {
        let others = self.nodes().await.ok()?.saturating_sub(1);
        if others == 0 {
            return None;
        }
        let deadline = Instant::now() + HAND_OVER_TIMEOUT;
        let (id, mut rx, _pending) = self.register();
        self.send(Operation::HandOver { id, pid });
        for _ in 0..others {
            match timeout_at(deadline, rx.recv()).await {
                Ok(Some(Response::Session(Some(session)))) => return Some(session),
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        None
    }

    /// How many nodes serve the namespace, this one included.
    async fn nodes(&self) -> Result<usize, String> {
        let (Some(channel), Some(link)) = (self.dialect.count_channel(), &self.link) else {
            let mut peers = self.peers();
            peers.retain(|_, seen| seen.elapsed() <= HEARTBEAT_TIMEOUT);
            return Ok(1 + peers.len());
        };
        let n = link.numsub(channel, self.dialect.sharded()).await?;
        Ok(n.max(1))
    }

    fn send(&self, request: impl Into<Request>) {
        if let Some((channel, bytes)) = self.dialect.request(&request.into()) {
            self.publish(channel, bytes);
        }
    }

    fn respond(&self, requester: &str, id: &str, response: &Response) {
        if let Some((channel, bytes)) = self.dialect.response(requester, id, response) {
            self.publish(channel, bytes);
        }
    }

    /// Asks the other nodes, and gathers one answer from each (through
    /// `each`) until `deadline`.
    async fn ask<T>(
        self: &Arc<Self>,
        deadline: Instant,
        request: impl FnOnce(String) -> Operation,
        mut answers: T,
        mut each: impl FnMut(&mut T, Response),
    ) -> Result<T, ClusterError<T>> {
        let others = match self.nodes().await {
            Ok(n) => n - 1,
            Err(reason) => {
                let partial = answers;
                return Err(ClusterError::Unreachable { reason, partial });
            }
        };
        if others == 0 {
            return Ok(answers);
        }
        let (id, mut rx, _pending) = self.register();
        let sent = Instant::now();
        self.send(request(id));
        let mut got = 0;
        while got < others {
            match timeout_at(deadline, rx.recv()).await {
                Ok(Some(answer)) => {
                    got += 1;
                    each(&mut answers, answer);
                }
                _ => break,
            }
        }
        let stats = self.bus.stats();
        if got < others {
            stats.request_timeouts.fetch_add(1, Relaxed);
            return Err(ClusterError::Timeout {
                expected: others,
                missing: others - got,
                partial: answers,
            });
        }
        stats.round_trips.observe(sent.elapsed());
        Ok(answers)
    }
}

impl Adapter for Node {
    fn broadcast(&self, event: &str, payload: &Payload, opts: &BroadcastOptions) {
        let inner = &self.inner;
        // Ordered on pub/sub: the sender names the broadcast, for every node
        // to keep it under the same offset (a stream names its entries).
        let offset = (inner.ordered && !inner.dialect.names_messages()).then(|| {
            let seq = inner.offsets.fetch_add(1, Relaxed);
            format!("{}.{seq}", &inner.uid[..12])
        });
        inner.send(Broadcast {
            event: event.to_string(),
            payload: payload.clone(),
            opts: opts.clone(),
            offset,
        });
    }

    fn broadcast_with_ack(
        &self,
        event: &str,
        payload: &Payload,
        opts: &BroadcastOptions,
        timeout: Duration,
        answers: mpsc::UnboundedSender<Payload>,
    ) -> BoxFuture<'static, RemoteCounts> {
        let inner = self.inner.clone();
        let (event, payload, opts) = (event.to_string(), payload.clone(), opts.clone());
        async move {
            let Ok(nodes @ 2..) = inner.nodes().await else {
                return RemoteCounts::none();
            };
            let (id, mut rx, pending) = inner.register();
            inner.send(Operation::BroadcastWithAck {
                id,
                event,
                payload,
                opts,
                timeout_ms: Some(timeout.as_millis() as u64),
            });
            let (counts_tx, counts) = mpsc::unbounded_channel();
            let sent = Instant::now();
            let deadline = sent + timeout;
            let others = nodes - 1;
            let task = inner.clone();
            inner.arbiter.spawn(async move {
                let _pending = pending;
                let mut whole = Whole::default();
                while let Ok(Some(answer)) = timeout_at(deadline, rx.recv()).await {
                    whole.take(&answer);
                    // Timed before the last answer is passed on, so that whoever
                    // waits for it finds the round trip in the stats.
                    let done = whole.of(others);
                    if done {
                        task.bus.stats().round_trips.observe(sent.elapsed());
                    }
                    match answer {
                        Response::ClientCount(n) => drop(counts_tx.send(n)),
                        Response::Ack(value) => drop(answers.send(wire::answer_payload(value))),
                        _ => {}
                    }
                    if done {
                        break;
                    }
                }
            });
            RemoteCounts {
                nodes: nodes - 1,
                counts,
            }
        }
        .boxed()
    }

    fn sockets_rooms(&self, opts: &BroadcastOptions, rooms: &[String], join: bool) {
        self.inner.send(Operation::Rooms {
            opts: opts.clone(),
            rooms: rooms.to_vec(),
            join,
        });
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        let opts = opts.clone();
        self.inner.send(Operation::Disconnect { opts, close });
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
        timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<SocketDetails>, ClusterError<Vec<SocketDetails>>>> {
        let inner = self.inner.clone();
        let opts = opts.clone();
        let deadline = Instant::now() + timeout.unwrap_or(inner.request_timeout);
        async move {
            let request = |id| Operation::Fetch { id, opts };
            let each = |sockets: &mut Vec<_>, answer| {
                if let Response::Sockets(found) = answer {
                    sockets.extend(found);
                }
            };
            inner.ask(deadline, request, Vec::new(), each).await
        }
        .boxed()
    }

    fn server_side_emit(
        &self,
        event: &str,
        payload: &Payload,
        ack: bool,
        timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, ClusterError<Vec<Payload>>>> {
        let inner = self.inner.clone();
        let (event, payload) = (event.to_string(), payload.clone());
        if !ack {
            inner.send(Operation::ServerSide {
                id: None,
                event,
                payload,
            });
            return std::future::ready(Ok(Vec::new())).boxed();
        }
        let deadline = Instant::now() + timeout.unwrap_or(inner.request_timeout);
        async move {
            let request = |id| Operation::ServerSide {
                id: Some(id),
                event,
                payload,
            };
            let each = |answers: &mut Vec<_>, answer| {
                if let Response::ServerSide(value) = answer {
                    answers.push(wire::answer_payload(value));
                }
            };
            inner.ask(deadline, request, Vec::new(), each).await
        }
        .boxed()
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, ClusterError<usize>>> {
        let inner = self.inner.clone();
        async move {
            let nodes = inner.nodes().await;
            nodes.map_err(|reason| ClusterError::Unreachable { reason, partial: 1 })
        }
        .boxed()
    }

    fn counters(&self) -> AdapterCounters {
        self.inner.bus.stats().snapshot()
    }

    fn link_up(&self) -> bool {
        self.inner.bus.stats().link_up()
    }

    fn follows_rooms(&self) -> bool {
        self.inner.dialect.follows_rooms()
    }

    fn orders_broadcasts(&self) -> bool {
        self.inner.ordered
    }

    fn persist_session(&self, session: &RecoverySession, ttl: Duration) -> bool {
        match &self.inner.sessions {
            Some(sessions) if self.inner.ordered => sessions.persist(session, ttl),
            _ => false,
        }
    }

    fn take_session(&self, pid: &str) -> Option<BoxFuture<'static, Option<RecoverySession>>> {
        let sessions = self.inner.sessions.clone().filter(|_| self.inner.ordered)?;
        let (inner, pid) = (self.inner.clone(), pid.to_string());
        Some(
            async move {
                if let Some(session) = sessions.take(&pid).await {
                    return Some(session);
                }
                // Not kept (yet): the node that has the socket may not have
                // seen its connection go. Asked, it closes it and hands the
                // session over.
                inner.hand_over(pid).await
            }
            .boxed(),
        )
    }

    fn on_room(&self, room: &str, exists: bool, is_socket_id: bool) {
        let inner = &self.inner;
        if let Some(channel) = inner.dialect.room_channel(room, is_socket_id) {
            match exists {
                true => inner.follow(channel, wire::Sub::Shard),
                false => inner.bus.unsubscribe(channel),
            }
        }
    }
}

/// Sends a heartbeat whenever the node has sent nothing for
/// [`HEARTBEAT_INTERVAL`] (Node's `scheduleHeartbeat`), while it lives.
async fn heartbeats(inner: std::sync::Weak<Inner>) {
    let mut due = Instant::now() + HEARTBEAT_INTERVAL;
    loop {
        tokio::time::sleep_until(due).await;
        let Some(inner) = inner.upgrade() else { return };
        let last = *inner.last_sent();
        due = last + HEARTBEAT_INTERVAL;
        if due <= Instant::now() {
            inner.heartbeat(false);
            due = Instant::now() + HEARTBEAT_INTERVAL;
        }
    }
}

/// Broadcasts from the cluster handed to the namespace and not yet known to
/// be delivered, at most. The loop goes on decoding the next messages while
/// the namespace delivers, so a burst reaches the namespace together and
/// one wake of each writer carries several broadcasts (one decode each is
/// all a node adds to a delivery); a namespace slower than the cluster
/// still holds the loop back, and its queue then fills and drops, counted.
const BROADCASTS_IN_FLIGHT: usize = 32;

/// Broadcasts started (queued in the namespace's order) whose delivery is
/// not yet waited for, oldest first; at most [`BROADCASTS_IN_FLIGHT`].
#[derive(Default)]
struct InFlight(VecDeque<BoxFuture<'static, ()>>);

impl InFlight {
    /// Starts `delivery`: polled once, which queues the broadcast (see
    /// `LocalSockets::broadcast`), after waiting for the oldest one if
    /// [`BROADCASTS_IN_FLIGHT`] are unfinished.
    async fn start(&mut self, mut delivery: BoxFuture<'static, ()>) {
        if self.0.len() >= BROADCASTS_IN_FLIGHT
            && let Some(oldest) = self.0.pop_front()
        {
            oldest.await;
        }
        let done = std::future::poll_fn(|cx| Poll::Ready(delivery.as_mut().poll(cx).is_ready()));
        if !done.await {
            self.0.push_back(delivery);
        }
    }

    /// Waits until every started broadcast has been delivered.
    async fn settle(&mut self) {
        while let Some(delivery) = self.0.pop_front() {
            delivery.await;
        }
    }
}

/// Handles the namespace's messages from the other nodes in arrival order:
/// broadcasts overlap (see [`BROADCASTS_IN_FLIGHT`]), anything else waits
/// until they are delivered and is done before the next message.
async fn receive(inner: Arc<Inner>, mut inbound: mpsc::Receiver<Inbound>) {
    let mut in_flight = InFlight::default();
    while let Some(msg) = inbound.recv().await {
        let stats = inner.bus.stats();
        // Messages were lost before this one: what recovery kept may have
        // holes now, so it is forgotten (sockets that missed them start afresh).
        let gaps = stats.gaps.load(Relaxed);
        if inner.gaps.swap(gaps, Relaxed) != gaps && inner.ordered {
            inner.local.lost();
        }
        match inner.dialect.decode(&msg.channel, &msg.payload) {
            Some(Incoming::Response { id, response }) => {
                // Every node may hear every answer: those for others are ignored.
                if let Some(waiter) = inner.pending().get(&id) {
                    let _ = waiter.send(response);
                }
            }
            // Our own messages come back through our subscriptions; what
            // they ask was done here when they were sent (not counted),
            // but for a broadcast when this node delivers in the stream's
            // order: here is its place in it.
            Some(Incoming::Request { uid, request }) if uid == inner.uid => {
                if let (true, Request::Broadcast(b)) = (inner.ordered, request) {
                    in_flight.start(broadcast(&inner, b)).await;
                }
                continue;
            }
            Some(Incoming::Request { uid, request }) => {
                inner.heard(&uid);
                match request {
                    Request::Broadcast(b) => in_flight.start(broadcast(&inner, b)).await,
                    Request::Operation(operation) => {
                        in_flight.settle().await;
                        on_operation(&inner, &uid, operation).await;
                    }
                }
            }
            Some(Incoming::Heartbeat { uid, .. }) if uid == inner.uid => continue,
            Some(Incoming::Heartbeat { uid, initial }) => {
                inner.heard(&uid);
                // A node that has just come asks who is there.
                if initial {
                    inner.heartbeat(false);
                }
            }
            Some(Incoming::Closed { uid }) => drop(inner.peers().remove(&uid)),
            None => {
                log::debug!("redis adapter: malformed message on {}", msg.channel);
                stats.errors.fetch_add(1, Relaxed);
                continue;
            }
        }
        stats.received.fetch_add(1, Relaxed);
    }
}

/// A broadcast from the cluster (or, ordered, this node's own) for this
/// node's sockets, kept for recovery under the offset the cluster gave it
/// when this node orders.
fn broadcast(inner: &Inner, b: Broadcast) -> BoxFuture<'static, ()> {
    match b.offset.filter(|_| inner.ordered) {
        Some(offset) => inner
            .local
            .broadcast_at(&b.event, b.payload, &b.opts, &offset),
        None => inner.local.broadcast(&b.event, b.payload, &b.opts),
    }
}

/// Applies another node's operation here.
async fn on_operation(inner: &Arc<Inner>, from: &str, operation: Operation) {
    let local = &inner.local;
    match operation {
        Operation::Rooms { opts, rooms, join } => {
            // Applied before the next message: a broadcast to the room may follow.
            let _ = local.sockets_rooms(&opts, rooms, join).await;
        }
        Operation::Disconnect { opts, close } => local.disconnect_sockets(&opts, close),
        Operation::Fetch { id, opts } => {
            let sockets = local.fetch(&opts).await;
            inner.respond(from, &id, &Response::Sockets(sockets));
        }
        Operation::SocketIds { id, rooms } => {
            let opts = BroadcastOptions {
                rooms,
                ..BroadcastOptions::default()
            };
            let ids = local.fetch(&opts).await.into_iter().map(|s| s.id).collect();
            inner.respond(from, &id, &Response::SocketIds(ids));
        }
        Operation::HandOver { id, pid } => {
            // Beside the loop: closing the socket waits for its way out.
            let (task, from) = (inner.clone(), from.to_string());
            inner.arbiter.spawn(async move {
                // This node's own socket, closed and handed over; else a
                // session it kept in Redis itself, if not taken yet (its own
                // queue runs its commands in order).
                let mut session = task.local.hand_over(&pid).await;
                if let (None, Some(sessions), true) = (&session, &task.sessions, task.ordered) {
                    session = sessions.take(&pid).await;
                }
                task.respond(&from, &id, &Response::Session(session));
            });
        }
        Operation::AllRooms { id } => {
            let rooms = local.all_rooms().await;
            inner.respond(from, &id, &Response::Rooms(rooms));
        }
        Operation::ServerSide { id, event, payload } => {
            let answer = local.server_side_event(event, payload, id.is_some());
            let (Some(id), Some(answer)) = (id, answer) else {
                return;
            };
            let (task, from) = (inner.clone(), from.to_string());
            let deadline = Instant::now() + inner.request_timeout;
            inner.arbiter.spawn(async move {
                if let Ok(Ok(answer)) = timeout_at(deadline, answer).await {
                    let response = Response::ServerSide(wire::first_arg(&answer));
                    task.respond(&from, &id, &response);
                }
            });
        }
        Operation::BroadcastWithAck {
            id,
            event,
            payload,
            opts,
            timeout_ms,
        } => {
            let timeout = timeout_ms.map_or(inner.request_timeout, Duration::from_millis);
            let (count, mut answers) = local
                .broadcast_with_ack(&event, payload, &opts, timeout)
                .await;
            // Always, even 0: the asker counts one per node.
            inner.respond(from, &id, &Response::ClientCount(count));
            let (task, from) = (inner.clone(), from.to_string());
            let deadline = Instant::now() + timeout;
            inner.arbiter.spawn(async move {
                for _ in 0..count {
                    let Ok(Some(answer)) = timeout_at(deadline, answers.recv()).await else {
                        break;
                    };
                    task.respond(&from, &id, &Response::Ack(wire::first_arg(&answer)));
                }
            });
        }
    }
}
