//! A session's outgoing queue: encoded frames waiting for a transport,
//! with their compress flags and a byte count for the bound. Pure data.
//!
//! Owns: the frames and their order. Must not touch: when they are sent
//! (the session core decides).

use std::collections::VecDeque;

use super::packet::Frame;

#[derive(Debug, Default)]
pub(super) struct OutQueue {
    frames: VecDeque<(Frame, bool)>,
    bytes: usize,
    /// A pong is queued and not yet taken (see [`push_pong`](Self::push_pong)).
    pong: bool,
}

/// The frames of one polling response, and whether any of them asked for
/// compression. The transport encodes them in the format the request wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollBody {
    pub frames: Vec<Frame>,
    pub compress: bool,
}

impl OutQueue {
    pub fn push(&mut self, frame: Frame, compress: bool) {
        self.bytes += frame.len();
        self.frames.push_back((frame, compress));
    }

    /// Queues the answer to a client's ping unless one already waits: a
    /// client pinging faster than it reads gets one pong, not one per ping.
    pub fn push_pong(&mut self, frame: Frame) {
        if !self.pong {
            self.pong = true;
            self.push(frame, false);
        }
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
        self.pong = false;
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

impl PollBody {
    /// Frames as one polling response. As engine.io does, the whole response
    /// is compressed if any packet in it asked to be.
    pub(super) fn new(frames: &[(Frame, bool)]) -> PollBody {
        PollBody {
            frames: frames.iter().map(|(f, _)| f.clone()).collect(),
            compress: frames.iter().any(|(_, c)| *c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, ProtocolVersion};

    fn text(s: &str) -> Frame {
        Packet::Message(s.into()).encode(ProtocolVersion::V4)
    }

    #[test]
    fn counts_bytes_and_builds_payloads() {
        let mut q = OutQueue::default();
        q.push(text("a"), false);
        q.push(text("bc"), true);
        assert_eq!(q.bytes(), 5);
        let body = PollBody::new(&q.take());
        assert_eq!(
            body,
            PollBody {
                frames: vec![text("a"), text("bc")],
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
        assert!(!PollBody::new(&q.take()).compress);
    }

    #[test]
    fn one_pong_waits_at_most() {
        let mut q = OutQueue::default();
        let pong = Packet::Pong(String::new()).encode(ProtocolVersion::V3);
        for _ in 0..1000 {
            q.push_pong(pong.clone());
        }
        assert_eq!(q.take().len(), 1);
        // Once taken, the next ping is answered again.
        q.push_pong(pong.clone());
        assert_eq!(q.bytes(), 1);
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
