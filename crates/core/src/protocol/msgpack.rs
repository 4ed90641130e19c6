//! The packet codec of npm `socket.io-msgpack-parser` 3.x (msgpack by
//! `notepack.io`): pure encode/decode of one [`Packet`] as one binary
//! Engine.IO message. No I/O; the connection-level choice between this and
//! the JSON codec is [`Decoder::with_parser`](super::Decoder::with_parser).
//!
//! Wire format: the msgpack map `{type, nsp, data, id}`; `type` is 0 to 4
//! (there are no BINARY_EVENT / BINARY_ACK types: binary values travel
//! inline as msgpack `bin`), `data` and `id` are left out when absent, and
//! other keys (socket.io-client adds `options`) are ignored.
//!
//! Inside Switchyard a packet is the same whatever the parser: on decode,
//! each `bin` becomes a placeholder `{"_placeholder":true,"num":N}` with
//! its bytes in `attachments[N]`, exactly what the JSON decoder produces
//! for a binary packet, so the layers above handle both alike; encode puts
//! the attachments back inline. Every bound of the JSON decoder holds:
//! nesting depth (of `data`, as for JSON), attachment count, and no
//! allocation beyond what the message's own bytes can fill.
//!
//! Values msgpack has and JSON lacks are read as `JSON.stringify` would
//! have sent them with the JSON parser: a non-finite float is `null`, a
//! JavaScript `Date` its ISO 8601 string, an integer map key its decimal
//! string, `undefined` `null` in an array and left out in a map (the
//! envelope's keys included: socket.io-client sends `data: undefined`).
//!
//! Deliberate differences from the reference:
//!
//! * The same checks as the JSON decoder apply to `data` (an event name
//!   must be a string or number and not a reserved one, kinds that carry a
//!   payload need one), and an ack id must fit in a `u64`.
//! * A known key (`type`, `nsp`, `data`, `id`) given twice is rejected
//!   rather than the last one winning.
//! * A literal `{"_placeholder":true,"num":N}` object sent by a client is
//!   taken as a reference to its N-th binary value, as socket.io-parser
//!   takes it, and rejected if there is no such value.

use bytes::Bytes;
use rmp::Marker;
use serde_json::{Map, Number, Value};

use super::packet::{Packet, PacketKind, ParseError, check_placeholders, payload_valid};
use crate::js_date::{iso_string, msgpack_timestamp_ms};

/// Encodes `packet` as the one binary message that carries it.
///
/// As with the JSON codec, a `null` payload is no payload, and a
/// placeholder with no matching attachment stays a plain object. The
/// recovery offset or any other argument is added to `data` beforehand.
///
/// ```
/// use serde_json::json;
/// use switchyard_core::protocol::{Packet, msgpack};
///
/// let bytes = msgpack::encode(&Packet::event("/", json!(["hi", 1])));
/// // {type: 2, nsp: "/", data: ["hi", 1]}
/// assert_eq!(bytes[0], 0x83);
/// let back = msgpack::decode(&bytes, 10, 32).unwrap();
/// assert_eq!(back, Packet::event("/", json!(["hi", 1])));
/// ```
pub fn encode(packet: &Packet) -> Bytes {
    let kind = match packet.kind {
        PacketKind::BinaryEvent => PacketKind::Event,
        PacketKind::BinaryAck => PacketKind::Ack,
        other => other,
    };
    let data = packet.data.as_ref().filter(|data| !data.is_null());
    let mut out = Vec::with_capacity(32 + packet.nsp.len());
    let len = 2 + u32::from(data.is_some()) + u32::from(packet.id.is_some());
    // Writing to a Vec cannot fail, here and below.
    let _ = rmp::encode::write_map_len(&mut out, len);
    let _ = rmp::encode::write_str(&mut out, "type");
    let _ = rmp::encode::write_uint(&mut out, kind as u64);
    let _ = rmp::encode::write_str(&mut out, "nsp");
    let _ = rmp::encode::write_str(&mut out, &packet.nsp);
    if let Some(data) = data {
        let _ = rmp::encode::write_str(&mut out, "data");
        write_value(&mut out, data, &packet.attachments);
    }
    if let Some(id) = packet.id {
        let _ = rmp::encode::write_str(&mut out, "id");
        let _ = rmp::encode::write_uint(&mut out, id);
    }
    Bytes::from(out)
}

