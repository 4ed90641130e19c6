//! The wire format of `@socket.io/redis-adapter` 8.x (classic), as pure
//! functions: channel names, the messages nodes exchange, and the mapping
//! between Socket.IO payloads (JSON with binary placeholders) and msgpack.
//! `docs/redis-adapter-wire.md` is the reference, with the Node sources it
//! was read from.
//!
//! Everything this node sends is msgpack (Node decodes a message as JSON
//! only when its first byte is `{`, and as msgpack otherwise), so binary
//! arguments travel as msgpack `bin` everywhere. What it receives may be
//! either. No I/O here.

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::{Map, Value};

use crate::protocol::Packet;
use crate::socket::{BroadcastOptions, Payload, SocketDetails};

/// The classic adapter's request types (`RequestType` in its source).
pub(crate) mod kind {
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
}

/// The channels of one namespace under one key prefix.
#[derive(Debug, Clone)]
pub(crate) struct Channels {
    /// `P#N#`: broadcasts; `P#N#room#` for a single room.
    pub broadcast: String,
    /// `P-request#N#`.
    pub request: String,
    /// `P-response#N#`.
    pub response: String,
    /// `P-response#N#uid#`.
    pub own_response: String,
}

impl Channels {
    pub fn new(prefix: &str, nsp: &str, uid: &str) -> Channels {
        Channels {
            broadcast: format!("{prefix}#{nsp}#"),
            request: format!("{prefix}-request#{nsp}#"),
            response: format!("{prefix}-response#{nsp}#"),
            own_response: format!("{prefix}-response#{nsp}#{uid}#"),
        }
    }

    /// The pattern that takes every broadcast of the namespace.
    pub fn broadcast_pattern(&self) -> String {
        format!("{}*", self.broadcast)
    }

    /// Where a broadcast to `opts` is published: the room's own channel
    /// when it targets exactly one room, as Node does.
    pub fn broadcast_to(&self, opts: &BroadcastOptions) -> String {
        match opts.rooms.as_slice() {
            [room] => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
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

fn decode_msgpack(bytes: &[u8]) -> Option<Mp> {
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
        Mp::Ext(-1, data) => timestamp(&data).map_or(Value::Null, Value::String),
        Mp::Ext(..) => Value::Null,
    }
}

fn key_text(key: Mp) -> String {
    match key {
        Mp::String(s) => s.into_str().unwrap_or_default(),
        other => other.to_string(),
    }
}

/// A msgpack timestamp as JavaScript's `Date.prototype.toISOString()`.
fn timestamp(data: &[u8]) -> Option<String> {
    let (secs, nanos) = match data.len() {
        4 => (u32::from_be_bytes(data.try_into().ok()?) as i64, 0),
        8 => {
            let v = u64::from_be_bytes(data.try_into().ok()?);
            ((v & 0x3_ffff_ffff) as i64, (v >> 34) as u32)
        }
        12 => (
            i64::from_be_bytes(data[4..].try_into().ok()?),
            u32::from_be_bytes(data[..4].try_into().ok()?),
        ),
        _ => return None,
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        nanos / 1_000_000
    ))
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
pub(crate) fn answer_payload(value: Option<&Mp>) -> Payload {
    let mut binary = Vec::new();
    let args = value.map(|v| mp_to_json(v.clone(), &mut binary));
    Payload {
        args: args.into_iter().collect(),
        binary,
    }
}

/// The first argument of an answer, to send back; `None` when it has none.
pub(crate) fn first_arg(payload: &Payload) -> Option<Mp> {
    (payload.args.first()).map(|a| json_to_mp(a, &payload.binary))
}

fn strings(items: &[String]) -> Mp {
    Mp::Array(items.iter().map(|s| Mp::from(s.as_str())).collect())
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

fn room_list(value: Option<&Mp>) -> Vec<String> {
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

/// A plain broadcast: `[uid, {type: 2, data, nsp}, opts]`.
pub(crate) fn broadcast(
    uid: &str,
    nsp: &str,
    event: &str,
    payload: &Payload,
    options: &BroadcastOptions,
) -> Vec<u8> {
    let packet = packet(nsp, event, payload);
    encode(&Mp::Array(vec![
        Mp::from(uid),
        packet,
        opts(options, Some(flags(options, None))),
    ]))
}

/// The packet object inside broadcasts: `{type: 2, data, nsp}`.
pub(crate) fn packet(nsp: &str, event: &str, payload: &Payload) -> Mp {
    map([
        ("type", Some(Mp::from(2))),
        ("data", Some(event_data(event, payload))),
        ("nsp", Some(Mp::from(nsp))),
    ])
}

/// A broadcast received on the broadcast channels.
#[derive(Debug, PartialEq)]
pub(crate) struct ReceivedBroadcast {
    pub uid: String,
    pub nsp: String,
    pub event: String,
    pub payload: Payload,
    pub opts: BroadcastOptions,
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

/// A broadcast from the broadcast channels: always msgpack, as in Node.
pub(crate) fn parse_broadcast(bytes: &[u8]) -> Option<ReceivedBroadcast> {
    let value = decode_msgpack(bytes)?;
    let [uid, packet, opts] = value.as_array()?.as_slice() else {
        return None;
    };
    let (nsp, event, payload) = parse_packet(packet)?;
    Some(ReceivedBroadcast {
        uid: uid.as_str()?.to_string(),
        nsp,
        event,
        payload,
        opts: parse_opts(Some(opts)),
    })
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
mod tests;
