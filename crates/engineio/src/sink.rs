//! The outgoing side of one WebSocket, [`WsSink`]: encoded frames waiting
//! to be written to the client, in a byte queue whose size the session can
//! see, so volatile drops and the slow-consumer bound are decided on what
//! is really waiting.
//!
//! Owns: the frames' WebSocket encoding (through [`ws_codec`](super::ws_codec)),
//! the queue, the writer's waker, the single pending pong. Must not touch:
//! sessions, actors, sockets — the writer that drains it (the response body
//! stream or the upgraded connection's `Writer`) is the transport's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll, Waker};

use bytes::{Bytes, BytesMut};

use super::outgoing::{Admit, Outgoing, SharedFrames, WS_WRITABLE_BYTES, admit};
use super::packet::Frame;
use super::ws_codec::{self, Encoder, OpCode};

/// The outgoing side of one WebSocket: encoded frames waiting to be written
/// to the client. Shared by the session and the handles that write directly
/// (producers) and the writer, the response body stream or the upgraded
/// connection's `Writer` (consumer).
#[derive(Clone)]
pub struct WsSink(Arc<Mutex<SinkState>>);

pub(super) struct SinkState {
    pub(super) chunks: VecDeque<Bytes>,
    pub(super) bytes: usize,
    waker: Option<Waker>,
    closed: bool,
    /// Taking writes from other threads, not only from its session.
    direct: bool,
    /// The answer to the latest ping frame, not yet queued. One at most: a
    /// client that pings without reading must not grow the sink (RFC 6455
    /// §5.5.3 lets a pong answer only the most recent ping).
    pong: Option<Bytes>,
    /// Bytes ever queued, and where the last Engine.IO pong packet ends in
    /// that count: it still waits while fewer bytes than that were taken.
    pushed: u64,
    pong_packet_end: u64,
    encoder: Encoder,
}

impl WsSink {
    pub(super) fn new(encoder: Encoder) -> WsSink {
        WsSink(Arc::new(Mutex::new(SinkState {
            chunks: VecDeque::new(),
            bytes: 0,
            waker: None,
            closed: false,
            direct: false,
            pong: None,
            pushed: 0,
            pong_packet_end: 0,
            encoder,
        })))
    }

    fn state(&self) -> MutexGuard<'_, SinkState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes encoded but not yet taken by the writer.
    pub fn buffered(&self) -> usize {
        self.state().bytes
    }

    /// Queues one Engine.IO frame as one WebSocket message.
    pub fn send(&self, frame: &Frame, compress: bool) {
        let mut s = self.state();
        if s.closed {
            return;
        }
        s.push_frame(frame, compress);
        wake(s);
    }

    /// Queues an Engine.IO pong packet (a v3 client's ping answered) unless
    /// the previous one has not been written yet: then that one answers,
    /// and a client pinging without reading gets one pong, not one per ping.
    pub(super) fn send_pong_packet(&self, frame: &Frame) {
        let mut s = self.state();
        if s.closed || s.pushed - (s.bytes as u64) < s.pong_packet_end {
            return;
        }
        s.push_frame(frame, false);
        s.pong_packet_end = s.pushed;
        wake(s);
    }

    /// Queues each of `out`'s frames as one WebSocket message; uncompressed
    /// ones are the shared, already framed bytes of every recipient.
    pub fn send_outgoing(&self, out: &Outgoing) {
        let mut s = self.state();
        if s.closed {
            return;
        }
        s.push_outgoing(out);
        wake(s);
    }

