//! One namespace's part of the cluster: its uid, its subscriptions, the
//! requests it is waiting on, and what it does with the other nodes'
//! messages (applied to this node's sockets only, in arrival order).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use rmpv::Value as Mp;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use super::RedisAdapter;
use super::link::{INBOUND_QUEUE, Inbound, Link, Route, Via};
use super::wire::{self, Channels, get, get_str, kind, map};
use crate::socket::{
    Adapter, AdapterCounters, BroadcastOptions, ClusterError, LocalNamespace, Payload,
    RemoteCounts, SocketDetails,
};

pub(crate) struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    nsp: String,
    uid: String,
    channels: Channels,
    link: Arc<Link>,
    arbiter: actix::ArbiterHandle,
    request_timeout: Duration,
    local: LocalNamespace,
    /// Requests waiting for answers, by request id: bounded by the
    /// requests in flight, each removed at its end or timeout.
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Mp>>>,
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

impl Node {
    pub fn start(nsp: &str, local: LocalNamespace, adapter: &RedisAdapter) -> Arc<dyn Adapter> {
        let uid = crate::id::random_id();
        let channels = Channels::new(&adapter.config.key_prefix, nsp, &uid);
        let inner = Arc::new(Inner {
            nsp: nsp.to_string(),
            uid,
            channels,
            link: adapter.link.clone(),
            arbiter: adapter.arbiter.clone(),
            request_timeout: adapter.config.request_timeout,
            local,
            pending: Mutex::default(),
        });
        let (to, inbound) = mpsc::channel(INBOUND_QUEUE);
        let c = &inner.channels;
        // One subscription to the request channel per namespace and node:
        // its subscriber count is the cluster's node count.
        for (channel, via) in [
            (c.broadcast_pattern(), Via::Broadcast),
            (c.request.clone(), Via::Request),
            (c.response.clone(), Via::Response),
            (c.own_response.clone(), Via::Response),
        ] {
            let to = to.clone();
            inner.link.subscribe(channel, Route { via, to });
        }
        adapter.arbiter.spawn(receive(inner.clone(), inbound));
        Arc::new(Node { inner })
    }
}

impl Inner {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Mp>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new request id, with the receiver of its answers.
    fn register(self: &Arc<Self>) -> (String, mpsc::UnboundedReceiver<Mp>, Pending) {
        let id = crate::id::random_id();
        let (tx, rx) = mpsc::unbounded_channel();
        self.pending().insert(id.clone(), tx);
        let guard = Pending {
            inner: self.clone(),
            id: id.clone(),
        };
        (id, rx, guard)
    }

    /// How many other nodes serve the namespace.
    async fn others(&self) -> Result<usize, String> {
        let n = self.link.numsub(&self.channels.request).await?;
        Ok(n.saturating_sub(1))
    }

    fn request(&self, kind: u64, request_id: Option<&str>, fields: Vec<(&str, Mp)>) {
        let mut entries = vec![
            (Mp::from("uid"), Mp::from(self.uid.as_str())),
            (Mp::from("type"), Mp::from(kind)),
        ];
        if let Some(id) = request_id {
            entries.insert(1, (Mp::from("requestId"), Mp::from(id)));
        }
        entries.extend(fields.into_iter().map(|(k, v)| (Mp::from(k), v)));
        let bytes = wire::encode(&Mp::Map(entries));
        self.link.publish(self.channels.request.clone(), bytes);
    }

    fn respond(&self, response: Mp) {
        let bytes = wire::encode(&response);
        self.link.publish(self.channels.response.clone(), bytes);
    }
}

/// Waits for up to `nodes` answers until `deadline`, handing each to
/// `each`; returns how many came.
async fn collect(
    rx: &mut mpsc::UnboundedReceiver<Mp>,
    nodes: usize,
    deadline: Instant,
    mut each: impl FnMut(Mp),
) -> usize {
    let mut got = 0;
    while got < nodes {
        match timeout_at(deadline, rx.recv()).await {
            Ok(Some(answer)) => {
                got += 1;
                each(answer);
            }
            _ => break,
        }
    }
    got
}

fn complete<T>(nodes: usize, got: usize, answers: T) -> Result<T, ClusterError<T>> {
    if got < nodes {
        return Err(ClusterError::Timeout {
            expected: nodes,
            missing: nodes - got,
            partial: answers,
        });
    }
    Ok(answers)
}

