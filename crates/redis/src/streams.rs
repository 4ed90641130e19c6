//! The streams dialect (`@socket.io/redis-streams-adapter` 0.2): every
//! node of every namespace appends to one Redis stream (`XADD stream MAXLEN
//! ~ max_len * uid U nsp N type T [data D]`) and reads all of it; a
//! message is one entry whose `type` is socket.io-adapter's message type in
//! decimal and whose `data` is the message's data as JSON, or, when it
//! holds binary, as base64 of its msgpack. The messages are the `cluster`
//! module's; nodes count each other by heartbeats. Pure: the link
//! ([`link::StreamLink`]) carries an entry's fields as [`pack`]ed bytes. See
//! `docs/redis-streams-wire.md`.

pub(crate) mod link;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmpv::Value as Mp;

use super::cluster::{self, Message, kind};
use super::wire::{self, Broadcast, Dialect, Incoming, Request, Response, Sub};

/// One namespace's identity in the streams dialect.
pub(crate) struct Streams {
    uid: String,
    nsp: String,
    stream: String,
}

impl Streams {
    pub fn new(stream: &str, nsp: &str, uid: &str) -> Streams {
        Streams {
            uid: uid.to_string(),
            nsp: nsp.to_string(),
            stream: stream.to_string(),
        }
    }

    /// The entry of `message`, in Node's field order.
    fn entry(&self, message: Message) -> (String, Vec<u8>) {
        let mut fields = vec![
            ("uid", self.uid.clone()),
            ("nsp", self.nsp.clone()),
            ("type", message.kind.to_string()),
        ];
        fields.extend(message.data.map(|data| ("data", encode_data(&data))));
        (self.stream.clone(), pack(&fields))
    }
}

impl Dialect for Streams {
    /// The link hands each namespace the entries naming it.
    fn subscriptions(&self) -> Vec<(String, Sub)> {
        vec![(self.nsp.clone(), Sub::Channel)]
    }

    fn count_channel(&self) -> Option<&str> {
        None
    }

    fn sharded(&self) -> bool {
        false
    }

    fn request(&self, request: &Request) -> Option<(String, Vec<u8>)> {
        // The stream names its entries: an offset would only repeat the id.
        if let Request::Broadcast(
            named @ Broadcast {
                offset: Some(_), ..
            },
        ) = request
        {
            let unnamed = Broadcast {
                offset: None,
                ..named.clone()
            };
            return self.request(&unnamed.into());
        }
        cluster::request(request).map(|message| self.entry(message))
    }

    /// Answers go on the stream too, for every node to see (Node's
    /// `doPublishResponse`); the asker picks them out by request id.
    fn response(&self, _: &str, id: &str, response: &Response) -> Option<(String, Vec<u8>)> {
        cluster::response(id, response).map(|message| self.entry(message))
    }

    fn decode(&self, channel: &str, bytes: &[u8]) -> Option<Incoming> {
        let fields = unpack(bytes)?;
        let field = |name| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        if field("nsp")? != &self.nsp {
            return None;
        }
        let uid = field("uid")?.clone();
        let kind = field("type")?.parse().ok()?;
        // Node decodes `data` only when it is a non-empty string.
        let data = match field("data").filter(|d| !d.is_empty()) {
            Some(text) => Some(decode_data(text)?),
            None => None,
        };
        let mut incoming = cluster::parse(uid, kind, data.as_ref())?;
        if let Incoming::Request {
            request: Request::Broadcast(Broadcast { offset, .. }),
            ..
        } = &mut incoming
        {
            *offset = Some(channel.to_string());
        }
        Some(incoming)
    }

    fn total_order(&self) -> bool {
        true
    }

    /// An entry arrives on its id: the offset recovery keeps it under.
    fn names_messages(&self) -> bool {
        true
    }

    fn heartbeat(&self, initial: bool) -> Option<(String, Vec<u8>)> {
        let kind = match initial {
            true => kind::INITIAL_HEARTBEAT,
            false => kind::HEARTBEAT,
        };
        Some(self.entry(Message { kind, data: None }))
    }
}

/// An entry's `data`: JSON (keys in the order given, as
/// `JSON.stringify` writes them), or base64 of msgpack when it holds
/// binary (Node's `hasBinary`; only broadcasts, acks, server-side emits
/// and fetched sockets can).
pub(crate) fn encode_data(data: &Mp) -> String {
    if has_binary(data) {
        return BASE64.encode(wire::encode(data));
    }
    let mut out = String::new();
    write_json(data, &mut out);
    out
}

/// `value` as JSON text, map keys in order; what JSON cannot hold
/// (NaN, infinities, extension types) is `null`, as in `JSON.stringify`.
fn write_json(value: &Mp, out: &mut String) {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    match value {
        Mp::Nil | Mp::Binary(_) | Mp::Ext(..) => out.push_str("null"),
        Mp::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Mp::Integer(i) => out.push_str(&i.to_string()),
        Mp::F32(f) => out.push_str(&float(f64::from(*f))),
        Mp::F64(f) => out.push_str(&float(*f)),
        Mp::String(s) => out.push_str(&text(s.as_str().unwrap_or_default())),
        Mp::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Mp::Map(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match k.as_str() {
                    Some(k) => out.push_str(&text(k)),
                    None => out.push_str(&text(&k.to_string())),
                }
                out.push(':');
                write_json(v, out);
            }
            out.push('}');
        }
    }
}

/// A float as JavaScript writes it: integral values without `.0`.
fn float(f: f64) -> String {
    match serde_json::Number::from_f64(f) {
        Some(_) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
        Some(n) => n.to_string(),
        None => "null".into(),
    }
}

/// An entry's `data`: JSON when it starts with `{` (as Node decides),
/// else base64 of msgpack; `None` if malformed.
pub(crate) fn decode_data(text: &str) -> Option<Mp> {
    if text.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(text).ok()?;
        return Some(wire::json_to_mp(&json, &[]));
    }
    wire::decode_msgpack(&BASE64.decode(text).ok()?)
}

fn has_binary(value: &Mp) -> bool {
    match value {
        Mp::Binary(_) => true,
        Mp::Array(items) => items.iter().any(has_binary),
        Mp::Map(fields) => fields.iter().any(|(_, v)| has_binary(v)),
        _ => false,
    }
}

/// An entry's fields as the link carries them: a msgpack map of strings,
/// in order.
pub(crate) fn pack<K: AsRef<str>>(fields: &[(K, String)]) -> Vec<u8> {
    let map = fields
        .iter()
        .map(|(k, v)| (Mp::from(k.as_ref()), Mp::from(v.as_str())))
        .collect();
    wire::encode(&Mp::Map(map))
}

/// The fields [`pack`] made; `None` if they are not a map of strings.
pub(crate) fn unpack(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let Mp::Map(fields) = wire::decode_msgpack(bytes)? else {
        return None;
    };
    let text = |v: Mp| match v {
        Mp::String(s) => s.into_str(),
        _ => None,
    };
    (fields.into_iter())
        .map(|(k, v)| Some((text(k)?, text(v)?)))
        .collect()
}

#[cfg(test)]
mod tests;