    /// For a handle writing directly ([`outlet`](super::outlet)): queues
    /// `out` if [`admit`] lets it in, all under one lock, and hands back the
    /// writer's waker instead of waking it, so a fan-out can wake each writer
    /// once after queueing several broadcasts (one write for all).
    ///
    /// `None` while the sink takes no direct writes (see
    /// [`set_direct`](Self::set_direct)). Going over the bound also ends
    /// direct writes: the session is closing.
    pub(super) fn offer(
        &self,
        out: &Outgoing,
        max_buffer: usize,
    ) -> Option<(Admit, Option<Waker>)> {
        let mut s = self.state();
        if !s.direct {
            return None;
        }
        let verdict = admit(s.bytes < WS_WRITABLE_BYTES, s.bytes, out, max_buffer);
        match verdict {
            Admit::Send if !s.closed => {
                s.push_outgoing(out);
                Some((verdict, s.waker.take()))
            }
            Admit::Overflow => {
                s.direct = false;
                Some((verdict, None))
            }
            _ => Some((verdict, None)),
        }
    }

    /// Whether handles outside the session may write here directly.
    pub(super) fn set_direct(&self, direct: bool) {
        self.state().direct = direct;
    }

    /// Answers a ping frame. The pong waits in a slot of its own, replaced
    /// by the next ping's, and goes out once what was queued before it has
    /// been taken (a message boundary): N pings leave at most one pong.
    pub(super) fn send_pong(&self, payload: &[u8]) {
        let mut s = self.state();
        if s.closed {
            return;
        }
        let mut out = BytesMut::new();
        s.encoder.encode_control(OpCode::Pong, payload, &mut out);
        s.pong = Some(out.freeze());
        wake(s);
    }

    /// Queues a close frame; the connection ends once it is written.
    pub fn close(&self, code: u16) {
        let mut s = self.state();
        if s.closed {
            return;
        }
        if let Some(pong) = s.pong.take() {
            s.push(pong);
        }
        let mut out = BytesMut::new();
        s.encoder.encode_close(code, "", &mut out);
        s.push(out.freeze());
        s.closed = true;
        wake(s);
    }

