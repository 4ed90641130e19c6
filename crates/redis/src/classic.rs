//! The classic dialect (`createAdapter`): broadcasts as msgpack arrays on
//! `P#N#` (or `P#N#room#` for one room, followed with a pattern), requests
//! on `P-request#N#`, answers on `P-response#N#`, the node count from
//! `PUBSUB NUMSUB` of the request channel. See section 3 of
//! `docs/redis-adapter-wire.md`.

use rmpv::Value as Mp;

use super::sessions;
use super::wire::{
    self, Broadcast, Dialect, Incoming, Operation, Request, Response, Sub, get, get_str, map,
};
use switchyard_core::BroadcastOptions;

/// The classic adapter's request types (`RequestType` in its source).
mod kind {
    pub const SOCKETS: u64 = 0;
    pub const ALL_ROOMS: u64 = 1;
    pub const REMOTE_JOIN: u64 = 2;
    pub const REMOTE_LEAVE: u64 = 3;
    pub const REMOTE_DISCONNECT: u64 = 4;
    pub const REMOTE_FETCH: u64 = 5;
    pub const SERVER_SIDE_EMIT: u64 = 6;
    pub const BROADCAST: u64 = 7;
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub const BROADCAST_ACK: u64 = 9;
    /// Switchyard's own: [`Operation::HandOver`] (Node ignores the type).
    pub const HAND_OVER: u64 = 1001;
}

/// One namespace's channels and identity in the classic dialect.
pub(crate) struct Classic {
    uid: String,
    nsp: String,
    /// `P#N#`: broadcasts; `P#N#room#` for a single room.
    broadcast: String,
    /// `P-request#N#`.
    request: String,
    /// `P-response#N#`, where this node answers.
    response: String,
    /// `P-response#N#uid#`, where some Node nodes answer this one.
    own_response: String,
}

impl Classic {
    pub fn new(prefix: &str, nsp: &str, uid: &str) -> Classic {
        Classic {
            uid: uid.to_string(),
            nsp: nsp.to_string(),
            broadcast: format!("{prefix}#{nsp}#"),
            request: format!("{prefix}-request#{nsp}#"),
            response: format!("{prefix}-response#{nsp}#"),
            own_response: format!("{prefix}-response#{nsp}#{uid}#"),
        }
    }

    /// `{uid, requestId?, type, ...fields}` on the request channel.
    fn ask(&self, kind: u64, id: Option<&str>, fields: Vec<(&str, Mp)>) -> (String, Vec<u8>) {
        let mut entries = vec![(Mp::from("uid"), Mp::from(self.uid.as_str()))];
        entries.extend(id.map(|id| (Mp::from("requestId"), Mp::from(id))));
        entries.push((Mp::from("type"), Mp::from(kind)));
        entries.extend(fields.into_iter().map(|(k, v)| (Mp::from(k), v)));
        (self.request.clone(), wire::encode(&Mp::Map(entries)))
    }

    fn decode_request(&self, value: &Mp) -> Option<Incoming> {
        let uid = get_str(value, "uid")?.to_string();
        let id = get_str(value, "requestId").map(String::from);
        let opts = || wire::parse_opts(get(value, "opts"));
        let rooms = || wire::room_list(get(value, "rooms"));
        let request = match get(value, "type")?.as_u64()? {
            kind::SOCKETS => Operation::SocketIds {
                id: id?,
                rooms: rooms(),
            },
            kind::ALL_ROOMS => Operation::AllRooms { id: id? },
            kind::HAND_OVER => Operation::HandOver {
                id: id?,
                pid: get_str(value, "pid")?.to_string(),
            },
            k @ (kind::REMOTE_JOIN | kind::REMOTE_LEAVE) => Operation::Rooms {
                // Without opts it is 7.x's `remoteJoin(id, room)`, not handled.
                opts: wire::parse_opts(Some(get(value, "opts")?)),
                rooms: rooms(),
                join: k == kind::REMOTE_JOIN,
            },
            kind::REMOTE_DISCONNECT => Operation::Disconnect {
                opts: wire::parse_opts(Some(get(value, "opts")?)),
                close: get(value, "close").and_then(Mp::as_bool) == Some(true),
            },
            kind::REMOTE_FETCH => Operation::Fetch {
                id: id?,
                opts: opts(),
            },
            kind::SERVER_SIDE_EMIT => {
                let (event, payload) = wire::parse_event_data(get(value, "data")?)?;
                Operation::ServerSide { id, event, payload }
            }
            kind::BROADCAST => {
                let (_, event, payload) = wire::parse_packet(get(value, "packet")?)?;
                Operation::BroadcastWithAck {
                    id: id?,
                    event,
                    payload,
                    opts: opts(),
                    timeout_ms: wire::timeout_flag(get(value, "opts")),
                }
            }
            _ => return None,
        };
        let request = request.into();
        Some(Incoming::Request { uid, request })
    }

