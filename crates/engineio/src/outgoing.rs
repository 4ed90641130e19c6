//! What the layer above hands a session to send: [`Outgoing`], frames shared
//! by every recipient of one emit, with their WebSocket framing computed at
//! most once however many sockets receive them — and `admit`, the one
//! rule (volatile drop, outgoing bound) every outgoing packet passes,
//! whichever path it takes.
//!
//! Owns: the outgoing unit and its admission rule. Must not touch: queues,
//! sinks or sessions; it is pure data under them all.

use std::sync::{Arc, OnceLock};

use bytes::{Bytes, BytesMut};

use super::packet::Frame;
use super::ws_codec::{self, OpCode};

/// Encoded frames kept together (a packet and its attachments), plus their
/// uncompressed WebSocket messages, framed on first use and then shared.
#[derive(Debug)]
pub struct SharedFrames {
    frames: Box<[Frame]>,
    ws: OnceLock<Box<[Bytes]>>,
}

impl SharedFrames {
    /// Frames to send together, in order.
    pub fn new(frames: Vec<Frame>) -> SharedFrames {
        SharedFrames {
            frames: frames.into(),
            ws: OnceLock::new(),
        }
    }

    /// The frames, in order.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// Each frame as one complete, unmasked WebSocket message (header and
    /// payload in one buffer), so a sink queues one shared chunk per frame.
    pub fn ws_messages(&self) -> &[Bytes] {
        self.ws
            .get_or_init(|| self.frames.iter().map(ws_message).collect())
    }

    /// Frame `i` as one WebSocket message. Framed once and shared while
    /// other holders may ask for the same bytes (a broadcast's recipients);
    /// frames only `frames` holds (an emit to one client) are framed for
    /// it alone, with no shared copy made and kept.
    pub(crate) fn ws_message_of(frames: &Arc<SharedFrames>, i: usize) -> Bytes {
        if Arc::strong_count(frames) == 1 && frames.ws.get().is_none() {
            return ws_message(&frames.frames[i]);
        }
        frames.ws_messages()[i].clone()
    }

    /// Encoded bytes, for buffer accounting.
    pub fn len(&self) -> usize {
        self.frames.iter().map(Frame::len).sum()
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

fn ws_message(frame: &Frame) -> Bytes {
    let (opcode, data): (_, &[u8]) = match frame {
        Frame::Text(text) => (OpCode::Text, text.as_bytes()),
        Frame::Binary(data) => (OpCode::Binary, data),
    };
    let (header, n) = ws_codec::header(opcode, data.len(), false);
    let mut out = BytesMut::with_capacity(n + data.len());
    out.extend_from_slice(&header[..n]);
    out.extend_from_slice(data);
    out.freeze()
}

/// Below this many bytes waiting in its sink, a WebSocket counts as writable
/// for volatile packets.
pub(super) const WS_WRITABLE_BYTES: usize = 64 * 1024;

/// What to do with an outgoing packet, given the client's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    Send,
    /// Volatile, and the transport cannot write now: dropped (counted).
    DropVolatile,
    /// It would take the client past its outgoing bound: close the session.
    Overflow,
}

/// The one rule for every outgoing packet, whichever path it takes.
pub(super) fn admit(writable: bool, buffered: usize, out: &Outgoing, max_buffer: usize) -> Admit {
    if out.volatile && !writable {
        Admit::DropVolatile
    } else if buffered + out.len() > max_buffer {
        Admit::Overflow
    } else {
        Admit::Send
    }
}

/// Frames for one client with their delivery flags. A broadcast builds one
/// [`SharedFrames`] and every recipient's `Outgoing` points at it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The frames, shared with the other recipients of the same emit.
    pub frames: Arc<SharedFrames>,
    /// Drop rather than queue when the transport cannot write right now.
    pub volatile: bool,
    /// Compress where the transport negotiated it (permessage-deflate, HTTP compression).
    pub compress: bool,
}