    /// Takes what `take` picks from the waiting chunks; `None` once the sink
    /// is closed and drained; `Pending` (woken on the next push) when empty.
    pub(super) fn poll_take<R>(
        &self,
        cx: &mut TaskContext<'_>,
        take: impl FnOnce(&mut SinkState) -> R,
    ) -> Poll<Option<R>> {
        let mut s = self.state();
        if s.chunks.is_empty()
            && let Some(pong) = s.pong.take()
        {
            s.push(pong);
        }
        if !s.chunks.is_empty() {
            return Poll::Ready(Some(take(&mut s)));
        }
        if s.closed {
            return Poll::Ready(None);
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Moves up to `max` waiting chunks into `out`, for one vectored write.
    pub(super) fn poll_drain(
        &self,
        cx: &mut TaskContext<'_>,
        out: &mut VecDeque<Bytes>,
        max: usize,
    ) -> Poll<Option<()>> {
        self.poll_take(cx, |s| {
            let n = s.chunks.len().min(max);
            for chunk in s.chunks.drain(..n) {
                s.bytes -= chunk.len();
                out.push_back(chunk);
            }
            if s.chunks.is_empty() && s.chunks.capacity() > max {
                // A burst grew it; an idle connection does not keep that.
                s.chunks = VecDeque::new();
            }
        })
    }

    /// Drops what waits and stops taking more: the connection is gone.
    pub(super) fn abandon(&self) {
        let mut s = self.state();
        s.closed = true;
        s.chunks.clear();
        s.pong = None;
        s.bytes = 0;
    }
}

impl SinkState {
    fn push_frame(&mut self, frame: &Frame, compress: bool) {
        let (opcode, data) = frame_parts(frame);
        if self.encoder.will_compress(data.len(), compress) {
            self.push_compressed(opcode, data);
        } else {
            // Header alone, then the shared payload bytes: no copy of the payload.
            let (header, n) = ws_codec::header(opcode, data.len(), false);
            self.push(Bytes::copy_from_slice(&header[..n]));
            self.push(data.clone());
        }
    }

    fn push_outgoing(&mut self, out: &Outgoing) {
        for (i, frame) in out.frames.frames().iter().enumerate() {
            let (opcode, data) = frame_parts(frame);
            if self.encoder.will_compress(data.len(), out.compress) {
                self.push_compressed(opcode, data);
            } else {
                self.push(SharedFrames::ws_message_of(&out.frames, i));
            }
        }
    }

    fn push_compressed(&mut self, opcode: OpCode, data: &[u8]) {
        let mut out = BytesMut::new();
        match opcode {
            OpCode::Text => self.encoder.encode_text(data, true, &mut out),
            _ => self.encoder.encode_binary(data, true, &mut out),
        }
        self.push(out.freeze());
    }

    fn push(&mut self, chunk: Bytes) {
        self.bytes += chunk.len();
        self.pushed += chunk.len() as u64;
        self.chunks.push_back(chunk);
    }
}

/// Wakes the writer, if it waits, once the lock is released.
fn wake(mut s: MutexGuard<'_, SinkState>) {
    let waker = s.waker.take();
    drop(s);
    if let Some(w) = waker {
        w.wake();
    }
}

fn frame_parts(frame: &Frame) -> (OpCode, &Bytes) {
    match frame {
        Frame::Text(text) => (OpCode::Text, text.as_bytes()),
        Frame::Binary(data) => (OpCode::Binary, data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, ProtocolVersion};

    fn sink() -> WsSink {
        WsSink::new(Encoder::new(None))
    }

    /// What the writer would take, `max` chunks per drain, until the sink is empty.
    fn drain(sink: &WsSink, max: usize) -> Vec<Bytes> {
        let mut cx = TaskContext::from_waker(Waker::noop());
        let mut out = VecDeque::new();
        let mut taken = Vec::new();
        while let Poll::Ready(Some(())) = sink.poll_drain(&mut cx, &mut out, max) {
            taken.extend(out.drain(..));
        }
        taken
    }

    #[test]
    fn many_pings_leave_one_pong_the_latest() {
        let sink = sink();
        for i in 0..100_000u32 {
            sink.send_pong(&i.to_be_bytes());
        }
        let taken = drain(&sink, 64);
        assert_eq!(taken.len(), 1);
        let last = 99_999u32.to_be_bytes();
        assert_eq!(
            &taken[0][..],
            &[0x8a, 4, last[0], last[1], last[2], last[3]]
        );
        assert_eq!(sink.buffered(), 0);
    }

    #[test]
    fn a_pong_goes_out_at_a_message_boundary() {
        let sink = sink();
        let frame = Packet::Message("hello".into()).encode(ProtocolVersion::V4);
        // Header and payload are two chunks: the pong must not land between them.
        sink.send(&frame, false);
        sink.send_pong(b"p");
        let taken = drain(&sink, 1);
        let bytes: Vec<u8> = taken.iter().flat_map(|b| b.to_vec()).collect();
        assert_eq!(bytes, b"\x81\x064hello\x8a\x01p");
    }

    #[test]
    fn pong_packets_wait_one_at_a_time() {
        let sink = sink();
        let pong = Packet::Pong(String::new()).encode(ProtocolVersion::V3);
        for _ in 0..10_000 {
            sink.send_pong_packet(&pong);
        }
        assert_eq!(drain(&sink, 64).concat(), b"\x81\x013");
        // Written: the next ping is answered again.
        sink.send_pong_packet(&pong);
        assert_eq!(sink.buffered(), 3);
    }

    #[test]
    fn a_pending_pong_goes_before_the_close_frame() {
        let sink = sink();
        sink.send_pong(b"p");
        sink.close(1000);
        let taken = drain(&sink, 64);
        assert_eq!(&taken[0][..], b"\x8a\x01p");
        assert_eq!(taken[1][0], 0x88);
        // Nothing after the close frame.
        sink.send_pong(b"q");
        assert!(drain(&sink, 64).is_empty());
    }
}
