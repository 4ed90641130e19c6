//! [`FetchedSocket`]: what `fetchSockets` gives, for a socket on this node
//! or on another one (socket.io's `RemoteSocket`): a snapshot of its id,
//! handshake, rooms and data, and the operations that reach it wherever it
//! lives.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::applied::Applied;
use super::operator::{BroadcastAckError, BroadcastError, BroadcastOperator, NamespaceRef};
use super::shared::{Fetch, NamespaceCore, SocketRef};
use switchyard_core::{ClusterError, Payload, SocketDetails};

/// A socket `fetch_sockets` found, here or on another node.
///
/// ```no_run
/// use serde_json::json;
/// use switchyard_socketio::socket::NamespaceRef;
///
/// async fn greet_room(ns: NamespaceRef) {
///     // io.in("lobby").fetchSockets(), across every node of the cluster
///     for socket in ns.within("lobby").fetch_sockets().await.unwrap_or_default() {
///         println!("{} is in {:?} with {}", socket.id(), socket.rooms(), socket.data());
///         let _ = socket.emit("hello", json!("from the server")).await;
///     }
/// }
/// ```
#[derive(Clone)]
pub struct FetchedSocket {
    details: SocketDetails,
    local: Option<SocketRef>,
    ns: Arc<NamespaceCore>,
}

impl FetchedSocket {
    pub(crate) fn local(socket: SocketRef, rooms: Vec<String>) -> FetchedSocket {
        let details = SocketDetails {
            id: socket.id().to_string(),
            handshake: serde_json::to_value(socket.handshake()).unwrap_or_default(),
            rooms,
            data: socket.data(),
        };
        FetchedSocket {
            details,
            ns: socket.info.ns.clone(),
            local: Some(socket),
        }
    }

    pub(crate) fn remote(ns: Arc<NamespaceCore>, details: SocketDetails) -> FetchedSocket {
        FetchedSocket {
            details,
            local: None,
            ns,
        }
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.details.id
    }

    /// Its rooms when fetched, its own id included.
    pub fn rooms(&self) -> &[String] {
        &self.details.rooms
    }

    /// Its `socket.data` when fetched.
    pub fn data(&self) -> &Value {
        &self.details.data
    }

    /// Its `socket.handshake`, as socket.io serialises it.
    pub fn handshake(&self) -> &Value {
        &self.details.handshake
    }

    /// The live handle when the socket is on this node.
    pub fn as_local(&self) -> Option<&SocketRef> {
        self.local.as_ref()
    }

    /// What another node is told about it.
    pub fn details(&self) -> SocketDetails {
        self.details.clone()
    }

    /// Reaches this socket wherever it lives.
    fn only(&self) -> BroadcastOperator {
        let op = BroadcastOperator::new(self.ns.clone(), None).to(self.id());
        if self.local.is_some() { op.local() } else { op }
    }

    /// Emits `event` to it.
    pub async fn emit(
        &self,
        event: &str,
        payload: impl Into<Payload>,
    ) -> Result<usize, BroadcastError> {
        self.only().emit(event, payload).await
    }

    /// Emits `event` and waits up to `timeout` for its answer.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> Result<Payload, BroadcastAckError> {
        let mut answers = self
            .only()
            .timeout(timeout)
            .emit_with_ack(event, payload)
            .await?;
        answers.pop().ok_or(BroadcastAckError::Timeout {
            expected: 1,
            missing: 1,
            responses: Vec::new(),
        })
    }

    /// Makes it join `rooms`.
    pub fn join(&self, rooms: impl IntoIterator<Item = impl Into<String>>) -> Applied {
        self.only().sockets_join(rooms)
    }

    /// Makes it leave `room`.
    pub fn leave(&self, room: impl Into<String>) -> Applied {
        self.only().sockets_leave([room.into()])
    }

    /// Disconnects it (`close`: its whole connection).
    pub fn disconnect(&self, close: bool) -> Applied {
        self.only().disconnect_sockets(close)
    }
}

// `fetchSockets` on the operators lives here, beside what it returns, so
// that the operators need not know `FetchedSocket`.
impl BroadcastOperator {
    /// The selected sockets, on every node unless `local` (socket.io's
    /// `fetchSockets`). Nodes that do not answer within the timeout (the
    /// operator's, else the adapter's own) give an error holding the rest.
    pub async fn fetch_sockets(
        self,
    ) -> Result<Vec<FetchedSocket>, ClusterError<Vec<FetchedSocket>>> {
        let remote = self
            .spans_nodes()
            .then(|| self.ns.adapter.fetch_sockets(&self.opts, self.timeout));
        let local = self.ns.rooms.fetch.send(Fetch {
            opts: self.opts.clone(),
        });
        let mut sockets: Vec<FetchedSocket> = (local.await.unwrap_or_default().into_iter())
            .map(|(socket, rooms)| FetchedSocket::local(socket, rooms))
            .collect();
        let Some(remote) = remote else {
            return Ok(sockets);
        };
        let ns = &self.ns;
        let to_fetched = |details: Vec<SocketDetails>| {
            (details.into_iter()).map(|d| FetchedSocket::remote(ns.clone(), d))
        };
        match remote.await {
            Ok(details) => {
                sockets.extend(to_fetched(details));
                Ok(sockets)
            }
            Err(ClusterError::Timeout {
                expected,
                missing,
                partial,
            }) => {
                sockets.extend(to_fetched(partial));
                Err(ClusterError::Timeout {
                    expected,
                    missing,
                    partial: sockets,
                })
            }
            Err(ClusterError::Unreachable { reason, partial }) => {
                sockets.extend(to_fetched(partial));
                Err(ClusterError::Unreachable {
                    reason,
                    partial: sockets,
                })
            }
        }
    }
}

impl NamespaceRef {
    /// Every socket of the namespace, on every node (socket.io's `nsp.fetchSockets()`).
    pub async fn fetch_sockets(
        &self,
    ) -> Result<Vec<FetchedSocket>, ClusterError<Vec<FetchedSocket>>> {
        self.to_all().fetch_sockets().await
    }
}
