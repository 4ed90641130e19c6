//! Socket.IO v5 packet codec: pure encode/decode, including binary
//! placeholders and the reassembly of a packet with its attachments.
//!
//! No I/O, no actix, no clocks. The Socket.IO layer feeds Engine.IO message
//! payloads into a [`Decoder`] and encodes outgoing packets with
//! [`Packet::encode`].
//!
//! Wire format: `<type>[<attachments>-][<nsp>,][<ack id>][<JSON data>]`.
//! Decoding follows socket.io-parser 4.2.x (the reference implementation)
//! wherever the result is well defined, so that a client the reference
//! server accepts is accepted here and one it rejects is rejected here. The
//! deliberate differences:
//!
//! * EVENT, ACK and CONNECT_ERROR packets (and their binary forms) without a
//!   JSON payload are rejected: the reference parser lets them through, but
//!   no client sends them and the layer above would have nothing to dispatch.
//! * An ack id that does not fit in a `u64` is rejected instead of being
//!   rounded to a float.
//! * JavaScript's `Number()` coercions are not reproduced: the type, the
//!   attachment count and the ack id are plain ASCII digits, where the
//!   reference also reads whitespace as 0 and takes `+5e1` or `1.0` as
//!   numbers. In particular the empty string is [`ParseError::Empty`], not
//!   a CONNECT to `/`.
//! * JSON strings holding a lone UTF-16 surrogate (`"\ud800"`) are a
//!   [`ParseError::Json`], since a Rust `String` cannot represent them.

use std::io::Write as _;

use bytes::Bytes;
use serde_json::Value;

use super::{Parser, msgpack};

/// Socket.IO packet types, with their wire digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// CONNECT: the client joins a namespace (data: its `auth` object); the
    /// server answers with one carrying the socket id.
    Connect = 0,
    /// DISCONNECT: either side leaves a namespace; no data.
    Disconnect = 1,
    /// EVENT: an emit, data `[name, ...args]`, with an id when it wants an ack.
    Event = 2,
    /// ACK: the answer to an EVENT with an id, data `[...args]`.
    Ack = 3,
    /// CONNECT_ERROR: the server refused a CONNECT (data: `{message, data}`).
    ConnectError = 4,
    /// BINARY_EVENT: an EVENT whose binary arguments follow as attachments.
    BinaryEvent = 5,
    /// BINARY_ACK: an ACK whose binary arguments follow as attachments.
    BinaryAck = 6,
}

/// One decoded (or to-be-encoded) Socket.IO packet.
///
/// `data` keeps binary placeholders (`{"_placeholder":true,"num":N}`) in place;
/// `attachments[N]` is the buffer that placeholder stands for. On encode, a
/// packet with attachments is written as BINARY_EVENT / BINARY_ACK whatever
/// `kind` says for Event / Ack.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketKind,
    /// Namespace, `"/"` by default (omitted on the wire when it is `/`).
    pub nsp: String,
    /// Ack id: set on an EVENT that expects an answer and on the ACK that
    /// gives it.
    pub id: Option<u64>,
    /// The JSON payload (CONNECT's auth, EVENT's `[name, ...args]`, ACK's
    /// args, CONNECT_ERROR's error); `None` when the packet carries none.
    pub data: Option<Value>,
    /// Binary attachments; placeholder `num: N` in `data` stands for `attachments[N]`.
    pub attachments: Vec<Bytes>,
}

