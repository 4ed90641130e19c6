//! The sharded dialect (`createShardedAdapter`, Redis 7 sharded pub/sub):
//! every message is `{type, data, uid, nsp}`; requests and broadcasts go to
//! `P#N#` (a one-room broadcast to `P#N#room#` in the dynamic modes),
//! answers to the asker's `P#N#uid#`; the node count is `PUBSUB
//! SHARDNUMSUB` of `P#N#`. See section 4 of `docs/redis-adapter-wire.md`.

use rmpv::Value as Mp;

use super::wire::{self, Dialect, Incoming, Request, Response, Sub, get, get_str, map};
use switchyard_core::BroadcastOptions;

/// socket.io-adapter's `MessageType` (the cluster adapter's).
mod kind {
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
}

/// Which rooms get a channel of their own (the adapter's `subscriptionMode`);
/// every node of a cluster must use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubscriptionMode {
    /// Everything on the namespace's one channel.
    Static,
    /// A one-room broadcast goes to the room's channel, unless the room
    /// looks like a socket id (20 characters); nodes follow the channels
    /// of the rooms their sockets are in (Node's default).
    #[default]
    Dynamic,
    /// As `Dynamic`, socket-id rooms included.
    DynamicPrivate,
}

impl std::str::FromStr for SubscriptionMode {
    type Err = String;

    /// Node's names: `static`, `dynamic`, `dynamic-private`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "static" => Ok(SubscriptionMode::Static),
            "dynamic" => Ok(SubscriptionMode::Dynamic),
            "dynamic-private" => Ok(SubscriptionMode::DynamicPrivate),
            _ => Err(format!(
                "unknown subscription mode {s:?} (expected static, dynamic, dynamic-private)"
            )),
        }
    }
}

/// One namespace's channels and identity in the sharded dialect.
pub(crate) struct Sharded {
    uid: String,
    nsp: String,
    /// `P#N#`.
    main: String,
    /// `P#N#uid#`.
    own: String,
    mode: SubscriptionMode,
}

/// socket.io's ids are 20 characters; the sharded adapter goes by that.
const SOCKET_ID_LEN: usize = 20;

impl Sharded {
    pub fn new(prefix: &str, nsp: &str, uid: &str, mode: SubscriptionMode) -> Sharded {
        let main = format!("{prefix}#{nsp}#");
        Sharded {
            uid: uid.to_string(),
            nsp: nsp.to_string(),
            own: format!("{main}{uid}#"),
            main,
            mode,
        }
    }

    fn envelope(&self, kind: u64, data: Mp) -> Vec<u8> {
        wire::encode(&map([
            ("type", Some(Mp::from(kind))),
            ("data", Some(data)),
            ("uid", Some(Mp::from(self.uid.as_str()))),
            ("nsp", Some(Mp::from(self.nsp.as_str()))),
        ]))
    }

    /// Node's `computeChannel`: a plain broadcast to one room may have
    /// the room's channel.
    fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        if let [room] = opts.rooms.as_slice() {
            let own = match self.mode {
                SubscriptionMode::Static => false,
                SubscriptionMode::Dynamic => room.chars().count() != SOCKET_ID_LEN,
                SubscriptionMode::DynamicPrivate => true,
            };
            if own {
                return format!("{}{room}#", self.main);
            }
        }
        self.main.clone()
    }

    fn full_opts(opts: &BroadcastOptions, timeout_ms: Option<u64>) -> Mp {
        wire::opts(opts, Some(wire::flags(opts, timeout_ms)))
    }
}

impl Dialect for Sharded {
    fn subscriptions(&self) -> Vec<(String, Sub)> {
        vec![
            (self.main.clone(), Sub::Shard),
            (self.own.clone(), Sub::Shard),
        ]
    }

    fn count_channel(&self) -> &str {
        &self.main
    }

    fn sharded(&self) -> bool {
        true
    }

