//! The Socket.IO client: one per Engine.IO session, running inside it as its
//! [`EngineHandler`]. Decodes Socket.IO packets, routes them to the socket
//! of their namespace, writes CONNECT, CONNECT_ERROR and DISCONNECT, and
//! owns the connect timeout.
//!
//! The bottom of the Socket.IO layer: it knows sockets and namespaces only
//! as the [`SocketPath`] of each socket, the [`JoinRequest`] it sends and
//! the [`Namespaces`] it is given, so it imports nothing above it.

mod conn;
mod encode;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use actix::{Arbiter, ArbiterHandle, SpawnHandle};
use serde_json::{Value, json};

pub(crate) use conn::ConnShared;
pub use conn::{ClientView, Connection, Upgraded};
pub(crate) use encode::{Encoded, Reply, frames, payload_frames};

use switchyard_core::protocol::{Decoder, Packet, PacketKind, Parser};
use switchyard_engineio::{
    CloseReason, EngineHandler, Message, Outgoing, ProtocolVersion, RequestInfo, SessionCtx,
    SessionHandle,
};

/// Why a socket disconnected; the strings are socket.io's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The transport failed or fell behind its outgoing bound.
    TransportError,
    /// The client closed the connection.
    TransportClose,
    /// The server disconnected the socket (`socket.disconnect()`).
    ServerNamespaceDisconnect,
    /// The client disconnected the socket (`socket.disconnect()` on its side).
    ClientNamespaceDisconnect,
    /// The client did not answer a ping in time.
    PingTimeout,
    /// The client sent a packet that could not be parsed.
    ParseError,
    /// The server closed the whole connection.
    ForcedClose,
    /// The server is stopping.
    ServerShutdown,
}

impl DisconnectReason {
    /// Every reason, in declaration order (the order of [`DisconnectCounts`]).
    pub const ALL: [DisconnectReason; 8] = [
        DisconnectReason::TransportError,
        DisconnectReason::TransportClose,
        DisconnectReason::ServerNamespaceDisconnect,
        DisconnectReason::ClientNamespaceDisconnect,
        DisconnectReason::PingTimeout,
        DisconnectReason::ParseError,
        DisconnectReason::ForcedClose,
        DisconnectReason::ServerShutdown,
    ];

    /// socket.io's name for the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ServerShutdown => "server shutting down",
        }
    }

    /// Whether a socket that ends this way may be recovered: the transport
    /// went, not the server or the client by choice (socket.io's
    /// `RECOVERABLE_DISCONNECT_REASONS`).
    pub fn recoverable(self) -> bool {
        matches!(
            self,
            DisconnectReason::TransportError
                | DisconnectReason::TransportClose
                | DisconnectReason::ForcedClose
                | DisconnectReason::PingTimeout
                | DisconnectReason::ServerShutdown
        )
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
            CloseReason::ServerShutdown => DisconnectReason::ServerShutdown,
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What reaches a socket's actor from its client.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub(crate) enum ToSocket {
    /// A packet for the socket: EVENT or ACK (DISCONNECT is `Closed`).
    Inbound(Packet),
    /// The connection (or the client, for this namespace) is gone.
    Closed(DisconnectReason),
}

/// How the client reaches one of its sockets, in order.
pub(crate) trait SocketPath: Send + Sync + 'static {
    /// An EVENT or ACK packet for the socket.
    fn packet(&self, packet: Packet) -> Result<(), SocketMailboxFull>;
    /// The connection (or the client, for this namespace) is gone.
    fn closed(&self, reason: DisconnectReason);
}

/// A socket's mailbox is at its bound (or the socket is gone): the client
/// is closed rather than the mailbox grown.
#[derive(Debug)]
pub(crate) struct SocketMailboxFull;

/// A client asks to join a namespace.
#[derive(actix::Message)]
#[rtype(result = "()")]
pub(crate) struct JoinRequest {
    pub session: SessionHandle<Client>,
    pub auth: Value,
    pub request: Arc<RequestInfo>,
    /// What the connection's sockets share (`socket.conn`, `socket.client`).
    pub conn: Arc<ConnShared>,
    /// Where the socket actor runs: beside its session.
    pub arbiter: ArbiterHandle,
}

/// Why a namespace did not take a [`JoinRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinRefused {
    /// No such namespace (and no dynamic family matches).
    Unknown,
    /// Its supervisor's mailbox is full.
    Overloaded,
}

/// The server's namespaces, as the client reaches them.
pub(crate) trait Namespaces: Send + Sync + 'static {
    /// Hands `join` to namespace `nsp` without waiting.
    fn join(&self, nsp: &str, join: JoinRequest) -> Result<(), JoinRefused>;
}