/// Why a Socket.IO packet is invalid. Any of these closes the connection
/// with reason "parse error".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The message was empty.
    #[error("empty packet")]
    Empty,
    /// The first character is not a packet type digit (0 to 6).
    #[error("unknown packet type")]
    UnknownType,
    /// A malformed attachment count, attachments on a non-binary packet, or
    /// a placeholder that points at no attachment.
    #[error("invalid attachment count")]
    Attachments,
    /// A binary packet announced more attachments than the limit it carries;
    /// the limit bounds what one client can make the server buffer.
    #[error("too many attachments (max {0})")]
    TooManyAttachments(usize),
    /// A namespace without its leading `/` or with a `,` in it; only
    /// [`Packet::validate`] reports it, the decoder taking any namespace as
    /// socket.io-parser does.
    #[error("invalid namespace")]
    Namespace,
    /// An ack id that does not fit in a `u64`.
    #[error("invalid ack id")]
    AckId,
    /// The payload is not valid JSON.
    #[error("invalid JSON payload")]
    Json,
    /// The payload nests arrays and objects deeper than the limit.
    #[error("JSON payload nested deeper than {0}")]
    TooDeep(usize),
    /// The JSON does not have the shape the packet type requires (for
    /// instance an EVENT that is not `[name, ...]`, or a reserved event name).
    #[error("payload not allowed for this packet type")]
    InvalidPayload,
    /// A binary message arrived while no binary packet was waiting for one.
    #[error("unexpected binary attachment")]
    UnexpectedBinary,
    /// A text message arrived before the pending packet had all its attachments.
    #[error("text packet received while attachments were pending")]
    PendingAttachments,
    /// A message that is not a packet of `socket.io-msgpack-parser`:
    /// malformed msgpack, not the `{type, nsp, data, id}` map, or a text
    /// message on a connection whose packets are binary.
    #[error("invalid msgpack packet: {0}")]
    Msgpack(&'static str),
}

/// Event names the reference parser refuses, because Socket.IO and Node's
/// EventEmitter give them a meaning of their own; accepting them would let a
/// client fake lifecycle events on the server (and a server may not emit them).
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

impl PacketKind {
    fn from_digit(digit: u8) -> Option<PacketKind> {
        Some(match digit {
            b'0' => PacketKind::Connect,
            b'1' => PacketKind::Disconnect,
            b'2' => PacketKind::Event,
            b'3' => PacketKind::Ack,
            b'4' => PacketKind::ConnectError,
            b'5' => PacketKind::BinaryEvent,
            b'6' => PacketKind::BinaryAck,
            _ => return None,
        })
    }

    fn digit(self) -> char {
        char::from(b'0' + self as u8)
    }

    fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }
}

impl Packet {
    /// A packet of `kind` for namespace `nsp` with no id, data or attachments.
    pub fn new(kind: PacketKind, nsp: impl Into<String>) -> Packet {
        Packet {
            kind,
            nsp: nsp.into(),
            id: None,
            data: None,
            attachments: Vec::new(),
        }
    }

    /// CONNECT, with the optional auth (client) / `{"sid": ...}` (server) object.
    pub fn connect(nsp: impl Into<String>, data: Option<Value>) -> Packet {
        Packet {
            data,
            ..Packet::new(PacketKind::Connect, nsp)
        }
    }

    /// DISCONNECT.
    pub fn disconnect(nsp: impl Into<String>) -> Packet {
        Packet::new(PacketKind::Disconnect, nsp)
    }

    /// EVENT; `data` is `[name, args...]`.
    pub fn event(nsp: impl Into<String>, data: Value) -> Packet {
        Packet {
            data: Some(data),
            ..Packet::new(PacketKind::Event, nsp)
        }
    }

    /// ACK for the event that carried ack id `id`; `data` is the array of
    /// arguments.
    pub fn ack(nsp: impl Into<String>, id: u64, data: Value) -> Packet {
        Packet {
            id: Some(id),
            data: Some(data),
            ..Packet::new(PacketKind::Ack, nsp)
        }
    }

    /// CONNECT_ERROR in the v5 shape `{"message": ...}` that clients surface
    /// as `err.message`.
    pub fn connect_error(nsp: impl Into<String>, message: impl Into<String>) -> Packet {
        let mut data = serde_json::Map::new();
        data.insert("message".to_owned(), Value::String(message.into()));
        Packet {
            data: Some(Value::Object(data)),
            ..Packet::new(PacketKind::ConnectError, nsp)
        }
    }

    /// Sets the ack id.
    pub fn with_id(mut self, id: u64) -> Packet {
        self.id = Some(id);
        self
    }

    /// Sets the attachments that the placeholders in `data` refer to.
    pub fn with_attachments(mut self, attachments: Vec<Bytes>) -> Packet {
        self.attachments = attachments;
        self
    }

