//! Socket.IO packets as the Engine.IO frames that carry them, in the
//! server's [`Parser`]: with JSON one text frame, then one binary frame per
//! attachment; with msgpack one binary frame. [`Encoded`] keeps a
//! broadcast's frames once per protocol version, however many clients
//! receive them, with its recovery offset (see `recovery`) for the clients
//! whose protocol can recover.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::Value;
use switchyard_core::Payload;
use switchyard_core::protocol::{Packet, Parser, msgpack};
use switchyard_engineio::packet::Packet as EnginePacket;
use switchyard_engineio::{Frame, ProtocolVersion, SharedFrames};

/// Encodes a Socket.IO packet as the Engine.IO frames that carry it.
pub(crate) fn frames(packet: &Packet, parser: Parser, version: ProtocolVersion) -> Vec<Frame> {
    match parser {
        Parser::Json => json_frames(packet, version, 0, |_| {}),
        Parser::Msgpack => vec![EnginePacket::Binary(msgpack::encode(packet)).encode(version)],
    }
}

/// A packet's JSON text, with `finish` given the text to end (`extra`
/// bytes longer, as a guess), then its attachments.
fn json_frames(
    packet: &Packet,
    version: ProtocolVersion,
    extra: usize,
    finish: impl FnOnce(&mut Vec<u8>),
) -> Vec<Frame> {
    let mut binary = false;
    let text = Frame::message(64 + packet.nsp.len() + extra, |out| {
        binary = packet.encode_text_into(out);
        finish(out);
    });
    let attachments: &[Bytes] = if binary { &packet.attachments } else { &[] };
    with_attachments(text, attachments, version)
}

/// What a payload is sent as: an EVENT (`name`, with ack id `id` if set)
/// or the ACK of `id`.
pub(crate) enum Reply<'a> {
    Event(&'a str, Option<u64>),
    Ack(u64),
}

/// The frames of `payload` sent as `reply` in namespace `nsp`: with JSON
/// written straight from the payload, no [`Packet`] built (the same bytes
/// as [`frames`] of the packet `Payload::into_event` / `into_ack` builds).
pub(crate) fn payload_frames(
    nsp: &str,
    reply: Reply<'_>,
    payload: Payload,
    parser: Parser,
    version: ProtocolVersion,
) -> Vec<Frame> {
    match parser {
        Parser::Json => {
            let text = Frame::message(64 + nsp.len(), |out| match reply {
                Reply::Event(name, id) => payload.encode_event_into(nsp, name, id, out),
                Reply::Ack(id) => payload.encode_ack_into(nsp, id, out),
            });
            with_attachments(text, &payload.binary, version)
        }
        Parser::Msgpack => {
            let packet = match reply {
                Reply::Event(name, id) => Packet {
                    id,
                    ..payload.into_event(nsp, name)
                },
                Reply::Ack(id) => payload.into_ack(nsp, id),
            };
            frames(&packet, parser, version)
        }
    }
}

/// A packet's text frame, then one binary frame per attachment.
fn with_attachments(text: Frame, attachments: &[Bytes], version: ProtocolVersion) -> Vec<Frame> {
    let mut out = Vec::with_capacity(1 + attachments.len());
    out.push(text);
    out.extend(
        attachments
            .iter()
            .map(|b| EnginePacket::Binary(b.clone()).encode(version)),
    );
    out
}

/// The frames of an event whose arguments end with `offset`, the way
/// socket.io adds a recovery offset: as one more argument, so that clients
/// without recovery read it as one.
fn frames_with_offset(
    packet: &Packet,
    parser: Parser,
    version: ProtocolVersion,
    offset: &str,
) -> Vec<Frame> {
    if parser == Parser::Msgpack {
        // The array's length leads it in msgpack: encode it with the offset
        // in (once per broadcast, as the frames are shared).
        let mut packet = packet.clone();
        if let Some(Value::Array(args)) = &mut packet.data {
            args.push(Value::from(offset));
        }
        return frames(&packet, parser, version);
    }
    json_frames(packet, version, offset.len() + 3, |out| {
        // An event's data is an array: its text ends with the array's `]`.
        if out.last() == Some(&b']') {
            out.pop();
            out.push(b',');
            // A string cannot fail to serialize.
            let _ = serde_json::to_writer(&mut *out, offset);
            out.push(b']');
        }
    })
}

/// An event encoded once for every protocol version that asks for it.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub packet: Packet,
    parser: Parser,
    /// The recovery offset, sent to clients of protocol v5 (Engine.IO v4)
    /// only: older ones cannot recover.
    offset: Option<String>,
    v4: OnceLock<Arc<SharedFrames>>,
    v3: OnceLock<Arc<SharedFrames>>,
}

impl Encoded {
    pub fn new(packet: Packet, parser: Parser) -> Encoded {
        Encoded {
            packet,
            parser,
            offset: None,
            v4: OnceLock::new(),
            v3: OnceLock::new(),
        }
    }

