//! Emit operators: a small builder (`to`/`within`/`except`/`volatile`/
//! `compress`/`local`/`timeout`) ending in an emit or a bulk operation, the
//! same from a socket, a namespace or the server.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::{mpsc, oneshot};

use super::applied::{Applied, Departure, EffectError};
use super::errors::{EmitError, check_event};
use super::into_rooms::IntoRooms;
use super::shared::{
    Broadcast, BroadcastWithAck, BulkRooms, DisconnectSockets, NamespaceCore, RoomSummary, Summary,
};
use crate::client::Encoded;
use switchyard_core::{AdapterCounters, BroadcastOptions, ClusterError, Payload, RemoteCounts};

/// Why a broadcast could not be handed to the registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BroadcastError {
    /// The event could not be emitted (a reserved name).
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// The namespace's room registry did not take the request.
    #[error(transparent)]
    Refused(#[from] EffectError),
}

/// Why a broadcast with ack did not collect every answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BroadcastAckError {
    /// No [`BroadcastOperator::timeout`] was set: without one, a client that
    /// never answers would keep the broadcast waiting forever.
    #[error("an ack on a broadcast needs a timeout: call .timeout(d) first")]
    NoTimeout,
    /// The timeout passed (or targeted sockets left) before every client
    /// answered. The message is socket.io's, `operation has timed out`;
    /// like socket.io's `err.responses`, the error holds the answers that came.
    #[error("operation has timed out")]
    Timeout {
        /// How many sockets the broadcast reached.
        expected: usize,
        /// How many of them did not answer.
        missing: usize,
        /// The answers that did arrive, in arrival order.
        responses: Vec<Payload>,
    },
    /// The broadcast itself was not sent.
    #[error(transparent)]
    Broadcast(#[from] BroadcastError),
}

/// Why a `serverSideEmit` with ack did not collect every node's answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServerSideEmitError {
    /// The event could not be emitted (a reserved name).
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// Not every node answered (the answers that came are in the error).
    #[error(transparent)]
    Cluster(#[from] ClusterError<Vec<Payload>>),
}

