//! Engine.IO packet codec: pure functions from packets to wire frames and back.
//!
//! Owns the Engine.IO v4 packet and payload formats (and, behind
//! [`ProtocolVersion`], the v3 variants legacy clients speak). No I/O, no
//! actix, no clocks: everything here is deterministic and unit-tested.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use bytes::Bytes;
use bytestring::ByteString;

/// The Engine.IO protocol revision a session speaks (`EIO=` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    /// `EIO=3` (socket.io 2.x clients, sails.io.js): length-prefixed polling
    /// payloads, binary frames behind a type byte, the client pings.
    V3,
    /// `EIO=4` (socket.io 3.x and later).
    V4,
}

impl std::fmt::Display for ProtocolVersion {
    /// As the `EIO` query parameter writes it: `3` or `4`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V3 => "3",
            ProtocolVersion::V4 => "4",
        })
    }
}

/// One Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0` + handshake JSON.
    Open(String),
    /// `1`.
    Close,
    /// `2` + optional data (`"probe"` during upgrade).
    Ping(String),
    /// `3` + optional data.
    Pong(String),
    /// `4` + text.
    Message(String),
    /// A binary message (a raw binary WebSocket frame, or `b`+base64 in a polling payload).
    Binary(Bytes),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
}

/// One encoded packet as it travels in a WebSocket frame. The unit that
/// session queues hold: encoded once, cheap to clone, shared across recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame: the packet type digit and its data.
    Text(ByteString),
    /// A binary frame: a binary message (in v3, behind its type byte).
    Binary(Bytes),
}

/// Why some bytes are not a valid packet or payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("empty packet")]
    Empty,
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    #[error("invalid base64 in binary packet")]
    Base64,
    #[error("binary frame is not valid for this protocol version")]
    InvalidBinary,
    #[error("malformed payload: {0}")]
    Payload(&'static str),
}

/// v4 polling payloads are delimited by the ASCII record separator, which
/// cannot appear in base64 and is vanishingly rare in real text.
const SEPARATOR: char = '\x1e';

/// v3 binary frames start with the packet type as a raw byte; only messages
/// ever carry binary data.
const V3_BINARY_MESSAGE: u8 = 4;

impl Packet {
    /// Encodes the packet as a WebSocket frame for `version`.
    pub fn encode(&self, version: ProtocolVersion) -> Frame {
        let (digit, data) = match self {
            Packet::Binary(data) => {
                return match version {
                    ProtocolVersion::V4 => Frame::Binary(data.clone()),
                    ProtocolVersion::V3 => {
                        let mut framed = Vec::with_capacity(data.len() + 1);
                        framed.push(V3_BINARY_MESSAGE);
                        framed.extend_from_slice(data);
                        Frame::Binary(framed.into())
                    }
                };
            }
            Packet::Open(data) => ('0', data.as_str()),
            Packet::Close => ('1', ""),
            Packet::Ping(data) => ('2', data.as_str()),
            Packet::Pong(data) => ('3', data.as_str()),
            Packet::Message(data) => ('4', data.as_str()),
            Packet::Upgrade => ('5', ""),
            Packet::Noop => ('6', ""),
        };
        let mut text = String::with_capacity(1 + data.len());
        text.push(digit);
        text.push_str(data);
        Frame::Text(text.into())
    }