/// Writes `value`, with each placeholder that has an attachment as `bin`.
/// Recursive: the values it writes were either built by the server or
/// decoded within the depth bound.
fn write_value(out: &mut Vec<u8>, value: &Value, attachments: &[Bytes]) {
    match value {
        Value::Null => {
            let _ = rmp::encode::write_nil(out);
        }
        Value::Bool(b) => {
            let _ = rmp::encode::write_bool(out, *b);
        }
        Value::Number(n) => write_number(out, n),
        Value::String(s) => {
            let _ = rmp::encode::write_str(out, s);
        }
        Value::Array(items) => {
            let _ = rmp::encode::write_array_len(out, len_u32(items.len()));
            for item in items {
                write_value(out, item, attachments);
            }
        }
        Value::Object(map) => {
            if let Some(bytes) = placeholder_num(map).and_then(|num| attachments.get(num)) {
                let _ = rmp::encode::write_bin(out, bytes);
                return;
            }
            let _ = rmp::encode::write_map_len(out, len_u32(map.len()));
            for (key, item) in map {
                let _ = rmp::encode::write_str(out, key);
                write_value(out, item, attachments);
            }
        }
    }
}

/// A length as msgpack's 32-bit one; no message the server builds comes
/// near 4 G entries, so saturating only guards against the impossible.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Numbers as notepack writes JavaScript's: integral ones as the smallest
/// integer type, others as float 64.
fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        let _ = rmp::encode::write_uint(out, u);
    } else if let Some(i) = n.as_i64() {
        let _ = rmp::encode::write_sint(out, i);
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        // 1.0 is the integer 1 to JavaScript (and to `float` on the way
        // in); past 2^53 a float is written as one, which is exact.
        if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER {
            let i = f as i64;
            let _ = match u64::try_from(i) {
                Ok(u) => rmp::encode::write_uint(out, u),
                Err(_) => rmp::encode::write_sint(out, i),
            };
        } else {
            let _ = rmp::encode::write_f64(out, f);
        }
    }
}

/// The attachment index of a `{"_placeholder":true,"num":N}` object.
fn placeholder_num(map: &Map<String, Value>) -> Option<usize> {
    if map.len() != 2 || map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    map.get("num")?.as_u64()?.try_into().ok()
}

/// Decodes one binary message into a packet, with `bin` values as
/// attachments behind placeholders.
///
/// Refuses more than `max_attachments` binary values
/// ([`ParseError::TooManyAttachments`]), `data` nesting arrays and maps
/// deeper than `max_depth` ([`ParseError::TooDeep`]), and anything the
/// reference decoder refuses; malformed msgpack is [`ParseError::Msgpack`].
pub fn decode(
    bytes: &Bytes,
    max_attachments: usize,
    max_depth: usize,
) -> Result<Packet, ParseError> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        attachments: Vec::new(),
        max_attachments,
        max_depth,
    };
    let packet = reader.packet()?;
    if reader.pos != bytes.len() {
        return Err(ParseError::Msgpack("trailing bytes"));
    }
    Ok(packet)
}

/// A cursor over one message, collecting its binary values.
struct Reader<'a> {
    bytes: &'a Bytes,
    pos: usize,
    attachments: Vec<Bytes>,
    max_attachments: usize,
    max_depth: usize,
}

/// What a msgpack container or scalar header announced.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
    Str(usize),
    Bin(usize),
    Ext(Ext),
}

/// An extension's header: its length, type, and whether it is one of the
/// fixed-length forms (notepack gives some of those a meaning of their own).
#[derive(Clone, Copy)]
struct Ext {
    len: usize,
    kind: i8,
    fixed: bool,
}

const TRUNCATED: ParseError = ParseError::Msgpack("truncated");