/// A broadcast being described; consumed by an emit or a bulk operation.
///
/// Start one from a socket ([`SocketRef::to`](super::SocketRef::to),
/// [`SocketRef::broadcast`](super::SocketRef::broadcast)), a
/// namespace ([`NamespaceRef::to`]) or the server
/// ([`SocketIo::to`](crate::io::SocketIo::to)), as in socket.io:
///
/// ```no_run
/// use std::time::Duration;
/// use serde_json::json;
/// use switchyard_socketio::socket::{Payload, SocketRef};
///
/// async fn examples(socket: SocketRef) {
///     // socket.to("lobby").except("muted").emit("news", "hello")
///     let _ = socket.to("lobby").except("muted").emit("news", json!("hello")).await;
///     // io.timeout(5000).emitWithAck("ping"): every answer, or a Timeout error
///     let answers = socket
///         .namespace()
///         .timeout(Duration::from_secs(5))
///         .emit_with_ack("ping", Payload::default())
///         .await;
///     // io.in("lobby").socketsJoin("game")
///     let _ = socket.namespace().within("lobby").sockets_join(["game"]).await;
/// }
/// ```
#[derive(Clone)]
pub struct BroadcastOperator {
    pub(super) ns: Arc<NamespaceCore>,
    pub(super) opts: BroadcastOptions,
    pub(super) timeout: Option<Duration>,
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Arc<NamespaceCore>, except_id: Option<String>) -> Self {
        let opts = BroadcastOptions {
            except_id,
            compress: true,
            ..BroadcastOptions::default()
        };
        Self::with_options(ns, opts)
    }

    pub(crate) fn with_options(ns: Arc<NamespaceCore>, opts: BroadcastOptions) -> Self {
        BroadcastOperator {
            ns,
            opts,
            timeout: None,
        }
    }

    /// Whether this request also goes to the other nodes.
    pub(super) fn spans_nodes(&self) -> bool {
        !self.opts.local && self.ns.adapter.spans_nodes()
    }

    /// Also target the sockets in `rooms`, one room or several
    /// ([`IntoRooms`]); chainable, and a socket in several gets one copy.
    pub fn to<M>(mut self, rooms: impl IntoRooms<M>) -> Self {
        self.opts.rooms.extend(rooms.into_rooms());
        self
    }

    /// Same as [`Self::to`] (socket.io's `in`).
    pub fn within<M>(self, rooms: impl IntoRooms<M>) -> Self {
        self.to(rooms)
    }

    /// Leave out the sockets in `rooms`, one room or several ([`IntoRooms`]).
    pub fn except<M>(mut self, rooms: impl IntoRooms<M>) -> Self {
        self.opts.except.extend(rooms.into_rooms());
        self
    }

    /// Drop for clients that cannot take the packet right now (counted).
    pub fn volatile(mut self) -> Self {
        self.opts.volatile = true;
        self
    }

    /// Whether the packets may be compressed where the transport negotiated
    /// it (socket.io's `compress`; on by default).
    pub fn compress(mut self, compress: bool) -> Self {
        self.opts.compress = compress;
        self
    }

    /// This node only (socket.io's `local`), even once an adapter spans several.
    pub fn local(mut self) -> Self {
        self.opts.local = true;
        self
    }

    /// How long [`Self::emit_with_ack`] waits for every answer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The selection and flags described so far.
    pub fn options(&self) -> &BroadcastOptions {
        &self.opts
    }

    /// Sends `event` to every selected socket, on every node unless
    /// `local`; returns how many were targeted on this node. With an adapter
    /// that orders broadcasts ([`Adapter::orders_broadcasts`]: Redis, with
    /// connection state recovery), this node's sockets get it from the
    /// cluster, in the cluster's order, like every other node's: it returns
    /// once the broadcast is handed to the adapter, with 0.
    ///
    /// [`Adapter::orders_broadcasts`]: switchyard_core::Adapter::orders_broadcasts
    pub async fn emit(
        self,
        event: &str,
        payload: impl Into<Payload>,
    ) -> Result<usize, BroadcastError> {
        check_event(event)?;
        let payload = payload.into();
        if !self.opts.local && self.ns.adapter.orders_broadcasts() {
            self.ns.adapter.broadcast(event, &payload, &self.opts);
            return Ok(0);
        }
        // Copies only for other nodes: a single node's broadcast moves its options.
        let remote = self
            .spans_nodes()
            .then(|| (payload.clone(), self.opts.clone()));
        let targets = deliver(&self.ns, event, payload, self.opts, None);
        // Queued for this node and published in one step, with no await
        // between: concurrent emits reach every node in the same order.
        if let Some((payload, opts)) = remote {
            self.ns.adapter.broadcast(event, &payload, &opts);
        }
        targets.await.map_err(mailbox)
    }

    /// This node's share of a broadcast the cluster gave `offset` (in its
    /// order), for connection state recovery to keep under that offset.
    pub(crate) async fn emit_at(
        self,
        event: &str,
        payload: Payload,
        offset: String,
    ) -> Result<usize, BroadcastError> {
        check_event(event)?;
        let offset = Some(offset);
        let targets = deliver(&self.ns, event, payload, self.opts, offset);
        targets.await.map_err(mailbox)
    }

    /// socket.io's `send`: emits `message`.
    pub async fn send(self, payload: impl Into<Payload>) -> Result<usize, BroadcastError> {
        self.emit("message", payload).await
    }

    /// Sends `event` expecting an ack from every selected socket, on every
    /// node unless `local`; resolves with all answers, or says how many did
    /// not answer within the timeout.
    pub async fn emit_with_ack(
        self,
        event: &str,
        payload: impl Into<Payload>,
    ) -> Result<Vec<Payload>, BroadcastAckError> {
        let timeout = self.timeout.ok_or(BroadcastAckError::NoTimeout)?;
        check_event(event).map_err(BroadcastError::from)?;
        let payload = payload.into();
        let deadline = tokio::time::Instant::now() + timeout;
        // Bounded by the targets: each answers once (see `Waiter::Broadcast`),
        // and the adapter forgets the request at its timeout.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut remote: futures_util::future::BoxFuture<'static, RemoteCounts> =
            match self.spans_nodes() {
                true => {
                    let adapter = &self.ns.adapter;
                    adapter.broadcast_with_ack(event, &payload, &self.opts, timeout, tx.clone())
                }
                false => Box::pin(std::future::ready(RemoteCounts::none())),
            };
        let mut expected = self.send_with_ack(event, payload, tx).await?;
        let mut remote = (&mut remote).await;
        let mut counted = 0;
        let mut responses = Vec::with_capacity(expected);
        let sleep = tokio::time::sleep_until(deadline);
        tokio::pin!(sleep);
        while counted < remote.nodes || responses.len() < expected {
            tokio::select! {
                count = remote.counts.recv(), if counted < remote.nodes => match count {
                    Some(n) => {
                        counted += 1;
                        expected += n;
                    }
                    // The adapter gave up on the nodes yet to count.
                    None => break,
                },
                answer = rx.recv() => match answer {
                    Some(answer) => responses.push(answer),
                    None => break,
                },
                _ = &mut sleep => break,
            }
        }
        if counted < remote.nodes || responses.len() < expected {
            let missing = expected.saturating_sub(responses.len()).max(1);
            let timed_out = &self.ns.stats.acks_timed_out;
            timed_out.fetch_add(missing as u64, Relaxed);
            return Err(BroadcastAckError::Timeout {
                expected,
                missing,
                responses,
            });
        }
        Ok(responses)
    }

    /// Hands a broadcast with ack to this node's registry; answers go to `tx`.
    async fn send_with_ack(
        &self,
        event: &str,
        payload: Payload,
        tx: mpsc::UnboundedSender<Payload>,
    ) -> Result<usize, BroadcastError> {
        let id = self.ns.next_ack_id();
        let packet = payload.into_event(&self.ns.name, event).with_id(id);
        let encoded = Encoded::new(packet, self.ns.parser);
        let msg = BroadcastWithAck {
            encoded,
            opts: self.opts.clone(),
            id,
            tx,
        };
        self.ns
            .rooms
            .broadcast_with_ack
            .send(msg)
            .await
            .map_err(mailbox)
    }

    /// This node's part of a broadcast with ack, for another node that asked:
    /// how many sockets it reached, and their answers as they come.
    pub(crate) async fn start_ack(
        self,
        event: &str,
        payload: Payload,
    ) -> (usize, mpsc::UnboundedReceiver<Payload>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sent = self.send_with_ack(event, payload, tx).await.unwrap_or(0);
        (sent, rx)
    }

    /// Makes the selected sockets join `rooms`; resolves once they are in.
    pub fn sockets_join(self, rooms: impl IntoIterator<Item = impl Into<String>>) -> Applied {
        self.bulk_rooms(rooms, true)
    }

    /// Makes the selected sockets leave `rooms`; resolves once they are out.
    pub fn sockets_leave(self, rooms: impl IntoIterator<Item = impl Into<String>>) -> Applied {
        self.bulk_rooms(rooms, false)
    }

    fn bulk_rooms(self, rooms: impl IntoIterator<Item = impl Into<String>>, join: bool) -> Applied {
        let rooms: Vec<String> = rooms.into_iter().map(Into::into).collect();
        if self.spans_nodes() {
            self.ns.adapter.sockets_rooms(&self.opts, &rooms, join);
        }
        let (done, applied) = oneshot::channel();
        let msg = BulkRooms {
            opts: self.opts,
            rooms,
            join,
            done,
        };
        Applied::when(request(&self.ns, &self.ns.rooms.bulk, msg).map(|()| applied))
    }

    /// Disconnects the selected sockets (`close`: their whole connections);
    /// resolves once every one of them has left its rooms.
    pub fn disconnect_sockets(self, close: bool) -> Applied {
        if self.spans_nodes() {
            self.ns.adapter.disconnect_sockets(&self.opts, close);
        }
        let (done, watches) = oneshot::channel();
        let msg = DisconnectSockets {
            opts: self.opts,
            close,
            done,
        };
        if let Err(e) = request(&self.ns, &self.ns.rooms.disconnect, msg) {
            return Applied::ready(Err(e));
        }
        Applied::from_future(async move {
            let watches = watches.await.map_err(|_| EffectError::Gone)?;
            for left in watches {
                Departure::wait(left).await;
            }
            Ok(())
        })
    }
}

