//! What the wire dialects share, as pure functions: the messages nodes
//! exchange ([`Request`], [`Response`]), the [`Dialect`] that puts them on
//! channels, and the mapping between Socket.IO payloads (JSON with binary
//! placeholders) and msgpack. `docs/redis-adapter-wire.md` is the
//! reference, with the Node sources it was read from; `classic` and
//! `sharded` are `@socket.io/redis-adapter`'s two dialects, `streams`
//! `@socket.io/redis-streams-adapter`'s (`docs/redis-streams-wire.md`).
//!
//! Everything the pub/sub dialects send is msgpack (Node decodes a message
//! as JSON only when its first byte is `{`, and as msgpack otherwise), so
//! binary arguments travel as msgpack `bin` everywhere. What they receive
//! may be either. No I/O here.

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::{Map, Value};

use switchyard_core::js_date;
use switchyard_core::protocol::Packet;
use switchyard_core::{BroadcastOptions, Payload, RecoverySession, SocketDetails};

/// What one node asks of the others: a broadcast, which a receiving node
/// delivers overlapping others, or an operation, done in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    Broadcast(Broadcast),
    Operation(Operation),
}

/// A broadcast (no answer); with the offset that connection state recovery
/// keeps it under on every node, when the cluster orders.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Broadcast {
    pub event: String,
    pub payload: Payload,
    pub opts: BroadcastOptions,
    pub offset: Option<String>,
}

/// Anything but a plain broadcast: a node applies it only once the
/// broadcasts it received before are delivered (a broadcast to a room may
/// follow a join, and must find the socket in it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operation {
    /// A broadcast whose clients' acks go back to the asker, after one
    /// client count per node.
    BroadcastWithAck {
        id: String,
        event: String,
        payload: Payload,
        opts: BroadcastOptions,
        timeout_ms: Option<u64>,
    },
    /// `socketsJoin` / `socketsLeave`.
    Rooms {
        opts: BroadcastOptions,
        rooms: Vec<String>,
        join: bool,
    },
    /// `disconnectSockets`.
    Disconnect { opts: BroadcastOptions, close: bool },
    /// `fetchSockets`.
    Fetch { id: String, opts: BroadcastOptions },
    /// `serverSideEmit`, answered when it has an id.
    ServerSide {
        id: Option<String>,
        event: String,
        payload: Payload,
    },
    /// The ids of the sockets in `rooms` (classic only; socket.io 4.3-era nodes ask it).
    SocketIds { id: String, rooms: Vec<String> },
    /// Every room (classic only: `adapter.allRooms()`).
    AllRooms { id: String },
    /// Switchyard's own (Node nodes ignore an unknown type): hand over the
    /// session of private id `pid` for connection state recovery. The node
    /// whose socket has it closes that socket (its connection is dead: the
    /// client has come back elsewhere) and answers with its session.
    HandOver { id: String, pid: String },
}

impl From<Broadcast> for Request {
    fn from(broadcast: Broadcast) -> Request {
        Request::Broadcast(broadcast)
    }
}

impl From<Operation> for Request {
    fn from(operation: Operation) -> Request {
        Request::Operation(operation)
    }
}

/// An answer to a [`Request`], for the node that asked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Response {
    /// How many clients a broadcast with ack reached on the answering node.
    ClientCount(usize),
    /// One client's ack (its first argument).
    Ack(Option<Mp>),
    /// The answering node's sockets for a fetch.
    Sockets(Vec<SocketDetails>),
    /// A server-side handler's answer (its first argument).
    ServerSide(Option<Mp>),
    /// Socket ids, for [`Operation::SocketIds`].
    SocketIds(Vec<String>),
    /// Room names, for [`Operation::AllRooms`].
    Rooms(Vec<String>),
    /// The session asked for with [`Operation::HandOver`], if this node had it.
    Session(Option<RecoverySession>),
}

/// A decoded message from another node: who sent it (responses may not
/// say) and what it is.
#[derive(Debug, PartialEq)]
pub(crate) enum Incoming {
    Request {
        uid: String,
        request: Request,
    },
    Response {
        id: String,
        response: Response,
    },
    /// Node `uid` is there (`ClusterAdapterWithHeartbeat`); an `initial`
    /// one asks every node to answer with its own.
    Heartbeat {
        uid: String,
        initial: bool,
    },
    /// Node `uid` has closed its adapter.
    Closed {
        uid: String,
    },
}

