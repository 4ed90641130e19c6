//! The WebSocket transport. actix-web-actors answers the opening handshake;
//! framing (and permessage-deflate, which actix's own codec cannot carry) is
//! [`ws_codec`](super::ws_codec). One actor per connection reads frames and
//! hands packets to its session; the session writes straight into a
//! [`WsSink`], a byte queue whose size it can see, so volatile drops and the
//! slow-consumer bound are decided on what is really waiting to be written.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll, Waker};

use actix::prelude::*;
use actix_web::error::PayloadError;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use actix_web_actors::ws;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use super::error::EngineError;
use super::handler::{CloseReason, EngineHandler};
use super::outgoing::Outgoing;
use super::outlet::{Admit, WS_WRITABLE_BYTES, admit};
use super::packet::{DecodeError, Frame, Packet, ProtocolVersion};
use super::session::{EngineSession, WsEvent, WsIn};
use super::ws_codec::{self, Decoder, DeflateSettings, Encoder, Message, OpCode};

/// Tells a transport actor to stop reading (its session is done with it).
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub struct WsStop;

/// The outgoing side of one WebSocket: encoded frames waiting to be written
/// to the client. Shared by the session and the handles that write directly
/// (producers) and the writer, the response body stream or the upgraded
/// connection's `Writer` (consumer).
#[derive(Clone)]
pub struct WsSink(Arc<Mutex<SinkState>>);

struct SinkState {
    chunks: VecDeque<Bytes>,
    bytes: usize,
    waker: Option<Waker>,
    closed: bool,
    /// Taking writes from other threads, not only from its session.
    direct: bool,
    /// The answer to the latest ping frame, not yet queued. One at most: a
    /// client that pings without reading must not grow the sink (RFC 6455
    /// §5.5.3 lets a pong answer only the most recent ping).
    pong: Option<Bytes>,
    encoder: Encoder,
}