    /// Answers carry no uid and mostly no type: told apart by their fields.
    fn decode_response(value: &Mp) -> Option<Incoming> {
        let id = get_str(value, "requestId")?.to_string();
        let response = match get(value, "type").and_then(Mp::as_u64) {
            Some(kind::BROADCAST_CLIENT_COUNT) => {
                let n = get(value, "clientCount").and_then(Mp::as_u64)?;
                Response::ClientCount(n as usize)
            }
            Some(kind::BROADCAST_ACK) => Response::Ack(get(value, "packet").cloned()),
            Some(kind::SERVER_SIDE_EMIT) => Response::ServerSide(get(value, "data").cloned()),
            _ if get(value, "session").is_some() => {
                let session = get_str(value, "session").and_then(sessions::decode);
                Response::Session(session)
            }
            _ if get(value, "rooms").is_some() => {
                Response::Rooms(wire::room_list(get(value, "rooms")))
            }
            _ => {
                let sockets = get(value, "sockets").and_then(Mp::as_array)?;
                match sockets.first() {
                    Some(Mp::String(_)) => {
                        Response::SocketIds(wire::room_list(get(value, "sockets")))
                    }
                    _ => Response::Sockets(wire::parse_details_list(get(value, "sockets"))),
                }
            }
        };
        Some(Incoming::Response { id, response })
    }

    /// A broadcast: always a msgpack `[uid, packet, opts]`, as Node reads
    /// it, and from a Switchyard node that orders, its offset after them
    /// (Node reads the first three).
    fn decode_broadcast(&self, bytes: &[u8]) -> Option<Incoming> {
        let value = wire::decode_msgpack(bytes)?;
        let (uid, packet, opts, offset) = match value.as_array()?.as_slice() {
            [uid, packet, opts] => (uid, packet, opts, None),
            [uid, packet, opts, offset, ..] => (uid, packet, opts, offset.as_str()),
            _ => return None,
        };
        let (nsp, event, payload) = wire::parse_packet(packet)?;
        if nsp != self.nsp {
            return None;
        }
        let request = Broadcast {
            event,
            payload,
            opts: wire::parse_opts(Some(opts)),
            offset: offset.map(String::from),
        }
        .into();
        let uid = uid.as_str()?.to_string();
        Some(Incoming::Request { uid, request })
    }

    /// Where a broadcast goes: the room's own channel for exactly one room.
    fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        match opts.rooms.as_slice() {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }
}

impl Dialect for Classic {
    fn subscriptions(&self) -> Vec<(String, Sub)> {
        // One subscription to the request channel per namespace and node:
        // its subscriber count is the cluster's node count.
        vec![
            (format!("{}*", self.broadcast), Sub::Pattern),
            (self.request.clone(), Sub::Channel),
            (self.response.clone(), Sub::Channel),
            (self.own_response.clone(), Sub::Channel),
        ]
    }

    fn count_channel(&self) -> Option<&str> {
        Some(&self.request)
    }

    /// Every node takes every broadcast of the namespace through one
    /// pattern subscription, in the order Redis ran the publishes.
    fn total_order(&self) -> bool {
        true
    }

    fn sharded(&self) -> bool {
        false
    }

