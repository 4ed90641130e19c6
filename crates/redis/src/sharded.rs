//! The sharded dialect (`createShardedAdapter`, Redis 7 sharded pub/sub):
//! every message is `{type, data, uid, nsp}`; requests and broadcasts go to
//! `P#N#` (a one-room broadcast to `P#N#room#` in the dynamic modes),
//! answers to the asker's `P#N#uid#`; the node count is `PUBSUB
//! SHARDNUMSUB` of `P#N#`. The messages themselves are the `cluster`
//! module's. See section 4 of `docs/redis-adapter-wire.md`.

use rmpv::Value as Mp;

use super::cluster::{self, Message};
use super::wire::{self, Dialect, Incoming, Request, Response, Sub, get, get_str, map};
use switchyard_core::BroadcastOptions;

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

    fn envelope(&self, message: Message) -> Vec<u8> {
        wire::encode(&map([
            ("type", Some(Mp::from(message.kind))),
            ("data", message.data),
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
}

impl Dialect for Sharded {
    fn subscriptions(&self) -> Vec<(String, Sub)> {
        vec![
            (self.main.clone(), Sub::Shard),
            (self.own.clone(), Sub::Shard),
        ]
    }

    fn count_channel(&self) -> Option<&str> {
        Some(&self.main)
    }

    fn sharded(&self) -> bool {
        true
    }

    fn request(&self, request: &Request) -> Option<(String, Vec<u8>)> {
        let message = cluster::request(request)?;
        let channel = match request {
            Request::Broadcast(broadcast) => self.broadcast_channel(&broadcast.opts),
            Request::Operation(_) => self.main.clone(),
        };
        Some((channel, self.envelope(message)))
    }

    fn response(
        &self,
        requester: &str,
        id: &str,
        response: &Response,
    ) -> Option<(String, Vec<u8>)> {
        let message = cluster::response(id, response)?;
        let channel = format!("{}{requester}#", self.main);
        Some((channel, self.envelope(message)))
    }

    fn decode(&self, _: &str, bytes: &[u8]) -> Option<Incoming> {
        let message = wire::decode(bytes)?;
        // Since socket.io-adapter 2.5.6 a message names its namespace.
        if get_str(&message, "nsp") != Some(self.nsp.as_str()) {
            return None;
        }
        let uid = get_str(&message, "uid")?.to_string();
        let kind = get(&message, "type")?.as_u64()?;
        cluster::parse(uid, kind, get(&message, "data"))
    }

    fn follows_rooms(&self) -> bool {
        self.mode != SubscriptionMode::Static
    }

    /// Static: every broadcast on the namespace's one channel, so every
    /// node gets them in the order Redis ran the publishes (one Redis).
    fn total_order(&self) -> bool {
        self.mode == SubscriptionMode::Static
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