/// How a dialect subscribes to a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sub {
    Channel,
    Pattern,
    Shard,
}

/// One of the adapters' wire protocols, for one namespace of one node.
pub(crate) trait Dialect: Send + Sync + 'static {
    /// What the namespace subscribes to from the start.
    fn subscriptions(&self) -> Vec<(String, Sub)>;
    /// The channel whose subscribers are the namespace's nodes, one each;
    /// `None` when nodes count each other by [`heartbeat`](Self::heartbeat).
    fn count_channel(&self) -> Option<&str>;
    /// Whether publishing, counting and room channels are sharded.
    fn sharded(&self) -> bool;
    /// Where a request goes, and its bytes; `None` if the dialect has no
    /// such request.
    fn request(&self, request: &Request) -> Option<(String, Vec<u8>)>;
    /// Where an answer to `requester`'s request `id` goes, and its bytes;
    /// `None` if the dialect has no such answer.
    fn response(&self, requester: &str, id: &str, response: &Response)
    -> Option<(String, Vec<u8>)>;
    /// A message received on `channel`; `None` if malformed or not for us.
    fn decode(&self, channel: &str, bytes: &[u8]) -> Option<Incoming>;
    /// Whether some broadcasts go to rooms' own channels only (sharded,
    /// dynamic), so a node must follow the rooms its sockets are in.
    fn follows_rooms(&self) -> bool {
        false
    }
    /// The channel to follow while this node has a socket in `room`, if
    /// this dialect sends some broadcasts there only (sharded, dynamic).
    fn room_channel(&self, room: &str, is_socket_id: bool) -> Option<String> {
        let _ = (room, is_socket_id);
        None
    }
    /// Where this node's heartbeat goes, and its bytes (`initial`: the
    /// first, which asks the others for theirs), when the dialect's nodes
    /// count each other by heartbeats (streams); `None` when they count
    /// the subscribers of [`count_channel`](Self::count_channel).
    fn heartbeat(&self, initial: bool) -> Option<(String, Vec<u8>)> {
        let _ = initial;
        None
    }
    /// Whether every node gets the namespace's broadcasts in one order
    /// (one Redis processes them in turn, or one stream holds them):
    /// connection state recovery can then span nodes.
    fn total_order(&self) -> bool {
        false
    }
    /// Whether the transport names each message (a stream entry's id);
    /// otherwise the sender gives a broadcast its offset.
    fn names_messages(&self) -> bool {
        false
    }
}

/// A msgpack map from string keys, skipping absent values (Node tells
/// "absent" from `null`, so an optional field is left out, never nil).
pub(crate) fn map<const N: usize>(fields: [(&str, Option<Mp>); N]) -> Mp {
    Mp::Map(
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((Mp::from(k), v?)))
            .collect(),
    )
}

/// Field `key` of a msgpack map.
pub(crate) fn get<'a>(value: &'a Mp, key: &str) -> Option<&'a Mp> {
    value
        .as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

pub(crate) fn get_str<'a>(value: &'a Mp, key: &str) -> Option<&'a str> {
    get(value, key)?.as_str()
}

pub(crate) fn encode(value: &Mp) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    out
}

/// Most nesting a received message may have; deeper ones are refused
/// rather than risk the stack.
const MAX_DEPTH: usize = 64;

/// A message from another node: JSON if it starts with `{`, else msgpack
/// with nothing after the value. `None` for anything malformed.
pub(crate) fn decode(bytes: &[u8]) -> Option<Mp> {
    if bytes.first() == Some(&b'{') {
        let json: Value = serde_json::from_slice(bytes).ok()?;
        return Some(json_to_mp(&json, &[]));
    }
    decode_msgpack(bytes)
}

pub(crate) fn decode_msgpack(bytes: &[u8]) -> Option<Mp> {
    let mut rest = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut rest, MAX_DEPTH).ok()?;
    rest.is_empty().then_some(value)
}

