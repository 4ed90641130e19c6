//! The outgoing side of one WebSocket, [`WsSink`]: encoded frames waiting
//! to be written to the client, in a byte queue whose size the session can
//! see, so volatile drops and the slow-consumer bound are decided on what
//! is really waiting.
//!
//! Owns: the frames' WebSocket encoding (through [`ws_codec`](super::ws_codec)),
//! the queue, the writer's waker, the single pending pong, and the calls
//! waiting for what is queued now to be written (see
//! [`WsSink::when_written`]). Must not touch:
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
    /// Calls to make once the writer has written up to a point of `pushed`
    /// (in that order); at most [`MAX_WAITERS`].
    waiters: Vec<(u64, Waiter)>,
    encoder: Encoder,
}

/// A call made once the bytes queued before it have been written.
type Waiter = Box<dyn FnOnce() + Send>;

/// Most calls one sink holds for [`WsSink::when_written`]. They come from
/// polling requests refused after an upgrade, one per request; a client
/// sending more than this at once has its refusals answered at once.
const MAX_WAITERS: usize = 4;

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
            waiters: Vec::new(),
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

    /// Calls `then` once the writer has written everything queued so far
    /// (or the connection is gone): what the client must see before some
    /// answer on another connection, e.g. the `3probe` before a polling
    /// request refused by the upgrade (engine.io writes both on one thread,
    /// in that order). Called at once when the sink already holds
    /// [`MAX_WAITERS`] calls.
    pub(super) fn when_written(&self, then: impl FnOnce() + Send + 'static) {
        let mut s = self.state();
        if s.closed && s.chunks.is_empty() || s.waiters.len() >= MAX_WAITERS {
            drop(s);
            return then();
        }
        let mark = s.pushed;
        s.waiters.push((mark, Box::new(then)));
        // An idle writer comes back to say all it took is written.
        wake(s);
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
        // The writer asks for more only once it has written what it took.
        let written = s.written_calls();
        if s.chunks.is_empty()
            && let Some(pong) = s.pong.take()
        {
            s.push(pong);
        }
        let poll = if !s.chunks.is_empty() {
            Poll::Ready(Some(take(&mut s)))
        } else if s.closed {
            Poll::Ready(None)
        } else {
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        };
        drop(s);
        written.into_iter().for_each(|call| call());
        poll
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
        let waiting = std::mem::take(&mut s.waiters);
        drop(s);
        waiting.into_iter().for_each(|(_, call)| call());
    }
}

impl SinkState {
    /// The waiting calls whose bytes have all been taken, in order; the
    /// caller makes them once the lock is released.
    fn written_calls(&mut self) -> Vec<Waiter> {
        let taken = self.pushed - self.bytes as u64;
        let ready = self.waiters.iter().take_while(|(m, _)| *m <= taken).count();
        self.waiters.drain(..ready).map(|(_, call)| call).collect()
    }

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

impl Drop for SinkState {
    /// The connection is gone: nothing more will be written, nobody waits longer.
    fn drop(&mut self) {
        self.waiters.drain(..).for_each(|(_, call)| call());
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
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

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

    /// A flag set by a [`WsSink::when_written`] call.
    fn flag(sink: &WsSink) -> Arc<AtomicBool> {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        sink.when_written(move || d.store(true, SeqCst));
        done
    }

    fn is_set(flag: &AtomicBool) -> bool {
        flag.load(SeqCst)
    }

    #[test]
    fn a_call_waits_until_what_was_queued_before_it_is_written() {
        let sink = sink();
        let frame = Packet::Pong("probe".into()).encode(ProtocolVersion::V4);
        sink.send(&frame, false);
        let done = flag(&sink);
        // Queued after the call: not waited for.
        sink.send(&frame, false);
        let mut cx = TaskContext::from_waker(Waker::noop());
        let mut batch = VecDeque::new();
        // The writer takes the 3probe (header, payload) but has not written it yet.
        assert!(sink.poll_drain(&mut cx, &mut batch, 2).is_ready());
        assert!(!is_set(&done));
        // It asks for more only once that is written: now the call is made.
        batch.clear();
        assert!(sink.poll_drain(&mut cx, &mut batch, 2).is_ready());
        assert!(is_set(&done));
    }

    #[test]
    fn a_call_on_an_idle_sink_wakes_the_writer_and_is_made_on_its_next_poll() {
        let sink = sink();
        let woken = Arc::new(AtomicUsize::new(0));
        struct Count(Arc<AtomicUsize>);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, SeqCst);
            }
        }
        let waker = Waker::from(Arc::new(Count(woken.clone())));
        let mut cx = TaskContext::from_waker(&waker);
        let mut batch = VecDeque::new();
        assert!(sink.poll_drain(&mut cx, &mut batch, 64).is_pending());
        let done = flag(&sink);
        // The writer may still be writing what it took: it is asked to poll again.
        assert!(!is_set(&done));
        assert_eq!(woken.load(SeqCst), 1);
        assert!(sink.poll_drain(&mut cx, &mut batch, 64).is_pending());
        assert!(is_set(&done));
    }

    #[test]
    fn calls_are_made_when_the_connection_goes_away() {
        let sink = sink();
        let frame = Packet::Message("x".into()).encode(ProtocolVersion::V4);
        sink.send(&frame, false);
        let abandoned = flag(&sink);
        sink.abandon();
        assert!(is_set(&abandoned));
        // Closed and drained: at once.
        assert!(is_set(&flag(&sink)));

        let other = self::sink();
        other.send(&frame, false);
        let dropped = flag(&other);
        drop(other);
        assert!(is_set(&dropped));
    }

    #[test]
    fn calls_beyond_the_bound_are_made_at_once() {
        let sink = sink();
        let frame = Packet::Message("x".into()).encode(ProtocolVersion::V4);
        sink.send(&frame, false);
        let held: Vec<_> = (0..MAX_WAITERS).map(|_| flag(&sink)).collect();
        assert!(held.iter().all(|f| !is_set(f)));
        assert!(is_set(&flag(&sink)));
    }
}