    /// Decodes a text WebSocket frame (or one packet of a polling payload).
    pub(crate) fn decode_text(text: &str) -> Result<Packet, DecodeError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(DecodeError::Empty)?;
        let data = chars.as_str();
        // Like engine.io-parser, data after a close/upgrade/noop is ignored
        // rather than rejected.
        Ok(match kind {
            '0' => Packet::Open(data.to_owned()),
            '1' => Packet::Close,
            '2' => Packet::Ping(data.to_owned()),
            '3' => Packet::Pong(data.to_owned()),
            '4' => Packet::Message(data.to_owned()),
            '5' => Packet::Upgrade,
            '6' => Packet::Noop,
            'b' => Packet::Binary(decode_base64(data)?),
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    /// Decodes a text WebSocket frame for `version`: a v3 client that
    /// cannot send binary (`forceBase64`) spells a binary message `b4<base64>`.
    /// A message (the common case) keeps the frame's text, its type digit
    /// taken off in place, rather than copying it.
    pub(crate) fn decode_frame_text(
        mut text: String,
        version: ProtocolVersion,
    ) -> Result<Packet, DecodeError> {
        match version {
            ProtocolVersion::V3 => decode_v3_record(&text),
            ProtocolVersion::V4 if text.starts_with('4') => {
                text.remove(0);
                Ok(Packet::Message(text))
            }
            ProtocolVersion::V4 => Packet::decode_text(&text),
        }
    }

    /// Decodes a binary WebSocket frame for `version`.
    pub(crate) fn decode_binary(
        data: Bytes,
        version: ProtocolVersion,
    ) -> Result<Packet, DecodeError> {
        match version {
            ProtocolVersion::V4 => Ok(Packet::Binary(data)),
            ProtocolVersion::V3 => match data.first() {
                Some(&V3_BINARY_MESSAGE) => Ok(Packet::Binary(data.slice(1..))),
                _ => Err(DecodeError::InvalidBinary),
            },
        }
    }
}

impl Frame {
    /// The frame of a message packet (`4` + text) whose text `write`
    /// appends in place, so it is not copied after it; `capacity` is a
    /// guess at its length.
    ///
    /// ```
    /// use switchyard_engineio::Frame;
    /// let frame = Frame::message(8, |text| text.extend_from_slice(b"hello"));
    /// assert_eq!(frame, Frame::Text("4hello".into()));
    /// ```
    ///
    /// # Panics
    ///
    /// If `write` appends bytes that are not UTF-8.
    pub fn message(capacity: usize, write: impl FnOnce(&mut Vec<u8>)) -> Frame {
        let mut text = Vec::with_capacity(1 + capacity);
        text.push(b'4');
        write(&mut text);
        // Exactly its length (in place: a shrinking realloc), so the bytes
        // become a frame with no second allocation for their shared state.
        text.shrink_to_fit();
        Frame::Text(String::from_utf8(text).expect("a message is text").into())
    }

    /// The encoded length in bytes, used for buffer accounting.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(s) => s.len(),
            Frame::Binary(b) => b.len(),
        }
    }

    /// Whether the encoded frame has no bytes (never true for a valid packet).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Encodes frames into one HTTP long-polling response body.
///
/// V3 binary frames are expected as produced by [`Packet::encode`], i.e. with
/// the leading type byte; it becomes the digit after `b` in the string form.
pub(crate) fn encode_payload(frames: &[Frame], version: ProtocolVersion) -> String {
    let mut out = String::with_capacity(frames.iter().map(|f| f.len() * 4 / 3 + 8).sum());
    match version {
        ProtocolVersion::V4 => {
            for (i, frame) in frames.iter().enumerate() {
                if i > 0 {
                    out.push(SEPARATOR);
                }
                match frame {
                    Frame::Text(text) => out.push_str(text),
                    Frame::Binary(data) => {
                        out.push('b');
                        STANDARD.encode_string(data, &mut out);
                    }
                }
            }
        }
        ProtocolVersion::V3 => {
            // engine.io-parser v2 encodes an empty batch as an empty record.
            if frames.is_empty() {
                out.push_str("0:");
            }
            for frame in frames {
                match frame {
                    Frame::Text(text) => {
                        // JS clients measure with `String.length`: UTF-16 units.
                        out.push_str(&text.encode_utf16().count().to_string());
                        out.push(':');
                        out.push_str(text);
                    }
                    Frame::Binary(data) => {
                        let data = data.strip_prefix(&[V3_BINARY_MESSAGE]).unwrap_or(data);
                        let mut record = String::from("b4");
                        STANDARD.encode_string(data, &mut record);
                        // Pure ASCII, so bytes == UTF-16 units.
                        out.push_str(&record.len().to_string());
                        out.push(':');
                        out.push_str(&record);
                    }
                }
            }
        }
    }
    out
}

/// Decodes an HTTP long-polling request body into packets.
pub(crate) fn decode_payload(
    body: &str,
    version: ProtocolVersion,
) -> Result<Vec<Packet>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError::Payload("empty payload"));
    }
    match version {
        ProtocolVersion::V4 => body.split(SEPARATOR).map(Packet::decode_text).collect(),
        ProtocolVersion::V3 => decode_v3_payload(body),
    }
}

/// Marks a record of a v3 binary payload: a string packet or a binary one.
const RECORD_STRING: u8 = 0;
const RECORD_BINARY: u8 = 1;
/// Ends a record's length digits.
const RECORD_LENGTH_END: u8 = 0xff;

