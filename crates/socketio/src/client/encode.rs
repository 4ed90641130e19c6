//! Socket.IO packets as the Engine.IO frames that carry them: one text
//! frame, then one binary frame per attachment. [`Encoded`] keeps a
//! broadcast's frames once per protocol version, however many clients
//! receive them.

use std::sync::{Arc, OnceLock};

use switchyard_core::protocol::Packet;
use switchyard_engineio::packet::Packet as EnginePacket;
use switchyard_engineio::{Frame, ProtocolVersion, SharedFrames};

/// Encodes a Socket.IO packet as the Engine.IO frames that carry it.
pub(crate) fn frames(packet: &Packet, version: ProtocolVersion) -> Vec<Frame> {
    let (text, attachments) = packet.encode();
    let mut out = Vec::with_capacity(1 + attachments.len());
    out.push(EnginePacket::Message(text).encode(version));
    out.extend(
        attachments
            .into_iter()
            .map(|b| EnginePacket::Binary(b).encode(version)),
    );
    out
}

/// An event encoded once for every protocol version that asks for it.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub packet: Packet,
    v4: OnceLock<Arc<SharedFrames>>,
    v3: OnceLock<Arc<SharedFrames>>,
}

impl Encoded {
    pub fn new(packet: Packet) -> Encoded {
        Encoded {
            packet,
            v4: OnceLock::new(),
            v3: OnceLock::new(),
        }
    }

    /// The frames for `version`, encoded on first use.
    pub fn frames(&self, version: ProtocolVersion) -> Arc<SharedFrames> {
        let cell = match version {
            ProtocolVersion::V4 => &self.v4,
            ProtocolVersion::V3 => &self.v3,
        };
        cell.get_or_init(|| Arc::new(SharedFrames::new(frames(&self.packet, version))))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    #[test]
    fn attachments_follow_their_packet_as_binary_frames() {
        let mut packet = Packet::event("/", json!(["up", {"_placeholder": true, "num": 0}]));
        packet.kind = switchyard_core::protocol::PacketKind::BinaryEvent;
        packet.attachments = vec![Bytes::from_static(&[1, 2])];
        let frames = frames(&packet, ProtocolVersion::V4);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1], Frame::Binary(Bytes::from_static(&[1, 2])));
    }

    #[test]
    fn a_broadcast_is_encoded_once_per_version() {
        let mut packet = Packet::event("/", json!(["up", {"_placeholder": true, "num": 0}]));
        packet.kind = switchyard_core::protocol::PacketKind::BinaryEvent;
        packet.attachments = vec![Bytes::from_static(&[7])];
        let encoded = Encoded::new(packet);
        let v4 = encoded.frames(ProtocolVersion::V4);
        assert!(Arc::ptr_eq(&v4, &encoded.frames(ProtocolVersion::V4)));
        let v3 = encoded.frames(ProtocolVersion::V3);
        assert!(Arc::ptr_eq(&v3, &encoded.frames(ProtocolVersion::V3)));
        // The text is the same; a v3 attachment carries its type byte.
        assert_eq!(v3.frames()[0], v4.frames()[0]);
        assert_eq!(v4.frames()[1], Frame::Binary(Bytes::from_static(&[7])));
        assert_eq!(v3.frames()[1], Frame::Binary(Bytes::from_static(&[4, 7])));
    }
}
