//! The Socket.IO client: one per Engine.IO session, running inside it as its
//! [`EngineHandler`]. Decodes Socket.IO packets, routes them to the socket
//! of their namespace, and owns the connect timeout.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::{Addr, Arbiter, SpawnHandle};
use serde_json::json;

use super::IoShared;
use crate::engine::{
    CloseReason, EngineHandler, Frame, Message, Outgoing, ProtocolVersion, SessionCtx,
};
use crate::namespace::JoinRequest;
use crate::protocol::{Decoder, Packet, PacketKind};
use crate::socket::{Closed, DisconnectReason, Inbound, MiddlewareError, SocketActor, SocketRef};

/// Encodes a Socket.IO packet as the Engine.IO frames that carry it.
pub(crate) fn frames(packet: &Packet, version: ProtocolVersion) -> Vec<Frame> {
    let (text, attachments) = packet.encode();
    let mut out = Vec::with_capacity(1 + attachments.len());
    out.push(crate::engine::packet::Packet::Message(text).encode(version));
    out.extend(
        attachments
            .into_iter()
            .map(|b| crate::engine::packet::Packet::Binary(b).encode(version)),
    );
    out
}

/// What namespaces and sockets tell the client.
pub enum ClientUpcall {
    /// The namespace admitted the client: `socket` is its new socket, run by `actor`.
    Connected {
        socket: SocketRef,
        actor: Addr<SocketActor>,
    },
    /// A connect middleware refused the client.
    ConnectFailed { nsp: String, error: MiddlewareError },
    /// The server disconnects socket `id` of `nsp` (`close`: every socket and the connection).
    Disconnect {
        nsp: String,
        id: Arc<str>,
        close: bool,
    },
}

/// One namespace the client is connected to.
struct Joined {
    id: Arc<str>,
    actor: Addr<SocketActor>,
}

pub struct Client {
    io: Arc<IoShared>,
    decoder: Decoder,
    sockets: HashMap<String, Joined>,
    connecting: HashSet<String>,
    connect_timer: Option<SpawnHandle>,
}

impl Client {
    pub(super) fn new(io: Arc<IoShared>) -> Client {
        let decoder = Decoder::new(io.max_attachments);
        Client {
            io,
            decoder,
            sockets: HashMap::new(),
            connecting: HashSet::new(),
            connect_timer: None,
        }
    }

    fn send(&self, packet: &Packet, s: &mut SessionCtx<'_, Self>) {
        let out = Outgoing::new(frames(packet, s.version()));
        s.send_frames(out);
    }

    fn on_packet(&mut self, packet: Packet, s: &mut SessionCtx<'_, Self>) {
        match packet.kind {
            PacketKind::Connect => self.connect(packet, s),
            PacketKind::Disconnect => {
                if let Some(socket) = self.sockets.remove(&packet.nsp) {
                    // Bounded: once per socket, which has just left the map.
                    socket
                        .actor
                        .do_send(Closed(DisconnectReason::ClientNamespaceDisconnect));
                }
            }
            PacketKind::Event
            | PacketKind::BinaryEvent
            | PacketKind::Ack
            | PacketKind::BinaryAck => {
                let Some(socket) = self.sockets.get(&packet.nsp) else {
                    return;
                };
                if socket.actor.try_send(Inbound(packet)).is_err() {
                    log::warn!("session {}: socket mailbox full, closing", s.sid());
                    s.close(CloseReason::TransportError);
                }
            }
            PacketKind::ConnectError => s.close(CloseReason::ParseError),
        }
    }

    fn connect(&mut self, packet: Packet, s: &mut SessionCtx<'_, Self>) {
        let nsp = packet.nsp;
        if self.sockets.contains_key(&nsp) || self.connecting.contains(&nsp) {
            return;
        }
        let Some(namespace) = self.io.namespace(&nsp) else {
            self.send(&Packet::connect_error(nsp, "Invalid namespace"), s);
            return;
        };
        let join = JoinRequest {
            session: s.handle(),
            auth: packet.data.unwrap_or_else(|| json!({})),
            request: s.request().clone(),
            arbiter: Arbiter::current(),
        };
        if namespace.local().try_send(join).is_err() {
            log::warn!(
                "session {}: namespace {nsp} is overloaded, refusing",
                s.sid()
            );
            let packet = Packet::connect_error(nsp, "Server overloaded, try again later");
            self.send(&packet, s);
            return;
        }
        self.connecting.insert(nsp);
    }

    fn disconnect(&mut self, nsp: &str, s: &mut SessionCtx<'_, Self>) {
        if let Some(socket) = self.sockets.remove(nsp) {
            self.send(&Packet::disconnect(nsp), s);
            // Bounded: once per socket, which has just left the map.
            socket
                .actor
                .do_send(Closed(DisconnectReason::ServerNamespaceDisconnect));
        }
    }
}

impl EngineHandler for Client {
    type Upcall = ClientUpcall;

    fn on_open(&mut self, s: &mut SessionCtx<'_, Self>) {
        let timeout = self.io.connect_timeout;
        self.connect_timer = Some(s.run_later(timeout, move |client, s| {
            if client.sockets.is_empty() {
                log::debug!("session {}: no namespace joined in {timeout:?}", s.sid());
                s.close(CloseReason::ForcedClose);
            }
        }));
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
                s.close(CloseReason::ParseError);
            }
        }
    }

    fn on_upcall(&mut self, upcall: ClientUpcall, s: &mut SessionCtx<'_, Self>) {
        match upcall {
            ClientUpcall::Connected { socket, actor } => {
                let nsp = socket.nsp().to_string();
                let id: Arc<str> = socket.id().into();
                self.connecting.remove(&nsp);
                if let Some(timer) = self.connect_timer.take() {
                    s.cancel(timer);
                }
                self.send(
                    &Packet::connect(nsp.clone(), Some(json!({ "sid": &*id }))),
                    s,
                );
                // Targetable from now on: whatever a broadcast writes is queued
                // after CONNECT, since this upcall holds the direct path shut.
                socket.register();
                self.sockets.insert(nsp, Joined { id, actor });
            }
            ClientUpcall::ConnectFailed { nsp, error } => {
                self.connecting.remove(&nsp);
                let mut body = json!({ "message": error.message });
                if let Some(data) = error.data {
                    body["data"] = data;
                }
                self.send(
                    &Packet {
                        data: Some(body),
                        ..Packet::new(PacketKind::ConnectError, nsp)
                    },
                    s,
                );
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

    fn on_close(&mut self, reason: CloseReason, _: &mut SessionCtx<'_, Self>) {
        for (_, socket) in self.sockets.drain() {
            socket.actor.do_send(Closed(reason.into()));
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("namespaces", &self.sockets.keys().collect::<Vec<_>>())
            .finish()
    }
}