impl Reader<'_> {
    fn packet(&mut self) -> Result<Packet, ParseError> {
        let Item::Map(len) = self.item()? else {
            return Err(ParseError::Msgpack("a packet is a map"));
        };
        let (mut kind, mut nsp, mut data, mut id) = (None, None, None, None);
        for _ in 0..len {
            let key = self.key()?;
            let slot = match key.as_str() {
                "type" => &mut kind,
                "nsp" => &mut nsp,
                "data" => &mut data,
                "id" => &mut id,
                _ => {
                    // Ignored, but read under the same bounds (and not
                    // counted as attachments of the packet).
                    let kept = std::mem::take(&mut self.attachments);
                    self.value(1)?;
                    self.attachments = kept;
                    continue;
                }
            };
            if slot.is_some() {
                return Err(ParseError::Msgpack("duplicate key"));
            }
            // socket.io-client leaves `data: undefined` in a CONNECT
            // without auth, which notepack 2 writes: the key is absent.
            if !self.skip_undefined() {
                *slot = Some(self.value(1)?);
            }
        }
        let kind = match kind.as_ref().and_then(integral) {
            Some(0) => PacketKind::Connect,
            Some(1) => PacketKind::Disconnect,
            Some(2) => PacketKind::Event,
            Some(3) => PacketKind::Ack,
            Some(4) => PacketKind::ConnectError,
            _ => return Err(ParseError::UnknownType),
        };
        let Some(Value::String(nsp)) = nsp else {
            return Err(ParseError::Msgpack("the namespace is not a string"));
        };
        let id = match id {
            None => None,
            Some(id) => Some(
                integral(&id)
                    .and_then(|id| u64::try_from(id).ok())
                    .ok_or(ParseError::AckId)?,
            ),
        };
        // `nil` data is `null`, which no packet type accepts (the
        // reference checks for `undefined`, an absent key).
        if !payload_valid(kind, data.as_ref()) {
            return Err(ParseError::InvalidPayload);
        }
        let attachments = std::mem::take(&mut self.attachments);
        check_placeholders(data.as_ref(), attachments.len())?;
        Ok(Packet {
            kind,
            nsp,
            id,
            data,
            attachments,
        })
    }

    /// A map key as JavaScript has it: a string, or a number's decimal form.
    fn key(&mut self) -> Result<String, ParseError> {
        match self.item()? {
            Item::Str(len) => self.str(len),
            Item::Value(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(ParseError::Msgpack("a map key is not a string")),
        }
    }

    /// One value at nesting `depth` (1 for the envelope's values);
    /// containers past `max_depth` are refused before anything is read.
    /// Recursive, with the depth bounded by `max_depth`.
    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        let item = self.item()?;
        if matches!(item, Item::Array(_) | Item::Map(_)) && depth > self.max_depth {
            return Err(ParseError::TooDeep(self.max_depth));
        }
        Ok(match item {
            Item::Value(value) => value,
            Item::Str(len) => Value::String(self.str(len)?),
            Item::Bin(len) => self.bin(len, depth)?,
            Item::Ext(ext) => self.ext(ext, depth)?,
            Item::Array(len) => {
                // Every item takes at least one byte: no allocation past
                // what the message holds.
                let mut items = Vec::with_capacity(len.min(self.remaining()));
                for _ in 0..len {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            Item::Map(len) => {
                let mut map = Map::new();
                for _ in 0..len {
                    let key = self.key()?;
                    // Left out, as `JSON.stringify` leaves out an
                    // `undefined` property.
                    if !self.skip_undefined() {
                        let value = self.value(depth + 1)?;
                        map.insert(key, value);
                    }
                }
                Value::Object(map)
            }
        })
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        let byte = self.take(1)?[0];
        Ok(match Marker::from_u8(byte) {
            Marker::FixPos(n) => Item::Value(Value::from(n)),
            Marker::FixNeg(n) => Item::Value(Value::from(n)),
            Marker::Null => Item::Value(Value::Null),
            Marker::True => Item::Value(Value::Bool(true)),
            Marker::False => Item::Value(Value::Bool(false)),
            Marker::U8 => Item::Value(Value::from(self.uint(1)?)),
            Marker::U16 => Item::Value(Value::from(self.uint(2)?)),
            Marker::U32 => Item::Value(Value::from(self.uint(4)?)),
            Marker::U64 => Item::Value(Value::from(self.uint(8)?)),
            Marker::I8 => Item::Value(Value::from(self.take(1)?[0] as i8)),
            Marker::I16 => Item::Value(Value::from(self.uint(2)? as u16 as i16)),
            Marker::I32 => Item::Value(Value::from(self.uint(4)? as u32 as i32)),
            Marker::I64 => Item::Value(Value::from(self.uint(8)? as i64)),
            Marker::F32 => Item::Value(float(f64::from(f32::from_bits(self.uint(4)? as u32)))),
            Marker::F64 => Item::Value(float(f64::from_bits(self.uint(8)?))),
            Marker::FixStr(n) => Item::Str(n.into()),
            Marker::Str8 => Item::Str(self.len(1)?),
            Marker::Str16 => Item::Str(self.len(2)?),
            Marker::Str32 => Item::Str(self.len(4)?),
            Marker::Bin8 => Item::Bin(self.len(1)?),
            Marker::Bin16 => Item::Bin(self.len(2)?),
            Marker::Bin32 => Item::Bin(self.len(4)?),
            Marker::FixArray(n) => Item::Array(n.into()),
            Marker::Array16 => Item::Array(self.len(2)?),
            Marker::Array32 => Item::Array(self.len(4)?),
            Marker::FixMap(n) => Item::Map(n.into()),
            Marker::Map16 => Item::Map(self.len(2)?),
            Marker::Map32 => Item::Map(self.len(4)?),
            Marker::FixExt1 => self.ext_header(1, true)?,
            Marker::FixExt2 => self.ext_header(2, true)?,
            Marker::FixExt4 => self.ext_header(4, true)?,
            Marker::FixExt8 => self.ext_header(8, true)?,
            Marker::FixExt16 => self.ext_header(16, true)?,
            Marker::Ext8 => {
                let len = self.len(1)?;
                self.ext_header(len, false)?
            }
            Marker::Ext16 => {
                let len = self.len(2)?;
                self.ext_header(len, false)?
            }
            Marker::Ext32 => {
                let len = self.len(4)?;
                self.ext_header(len, false)?
            }
            Marker::Reserved => return Err(ParseError::Msgpack("reserved byte 0xc1")),
        })
    }

    /// Reads `undefined` (notepack's fixext 1 of type 0) if it comes next.
    fn skip_undefined(&mut self) -> bool {
        let undefined = self.bytes[self.pos..].starts_with(&[0xd4, 0x00]) && self.remaining() >= 3;
        if undefined {
            self.pos += 3;
        }
        undefined
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], ParseError> {
        if n > self.remaining() {
            return Err(TRUNCATED);
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.bytes[start..self.pos])
    }

    /// A big-endian unsigned integer of `n` bytes (at most 8).
    fn uint(&mut self, n: usize) -> Result<u64, ParseError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A length of `n` bytes; one that the rest of the message cannot hold
    /// is refused here, before anything is allocated for it.
    fn len(&mut self, n: usize) -> Result<usize, ParseError> {
        let len = usize::try_from(self.uint(n)?).map_err(|_| TRUNCATED)?;
        if len > self.remaining() {
            return Err(TRUNCATED);
        }
        Ok(len)
    }

    fn ext_header(&mut self, len: usize, fixed: bool) -> Result<Item, ParseError> {
        let kind = self.take(1)?[0] as i8;
        Ok(Item::Ext(Ext { len, kind, fixed }))
    }

    /// A string; invalid UTF-8 is replaced as Node's `Buffer#toString` does.
    fn str(&mut self, len: usize) -> Result<String, ParseError> {
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }

    /// A binary value at nesting `depth`: an attachment (sharing the
    /// message's memory) and the placeholder that stands for it. The
    /// placeholder is an object, as nested as it would be in JSON, so it
    /// counts as a level.
    fn bin(&mut self, len: usize, depth: usize) -> Result<Value, ParseError> {
        if depth > self.max_depth {
            return Err(ParseError::TooDeep(self.max_depth));
        }
        if self.attachments.len() >= self.max_attachments {
            return Err(ParseError::TooManyAttachments(self.max_attachments));
        }
        self.take(len)?;
        self.attachments
            .push(self.bytes.slice(self.pos - len..self.pos));
        Ok(Packet::placeholder(self.attachments.len() - 1))
    }

    /// An extension value, read as notepack (2.2, the parser's, and 3.x)
    /// reads it: a JavaScript `Date` (fixext 8 of type 0, its ms; or a
    /// msgpack timestamp, type -1) becomes its ISO string as
    /// `JSON.stringify` writes it; `undefined` (fixext 1 of type 0) is
    /// `null`; other type 0 extensions are ArrayBuffers, that is binary
    /// values; any other is `[type, bytes]`.
    fn ext(&mut self, ext: Ext, depth: usize) -> Result<Value, ParseError> {
        match (ext.kind, ext.len, ext.fixed) {
            (0, 1, true) => {
                self.take(1)?;
                Ok(Value::Null)
            }
            (0, 8, true) => {
                let ms = self.uint(8)? as i64;
                Ok(iso_string(ms.into()).map_or(Value::Null, Value::String))
            }
            (0, len, _) => self.bin(len, depth),
            (-1, 4 | 8 | 12, _) => {
                let raw = self.take(ext.len)?;
                let date = msgpack_timestamp_ms(raw).and_then(iso_string);
                Ok(date.map_or(Value::Null, Value::String))
            }
            (-1, _, _) => Err(ParseError::Msgpack("invalid timestamp")),
            (kind, len, _) => {
                let bin = self.bin(len, depth + 1)?;
                Ok(Value::Array(vec![Value::from(kind), bin]))
            }
        }
    }
}

/// An integer type or id: msgpack integers, and integral floats as
/// JavaScript's `Number.isInteger` accepts them.
fn integral(value: &Value) -> Option<i64> {
    let n = match value {
        Value::Number(n) => n,
        _ => return None,
    };
    n.as_i64().or_else(|| {
        let f = n.as_f64()?;
        (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
    })
}

/// A float as JSON can hold it: NaN and infinities become `null`, as
/// `JSON.stringify` writes them; an integral one within 2^53 is the
/// integer JavaScript sees (and [`encode`] writes back).
fn float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER {
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// 2^53: up to it, an integral float is an integer to JavaScript.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

#[cfg(test)]
mod tests;