/// Hands `msg` to the registry now, without waiting: a full mailbox refuses
/// it (logged, and counted in the namespace's `overloaded`).
fn request<M>(ns: &NamespaceCore, to: &Recipient<M>, msg: M) -> Result<(), EffectError>
where
    M: Message + Send + 'static,
    M::Result: Send,
{
    to.try_send(msg).map_err(|e| match e {
        SendError::Full(_) => {
            ns.stats.overloaded.fetch_add(1, Relaxed);
            log::warn!(
                "namespace {}: room registry mailbox full, request dropped",
                ns.name
            );
            EffectError::Overloaded
        }
        SendError::Closed(_) => EffectError::Gone,
    })
}

/// Hands a broadcast to this node's registry (queued when this returns).
fn deliver(
    ns: &NamespaceCore,
    event: &str,
    payload: Payload,
    opts: BroadcastOptions,
    offset: Option<String>,
) -> actix::dev::RecipientRequest<Broadcast> {
    let encoded = Encoded::new(payload.into_event(&ns.name, event), ns.parser);
    let msg = Broadcast {
        encoded,
        opts,
        offset,
    };
    ns.rooms.broadcast.send(msg)
}

fn mailbox(_: MailboxError) -> BroadcastError {
    // `send` without a timeout fails only when the registry has stopped.
    BroadcastError::Refused(EffectError::Gone)
}