/// Encodes frames as a v3 binary payload (engine.io-parser 2's
/// `encodePayloadAsBinary`, for XHR2 clients): per record, 0 (string) or 1
/// (binary), the byte length as one byte per decimal digit, 255, then the
/// UTF-8 text or the binary frame with its type byte.
pub(crate) fn encode_binary_payload(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames.iter().map(|f| f.len() + 12).sum());
    for frame in frames {
        let (kind, data): (u8, &[u8]) = match frame {
            Frame::Text(text) => (RECORD_STRING, text.as_bytes()),
            Frame::Binary(data) => (RECORD_BINARY, data),
        };
        out.push(kind);
        out.extend(data.len().to_string().bytes().map(|d| d - b'0'));
        out.push(RECORD_LENGTH_END);
        out.extend_from_slice(data);
    }
    out
}

/// Decodes a v3 binary payload (an XHR2 client's POST body); see
/// [`encode_binary_payload`].
pub(crate) fn decode_binary_payload(mut rest: &[u8]) -> Result<Vec<Packet>, DecodeError> {
    if rest.is_empty() {
        return Err(DecodeError::Payload("empty payload"));
    }
    let mut packets = Vec::new();
    while let Some((&kind, after)) = rest.split_first() {
        let end = after
            .iter()
            .position(|&b| b == RECORD_LENGTH_END)
            .ok_or(DecodeError::Payload("missing length end"))?;
        let digits = &after[..end];
        // More digits than any length a body can hold is garbage, not a number.
        if digits.is_empty() || digits.len() > 12 || digits.iter().any(|&d| d > 9) {
            return Err(DecodeError::Payload("invalid length"));
        }
        let len = digits.iter().fold(0usize, |n, &d| n * 10 + d as usize);
        let body = &after[end + 1..];
        if len > body.len() {
            return Err(DecodeError::Payload("length exceeds payload"));
        }
        let (record, tail) = body.split_at(len);
        packets.push(match kind {
            RECORD_STRING => {
                let text = std::str::from_utf8(record)
                    .map_err(|_| DecodeError::Payload("invalid UTF-8"))?;
                Packet::decode_text(text)?
            }
            RECORD_BINARY => {
                Packet::decode_binary(Bytes::copy_from_slice(record), ProtocolVersion::V3)?
            }
            _ => return Err(DecodeError::Payload("invalid record type")),
        });
        rest = tail;
    }
    Ok(packets)
}

fn decode_base64(data: &str) -> Result<Bytes, DecodeError> {
    // Node's base64 decoder tolerates missing padding, so clients may omit it.
    STANDARD_PAD_INDIFFERENT
        .decode(data)
        .map(Bytes::from)
        .map_err(|_| DecodeError::Base64)
}

/// Parses `<len>:<packet>` records, where `len` counts UTF-16 code units.
fn decode_v3_payload(mut rest: &str) -> Result<Vec<Packet>, DecodeError> {
    let mut packets = Vec::new();
    while !rest.is_empty() {
        let (len, after) = rest
            .split_once(':')
            .ok_or(DecodeError::Payload("missing length separator"))?;
        // `parse` alone would accept a leading '+'.
        if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecodeError::Payload("invalid length"));
        }
        let units = len
            .parse::<usize>()
            .map_err(|_| DecodeError::Payload("invalid length"))?;
        let (record, tail) = after.split_at(utf16_prefix_end(after, units)?);
        // Zero-length records carry nothing (v2 sends "0:" for an empty batch).
        if !record.is_empty() {
            packets.push(decode_v3_record(record)?);
        }
        rest = tail;
    }
    Ok(packets)
}

/// Byte offset just past the first `units` UTF-16 code units of `s`.
fn utf16_prefix_end(s: &str, units: usize) -> Result<usize, DecodeError> {
    let mut seen = 0;
    for (offset, c) in s.char_indices() {
        if seen == units {
            return Ok(offset);
        }
        seen += c.len_utf16();
    }
    match seen.cmp(&units) {
        std::cmp::Ordering::Equal => Ok(s.len()),
        std::cmp::Ordering::Less => Err(DecodeError::Payload("length exceeds payload")),
        // Only reachable when the length ends inside a surrogate pair.
        std::cmp::Ordering::Greater => Err(DecodeError::Payload("length splits a character")),
    }
}

fn decode_v3_record(record: &str) -> Result<Packet, DecodeError> {
    match record.strip_prefix('b') {
        // v3 spells the packet type after `b`; only binary messages exist.
        Some(typed) => match typed.strip_prefix('4') {
            Some(data) => Ok(Packet::Binary(decode_base64(data)?)),
            None => Err(DecodeError::InvalidBinary),
        },
        None => Packet::decode_text(record),
    }
}

#[cfg(test)]
mod tests;
