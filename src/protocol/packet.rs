//! Socket.IO v5 packet codec: pure encode/decode, including binary
//! placeholders and the reassembly of a packet with its attachments.
//!
//! No I/O, no actix, no clocks. The Socket.IO layer feeds Engine.IO message
//! payloads into a [`Decoder`] and encodes outgoing packets with
//! [`Packet::encode`].

use bytes::Bytes;
use serde_json::Value;

/// Socket.IO packet types, with their wire digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
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
    pub kind: PacketKind,
    /// Namespace, `"/"` by default (omitted on the wire when it is `/`).
    pub nsp: String,
    pub id: Option<u64>,
    pub data: Option<Value>,
    pub attachments: Vec<Bytes>,
}

/// Why a Socket.IO packet is invalid. Any of these closes the connection
/// with reason "parse error".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty packet")]
    Empty,
    #[error("unknown packet type")]
    UnknownType,
    #[error("invalid attachment count")]
    Attachments,
    #[error("too many attachments (max {0})")]
    TooManyAttachments(usize),
    #[error("invalid namespace")]
    Namespace,
    #[error("invalid ack id")]
    AckId,
    #[error("invalid JSON payload")]
    Json,
    #[error("payload not allowed for this packet type")]
    InvalidPayload,
    #[error("unexpected binary attachment")]
    UnexpectedBinary,
    #[error("text packet received while attachments were pending")]
    PendingAttachments,
}

impl Packet {
    /// A packet of `kind` for namespace `nsp` with no id, data or attachments.
    pub fn new(kind: PacketKind, nsp: impl Into<String>) -> Packet {
        Packet { kind, nsp: nsp.into(), id: None, data: None, attachments: Vec::new() }
    }

    /// Encodes to the text part and the binary attachments, each one Engine.IO message.
    pub fn encode(&self) -> (String, Vec<Bytes>) {
        todo!()
    }
}

/// Incremental decoder for one connection: text packets complete at once;
/// a binary packet completes when all its attachments have arrived.
#[derive(Debug)]
pub struct Decoder {
    max_attachments: usize,
    pending: Option<(Packet, usize)>,
}

impl Decoder {
    pub fn new(max_attachments: usize) -> Decoder {
        Decoder { max_attachments, pending: None }
    }

    /// Feeds one text Engine.IO message. Returns the packet if it is complete.
    pub fn feed_text(&mut self, text: &str) -> Result<Option<Packet>, ParseError> {
        todo!("{text}")
    }

    /// Feeds one binary Engine.IO message (an attachment).
    pub fn feed_binary(&mut self, data: Bytes) -> Result<Option<Packet>, ParseError> {
        todo!("{data:?}")
    }
}