/// A namespace's counters: nothing it drops goes uncounted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NamespaceCounters {
    /// Packets broadcasts handed to clients' sessions.
    pub delivered: u64,
    /// Volatile packets dropped because a client could not take them.
    pub volatile_dropped: u64,
    /// Clients disconnected because their session's mailbox was full.
    pub slow_consumers: u64,
    /// Room requests refused because the room registry's mailbox was full.
    pub overloaded: u64,
    /// Events catch-all listeners missed because their mailbox was full.
    pub listener_dropped: u64,
    /// Room joins refused: the socket was at `max_rooms_per_socket`.
    pub rooms_refused: u64,
    /// Emits with an ack refused: the socket was at `max_pending_acks`.
    pub acks_refused: u64,
    /// Virtual requests answered 429: the socket was at `vr_max_in_flight`.
    pub requests_refused: u64,
    /// Broadcasts this node fanned out to its sockets (emitted here or on
    /// another node); [`delivered`](Self::delivered) counts their recipients.
    pub broadcasts: u64,
    /// Acks given up on: a socket's `emit_with_ack` timed out, or a target
    /// of a broadcast with ack did not answer in time (one per missing answer).
    pub acks_timed_out: u64,
    /// Sockets disconnected, by reason.
    pub disconnects: crate::client::DisconnectCounts,
}

/// A handle to one namespace: its operators, bulk operations and introspection.
///
/// ```no_run
/// use serde_json::json;
/// use switchyard_socketio::io::SocketIo;
///
/// async fn announce(io: &SocketIo) {
///     if let Some(chat) = io.of("/chat") {
///         // socket.io's `io.of("/chat").emit("news", ...)`
///         let _ = chat.emit("news", json!({ "text": "hello" })).await;
///         // `io.of("/chat").fetchSockets()`
///         for socket in chat.fetch_sockets().await.unwrap_or_default() {
///             println!("{} is connected", socket.id());
///         }
///     }
/// }
/// ```
#[derive(Clone)]
pub struct NamespaceRef {
    pub(crate) core: Arc<NamespaceCore>,
}