impl Adapter for Node {
    fn broadcast(&self, event: &str, payload: &Payload, opts: &BroadcastOptions) {
        let inner = &self.inner;
        let bytes = wire::broadcast(&inner.uid, &inner.nsp, event, payload, opts);
        inner.link.publish(inner.channels.broadcast_to(opts), bytes);
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
        let packet = wire::packet(&inner.nsp, event, payload);
        let flags = wire::flags(opts, Some(timeout.as_millis() as u64));
        let opts = wire::opts(opts, Some(flags));
        async move {
            let Ok(nodes @ 1..) = inner.others().await else {
                return RemoteCounts::none();
            };
            let (id, mut rx, pending) = inner.register();
            let fields = vec![("packet", packet), ("opts", opts)];
            inner.request(kind::BROADCAST, Some(&id), fields);
            let (counts_tx, counts) = mpsc::unbounded_channel();
            let deadline = Instant::now() + timeout;
            inner.arbiter.spawn(async move {
                let _pending = pending;
                while let Ok(Some(answer)) = timeout_at(deadline, rx.recv()).await {
                    match get(&answer, "type").and_then(Mp::as_u64) {
                        Some(kind::BROADCAST_CLIENT_COUNT) => {
                            let n = get(&answer, "clientCount").and_then(Mp::as_u64);
                            let _ = counts_tx.send(n.unwrap_or(0) as usize);
                        }
                        Some(kind::BROADCAST_ACK) => {
                            let _ = answers.send(wire::answer_payload(get(&answer, "packet")));
                        }
                        _ => {}
                    }
                }
            });
            RemoteCounts { nodes, counts }
        }
        .boxed()
    }

    fn sockets_rooms(&self, opts: &BroadcastOptions, rooms: &[String], join: bool) {
        let kind = if join {
            kind::REMOTE_JOIN
        } else {
            kind::REMOTE_LEAVE
        };
        let rooms = Mp::Array(rooms.iter().map(|r| Mp::from(r.as_str())).collect());
        let fields = vec![("opts", wire::opts(opts, None)), ("rooms", rooms)];
        self.inner.request(kind, None, fields);
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        let fields = vec![("opts", wire::opts(opts, None)), ("close", Mp::from(close))];
        self.inner.request(kind::REMOTE_DISCONNECT, None, fields);
    }