/// What a client needs to know besides its namespaces.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    pub connect_timeout: Duration,
    pub max_attachments: usize,
    /// Most namespaces one connection may join (0: no bound).
    pub max_namespaces: usize,
    /// Deepest JSON nesting a packet may have.
    pub max_json_depth: usize,
    /// The packet encoding.
    pub parser: Parser,
    /// What every client refused.
    pub counters: Arc<ClientStats>,
}

/// What clients refused, over every connection.
#[derive(Debug, Default)]
pub(crate) struct ClientStats {
    /// CONNECTs past `max_namespaces`.
    pub namespaces_refused: AtomicU64,
    /// Connections closed for a packet that did not parse (too many
    /// attachments, JSON nested too deep or malformed, ...).
    pub parse_errors: AtomicU64,
}

/// Sockets disconnected, by reason: one count per [`DisconnectReason::ALL`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DisconnectCounts(pub(crate) [u64; DisconnectReason::ALL.len()]);

impl DisconnectCounts {
    /// Sockets that ended for `reason`.
    pub fn get(&self, reason: DisconnectReason) -> u64 {
        self.0[reason as usize]
    }

    /// Every reason with its count, in [`DisconnectReason::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (DisconnectReason, u64)> + '_ {
        DisconnectReason::ALL.into_iter().zip(self.0)
    }
}

/// A copy of what clients refused, over every connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientCounters {
    /// CONNECTs refused: the connection was at `max_namespaces_per_client`.
    pub namespaces_refused: u64,
    /// Connections closed for a packet that did not parse (too many
    /// attachments, JSON nested too deep, malformed).
    pub parse_errors: u64,
}

impl ClientStats {
    pub fn snapshot(&self) -> ClientCounters {
        ClientCounters {
            namespaces_refused: self.namespaces_refused.load(Relaxed),
            parse_errors: self.parse_errors.load(Relaxed),
        }
    }
}

/// What namespaces and sockets tell the client.
pub enum ClientUpcall {
    /// The namespace admitted the client to `nsp` as socket `id`.
    Connected(Admitted),
    /// A connect middleware refused the client.
    ConnectFailed {
        /// The namespace.
        nsp: String,
        /// The error's message, for the CONNECT_ERROR packet.
        message: String,
        /// The error's data, if any.
        data: Option<Value>,
    },
    /// The server disconnects socket `id` of `nsp` (`close`: every socket and the connection).
    Disconnect {
        /// The namespace.
        nsp: String,
        /// The socket; ignored if the namespace has another socket by now.
        id: Arc<str>,
        /// Whether to close the whole connection.
        close: bool,
    },
}

/// A socket the client now routes packets to.
pub struct Admitted {
    pub(crate) nsp: String,
    pub(crate) id: Arc<str>,
    /// The private id the client recovers the socket with, if it may.
    pub(crate) pid: Option<Arc<str>>,
    pub(crate) socket: Arc<dyn SocketPath>,
    /// Makes the socket targetable in its rooms; run right after CONNECT is queued.
    pub(crate) register: Box<dyn FnOnce() + Send>,
}

/// One namespace the client is connected to.
struct Joined {
    id: Arc<str>,
    socket: Arc<dyn SocketPath>,
}

/// The Socket.IO side of one Engine.IO session.
pub struct Client {
    namespaces: Arc<dyn Namespaces>,
    config: ClientConfig,
    decoder: Decoder,
    sockets: HashMap<String, Joined>,
    connecting: HashSet<String>,
    connect_timer: Option<SpawnHandle>,
    /// Whether a CONNECT past `max_namespaces` was refused (and logged).
    over_namespaces: bool,
    /// What the connection's sockets share, kept up to date here.
    conn: Arc<ConnShared>,
}

impl Client {
    pub(crate) fn new(namespaces: Arc<dyn Namespaces>, config: ClientConfig) -> Client {
        Client {
            namespaces,
            decoder: Decoder::new(config.max_attachments)
                .with_max_depth(config.max_json_depth)
                .with_parser(config.parser),
            config,
            sockets: HashMap::new(),
            connecting: HashSet::new(),
            connect_timer: None,
            over_namespaces: false,
            conn: Arc::default(),
        }
    }

    fn send(&self, packet: &Packet, s: &mut SessionCtx<'_, Self>) {
        let out = Outgoing::new(frames(packet, self.config.parser, s.version()));
        s.send_frames(out);
    }