    /// Adds `offset` as the last argument; before any frames are asked for.
    pub fn set_offset(&mut self, offset: String) {
        debug_assert!(self.v4.get().is_none(), "offset set after encoding");
        self.offset = Some(offset);
    }

    /// The frames for `version`, encoded on first use.
    pub fn frames(&self, version: ProtocolVersion) -> Arc<SharedFrames> {
        let (cell, offset) = match version {
            ProtocolVersion::V4 => (&self.v4, self.offset.as_deref()),
            ProtocolVersion::V3 => (&self.v3, None),
        };
        cell.get_or_init(|| {
            Arc::new(SharedFrames::new(match offset {
                Some(offset) => frames_with_offset(&self.packet, self.parser, version, offset),
                None => frames(&self.packet, self.parser, version),
            }))
        })
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attachments_follow_their_packet_as_binary_frames() {
        let mut packet = Packet::event("/", json!(["up", {"_placeholder": true, "num": 0}]));
        packet.kind = switchyard_core::protocol::PacketKind::BinaryEvent;
        packet.attachments = vec![Bytes::from_static(&[1, 2])];
        let frames = frames(&packet, Parser::Json, ProtocolVersion::V4);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1], Frame::Binary(Bytes::from_static(&[1, 2])));
    }

    #[test]
    fn a_broadcast_is_encoded_once_per_version() {
        let mut packet = Packet::event("/", json!(["up", {"_placeholder": true, "num": 0}]));
        packet.kind = switchyard_core::protocol::PacketKind::BinaryEvent;
        packet.attachments = vec![Bytes::from_static(&[7])];
        let encoded = Encoded::new(packet, Parser::Json);
        let v4 = encoded.frames(ProtocolVersion::V4);
        assert!(Arc::ptr_eq(&v4, &encoded.frames(ProtocolVersion::V4)));
        let v3 = encoded.frames(ProtocolVersion::V3);
        assert!(Arc::ptr_eq(&v3, &encoded.frames(ProtocolVersion::V3)));
        // The text is the same; a v3 attachment carries its type byte.
        assert_eq!(v3.frames()[0], v4.frames()[0]);
        assert_eq!(v4.frames()[1], Frame::Binary(Bytes::from_static(&[7])));
        assert_eq!(v3.frames()[1], Frame::Binary(Bytes::from_static(&[4, 7])));
    }

    #[test]
    fn the_offset_is_the_last_argument_for_clients_that_can_recover() {
        let mut encoded = Encoded::new(Packet::event("/chat", json!(["up", 1])), Parser::Json);
        encoded.set_offset("a-7".into());
        let v4 = encoded.frames(ProtocolVersion::V4);
        assert_eq!(
            v4.frames()[0],
            Frame::Text(r#"42/chat,["up",1,"a-7"]"#.into())
        );
        let v3 = encoded.frames(ProtocolVersion::V3);
        assert_eq!(v3.frames()[0], Frame::Text(r#"42/chat,["up",1]"#.into()));
        // Binary: the attachments follow, unchanged.
        let mut packet = Packet::event("/", json!(["up", {"_placeholder": true, "num": 0}]));
        packet.kind = switchyard_core::protocol::PacketKind::BinaryEvent;
        packet.attachments = vec![Bytes::from_static(&[9])];
        let mut encoded = Encoded::new(packet, Parser::Json);
        encoded.set_offset("a-8".into());
        let v4 = encoded.frames(ProtocolVersion::V4);
        assert_eq!(
            v4.frames()[0],
            Frame::Text(r#"451-["up",{"_placeholder":true,"num":0},"a-8"]"#.into())
        );
        assert_eq!(v4.frames()[1], Frame::Binary(Bytes::from_static(&[9])));
    }

    #[test]
    fn a_msgpack_packet_is_one_binary_frame_with_its_binary_inline() {
        let packet = Packet::event("/", json!(["up", {"_placeholder": true, "num": 0}]))
            .with_attachments(vec![Bytes::from_static(&[7])]);
        let v4 = frames(&packet, Parser::Msgpack, ProtocolVersion::V4);
        let [Frame::Binary(bytes)] = &v4[..] else {
            panic!("{v4:?}");
        };
        assert_eq!(bytes, &msgpack::encode(&packet));
        // A recovery offset is the last argument there too.
        let mut encoded = Encoded::new(packet.clone(), Parser::Msgpack);
        encoded.set_offset("a-9".into());
        let frames = encoded.frames(ProtocolVersion::V4);
        // Encoded once, shared by every recipient.
        assert!(Arc::ptr_eq(&frames, &encoded.frames(ProtocolVersion::V4)));
        let [Frame::Binary(bytes)] = frames.frames() else {
            panic!("{:?}", frames.frames());
        };
        let decoded = msgpack::decode(bytes, 10, 32).unwrap();
        assert_eq!(
            decoded.data,
            Some(json!(["up", packet.data.unwrap()[1], "a-9"]))
        );
        assert_eq!(decoded.attachments, packet.attachments);
    }
}