impl NamespaceRef {
    /// The namespace's name, such as `/` or `/chat` (socket.io's `nsp.name`).
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// Every socket of the namespace, to narrow down with the operators.
    pub fn to_all(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.core.clone(), None)
    }

    /// The sockets in `rooms`, one room or several (socket.io's
    /// `nsp.to(room)` and `nsp.to([a, b])`; see [`IntoRooms`]).
    pub fn to<M>(&self, rooms: impl IntoRooms<M>) -> BroadcastOperator {
        self.to_all().to(rooms)
    }

    /// Same as [`Self::to`] (socket.io's `nsp.in(room)`).
    pub fn within<M>(&self, rooms: impl IntoRooms<M>) -> BroadcastOperator {
        self.to_all().to(rooms)
    }

    /// Every socket in none of `rooms` (socket.io's `nsp.except(room)`).
    pub fn except<M>(&self, rooms: impl IntoRooms<M>) -> BroadcastOperator {
        self.to_all().except(rooms)
    }

    /// Every socket, dropping the packet for clients that cannot take it
    /// right now (socket.io's `nsp.volatile`).
    pub fn volatile(&self) -> BroadcastOperator {
        self.to_all().volatile()
    }

    /// Every socket, with compression allowed or not (socket.io's `nsp.compress`).
    pub fn compress(&self, compress: bool) -> BroadcastOperator {
        self.to_all().compress(compress)
    }

    /// Every socket on this node only (socket.io's `nsp.local`).
    pub fn local(&self) -> BroadcastOperator {
        self.to_all().local()
    }

    /// Every socket, with `timeout` for [`BroadcastOperator::emit_with_ack`]
    /// (socket.io's `nsp.timeout(ms)`).
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.to_all().timeout(timeout)
    }

    /// Emits to every socket of the namespace.
    pub async fn emit(
        &self,
        event: &str,
        payload: impl Into<Payload>,
    ) -> Result<usize, BroadcastError> {
        self.to_all().emit(event, payload).await
    }

    /// Makes every socket of the namespace join `rooms`.
    pub fn sockets_join(&self, rooms: impl IntoIterator<Item = impl Into<String>>) -> Applied {
        self.to_all().sockets_join(rooms)
    }

    /// Makes every socket of the namespace leave `rooms`.
    pub fn sockets_leave(&self, rooms: impl IntoIterator<Item = impl Into<String>>) -> Applied {
        self.to_all().sockets_leave(rooms)
    }

    /// Disconnects every socket of the namespace.
    pub fn disconnect_sockets(&self, close: bool) -> Applied {
        self.to_all().disconnect_sockets(close)
    }

    /// Rooms with their sizes, and the socket count.
    pub async fn rooms(&self) -> RoomSummary {
        self.core
            .rooms
            .summary
            .send(Summary)
            .await
            .unwrap_or_default()
    }

    /// socket.io's `serverSideEmit`: reaches the server-side handlers of
    /// the *other* nodes' namespace of the same name: the handler of
    /// `event` ([`NamespaceBuilder::on_server_side_event`]), else the
    /// catch-all ([`NamespaceBuilder::on_server_side`]). On a single node
    /// there is nobody else.
    ///
    /// [`NamespaceBuilder::on_server_side_event`]: crate::namespace::NamespaceBuilder::on_server_side_event
    /// [`NamespaceBuilder::on_server_side`]: crate::namespace::NamespaceBuilder::on_server_side
    pub fn server_side_emit(
        &self,
        event: &str,
        payload: impl Into<Payload>,
    ) -> Result<(), BroadcastError> {
        check_event(event)?;
        let sent = self
            .core
            .adapter
            .server_side_emit(event, &payload.into(), false, None);
        // Without an ack the adapter has published before it returns.
        drop(sent);
        Ok(())
    }

    /// socket.io's `serverSideEmitWithAck`: one answer per other node, or
    /// those that came within `timeout` (else the adapter's own timeout).
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Option<Duration>,
    ) -> Result<Vec<Payload>, ServerSideEmitError> {
        check_event(event)?;
        let adapter = &self.core.adapter;
        Ok(adapter
            .server_side_emit(event, &payload.into(), true, timeout)
            .await?)
    }

    /// How many nodes serve this namespace, this one included (socket.io's
    /// `serverCount`).
    pub async fn server_count(&self) -> Result<usize, ClusterError<usize>> {
        self.core.adapter.server_count().await
    }

    /// What this namespace's adapter sent to and received from the other nodes.
    pub fn adapter_counters(&self) -> AdapterCounters {
        self.core.adapter.counters()
    }

    /// Whether this namespace's adapter reaches the other nodes right now
    /// (always, for the local adapter): what a readiness probe asks.
    pub fn adapter_link_up(&self) -> bool {
        self.core.adapter.link_up()
    }

    /// What connection state recovery did in this namespace: sockets
    /// recovered, and not recovered by reason.
    pub fn recovery_counters(&self) -> crate::recovery::RecoveryCounters {
        self.core.stats.recovery.snapshot()
    }

    /// What this namespace has delivered, and what it dropped or refused and why.
    pub fn counters(&self) -> NamespaceCounters {
        let s = &self.core.stats;
        NamespaceCounters {
            delivered: s.delivered.load(Relaxed),
            volatile_dropped: s.volatile_dropped.load(Relaxed),
            slow_consumers: s.slow_consumers.load(Relaxed),
            overloaded: s.overloaded.load(Relaxed),
            listener_dropped: s.listener_dropped.load(Relaxed),
            rooms_refused: s.rooms_refused.load(Relaxed),
            acks_refused: s.acks_refused.load(Relaxed),
            requests_refused: s.requests_refused.load(Relaxed),
            broadcasts: s.broadcasts.load(Relaxed),
            acks_timed_out: s.acks_timed_out.load(Relaxed),
            disconnects: crate::client::DisconnectCounts(
                s.disconnects.each_ref().map(|c| c.load(Relaxed)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// socket.io's own strings, where it has one: `lib/broadcast-operator.ts`
    /// and `lib/namespace.ts`, and the adapters' for `serverSideEmit`.
    #[test]
    fn broadcast_and_cluster_errors_read_as_socket_io_s() {
        let timeout = BroadcastAckError::Timeout {
            expected: 3,
            missing: 1,
            responses: vec![Payload::from(json!(1)), Payload::from(json!(2))],
        };
        assert_eq!(timeout.to_string(), "operation has timed out");
        let reserved =
            BroadcastAckError::from(BroadcastError::from(EmitError::Reserved("connect".into())));
        assert_eq!(
            reserved.to_string(),
            r#""connect" is a reserved event name"#
        );
        let sse = ServerSideEmitError::from(EmitError::Reserved("disconnecting".into()));
        assert_eq!(
            sse.to_string(),
            r#""disconnecting" is a reserved event name"#
        );
        let partial = ClusterError::Timeout {
            expected: 2,
            missing: 1,
            partial: vec![Payload::from(json!("node-a"))],
        };
        assert_eq!(
            ServerSideEmitError::from(partial).to_string(),
            "timeout reached: only 1 responses received out of 2"
        );
        let none = ClusterError::<usize>::Timeout {
            expected: 3,
            missing: 3,
            partial: 0,
        };
        assert_eq!(
            none.to_string(),
            "timeout reached: only 0 responses received out of 3"
        );
    }

    /// Ours, where socket.io has none.
    #[test]
    fn errors_socket_io_has_no_string_for() {
        assert_eq!(
            BroadcastAckError::NoTimeout.to_string(),
            "an ack on a broadcast needs a timeout: call .timeout(d) first"
        );
        assert_eq!(
            BroadcastError::from(EffectError::Overloaded).to_string(),
            "the namespace's room registry is overloaded; the request was dropped"
        );
        let down = ClusterError::Unreachable {
            reason: "connection refused".into(),
            partial: 1usize,
        };
        assert_eq!(
            down.to_string(),
            "the cluster is unreachable: connection refused"
        );
    }
}