    fn on_packet(&mut self, packet: Packet, s: &mut SessionCtx<'_, Self>) {
        match packet.kind {
            PacketKind::Connect => self.connect(packet, s),
            PacketKind::Disconnect => {
                if let Some(socket) = self.sockets.remove(&packet.nsp) {
                    self.conn.left(&packet.nsp);
                    let reason = DisconnectReason::ClientNamespaceDisconnect;
                    closed(&packet.nsp, socket, reason, s);
                }
            }
            PacketKind::Event
            | PacketKind::BinaryEvent
            | PacketKind::Ack
            | PacketKind::BinaryAck => {
                let Some(socket) = self.sockets.get(&packet.nsp) else {
                    return;
                };
                if socket.socket.packet(packet).is_err() {
                    log::warn!("session {}: socket mailbox full, closing", s.sid());
                    s.close(CloseReason::TransportError);
                }
            }
            PacketKind::ConnectError => s.close(CloseReason::ParseError),
        }
    }

    fn connect(&mut self, packet: Packet, s: &mut SessionCtx<'_, Self>) {
        let (nsp, auth) = match s.version() {
            // Protocol v4 clients put their query in the namespace; it is their auth.
            ProtocolVersion::V3 => legacy_connect(&packet.nsp),
            ProtocolVersion::V4 => (packet.nsp, packet.data.unwrap_or_else(|| json!({}))),
        };
        if self.sockets.contains_key(&nsp) || self.connecting.contains(&nsp) {
            return;
        }
        let max = self.config.max_namespaces;
        if max > 0 && self.sockets.len() + self.connecting.len() >= max {
            self.config
                .counters
                .namespaces_refused
                .fetch_add(1, Relaxed);
            // Logged once per connection, however many it sends.
            if !std::mem::replace(&mut self.over_namespaces, true) {
                log::warn!(
                    "sid={}: CONNECTs past max_namespaces_per_client ({max}) refused",
                    s.sid()
                );
            }
            let message = format!("Too many namespaces on one connection (at most {max})");
            return self.send_connect_error(nsp, message, None, s);
        }
        let join = JoinRequest {
            session: s.handle(),
            auth,
            request: s.request().clone(),
            conn: self.conn.clone(),
            arbiter: Arbiter::current(),
        };
        match self.namespaces.join(&nsp, join) {
            Ok(()) => {}
            Err(JoinRefused::Unknown) => {
                return self.connect_error(nsp, "Invalid namespace".into(), None, s);
            }
            Err(JoinRefused::Overloaded) => {
                log::warn!(
                    "session {}: namespace {nsp} is overloaded, refusing",
                    s.sid()
                );
                let message = "Server overloaded, try again later".into();
                return self.connect_error(nsp, message, None, s);
            }
        }
        self.connecting.insert(nsp);
    }

    /// CONNECT_ERROR in the client's protocol: `{message, data}` (v5), or
    /// the data, else the message, alone (v4, as socket.io does for
    /// Engine.IO v3 clients).
    fn connect_error(
        &self,
        nsp: String,
        message: String,
        data: Option<Value>,
        s: &mut SessionCtx<'_, Self>,
    ) {
        log::info!("namespace {nsp} refused to sid={}: {message}", s.sid());
        self.send_connect_error(nsp, message, data, s);
    }

    fn send_connect_error(
        &self,
        nsp: String,
        message: String,
        data: Option<Value>,
        s: &mut SessionCtx<'_, Self>,
    ) {
        let body = match s.version() {
            ProtocolVersion::V3 => data.unwrap_or(Value::String(message)),
            ProtocolVersion::V4 => {
                let mut body = json!({ "message": message });
                if let Some(data) = data {
                    body["data"] = data;
                }
                body
            }
        };
        let packet = Packet {
            data: Some(body),
            ..Packet::new(PacketKind::ConnectError, nsp)
        };
        self.send(&packet, s);
    }

    fn disconnect(&mut self, nsp: &str, s: &mut SessionCtx<'_, Self>) {
        if let Some(socket) = self.sockets.remove(nsp) {
            self.conn.left(nsp);
            self.send(&Packet::disconnect(nsp), s);
            closed(nsp, socket, DisconnectReason::ServerNamespaceDisconnect, s);
        }
    }
}

/// Tells a socket that has just left the map that it is closed, and logs it.
fn closed(nsp: &str, socket: Joined, reason: DisconnectReason, s: &SessionCtx<'_, Client>) {
    log::info!(
        "disconnect nsp={nsp} socket={} sid={} transport={} eio={} reason={reason}",
        socket.id,
        s.sid(),
        s.transport(),
        s.version()
    );
    socket.socket.closed(reason);
}

impl EngineHandler for Client {
    type Upcall = ClientUpcall;

    fn on_open(&mut self, s: &mut SessionCtx<'_, Self>) {
        let timeout = self.config.connect_timeout;
        self.connect_timer = Some(s.run_later(timeout, move |client, s| {
            if client.sockets.is_empty() {
                log::debug!("session {}: no namespace joined in {timeout:?}", s.sid());
                s.close(CloseReason::ForcedClose);
            }
        }));
        // A protocol v4 client is in `/` without asking (socket.io 2 did that).
        if s.version() == ProtocolVersion::V3 {
            self.connect(Packet::connect("/", None), s);
        }
    }