/// JSON to msgpack; placeholders `{"_placeholder":true,"num":N}` become the
/// bytes of `binary[N]`.
pub(crate) fn json_to_mp(value: &Value, binary: &[Bytes]) -> Mp {
    match value {
        Value::Null => Mp::Nil,
        Value::Bool(b) => Mp::Boolean(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Mp::from(u),
            (_, Some(i)) => Mp::from(i),
            _ => Mp::F64(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Mp::from(s.as_str()),
        Value::Array(items) => Mp::Array(items.iter().map(|v| json_to_mp(v, binary)).collect()),
        Value::Object(fields) => {
            if let Some(bytes) = placeholder(fields).and_then(|n| binary.get(n)) {
                return Mp::Binary(bytes.to_vec());
            }
            Mp::Map(
                fields
                    .iter()
                    .map(|(k, v)| (Mp::from(k.as_str()), json_to_mp(v, binary)))
                    .collect(),
            )
        }
    }
}

fn placeholder(fields: &Map<String, Value>) -> Option<usize> {
    if fields.len() == 2 && fields.get("_placeholder") == Some(&Value::Bool(true)) {
        return fields.get("num")?.as_u64().map(|n| n as usize);
    }
    None
}

/// Msgpack to JSON; `bin` values become placeholders, their bytes appended
/// to `binary`. A timestamp (ext −1, Node's `Date`) becomes the ISO string
/// `JSON.stringify` would give; any other ext is dropped to `null`.
pub(crate) fn mp_to_json(value: Mp, binary: &mut Vec<Bytes>) -> Value {
    match value {
        Mp::Nil => Value::Null,
        Mp::Boolean(b) => Value::Bool(b),
        Mp::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Value::from(u),
            (_, Some(i)) => Value::from(i),
            _ => Value::Null,
        },
        Mp::F32(f) => serde_json::Number::from_f64(f.into()).map_or(Value::Null, Value::Number),
        Mp::F64(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Mp::String(s) => Value::String(s.into_str().unwrap_or_default()),
        Mp::Binary(bytes) => {
            binary.push(Bytes::from(bytes));
            Packet::placeholder(binary.len() - 1)
        }
        Mp::Array(items) => {
            Value::Array(items.into_iter().map(|v| mp_to_json(v, binary)).collect())
        }
        Mp::Map(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (key_text(k), mp_to_json(v, binary)))
                .collect(),
        ),
        Mp::Ext(-1, data) => (js_date::msgpack_timestamp_ms(&data).and_then(js_date::iso_string))
            .map_or(Value::Null, Value::String),
        Mp::Ext(..) => Value::Null,
    }
}

fn key_text(key: Mp) -> String {
    match key {
        Mp::String(s) => s.into_str().unwrap_or_default(),
        other => other.to_string(),
    }
}

/// An event's `data`: `[event, ...args]`, binary arguments as `bin`.
pub(crate) fn event_data(event: &str, payload: &Payload) -> Mp {
    let mut items = Vec::with_capacity(payload.args.len() + 1);
    items.push(Mp::from(event));
    items.extend(payload.args.iter().map(|a| json_to_mp(a, &payload.binary)));
    Mp::Array(items)
}

/// The name and arguments of an event's `data`; `None` without a name.
pub(crate) fn parse_event_data(data: &Mp) -> Option<(String, Payload)> {
    let mut items = data.as_array()?.iter().cloned();
    let name = match items.next()? {
        Mp::String(s) => s.into_str()?,
        Mp::Integer(i) => i.to_string(),
        _ => return None,
    };
    let mut binary = Vec::new();
    let args = items.map(|v| mp_to_json(v, &mut binary)).collect();
    Some((name, Payload { args, binary }))
}

/// One answer value (an ack's first argument) as a payload of one argument.
pub(crate) fn answer_payload(value: Option<Mp>) -> Payload {
    let mut binary = Vec::new();
    let args = value.map(|v| mp_to_json(v, &mut binary));
    Payload {
        args: args.into_iter().collect(),
        binary,
    }
}

/// The first argument of an answer, to send back; `None` when it has none.
pub(crate) fn first_arg(payload: &Payload) -> Option<Mp> {
    (payload.args.first()).map(|a| json_to_mp(a, &payload.binary))
}

/// `{rooms, except}`, with `flags` when given. A socket's own exclusion
/// (`socket.broadcast`) travels as a room, as socket.io does.
pub(crate) fn opts(opts: &BroadcastOptions, flags: Option<Mp>) -> Mp {
    let mut except = opts.except.clone();
    except.extend(opts.except_id.iter().cloned());
    map([
        ("rooms", Some(strings(&opts.rooms))),
        ("except", Some(strings(&except))),
        ("flags", flags),
    ])
}

/// The flags of a broadcast: only what differs from socket.io's defaults.
pub(crate) fn flags(opts: &BroadcastOptions, timeout_ms: Option<u64>) -> Mp {
    map([
        ("volatile", opts.volatile.then_some(Mp::Boolean(true))),
        ("compress", (!opts.compress).then_some(Mp::Boolean(false))),
        ("timeout", timeout_ms.map(Mp::from)),
    ])
}

pub(crate) fn room_list(value: Option<&Mp>) -> Vec<String> {
    let items = value.and_then(Mp::as_array).map(Vec::as_slice);
    (items.unwrap_or_default().iter())
        .filter_map(|v| match v {
            Mp::String(s) => s.as_str().map(String::from),
            // Node lets numbers be rooms; they match as text here.
            Mp::Integer(_) | Mp::F64(_) | Mp::F32(_) => Some(v.to_string()),
            _ => None,
        })
        .collect()
}

/// Broadcast options from the wire.
pub(crate) fn parse_opts(value: Option<&Mp>) -> BroadcastOptions {
    let value = value.unwrap_or(&Mp::Nil);
    let flags = get(value, "flags").unwrap_or(&Mp::Nil);
    BroadcastOptions {
        rooms: room_list(get(value, "rooms")),
        except: room_list(get(value, "except")),
        except_id: None,
        volatile: get(flags, "volatile").and_then(Mp::as_bool) == Some(true),
        compress: get(flags, "compress").and_then(Mp::as_bool) != Some(false),
        local: false,
    }
}

/// The `timeout` flag of a broadcast, in milliseconds.
pub(crate) fn timeout_flag(opts: Option<&Mp>) -> Option<u64> {
    let flags = get(opts?, "flags")?;
    let timeout = get(flags, "timeout")?;
    timeout
        .as_u64()
        .or_else(|| timeout.as_f64().map(|f| f.max(0.0) as u64))
}

/// The packet object inside broadcasts: `{type: 2, data}`, plus `nsp` in
/// the classic adapter's.
pub(crate) fn packet(nsp: Option<&str>, event: &str, payload: &Payload) -> Mp {
    map([
        ("type", Some(Mp::from(2))),
        ("data", Some(event_data(event, payload))),
        ("nsp", nsp.map(Mp::from)),
    ])
}

/// The packet of a broadcast: its namespace (`/` when absent, as in Node)
/// and its event; `None` unless it is an EVENT with a name.
pub(crate) fn parse_packet(packet: &Mp) -> Option<(String, String, Payload)> {
    if get(packet, "type").and_then(Mp::as_u64) != Some(2) {
        return None;
    }
    let nsp = get_str(packet, "nsp").unwrap_or("/").to_string();
    let (event, payload) = parse_event_data(get(packet, "data")?)?;
    Some((nsp, event, payload))
}

/// A list of socket details, skipping malformed entries.
pub(crate) fn parse_details_list(value: Option<&Mp>) -> Vec<SocketDetails> {
    let list = value.and_then(Mp::as_array).map(Vec::as_slice);
    list.unwrap_or_default()
        .iter()
        .filter_map(parse_details)
        .collect()
}

pub(crate) fn strings(items: &[String]) -> Mp {
    Mp::Array(items.iter().map(|s| Mp::from(s.as_str())).collect())
}

pub(crate) fn details_list(sockets: &[SocketDetails]) -> Mp {
    Mp::Array(sockets.iter().map(details).collect())
}

/// A socket as `SocketDetails` on the wire.
pub(crate) fn details(socket: &SocketDetails) -> Mp {
    map([
        ("id", Some(Mp::from(socket.id.as_str()))),
        ("handshake", Some(json_to_mp(&socket.handshake, &[]))),
        ("rooms", Some(strings(&socket.rooms))),
        ("data", Some(json_to_mp(&socket.data, &[]))),
    ])
}

/// `SocketDetails` from the wire; `None` without an id.
pub(crate) fn parse_details(value: &Mp) -> Option<SocketDetails> {
    let mut ignored = Vec::new();
    let mut json =
        |key| (get(value, key).cloned()).map_or(Value::Null, |v| mp_to_json(v, &mut ignored));
    Some(SocketDetails {
        id: get_str(value, "id")?.to_string(),
        handshake: json("handshake"),
        data: json("data"),
        rooms: room_list(get(value, "rooms")),
    })
}

#[cfg(test)]
pub(crate) mod tests;
