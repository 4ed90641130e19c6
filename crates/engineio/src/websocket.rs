//! The WebSocket transport. actix-web-actors answers the opening handshake;
//! framing (and permessage-deflate, which actix's own codec cannot carry) is
//! [`ws_codec`](super::ws_codec). A [`WsReader`] turns what is read from one
//! connection into Engine.IO packets, in the order received. A connection
//! that opens a session (`transport=websocket`) is read by that session
//! itself: both start on the connection's thread, so packets reach the
//! session with no mailbox between them. An upgrade probe, whose polling
//! session may run on another thread, is read by a transport actor that
//! hands the packets to the session's mailbox. Either way the session
//! writes straight into a `WsSink` (see `sink`), a byte queue whose size it
//! can see, so volatile drops and the slow-consumer bound are decided on
//! what is really waiting to be written.
//!
//! Owns: reading and decoding one connection, answering its ping frames,
//! back-pressure towards a session reached through its mailbox. Must not
//! touch: session state; it registers with the session and hands it
//! packets, nothing more.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use actix::prelude::*;
use actix_web::error::PayloadError;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use actix_web_actors::ws;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use super::data::CloseReason;
use super::error::EngineError;
use super::handler::EngineHandler;
use super::packet::{Packet, ProtocolVersion};
use super::session::{EngineSession, WsEvent, WsIn, WsStop};
use super::sink::WsSink;
use super::ws_codec::{self, Decoder, DeflateSettings, Encoder, Message};

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

/// Most read-buffer capacity a connection keeps between messages.
const IDLE_READ_BUF: usize = 1024;

/// Reads one connection: the bytes read, decoded into Engine.IO packets in
/// order; ping frames answered, close frames and errors end it.
pub(super) struct WsReader {
    conn: u64,
    version: ProtocolVersion,
    sink: WsSink,
    decoder: Decoder,
    buf: BytesMut,
}

impl WsReader {
    /// The connection's id.
    pub fn conn(&self) -> u64 {
        self.conn
    }

    /// The connection's sink (its writing direction).
    pub fn sink(&self) -> &WsSink {
        &self.sink
    }

    /// Takes a chunk read from the connection.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next packet in what has been read: `Ok(None)` when no whole one
    /// is left, `Err` once the connection is over, with why (its sink is
    /// closed then, with the close code the reason calls for).
    pub fn next_packet(&mut self) -> Result<Option<Packet>, CloseReason> {
        loop {
            let msg = match self.decoder.decode(&mut self.buf) {
                Ok(Some(msg)) => msg,
                Ok(None) => {
                    if self.buf.is_empty() && self.buf.capacity() > IDLE_READ_BUF {
                        // A big message grew it; an idle connection does not keep that.
                        self.buf = BytesMut::new();
                    }
                    return Ok(None);
                }
                Err(e) => {
                    log::debug!("ws {}: {e}", self.conn);
                    return Err(self.fail(CloseReason::TransportError, e.close_code()));
                }
            };
            let decoded = match msg {
                Message::Text(text) => Packet::decode_frame_text(text, self.version),
                Message::Binary(data) => Packet::decode_binary(data, self.version),
                Message::Ping(data) => {
                    self.sink.send_pong(&data);
                    continue;
                }
                Message::Pong(_) => continue,
                Message::Close(_) => return Err(self.fail(CloseReason::TransportClose, 1000)),
            };
            return match decoded {
                Ok(packet) => Ok(Some(packet)),
                Err(e) => {
                    log::debug!("ws {}: undecodable packet: {e}", self.conn);
                    Err(self.fail(CloseReason::ParseError, 1002))
                }
            };
        }
    }

    fn fail(&mut self, reason: CloseReason, code: u16) -> CloseReason {
        self.sink.close(code);
        reason
    }
}

/// Reads an upgrade probe for its session, through the session's mailbox.
pub struct WsTransport<H: EngineHandler> {
    session: Addr<EngineSession<H>>,
    reader: WsReader,
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
    pub session: SessionStart<H>,
    pub conn: u64,
    pub version: ProtocolVersion,
    pub max_payload: usize,
    pub deflate: DeflateSettings,
}

/// Who reads a new WebSocket.
pub(super) enum SessionStart<H: EngineHandler> {
    /// A transport actor, for this running session (an upgrade probe).
    Probe(Addr<EngineSession<H>>),
    /// The session it opens, started with it (see [`PendingSession`]).
    Opens(PendingSession<H>),
}

/// A session opened by a WebSocket, not running yet: it starts, reading the
/// connection itself, when the connection's transport starts. Its address
/// is known (and registered) before that; one whose connection never starts
/// (the `101` could not be written) runs without it, to end as any session
/// whose transport went away does.
pub(super) struct PendingSession<H: EngineHandler>(Option<Parked<H>>);