    fn on_message(&mut self, message: Message, s: &mut SessionCtx<'_, Self>) {
        let decoded = match message {
            Message::Text(text) => self.decoder.feed_text(&text),
            Message::Binary(data) => self.decoder.feed_binary(data),
        };
        match decoded {
            Ok(Some(packet)) => self.on_packet(packet, s),
            Ok(None) => {}
            Err(e) => {
                log::debug!("session {}: parse error: {e}", s.sid());
                self.config.counters.parse_errors.fetch_add(1, Relaxed);
                s.close(CloseReason::ParseError);
            }
        }
    }

    fn on_upcall(&mut self, upcall: ClientUpcall, s: &mut SessionCtx<'_, Self>) {
        match upcall {
            ClientUpcall::Connected(Admitted {
                nsp,
                id,
                pid,
                socket,
                register,
            }) => {
                self.connecting.remove(&nsp);
                if let Some(timer) = self.connect_timer.take() {
                    s.cancel(timer);
                }
                log::info!(
                    "connect nsp={nsp} socket={id} sid={} transport={} eio={}",
                    s.sid(),
                    s.transport(),
                    s.version()
                );
                // Protocol v4 clients derive their id themselves.
                let data = (s.version() == ProtocolVersion::V4).then(|| match &pid {
                    Some(pid) => json!({ "sid": &*id, "pid": &**pid }),
                    None => json!({ "sid": &*id }),
                });
                self.send(&Packet::connect(nsp.clone(), data), s);
                // Targetable from now on: whatever a broadcast writes is queued
                // after CONNECT, since this upcall holds the direct path shut.
                register();
                self.conn.joined(&nsp, id.clone());
                self.sockets.insert(nsp, Joined { id, socket });
            }
            ClientUpcall::ConnectFailed { nsp, message, data } => {
                self.connecting.remove(&nsp);
                self.connect_error(nsp, message, data, s);
            }
            ClientUpcall::Disconnect { nsp, id, close } => {
                // Only the socket that asked: the client may have reconnected since.
                if self.sockets.get(&nsp).is_none_or(|j| j.id != id) {
                    return;
                }
                if !close {
                    return self.disconnect(&nsp, s);
                }
                let all: Vec<String> = self.sockets.keys().cloned().collect();
                for nsp in all {
                    self.disconnect(&nsp, s);
                }
                s.close(CloseReason::ForcedClose);
            }
        }
    }

    fn on_upgrade(&mut self, s: &mut SessionCtx<'_, Self>) {
        log::debug!("session {}: upgraded to {}", s.sid(), s.transport());
        self.conn.upgraded(s.sid());
    }

    fn on_close(&mut self, reason: CloseReason, s: &mut SessionCtx<'_, Self>) {
        for (nsp, socket) in self.sockets.drain() {
            self.conn.left(&nsp);
            closed(&nsp, socket, reason.into(), s);
        }
    }
}

/// A protocol v4 CONNECT's namespace, `/nsp?query`, as the namespace and
/// the query as an object (a repeated key gives an array), as socket.io
/// reads it for Engine.IO v3 clients.
fn legacy_connect(nsp: &str) -> (String, Value) {
    let (path, query) = nsp.split_once('?').unwrap_or((nsp, ""));
    let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let mut auth = serde_json::Map::new();
    for (key, value) in pairs {
        match auth.get_mut(&key) {
            None => drop(auth.insert(key, Value::String(value))),
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(first) => *first = json!([first.take(), value]),
        }
    }
    (path.to_owned(), Value::Object(auth))
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("namespaces", &self.sockets.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::{DisconnectReason, legacy_connect};
    use serde_json::json;

    /// `DisconnectReason::ALL` is in declaration order, so a reason's
    /// discriminant is its counter's index; the match fails to compile when
    /// a reason is added, pointing here.
    #[test]
    fn every_reason_is_listed_at_its_index() {
        for (i, reason) in DisconnectReason::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, i, "{reason:?}");
            match reason {
                DisconnectReason::TransportError
                | DisconnectReason::TransportClose
                | DisconnectReason::ServerNamespaceDisconnect
                | DisconnectReason::ClientNamespaceDisconnect
                | DisconnectReason::PingTimeout
                | DisconnectReason::ParseError
                | DisconnectReason::ForcedClose
                | DisconnectReason::ServerShutdown => {}
            }
        }
    }

    #[test]
    fn a_legacy_connect_query_becomes_the_auth() {
        assert_eq!(legacy_connect("/"), ("/".into(), json!({})));
        assert_eq!(
            legacy_connect("/private?token=s%20t&a=1&a=2&a=3"),
            (
                "/private".into(),
                json!({"token": "s t", "a": ["1", "2", "3"]})
            )
        );
    }
}