    fn request(&self, request: &Request) -> Option<(String, Vec<u8>)> {
        let nsp = Some(self.nsp.as_str());
        let operation = match request {
            Request::Broadcast(Broadcast {
                event,
                payload,
                opts,
                offset,
            }) => {
                let mut message = vec![
                    Mp::from(self.uid.as_str()),
                    wire::packet(nsp, event, payload),
                    wire::opts(opts, Some(wire::flags(opts, None))),
                ];
                message.extend(offset.as_deref().map(Mp::from));
                let message = Mp::Array(message);
                return Some((self.broadcast_channel(opts), wire::encode(&message)));
            }
            Request::Operation(operation) => operation,
        };
        Some(match operation {
            Operation::BroadcastWithAck {
                id,
                event,
                payload,
                opts,
                timeout_ms,
            } => {
                let flags = wire::flags(opts, *timeout_ms);
                let fields = vec![
                    ("packet", wire::packet(nsp, event, payload)),
                    ("opts", wire::opts(opts, Some(flags))),
                ];
                self.ask(kind::BROADCAST, Some(id), fields)
            }
            Operation::Rooms { opts, rooms, join } => {
                let kind = if *join {
                    kind::REMOTE_JOIN
                } else {
                    kind::REMOTE_LEAVE
                };
                let fields = vec![
                    ("opts", wire::opts(opts, None)),
                    ("rooms", wire::strings(rooms)),
                ];
                self.ask(kind, None, fields)
            }
            Operation::Disconnect { opts, close } => {
                let fields = vec![
                    ("opts", wire::opts(opts, None)),
                    ("close", Mp::from(*close)),
                ];
                self.ask(kind::REMOTE_DISCONNECT, None, fields)
            }
            Operation::Fetch { id, opts } => {
                let fields = vec![("opts", wire::opts(opts, None))];
                self.ask(kind::REMOTE_FETCH, Some(id), fields)
            }
            Operation::ServerSide { id, event, payload } => {
                let fields = vec![("data", wire::event_data(event, payload))];
                self.ask(kind::SERVER_SIDE_EMIT, id.as_deref(), fields)
            }
            Operation::SocketIds { id, rooms } => self.ask(
                kind::SOCKETS,
                Some(id),
                vec![("rooms", wire::strings(rooms))],
            ),
            Operation::AllRooms { id } => self.ask(kind::ALL_ROOMS, Some(id), Vec::new()),
            Operation::HandOver { id, pid } => {
                let fields = vec![("pid", Mp::from(pid.as_str()))];
                self.ask(kind::HAND_OVER, Some(id), fields)
            }
        })
    }

    fn response(&self, _: &str, id: &str, response: &Response) -> Option<(String, Vec<u8>)> {
        let id = Some(Mp::from(id));
        let typed = |kind: u64| Some(Mp::from(kind));
        let message = match response {
            Response::ClientCount(n) => map([
                ("type", typed(kind::BROADCAST_CLIENT_COUNT)),
                ("requestId", id),
                ("clientCount", Some(Mp::from(*n))),
            ]),
            Response::Ack(value) => map([
                ("type", typed(kind::BROADCAST_ACK)),
                ("requestId", id),
                ("packet", value.clone()),
            ]),
            Response::ServerSide(value) => map([
                ("type", typed(kind::SERVER_SIDE_EMIT)),
                ("requestId", id),
                ("data", value.clone()),
            ]),
            Response::Sockets(sockets) => map([
                ("requestId", id),
                ("sockets", Some(wire::details_list(sockets))),
            ]),
            Response::SocketIds(ids) => {
                map([("requestId", id), ("sockets", Some(wire::strings(ids)))])
            }
            Response::Rooms(rooms) => {
                map([("requestId", id), ("rooms", Some(wire::strings(rooms)))])
            }
            Response::Session(session) => map([
                ("requestId", id),
                ("session", Some(sessions::encoded(session.as_ref()))),
            ]),
        };
        // The generic channel: every node listens to it.
        Some((self.response.clone(), wire::encode(&message)))
    }

    fn decode(&self, channel: &str, bytes: &[u8]) -> Option<Incoming> {
        if channel.starts_with(&self.broadcast) {
            self.decode_broadcast(bytes)
        } else if channel == self.request {
            self.decode_request(&wire::decode(bytes)?)
        } else if channel.starts_with(&self.response) {
            Self::decode_response(&wire::decode(bytes)?)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests;