    fn request(&self, request: &Request) -> Option<(String, Vec<u8>)> {
        let packet = |event, payload| Some(wire::packet(None, event, payload));
        let (kind, data, channel) = match request {
            Request::Broadcast {
                event,
                payload,
                opts,
            } => {
                let data = map([
                    ("packet", packet(event, payload)),
                    ("opts", Some(Self::full_opts(opts, None))),
                ]);
                (kind::BROADCAST, data, self.broadcast_channel(opts))
            }
            Request::BroadcastWithAck {
                id,
                event,
                payload,
                opts,
                timeout_ms,
            } => {
                let data = map([
                    ("packet", packet(event, payload)),
                    ("requestId", Some(Mp::from(id.as_str()))),
                    ("opts", Some(Self::full_opts(opts, *timeout_ms))),
                ]);
                (kind::BROADCAST, data, self.main.clone())
            }
            Request::Rooms { opts, rooms, join } => {
                let data = map([
                    ("opts", Some(Self::full_opts(opts, None))),
                    ("rooms", Some(wire::strings(rooms))),
                ]);
                let kind = if *join {
                    kind::SOCKETS_JOIN
                } else {
                    kind::SOCKETS_LEAVE
                };
                (kind, data, self.main.clone())
            }
            Request::Disconnect { opts, close } => {
                let data = map([
                    ("opts", Some(Self::full_opts(opts, None))),
                    ("close", Some(Mp::from(*close))),
                ]);
                (kind::DISCONNECT_SOCKETS, data, self.main.clone())
            }
            Request::Fetch { id, opts } => {
                let data = map([
                    ("opts", Some(Self::full_opts(opts, None))),
                    ("requestId", Some(Mp::from(id.as_str()))),
                ]);
                (kind::FETCH_SOCKETS, data, self.main.clone())
            }
            Request::ServerSide { id, event, payload } => {
                let data = map([
                    ("requestId", id.as_deref().map(Mp::from)),
                    ("packet", Some(wire::event_data(event, payload))),
                ]);
                (kind::SERVER_SIDE_EMIT, data, self.main.clone())
            }
            Request::SocketIds { .. } | Request::AllRooms { .. } => return None,
        };
        Some((channel, self.envelope(kind, data)))
    }

    fn response(
        &self,
        requester: &str,
        id: &str,
        response: &Response,
    ) -> Option<(String, Vec<u8>)> {
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
            Response::SocketIds(_) | Response::Rooms(_) => return None,
        };
        let channel = format!("{}{requester}#", self.main);
        Some((channel, self.envelope(kind, data)))
    }

    fn decode(&self, _: &str, bytes: &[u8]) -> Option<Incoming> {
        let message = wire::decode(bytes)?;
        // Since socket.io-adapter 2.5.6 a message names its namespace.
        if get_str(&message, "nsp") != Some(self.nsp.as_str()) {
            return None;
        }
        let uid = get_str(&message, "uid")?.to_string();
        let data = get(&message, "data")?;
        let id = get_str(data, "requestId").map(String::from);
        let opts = || wire::parse_opts(get(data, "opts"));
        let response = |response| {
            Some(Incoming::Response {
                id: id.clone()?,
                response,
            })
        };
        let request = match get(&message, "type")?.as_u64()? {
            kind::BROADCAST => {
                let (_, event, payload) = wire::parse_packet(get(data, "packet")?)?;
                match id {
                    Some(id) => Request::BroadcastWithAck {
                        id,
                        event,
                        payload,
                        opts: opts(),
                        timeout_ms: wire::timeout_flag(get(data, "opts")),
                    },
                    None => Request::Broadcast {
                        event,
                        payload,
                        opts: opts(),
                    },
                }
            }
            k @ (kind::SOCKETS_JOIN | kind::SOCKETS_LEAVE) => Request::Rooms {
                opts: opts(),
                rooms: wire::room_list(get(data, "rooms")),
                join: k == kind::SOCKETS_JOIN,
            },
            kind::DISCONNECT_SOCKETS => Request::Disconnect {
                opts: opts(),
                close: get(data, "close").and_then(Mp::as_bool) == Some(true),
            },
            kind::FETCH_SOCKETS => Request::Fetch {
                id: id?,
                opts: opts(),
            },
            kind::SERVER_SIDE_EMIT => {
                let (event, payload) = wire::parse_event_data(get(data, "packet")?)?;
                Request::ServerSide { id, event, payload }
            }
            kind::FETCH_SOCKETS_RESPONSE => {
                return response(Response::Sockets(wire::parse_details_list(get(
                    data, "sockets",
                ))));
            }
            kind::SERVER_SIDE_EMIT_RESPONSE => {
                return response(Response::ServerSide(get(data, "packet").cloned()));
            }
            kind::BROADCAST_CLIENT_COUNT => {
                let n = get(data, "clientCount").and_then(Mp::as_u64)?;
                return response(Response::ClientCount(n as usize));
            }
            kind::BROADCAST_ACK => return response(Response::Ack(get(data, "packet").cloned())),
            _ => return None,
        };
        Some(Incoming::Request { uid, request })
    }

    fn follows_rooms(&self) -> bool {
        self.mode != SubscriptionMode::Static
    }

    fn room_channel(&self, room: &str, is_socket_id: bool) -> Option<String> {
        let follow = match self.mode {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !is_socket_id,
            SubscriptionMode::DynamicPrivate => true,
        };
        follow.then(|| format!("{}{room}#", self.main))
    }
}

#[cfg(test)]
mod tests;