    fn fetch_sockets(
        &self,
        opts: &BroadcastOptions,
        timeout: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<SocketDetails>, ClusterError<Vec<SocketDetails>>>> {
        let inner = self.inner.clone();
        let opts = wire::opts(opts, None);
        async move {
            let deadline = Instant::now() + timeout.unwrap_or(inner.request_timeout);
            let nodes = match inner.others().await {
                Ok(0) => return Ok(Vec::new()),
                Ok(n) => n,
                Err(reason) => {
                    let partial = Vec::new();
                    return Err(ClusterError::Unreachable { reason, partial });
                }
            };
            let (id, mut rx, _pending) = inner.register();
            inner.request(kind::REMOTE_FETCH, Some(&id), vec![("opts", opts)]);
            let mut sockets = Vec::new();
            let got = collect(&mut rx, nodes, deadline, |answer| {
                let list = get(&answer, "sockets").and_then(Mp::as_array);
                let found = list.into_iter().flatten().filter_map(wire::parse_details);
                sockets.extend(found);
            })
            .await;
            complete(nodes, got, sockets)
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
        let data = wire::event_data(event, payload);
        if !ack {
            inner.request(kind::SERVER_SIDE_EMIT, None, vec![("data", data)]);
            return std::future::ready(Ok(Vec::new())).boxed();
        }
        async move {
            let deadline = Instant::now() + timeout.unwrap_or(inner.request_timeout);
            let nodes = match inner.others().await {
                Ok(0) => return Ok(Vec::new()),
                Ok(n) => n,
                Err(reason) => {
                    let partial = Vec::new();
                    return Err(ClusterError::Unreachable { reason, partial });
                }
            };
            let (id, mut rx, _pending) = inner.register();
            inner.request(kind::SERVER_SIDE_EMIT, Some(&id), vec![("data", data)]);
            let mut answers = Vec::new();
            let got = collect(&mut rx, nodes, deadline, |answer| {
                answers.push(wire::answer_payload(get(&answer, "data")));
            })
            .await;
            complete(nodes, got, answers)
        }
        .boxed()
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, ClusterError<usize>>> {
        let inner = self.inner.clone();
        async move {
            (inner.link.numsub(&inner.channels.request).await)
                .map(|n| n.max(1))
                .map_err(|reason| ClusterError::Unreachable { reason, partial: 1 })
        }
        .boxed()
    }

    fn counters(&self) -> AdapterCounters {
        self.inner.link.stats.snapshot()
    }
}

/// Handles the namespace's messages from the other nodes, one at a time.
async fn receive(inner: Arc<Inner>, mut inbound: mpsc::Receiver<Inbound>) {
    while let Some(msg) = inbound.recv().await {
        let handled = match msg.via {
            Via::Broadcast => on_broadcast(&inner, &msg.payload).await,
            Via::Request => on_request(&inner, &msg.payload).await,
            Via::Response => on_response(&inner, &msg.payload),
        };
        let stats = &inner.link.stats;
        match handled {
            Some(()) => stats.received.fetch_add(1, Relaxed),
            None => {
                log::debug!("redis adapter: malformed message on {}", msg.channel);
                stats.errors.fetch_add(1, Relaxed)
            }
        };
    }
}

async fn on_broadcast(inner: &Inner, payload: &[u8]) -> Option<()> {
    let b = wire::parse_broadcast(payload)?;
    // Our own publishes come back through the pattern subscription.
    if b.uid != inner.uid && b.nsp == inner.nsp {
        inner.local.broadcast(&b.event, b.payload, &b.opts).await;
    }
    Some(())
}

async fn on_request(inner: &Arc<Inner>, payload: &[u8]) -> Option<()> {
    let request = wire::decode(payload)?;
    if get_str(&request, "uid") == Some(inner.uid.as_str()) {
        // Applied here when it was made.
        return Some(());
    }
    let id = get_str(&request, "requestId").map(String::from);
    let opts = || wire::parse_opts(get(&request, "opts"));
    let local = &inner.local;
    match get(&request, "type")?.as_u64()? {
        kind::SOCKETS => {
            let opts = BroadcastOptions {
                rooms: wire::parse_opts(Some(&request)).rooms,
                ..BroadcastOptions::default()
            };
            let ids = local.fetch(&opts).await.into_iter();
            let ids = ids.map(|s| Mp::from(s.id)).collect();
            inner.respond(map([
                ("requestId", Some(Mp::from(id?))),
                ("sockets", Some(Mp::Array(ids))),
            ]));
        }
        kind::ALL_ROOMS => {
            let rooms = local.all_rooms().await.into_iter().map(Mp::from).collect();
            inner.respond(map([
                ("requestId", Some(Mp::from(id?))),
                ("rooms", Some(Mp::Array(rooms))),
            ]));
        }
        k @ (kind::REMOTE_JOIN | kind::REMOTE_LEAVE) => {
            get(&request, "opts")?;
            let rooms = wire::parse_opts(Some(&request)).rooms;
            // Applied before the next message: a broadcast to the room may follow.
            let _ = local
                .sockets_rooms(&opts(), rooms, k == kind::REMOTE_JOIN)
                .await;
        }
        kind::REMOTE_DISCONNECT => {
            get(&request, "opts")?;
            let close = get(&request, "close").and_then(Mp::as_bool) == Some(true);
            drop(local.disconnect_sockets(&opts(), close));
        }
        kind::REMOTE_FETCH => {
            let sockets = local.fetch(&opts()).await;
            let sockets = sockets.iter().map(wire::details).collect();
            inner.respond(map([
                ("requestId", Some(Mp::from(id?))),
                ("sockets", Some(Mp::Array(sockets))),
            ]));
        }
        kind::SERVER_SIDE_EMIT => {
            let (event, payload) = wire::parse_event_data(get(&request, "data")?)?;
            let answer = local.server_side_event(event, payload, id.is_some());
            if let (Some(id), Some(answer)) = (id, answer) {
                let (inner, deadline) = (inner.clone(), Instant::now() + inner.request_timeout);
                inner.clone().arbiter.spawn(async move {
                    if let Ok(Ok(answer)) = timeout_at(deadline, answer).await {
                        inner.respond(map([
                            ("type", Some(Mp::from(kind::SERVER_SIDE_EMIT))),
                            ("requestId", Some(Mp::from(id))),
                            ("data", wire::first_arg(&answer)),
                        ]));
                    }
                });
            }
        }
        kind::BROADCAST => {
            let id = id?;
            let (_, event, payload) = wire::parse_packet(get(&request, "packet")?)?;
            let ms = wire::timeout_flag(get(&request, "opts"));
            let timeout = ms.map_or(inner.request_timeout, Duration::from_millis);
            let (count, answers) = local
                .broadcast_with_ack(&event, payload, &opts(), timeout)
                .await;
            inner.respond(map([
                ("type", Some(Mp::from(kind::BROADCAST_CLIENT_COUNT))),
                ("requestId", Some(Mp::from(id.as_str()))),
                ("clientCount", Some(Mp::from(count))),
            ]));
            let inner = inner.clone();
            let deadline = Instant::now() + timeout;
            inner.clone().arbiter.spawn(async move {
                let mut answers = answers;
                for _ in 0..count {
                    let Ok(Some(answer)) = timeout_at(deadline, answers.recv()).await else {
                        break;
                    };
                    inner.respond(map([
                        ("type", Some(Mp::from(kind::BROADCAST_ACK))),
                        ("requestId", Some(Mp::from(id.as_str()))),
                        ("packet", Some(wire::first_arg(&answer).unwrap_or(Mp::Nil))),
                    ]));
                }
            });
        }
        // Types of other versions or adapters: not ours to answer.
        _ => {}
    }
    Some(())
}

fn on_response(inner: &Inner, payload: &[u8]) -> Option<()> {
    let response = wire::decode(payload)?;
    let id = get_str(&response, "requestId")?;
    // Every node hears every response: those for other nodes are ignored.
    if let Some(waiter) = inner.pending().get(id) {
        let _ = waiter.send(response);
    }
    Some(())
}