/// A session and the context it will run in; boxed, as a session is large
/// and moves through the handshake's results.
type Parked<H> = Box<(EngineSession<H>, Context<EngineSession<H>>)>;

impl<H: EngineHandler> PendingSession<H> {
    pub fn new(session: EngineSession<H>) -> (Self, Addr<EngineSession<H>>) {
        let ctx = EngineSession::context();
        let addr = ctx.address();
        (PendingSession(Some(Box::new((session, ctx)))), addr)
    }

    fn start<S>(mut self, reader: WsReader, input: S)
    where
        S: Stream<Item = Result<Bytes, PayloadError>> + 'static,
    {
        let (session, ctx) = *self.0.take().expect("started once");
        session.run_reading(ctx, reader, input);
    }
}

impl<H: EngineHandler> Drop for PendingSession<H> {
    fn drop(&mut self) {
        if let Some(parked) = self.0.take() {
            let (session, ctx) = *parked;
            ctx.run(session);
        }
    }
}

/// What reads an accepted WebSocket once it starts.
enum Reading<H: EngineHandler> {
    Transport(WsTransport<H>),
    Session(PendingSession<H>, WsReader),
}

/// A WebSocket handshake that was accepted: the `101` response to send and
/// the transport to start once the connection's two directions are wired.
pub(super) struct Accepted<H: EngineHandler> {
    response: HttpResponseBuilder,
    reading: Reading<H>,
}

impl<H: EngineHandler> Accepted<H> {
    /// Over actix-web: the request payload in, the response body out.
    pub fn into_response(self, body: web::Payload) -> HttpResponse {
        let Accepted {
            mut response,
            reading,
        } = self;
        response.streaming(SinkStream(reading.start(body)))
    }

    /// Over a connection taken from the HTTP layer: the response head to
    /// write, then the transport started on the connection's reading half.
    pub fn into_upgrade(self) -> super::upgrade::WsConnection {
        let Accepted {
            mut response,
            reading,
        } = self;
        super::upgrade::WsConnection::new(
            response.finish(),
            Box::new(move |input| reading.start(input)),
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
    let reader = WsReader {
        conn: setup.conn,
        version: setup.version,
        sink: WsSink::new(Encoder::new(deflater)),
        decoder: Decoder::new(setup.max_payload, inflater),
        buf: BytesMut::new(),
    };
    let reading = match setup.session {
        SessionStart::Probe(session) => Reading::Transport(WsTransport {
            session,
            reader,
            backlog: VecDeque::new(),
            blocked: false,
            reason: CloseReason::TransportClose,
        }),
        SessionStart::Opens(pending) => Reading::Session(pending, reader),
    };
    Ok(Accepted { response, reading })
}

impl<H: EngineHandler> Reading<H> {
    /// Starts reading `input`; the session writes into the returned sink.
    fn start<S>(self, input: S) -> WsSink
    where
        S: Stream<Item = Result<Bytes, PayloadError>> + 'static,
    {
        match self {
            Reading::Transport(transport) => {
                let sink = transport.reader.sink.clone();
                WsTransport::create(move |ctx| {
                    ctx.add_stream(input);
                    transport
                });
                sink
            }
            Reading::Session(pending, reader) => {
                let sink = reader.sink.clone();
                pending.start(reader, input);
                sink
            }
        }
    }
}

impl<H: EngineHandler> WsTransport<H> {
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
            conn: self.reader.conn,
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
}

impl<H: EngineHandler> Actor for WsTransport<H> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Registers without waiting for an answer, so frames are read (and
        // reach the session in order behind this) at once. A session that
        // refuses the connection closes its sink and stops it.
        let open = WsEvent::Opened {
            sink: self.reader.sink.clone(),
            stop: ctx.address().recipient(),
        };
        self.forward(open, ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.reader.sink.close(1000);
        // No more waiting: what is left goes now, bounded as above, and the
        // session must hear the connection ended.
        let conn = self.reader.conn;
        for event in self.backlog.drain(..) {
            self.session.do_send(WsIn { conn, event });
        }
        self.session.do_send(WsIn {
            conn,
            event: WsEvent::Closed(self.reason),
        });
    }
}

impl<H: EngineHandler> StreamHandler<Result<Bytes, PayloadError>> for WsTransport<H> {
    fn handle(&mut self, chunk: Result<Bytes, PayloadError>, ctx: &mut Context<Self>) {
        // A read error is the peer going away without a close frame: as
        // engine.io (and the ws library) see it, a transport close.
        let Ok(chunk) = chunk else { return ctx.stop() };
        self.reader.push(&chunk);
        while ctx.state().alive() {
            match self.reader.next_packet() {
                Ok(Some(packet)) => self.forward(WsEvent::Packet(packet), ctx),
                Ok(None) => break,
                Err(reason) => {
                    self.reason = reason;
                    return ctx.stop();
                }
            }
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