    /// The JSON that stands for `attachments[num]` inside `data`.
    pub fn placeholder(num: usize) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("_placeholder".to_owned(), Value::Bool(true));
        map.insert("num".to_owned(), Value::from(num));
        Value::Object(map)
    }

    /// Checks that the packet would be accepted by a peer's decoder (the
    /// equivalent of socket.io-parser's `isPacketValid`). [`Packet::encode`]
    /// does not check, so that callers that build packets from known-good
    /// parts pay nothing; call this where the parts come from elsewhere.
    pub fn validate(&self) -> Result<(), ParseError> {
        // A comma ends the namespace on the wire, and without the leading
        // slash the peer reads the namespace as id/JSON.
        if self.nsp != "/" && (!self.nsp.starts_with('/') || self.nsp.contains(',')) {
            return Err(ParseError::Namespace);
        }
        let kind = self.wire_kind();
        // Null is dropped by `encode`, so judge what the peer will see.
        let data = self.data.as_ref().filter(|data| !data.is_null());
        if !payload_valid(kind, data) {
            return Err(ParseError::InvalidPayload);
        }
        if !self.attachments.is_empty() && !kind.is_binary() {
            return Err(ParseError::Attachments);
        }
        check_placeholders(data, self.attachments.len())
    }

    /// Encodes to the text part and the binary attachments, each one Engine.IO message.
    ///
    /// As with socket.io-parser, a `null` payload is treated as no payload.
    /// Attachments are only sent with events and acks; on any other kind
    /// they are dropped, since the peer would reject binary messages it was
    /// not told to expect. A BINARY_EVENT / BINARY_ACK without attachments
    /// goes out as a plain EVENT / ACK, because a count of 0 is invalid.
    pub fn encode(&self) -> (String, Vec<Bytes>) {
        let mut text = Vec::with_capacity(64 + self.nsp.len());
        let binary = self.encode_text_into(&mut text);
        let text = String::from_utf8(text).expect("a digit, a namespace, numbers and JSON");
        let attachments = if binary {
            self.attachments.clone()
        } else {
            Vec::new()
        };
        (text, attachments)
    }

    /// Appends the text part of [`encode`](Self::encode) to `out` (which
    /// may already hold, say, the Engine.IO type digit). Returns whether
    /// the attachments go with it.
    pub fn encode_text_into(&self, out: &mut Vec<u8>) -> bool {
        let kind = self.wire_kind();
        write_header(out, kind, self.attachments.len(), &self.nsp, self.id);
        if let Some(data) = self.data.as_ref().filter(|data| !data.is_null()) {
            // Serializing a `Value` cannot fail: its map keys are strings and
            // its numbers are finite.
            let _ = serde_json::to_writer(&mut *out, data);
        }
        kind.is_binary()
    }

    /// The packet type that goes on the wire, which depends on whether there
    /// are attachments rather than on `kind` alone.
    fn wire_kind(&self) -> PacketKind {
        self.kind.on_wire(!self.attachments.is_empty())
    }
}

impl PacketKind {
    /// The type that goes on the wire for a packet of this kind with (or
    /// without) attachments.
    pub(crate) fn on_wire(self, binary: bool) -> PacketKind {
        match self {
            PacketKind::Event | PacketKind::BinaryEvent if binary => PacketKind::BinaryEvent,
            PacketKind::Event | PacketKind::BinaryEvent => PacketKind::Event,
            PacketKind::Ack | PacketKind::BinaryAck if binary => PacketKind::BinaryAck,
            PacketKind::Ack | PacketKind::BinaryAck => PacketKind::Ack,
            other => other,
        }
    }
}

/// Writes what precedes a packet's JSON: `<type>[<attachments>-][<nsp>,][<ack id>]`.
pub(crate) fn write_header(
    out: &mut Vec<u8>,
    kind: PacketKind,
    attachments: usize,
    nsp: &str,
    id: Option<u64>,
) {
    out.push(kind.digit() as u8);
    if kind.is_binary() {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{attachments}-");
    }
    if !nsp.is_empty() && nsp != "/" {
        out.extend_from_slice(nsp.as_bytes());
        out.push(b',');
    }
    if let Some(id) = id {
        let _ = write!(out, "{id}");
    }
}

