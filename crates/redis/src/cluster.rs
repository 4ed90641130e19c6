//! socket.io-adapter's cluster messages (`ClusterAdapter`, and the
//! heartbeats of `ClusterAdapterWithHeartbeat`), without their envelope:
//! each [`Request`] and [`Response`] as a message type and its `data`, and
//! back. The sharded dialect wraps them in `{type, data, uid, nsp}` on
//! pub/sub channels, the streams dialect in the fields of a stream entry.
//! Pure; see section 4 of `docs/redis-adapter-wire.md` and
//! `docs/redis-streams-wire.md`.

use rmpv::Value as Mp;

use super::sessions;
use super::wire::{self, Broadcast, Incoming, Operation, Request, Response, get, get_str, map};
use switchyard_core::{BroadcastOptions, Payload};

/// socket.io-adapter's `MessageType`.
pub(crate) mod kind {
    pub const INITIAL_HEARTBEAT: u64 = 1;
    pub const HEARTBEAT: u64 = 2;
    pub const BROADCAST: u64 = 3;
    pub const SOCKETS_JOIN: u64 = 4;
    pub const SOCKETS_LEAVE: u64 = 5;
    pub const DISCONNECT_SOCKETS: u64 = 6;
    pub const FETCH_SOCKETS: u64 = 7;
    pub const FETCH_SOCKETS_RESPONSE: u64 = 8;
    pub const SERVER_SIDE_EMIT: u64 = 9;
    pub const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
    pub const BROADCAST_CLIENT_COUNT: u64 = 11;
    pub const BROADCAST_ACK: u64 = 12;
    pub const ADAPTER_CLOSE: u64 = 13;
    /// Switchyard's own: [`Operation::HandOver`](super::Operation::HandOver)
    /// and its answer (Node ignores the types).
    pub const HAND_OVER: u64 = 1001;
    pub const HAND_OVER_RESPONSE: u64 = 1002;
}

/// A message's type and `data` (absent for heartbeats).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub kind: u64,
    pub data: Option<Mp>,
}

/// The opts with every flag that differs from socket.io's defaults.
fn full_opts(opts: &BroadcastOptions, timeout_ms: Option<u64>) -> Mp {
    wire::opts(opts, Some(wire::flags(opts, timeout_ms)))
}

/// A request as a cluster message; `None` for those the cluster adapter
/// does not have (classic only).
pub(crate) fn request(request: &Request) -> Option<Message> {
    match request {
        Request::Broadcast(b) => Some(broadcast(b)),
        Request::Operation(o) => operation(o),
    }
}

/// An event as a cluster message's `packet` (no namespace: the envelope names it).
fn packet(event: &str, payload: &Payload) -> Option<Mp> {
    Some(wire::packet(None, event, payload))
}

/// A broadcast as a cluster message.
fn broadcast(b: &Broadcast) -> Message {
    // `offset` is Switchyard's own (Node reads only packet and opts).
    let data = map([
        ("packet", packet(&b.event, &b.payload)),
        ("opts", Some(full_opts(&b.opts, None))),
        ("offset", b.offset.as_deref().map(Mp::from)),
    ]);
    Message {
        kind: kind::BROADCAST,
        data: Some(data),
    }
}

/// An operation as a cluster message; `None` for those the cluster adapter
/// does not have (classic only).
fn operation(operation: &Operation) -> Option<Message> {
    let (kind, data) = match operation {
        Operation::BroadcastWithAck {
            id,
            event,
            payload,
            opts,
            timeout_ms,
        } => {
            let data = map([
                ("packet", packet(event, payload)),
                ("requestId", Some(Mp::from(id.as_str()))),
                ("opts", Some(full_opts(opts, *timeout_ms))),
            ]);
            (kind::BROADCAST, data)
        }
        Operation::Rooms { opts, rooms, join } => {
            let data = map([
                ("opts", Some(full_opts(opts, None))),
                ("rooms", Some(wire::strings(rooms))),
            ]);
            let kind = match join {
                true => kind::SOCKETS_JOIN,
                false => kind::SOCKETS_LEAVE,
            };
            (kind, data)
        }
        Operation::Disconnect { opts, close } => {
            let data = map([
                ("opts", Some(full_opts(opts, None))),
                ("close", Some(Mp::from(*close))),
            ]);
            (kind::DISCONNECT_SOCKETS, data)
        }
        Operation::Fetch { id, opts } => {
            let data = map([
                ("opts", Some(full_opts(opts, None))),
                ("requestId", Some(Mp::from(id.as_str()))),
            ]);
            (kind::FETCH_SOCKETS, data)
        }
        Operation::ServerSide { id, event, payload } => {
            let data = map([
                ("requestId", id.as_deref().map(Mp::from)),
                ("packet", Some(wire::event_data(event, payload))),
            ]);
            (kind::SERVER_SIDE_EMIT, data)
        }
        Operation::HandOver { id, pid } => (
            kind::HAND_OVER,
            map([
                ("requestId", Some(Mp::from(id.as_str()))),
                ("pid", Some(Mp::from(pid.as_str()))),
            ]),
        ),
        Operation::SocketIds { .. } | Operation::AllRooms { .. } => return None,
    };
    Some(Message {
        kind,
        data: Some(data),
    })
}