impl Outgoing {
    /// Frames for one recipient, neither volatile nor uncompressed.
    pub fn new(frames: Vec<Frame>) -> Outgoing {
        Outgoing::shared(Arc::new(SharedFrames::new(frames)))
    }

    /// Frames shared with other recipients, neither volatile nor uncompressed.
    pub fn shared(frames: Arc<SharedFrames>) -> Outgoing {
        Outgoing {
            frames,
            volatile: false,
            compress: true,
        }
    }

    /// Sets [`volatile`](Self::volatile).
    pub fn volatile(mut self, volatile: bool) -> Outgoing {
        self.volatile = volatile;
        self
    }

    /// Sets [`compress`](Self::compress).
    pub fn compress(mut self, compress: bool) -> Outgoing {
        self.compress = compress;
        self
    }

    pub(super) fn len(&self) -> usize {
        self.frames.len()
    }
}

impl actix::Message for Outgoing {
    type Result = ();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, ProtocolVersion};

    fn out(len: usize, volatile: bool) -> Outgoing {
        let frame = Packet::Message("x".repeat(len - 1)).encode(ProtocolVersion::V4);
        Outgoing::new(vec![frame]).volatile(volatile)
    }

    #[test]
    fn volatile_is_dropped_only_when_not_writable() {
        assert_eq!(admit(false, 0, &out(10, true), 100), Admit::DropVolatile);
        assert_eq!(admit(true, 0, &out(10, true), 100), Admit::Send);
        // A packet that must arrive is queued even when the transport is busy.
        assert_eq!(admit(false, 0, &out(10, false), 100), Admit::Send);
    }

    #[test]
    fn the_bound_counts_what_waits_plus_the_packet() {
        assert_eq!(admit(true, 90, &out(10, false), 100), Admit::Send);
        assert_eq!(admit(true, 91, &out(10, false), 100), Admit::Overflow);
        // A volatile packet that would cross the bound is refused the same way.
        assert_eq!(admit(true, 95, &out(10, true), 100), Admit::Overflow);
    }
    #[test]
    fn ws_messages_are_framed_once_and_shared() {
        let frames = SharedFrames::new(vec![
            Packet::Message("hello".into()).encode(ProtocolVersion::V4),
            Packet::Binary(Bytes::from_static(&[1, 2, 3])).encode(ProtocolVersion::V4),
        ]);
        let first = frames.ws_messages().to_vec();
        assert_eq!(&first[0][..], b"\x81\x064hello");
        assert_eq!(&first[1][..], b"\x82\x03\x01\x02\x03");
        // The second call hands out the same buffers, not copies.
        assert_eq!(frames.ws_messages()[0].as_ptr(), first[0].as_ptr());
        assert_eq!(frames.len(), 6 + 3);
    }

    #[test]
    fn frames_held_once_are_framed_without_a_shared_copy() {
        let text = Packet::Message("hi".into()).encode(ProtocolVersion::V4);
        let alone = Arc::new(SharedFrames::new(vec![text.clone()]));
        assert_eq!(&SharedFrames::ws_message_of(&alone, 0)[..], b"\x81\x034hi");
        assert!(alone.ws.get().is_none());
        // Held twice (a broadcast): framed once, the same bytes for both.
        let shared = Arc::new(SharedFrames::new(vec![text]));
        let other = shared.clone();
        let first = SharedFrames::ws_message_of(&shared, 0);
        assert_eq!(
            first.as_ptr(),
            SharedFrames::ws_message_of(&other, 0).as_ptr()
        );
        assert_eq!(&first[..], b"\x81\x034hi");
    }

    #[test]
    fn long_messages_get_the_extended_length() {
        let text = "x".repeat(300);
        let frames = SharedFrames::new(vec![Packet::Message(text).encode(ProtocolVersion::V4)]);
        let msg = &frames.ws_messages()[0];
        assert_eq!(&msg[..4], &[0x81, 126, 0x01, 0x2d]);
        assert_eq!(msg.len(), 4 + 301);
    }
}