/// Incremental decoder for one connection: text packets complete at once;
/// a binary packet completes when all its attachments have arrived.
///
/// Like socket.io-parser, a completed binary packet comes out as
/// [`PacketKind::Event`] / [`PacketKind::Ack`] with `attachments` filled, so
/// that the layer above handles both forms in one place. After an error the
/// decoder holds nothing pending and can take the next packet.
#[derive(Debug)]
pub struct Decoder {
    parser: Parser,
    max_attachments: usize,
    max_depth: usize,
    pending: Option<(Packet, usize)>,
}

/// Deepest nesting serde_json parses; a decoder's bound never exceeds it.
pub const MAX_JSON_DEPTH: usize = 128;

impl Decoder {
    /// A decoder refusing packets that announce more than `max_attachments`
    /// binary attachments ([`ParseError::TooManyAttachments`]).
    pub fn new(max_attachments: usize) -> Decoder {
        Decoder {
            parser: Parser::Json,
            max_attachments,
            max_depth: MAX_JSON_DEPTH,
            pending: None,
        }
    }

    /// Also refuses payloads nesting arrays and objects deeper than
    /// `max_depth` ([`ParseError::TooDeep`]), checked in one pass before
    /// the JSON is parsed; at most [`MAX_JSON_DEPTH`].
    pub fn with_max_depth(mut self, max_depth: usize) -> Decoder {
        self.max_depth = max_depth.min(MAX_JSON_DEPTH);
        self
    }

    /// Decodes the packets of `parser` (JSON by default). With
    /// [`Parser::Msgpack`] each binary message is a whole packet
    /// ([`msgpack::decode`], under the same bounds)
    /// and a text message is an error.
    pub fn with_parser(mut self, parser: Parser) -> Decoder {
        self.parser = parser;
        self
    }

    /// Feeds one text Engine.IO message. Returns the packet if it is complete.
    pub fn feed_text(&mut self, text: &str) -> Result<Option<Packet>, ParseError> {
        if self.parser == Parser::Msgpack {
            return Err(ParseError::Msgpack("a text message"));
        }
        if self.pending.take().is_some() {
            return Err(ParseError::PendingAttachments);
        }
        let (mut packet, count) = decode_text(text, self.max_attachments, self.max_depth)?;
        if count == 0 {
            return Ok(Some(packet));
        }
        packet.kind = match packet.kind {
            PacketKind::BinaryAck => PacketKind::Ack,
            _ => PacketKind::Event,
        };
        self.pending = Some((packet, count));
        Ok(None)
    }

    /// Feeds one binary Engine.IO message (an attachment).
    pub fn feed_binary(&mut self, data: Bytes) -> Result<Option<Packet>, ParseError> {
        if self.parser == Parser::Msgpack {
            return msgpack::decode(&data, self.max_attachments, self.max_depth).map(Some);
        }
        let (mut packet, count) = self.pending.take().ok_or(ParseError::UnexpectedBinary)?;
        packet.attachments.push(data);
        if packet.attachments.len() < count {
            self.pending = Some((packet, count));
            return Ok(None);
        }
        check_placeholders(packet.data.as_ref(), count)?;
        Ok(Some(packet))
    }

    /// Drops a partly received binary packet (socket.io-parser's `destroy`).
    pub fn reset(&mut self) {
        self.pending = None;
    }
}