/// An answer to request `id` as a cluster message; `None` for those the
/// cluster adapter does not have (classic only).
pub(crate) fn response(id: &str, response: &Response) -> Option<Message> {
    let id = Some(Mp::from(id));
    let (kind, data) = match response {
        Response::ClientCount(n) => (
            kind::BROADCAST_CLIENT_COUNT,
            map([("requestId", id), ("clientCount", Some(Mp::from(*n)))]),
        ),
        Response::Ack(value) => (
            kind::BROADCAST_ACK,
            map([("requestId", id), ("packet", value.clone())]),
        ),
        Response::ServerSide(value) => (
            kind::SERVER_SIDE_EMIT_RESPONSE,
            map([("requestId", id), ("packet", value.clone())]),
        ),
        Response::Sockets(sockets) => (
            kind::FETCH_SOCKETS_RESPONSE,
            map([
                ("requestId", id),
                ("sockets", Some(wire::details_list(sockets))),
            ]),
        ),
        Response::Session(session) => (
            kind::HAND_OVER_RESPONSE,
            map([
                ("requestId", id),
                ("session", Some(sessions::encoded(session.as_ref()))),
            ]),
        ),
        Response::SocketIds(_) | Response::Rooms(_) => return None,
    };
    Some(Message {
        kind,
        data: Some(data),
    })
}

/// A message from node `uid`; `None` if malformed or of an unknown type.
pub(crate) fn parse(uid: String, kind: u64, data: Option<&Mp>) -> Option<Incoming> {
    match kind {
        kind::INITIAL_HEARTBEAT | kind::HEARTBEAT => {
            let initial = kind == kind::INITIAL_HEARTBEAT;
            return Some(Incoming::Heartbeat { uid, initial });
        }
        kind::ADAPTER_CLOSE => return Some(Incoming::Closed { uid }),
        _ => {}
    }
    let data = data?;
    let id = get_str(data, "requestId").map(String::from);
    let opts = || wire::parse_opts(get(data, "opts"));
    let response = |response| {
        Some(Incoming::Response {
            id: id.clone()?,
            response,
        })
    };
    let request = match kind {
        kind::BROADCAST => {
            let (_, event, payload) = wire::parse_packet(get(data, "packet")?)?;
            match id {
                Some(id) => Operation::BroadcastWithAck {
                    id,
                    event,
                    payload,
                    opts: opts(),
                    timeout_ms: wire::timeout_flag(get(data, "opts")),
                },
                None => {
                    let broadcast = Broadcast {
                        event,
                        payload,
                        opts: opts(),
                        offset: get_str(data, "offset").map(String::from),
                    };
                    let request = broadcast.into();
                    return Some(Incoming::Request { uid, request });
                }
            }
        }
        k @ (kind::SOCKETS_JOIN | kind::SOCKETS_LEAVE) => Operation::Rooms {
            opts: opts(),
            rooms: wire::room_list(get(data, "rooms")),
            join: k == kind::SOCKETS_JOIN,
        },
        kind::DISCONNECT_SOCKETS => Operation::Disconnect {
            opts: opts(),
            close: get(data, "close").and_then(Mp::as_bool) == Some(true),
        },
        kind::FETCH_SOCKETS => Operation::Fetch {
            id: id?,
            opts: opts(),
        },
        kind::SERVER_SIDE_EMIT => {
            let (event, payload) = wire::parse_event_data(get(data, "packet")?)?;
            Operation::ServerSide { id, event, payload }
        }
        kind::FETCH_SOCKETS_RESPONSE => {
            let sockets = wire::parse_details_list(get(data, "sockets"));
            return response(Response::Sockets(sockets));
        }
        kind::SERVER_SIDE_EMIT_RESPONSE => {
            return response(Response::ServerSide(get(data, "packet").cloned()));
        }
        kind::BROADCAST_CLIENT_COUNT => {
            let n = get(data, "clientCount").and_then(Mp::as_u64)?;
            return response(Response::ClientCount(n as usize));
        }
        kind::BROADCAST_ACK => return response(Response::Ack(get(data, "packet").cloned())),
        kind::HAND_OVER => Operation::HandOver {
            id: id?,
            pid: get_str(data, "pid")?.to_string(),
        },
        kind::HAND_OVER_RESPONSE => {
            let session = get_str(data, "session").and_then(sessions::decode);
            return response(Response::Session(session));
        }
        _ => return None,
    };
    let request = request.into();
    Some(Incoming::Request { uid, request })
}