impl WsSink {
    fn new(encoder: Encoder) -> WsSink {
        WsSink(Arc::new(Mutex::new(SinkState {
            chunks: VecDeque::new(),
            bytes: 0,
            waker: None,
            closed: false,
            direct: false,
            pong: None,
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
        let (opcode, data) = frame_parts(frame);
        if s.encoder.will_compress(data.len(), compress) {
            s.push_compressed(opcode, data);
        } else {
            // Header alone, then the shared payload bytes: no copy of the payload.
            let (header, n) = ws_codec::header(opcode, data.len(), false);
            s.push(Bytes::copy_from_slice(&header[..n]));
            s.push(data.clone());
        }
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
    fn send_pong(&self, payload: &[u8]) {
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
    fn poll_take<R>(
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
    fn push_outgoing(&mut self, out: &Outgoing) {
        for (i, frame) in out.frames.frames().iter().enumerate() {
            let (opcode, data) = frame_parts(frame);
            if self.encoder.will_compress(data.len(), out.compress) {
                self.push_compressed(opcode, data);
            } else {
                self.push(out.frames.ws_messages()[i].clone());
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

/// The response body over actix-web: what the sink holds, until it is closed and drained.
struct SinkStream(WsSink);

impl Stream for SinkStream {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_take(cx, |s| {
            let chunk = s.chunks.pop_front().expect("not empty");
            s.bytes -= chunk.len();
            Ok(chunk)
        })
    }
}

pub struct WsTransport<H: EngineHandler> {
    session: Addr<EngineSession<H>>,
    conn: u64,
    probe: bool,
    version: ProtocolVersion,
    sink: WsSink,
    decoder: Decoder,
    buf: BytesMut,
    /// Events for the session that wait behind one the full mailbox would
    /// not take; sent in order once it has room. Reading stops meanwhile,
    /// so this holds at most one read chunk's worth.
    backlog: VecDeque<WsEvent>,
    /// A send to the session is being waited for (`backlog` goes after it).
    blocked: bool,
    /// Why the connection ended, once it has.
    reason: CloseReason,
}

/// What a new WebSocket needs besides the request.
pub(super) struct WsSetup<H: EngineHandler> {
    pub session: Addr<EngineSession<H>>,
    pub conn: u64,
    pub probe: bool,
    pub version: ProtocolVersion,
    pub max_payload: usize,
    pub deflate: DeflateSettings,
}

/// A WebSocket handshake that was accepted: the `101` response to send and
/// the transport to start once the connection's two directions are wired.
pub(super) struct Accepted<H: EngineHandler> {
    response: HttpResponseBuilder,
    transport: WsTransport<H>,
}

impl<H: EngineHandler> Accepted<H> {
    /// Over actix-web: the request payload in, the response body out.
    pub fn into_response(self, body: web::Payload) -> HttpResponse {
        let Accepted {
            mut response,
            transport,
        } = self;
        response.streaming(SinkStream(transport.start(body)))
    }

    /// Over a connection taken from the HTTP layer: the response head to
    /// write, then the transport started on the connection's reading half.
    pub fn into_upgrade(self) -> super::upgrade::WsConnection {
        let Accepted {
            mut response,
            transport,
        } = self;
        super::upgrade::WsConnection::new(
            response.finish(),
            Box::new(move |input| transport.start(input)),
        )
    }
}

/// Accepts the WebSocket handshake in `req`; the transport is not started yet.
pub(super) fn accept<H: EngineHandler>(
    req: &HttpRequest,
    setup: WsSetup<H>,
) -> Result<Accepted<H>, EngineError> {
    let mut response = ws::handshake(req).map_err(|_| EngineError::BadRequest)?;
    let offer = req
        .headers()
        .get("sec-websocket-extensions")
        .and_then(|v| v.to_str().ok());
    let deflate = ws_codec::negotiate(offer, &setup.deflate);
    if let Some(d) = &deflate {
        response.insert_header(("sec-websocket-extensions", d.response_header()));
    }
    let (inflater, deflater) = deflate.map(|d| d.split()).unzip();
    let transport = WsTransport {
        session: setup.session,
        conn: setup.conn,
        probe: setup.probe,
        version: setup.version,
        sink: WsSink::new(Encoder::new(deflater)),
        decoder: Decoder::new(setup.max_payload, inflater),
        buf: BytesMut::new(),
        backlog: VecDeque::new(),
        blocked: false,
        reason: CloseReason::TransportClose,
    };
    Ok(Accepted {
        response,
        transport,
    })
}

impl<H: EngineHandler> WsTransport<H> {
    /// Starts the actor reading `input`; it and its session write into the
    /// returned sink.
    fn start<S>(self, input: S) -> WsSink
    where
        S: Stream<Item = Result<Bytes, PayloadError>> + 'static,
    {
        let sink = self.sink.clone();
        WsTransport::create(move |ctx| {
            ctx.add_stream(input);
            self
        });
        sink
    }

    fn deliver(&mut self, decoded: Result<Packet, DecodeError>, ctx: &mut Context<Self>) {
        match decoded {
            Ok(packet) => self.forward(WsEvent::Packet(packet), ctx),
            Err(e) => {
                log::debug!("ws {}: undecodable packet: {e}", self.conn);
                self.fail(CloseReason::ParseError, 1002, ctx)
            }
        }
    }

    /// Hands `event` to the session, in the order events happened. The fast
    /// path is `try_send`; when the session's mailbox is full, the event is
    /// sent with back-pressure (reading the socket stops until it is taken)
    /// and later events queue behind it. One wait at a time: actix polls
    /// several `ctx.wait` futures newest first, which would reorder packets.
    fn forward(&mut self, event: WsEvent, ctx: &mut Context<Self>) {
        if self.blocked || !self.backlog.is_empty() {
            self.backlog.push_back(event);
            return;
        }
        self.try_forward(event, ctx);
    }

    fn try_forward(&mut self, event: WsEvent, ctx: &mut Context<Self>) {
        let msg = WsIn {
            conn: self.conn,
            event,
        };
        match self.session.try_send(msg) {
            Ok(()) => {}
            Err(SendError::Full(msg)) => {
                self.blocked = true;
                ctx.wait(
                    self.session
                        .send(msg)
                        .into_actor(self)
                        .map(|sent, act, ctx| {
                            act.blocked = false;
                            if sent.is_err() {
                                // The session is gone.
                                return ctx.stop();
                            }
                            while !act.blocked
                                && let Some(event) = act.backlog.pop_front()
                            {
                                act.try_forward(event, ctx);
                            }
                        }),
                );
            }
            // The session is gone: nothing to read for.
            Err(SendError::Closed(_)) => ctx.stop(),
        }
    }

    fn on_message(&mut self, msg: Message, ctx: &mut Context<Self>) {
        match msg {
            Message::Text(text) => self.deliver(Packet::decode_text(&text), ctx),
            Message::Binary(data) => self.deliver(Packet::decode_binary(data, self.version), ctx),
            Message::Ping(data) => self.sink.send_pong(&data),
            Message::Pong(_) => {}
            Message::Close(_) => {
                self.sink.close(1000);
                ctx.stop();
            }
        }
    }

    fn fail(&mut self, reason: CloseReason, code: u16, ctx: &mut Context<Self>) {
        self.reason = reason;
        self.sink.close(code);
        ctx.stop();
    }
}

impl<H: EngineHandler> Actor for WsTransport<H> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Registers without waiting for an answer, so frames are read (and
        // reach the session in order behind this) at once. A session that
        // refuses the connection closes its sink and stops it.
        let open = WsEvent::Opened {
            sink: self.sink.clone(),
            stop: ctx.address().recipient(),
            probe: self.probe,
        };
        self.forward(open, ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.sink.close(1000);
        // No more waiting: what is left goes now, bounded as above, and the
        // session must hear the connection ended.
        for event in self.backlog.drain(..) {
            self.session.do_send(WsIn {
                conn: self.conn,
                event,
            });
        }
        self.session.do_send(WsIn {
            conn: self.conn,
            event: WsEvent::Closed(self.reason),
        });
    }
}

/// Most read-buffer capacity a connection keeps between messages.
const IDLE_READ_BUF: usize = 1024;

impl<H: EngineHandler> StreamHandler<Result<Bytes, PayloadError>> for WsTransport<H> {
    fn handle(&mut self, chunk: Result<Bytes, PayloadError>, ctx: &mut Context<Self>) {
        // A read error is the peer going away without a close frame: as
        // engine.io (and the ws library) see it, a transport close.
        let Ok(chunk) = chunk else { return ctx.stop() };
        self.buf.extend_from_slice(&chunk);
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(msg)) => self.on_message(msg, ctx),
                Ok(None) => break,
                Err(e) => {
                    log::debug!("ws {}: {e}", self.conn);
                    return self.fail(CloseReason::TransportError, e.close_code(), ctx);
                }
            }
            if !ctx.state().alive() {
                break;
            }
        }
        if self.buf.is_empty() && self.buf.capacity() > IDLE_READ_BUF {
            // A big message grew it; an idle connection does not keep that.
            self.buf = BytesMut::new();
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl<H: EngineHandler> Handler<WsStop> for WsTransport<H> {
    type Result = ();
    fn handle(&mut self, _: WsStop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