/// Decodes the text part of a packet. Returns the packet as it is on the
/// wire and the number of attachments that must follow it (0 for non-binary
/// packets, at least 1 for binary ones).
fn decode_text(
    text: &str,
    max_attachments: usize,
    max_depth: usize,
) -> Result<(Packet, usize), ParseError> {
    let first = *text.as_bytes().first().ok_or(ParseError::Empty)?;
    let kind = PacketKind::from_digit(first).ok_or(ParseError::UnknownType)?;
    // The first byte is an ASCII digit, so index 1 is a char boundary; so is
    // every index found below, as they are all next to ASCII characters.
    let mut rest = &text[1..];

    let mut count = 0;
    if kind.is_binary() {
        let dash = rest.find('-').ok_or(ParseError::Attachments)?;
        count = parse_attachment_count(&rest[..dash], max_attachments)?;
        rest = &rest[dash + 1..];
    }

    // The reference parser ends the namespace at the first comma or, failing
    // that, at the end of the message, whatever it contains.
    let nsp = if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        let nsp = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or("");
        nsp
    } else {
        "/"
    };

    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits == 0 {
        None
    } else {
        // All digits, so the only possible failure is overflow.
        Some(
            rest[..digits]
                .parse::<u64>()
                .map_err(|_| ParseError::AckId)?,
        )
    };
    rest = &rest[digits..];

    let data = if rest.is_empty() {
        None
    } else {
        if nesting_exceeds(rest, max_depth) {
            return Err(ParseError::TooDeep(max_depth));
        }
        Some(serde_json::from_str::<Value>(rest).map_err(|_| ParseError::Json)?)
    };
    if !payload_valid(kind, data.as_ref()) {
        return Err(ParseError::InvalidPayload);
    }

    let packet = Packet {
        kind,
        nsp: nsp.to_owned(),
        id,
        data,
        attachments: Vec::new(),
    };
    Ok((packet, count))
}

/// Whether `json` nests arrays and objects deeper than `max`: one pass,
/// brackets inside strings skipped. Malformed input is left to the parser.
fn nesting_exceeds(json: &str, max: usize) -> bool {
    // Nesting deeper than `max` needs more than `max` opening brackets. Most
    // packets have a handful: counting them is one branch-free (vectorized)
    // pass, where the exact walk below costs a branchy step per byte.
    let opening = json.bytes().filter(|&b| b == b'[' || b == b'{').count();
    if opening <= max {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for b in json.bytes() {
        match (in_string, b) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (true, b'"') | (false, b'"') => in_string = !in_string,
            (false, b'[' | b'{') => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            (false, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn parse_attachment_count(digits: &str, max_attachments: usize) -> Result<usize, ParseError> {
    // Checked by hand: `str::parse` would also accept a leading `+`.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Attachments);
    }
    // Only overflow can fail here; a count that large is over any limit.
    let count = digits
        .parse::<usize>()
        .map_err(|_| ParseError::TooManyAttachments(max_attachments))?;
    if count == 0 {
        // A binary packet announces at least one attachment; with 0 the
        // reference parser would wait forever for a buffer, so it rejects it.
        return Err(ParseError::Attachments);
    }
    if count > max_attachments {
        return Err(ParseError::TooManyAttachments(max_attachments));
    }
    Ok(count)
}

/// socket.io-parser's `isPayloadValid`, plus the requirement that the kinds
/// that carry a payload have one (see the module docs).
pub(super) fn payload_valid(kind: PacketKind, data: Option<&Value>) -> bool {
    match kind {
        PacketKind::Connect => matches!(data, None | Some(Value::Object(_))),
        PacketKind::Disconnect => data.is_none(),
        PacketKind::ConnectError => matches!(data, Some(Value::String(_) | Value::Object(_))),
        PacketKind::Event | PacketKind::BinaryEvent => match data {
            Some(Value::Array(items)) => match items.first() {
                Some(Value::Number(_)) => true,
                Some(Value::String(name)) => !RESERVED_EVENTS.contains(&name.as_str()),
                _ => false,
            },
            _ => false,
        },
        PacketKind::Ack | PacketKind::BinaryAck => matches!(data, Some(Value::Array(_))),
    }
}

/// Rejects a placeholder that points at no attachment, as socket.io-parser
/// does when it reconstructs the packet, so that the layer above can index
/// `attachments` with any placeholder it finds.
pub(super) fn check_placeholders(data: Option<&Value>, count: usize) -> Result<(), ParseError> {
    // Iterative, so that nesting depth cannot exhaust the stack.
    let mut stack: Vec<&Value> = data.into_iter().collect();
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
                // Any integral JSON number counts (`1.0` is 1 in JavaScript).
                let valid = map
                    .get("num")
                    .and_then(Value::as_f64)
                    .is_some_and(|num| num >= 0.0 && num.fract() == 0.0 && num < count as f64);
                if !valid {
                    return Err(ParseError::Attachments);
                }
            }
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
