//! A session's outgoing queue: encoded frames waiting for a transport,
//! with their compress flags and a byte count for the bound. Pure data.
//!
//! Owns: the frames and their order. Must not touch: when they are sent
//! (the session core decides).

use std::collections::VecDeque;

use super::packet::{Frame, ProtocolVersion, encode_payload};

#[derive(Debug, Default)]
pub(super) struct OutQueue {
    frames: VecDeque<(Frame, bool)>,
    bytes: usize,
}

/// A polling response body, and whether any of its packets asked for compression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollBody {
    pub body: String,
    pub compress: bool,
}

impl OutQueue {
    pub fn push(&mut self, frame: Frame, compress: bool) {
        self.bytes += frame.len();
        self.frames.push_back((frame, compress));
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes queued, for the outgoing bound.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Takes everything, oldest first.
    pub fn take(&mut self) -> Vec<(Frame, bool)> {
        self.bytes = 0;
        self.frames.drain(..).collect()
    }

    /// Puts back a payload's frames that could not be delivered.
    pub fn restore(&mut self, frames: Vec<(Frame, bool)>) {
        for (frame, compress) in frames.into_iter().rev() {
            self.bytes += frame.len();
            self.frames.push_front((frame, compress));
        }
    }
}

/// Frames as one polling payload. As engine.io does, the whole response is
/// compressed if any packet in it asked to be.
pub(super) fn payload(frames: &[(Frame, bool)], version: ProtocolVersion) -> PollBody {
    let compress = frames.iter().any(|(_, c)| *c);
    let frames: Vec<Frame> = frames.iter().map(|(f, _)| f.clone()).collect();
    PollBody {
        body: encode_payload(&frames, version),
        compress,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::packet::Packet;

    fn text(s: &str) -> Frame {
        Packet::Message(s.into()).encode(ProtocolVersion::V4)
    }

    #[test]
    fn counts_bytes_and_builds_payloads() {
        let mut q = OutQueue::default();
        q.push(text("a"), false);
        q.push(text("bc"), true);
        assert_eq!(q.bytes(), 5);
        let body = payload(&q.take(), ProtocolVersion::V4);
        assert_eq!(
            body,
            PollBody {
                body: "4a\x1e4bc".into(),
                compress: true
            }
        );
        assert!(q.is_empty());
        assert_eq!(q.bytes(), 0);
    }

    #[test]
    fn uncompressed_when_no_packet_asks() {
        let mut q = OutQueue::default();
        q.push(text("a"), false);
        assert!(!payload(&q.take(), ProtocolVersion::V4).compress);
    }

    #[test]
    fn restore_keeps_order_before_newer_frames() {
        let mut q = OutQueue::default();
        q.push(text("new"), false);
        q.restore(vec![(text("a"), false), (text("b"), false)]);
        let order: Vec<Frame> = q.take().into_iter().map(|(f, _)| f).collect();
        assert_eq!(order, vec![text("a"), text("b"), text("new")]);
    }
}
