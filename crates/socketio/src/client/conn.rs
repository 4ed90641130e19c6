//! socket.io's `socket.conn` and `socket.client`: what a client's sockets
//! share about their one connection. [`Connection`] reads the Engine.IO
//! session (transport, ready state, address, protocol) and tells listeners
//! of the upgrade; [`ClientView`] lists the connection's sockets in every
//! namespace.
//!
//! Owns: the per-connection record the client keeps up to date (its
//! sockets, its upgrade listeners). Must not touch: routing, sockets'
//! state, the transport.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use actix::Recipient;

use super::Client;
use switchyard_engineio::{ProtocolVersion, RequestInfo, SessionHandle};

/// The connection moved from HTTP long-polling to WebSocket (socket.io's
/// `socket.conn.on("upgrade")`); see [`Connection::on_upgrade`].
#[derive(actix::Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Upgraded {
    /// The connection's id (the Engine.IO session id).
    pub conn_id: Arc<str>,
    /// The transport it is on now: `websocket`.
    pub transport: &'static str,
}

/// What one connection's sockets share; kept up to date by its client.
#[derive(Default)]
pub(crate) struct ConnShared {
    upgrades: Mutex<Vec<Recipient<Upgraded>>>,
    /// The connection's sockets: namespace to socket id.
    sockets: Mutex<BTreeMap<String, Arc<str>>>,
    /// Upgrade notices a listener missed because its mailbox was full.
    dropped: AtomicU64,
}

impl ConnShared {
    pub fn joined(&self, nsp: &str, id: Arc<str>) {
        self.lock_sockets().insert(nsp.to_string(), id);
    }

    pub fn left(&self, nsp: &str) {
        self.lock_sockets().remove(nsp);
    }

    fn lock_sockets(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<str>>> {
        self.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells every upgrade listener, once; the list is emptied since a
    /// connection upgrades at most once.
    pub fn upgraded(&self, conn_id: &Arc<str>) {
        let listeners =
            std::mem::take(&mut *self.upgrades.lock().unwrap_or_else(|e| e.into_inner()));
        for r in listeners {
            let notice = Upgraded {
                conn_id: conn_id.clone(),
                transport: "websocket",
            };
            if r.try_send(notice).is_err() {
                self.dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

/// socket.io's `socket.conn`: the Engine.IO connection under a socket,
/// shared by the sockets one client has in several namespaces.
#[derive(Clone)]
pub struct Connection {
    pub(crate) session: SessionHandle<Client>,
    pub(crate) shared: Arc<ConnShared>,
}

impl Connection {
    /// The connection's id (the Engine.IO `sid`; socket.io's `socket.conn.id`).
    pub fn id(&self) -> &str {
        self.session.sid()
    }

    /// The transport now: `polling` or `websocket` (`socket.conn.transport.name`).
    pub fn transport(&self) -> &'static str {
        self.session.transport()
    }

    /// `open`, `closing` or `closed` (`socket.conn.readyState`).
    pub fn ready_state(&self) -> &'static str {
        self.session.ready_state()
    }

    /// The peer's address (`socket.conn.remoteAddress`), when known.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        self.session.request().remote_addr
    }

    /// The Engine.IO protocol revision: 4, or 3 for socket.io 2 clients
    /// (`socket.conn.protocol`).
    pub fn protocol(&self) -> u8 {
        match self.session.version() {
            ProtocolVersion::V3 => 3,
            ProtocolVersion::V4 => 4,
        }
    }

    /// The HTTP request that opened the connection (`socket.conn.request`).
    pub fn request(&self) -> &Arc<RequestInfo> {
        self.session.request()
    }

    /// Tells `r` once when the connection upgrades to WebSocket (socket.io's
    /// `socket.conn.once("upgrade")`). Already on WebSocket: told at once.
    /// A listener whose mailbox is full misses the notice (counted in
    /// [`Self::upgrade_notices_dropped`]).
    pub fn on_upgrade(&self, r: Recipient<Upgraded>) {
        {
            let mut list = self
                .shared
                .upgrades
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if self.transport() == "polling" {
                list.push(r);
                return;
            }
        }
        let notice = Upgraded {
            conn_id: self.session.sid().clone(),
            transport: self.transport(),
        };
        if r.try_send(notice).is_err() {
            self.shared.dropped.fetch_add(1, Relaxed);
        }
    }

    /// Upgrade notices missed because a listener's mailbox was full.
    pub fn upgrade_notices_dropped(&self) -> u64 {
        self.shared.dropped.load(Relaxed)
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id())
            .field("transport", &self.transport())
            .finish()
    }
}

/// socket.io's `socket.client`: the client behind a socket, with its
/// sockets in every namespace of the same connection.
#[derive(Clone)]
pub struct ClientView {
    pub(crate) conn: Connection,
}

impl ClientView {
    /// The client's id: its connection's (`socket.client.id`).
    pub fn id(&self) -> &str {
        self.conn.id()
    }

    /// The connection (`socket.client.conn`).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The client's sockets, `(namespace, socket id)`, by namespace
    /// (`socket.client.sockets` / `nsps`). Reach one with
    /// `io.of(nsp)` and [`fetch_sockets`](crate::socket::BroadcastOperator::fetch_sockets).
    pub fn sockets(&self) -> Vec<(String, String)> {
        self.conn
            .shared
            .lock_sockets()
            .iter()
            .map(|(nsp, id)| (nsp.clone(), id.to_string()))
            .collect()
    }
}

impl std::fmt::Debug for ClientView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientView")
            .field("id", &self.id())
            .field("sockets", &self.sockets())
            .finish()
    }
}
