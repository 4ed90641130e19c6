//! The WebSocket transport. actix-web-actors answers the opening handshake;
//! framing (and permessage-deflate, which actix's own codec cannot carry) is
//! [`ws_codec`](super::ws_codec). One actor per connection reads frames and
//! hands packets to its session, in the order received; the session writes
//! straight into a `WsSink` (see `sink`), a byte queue whose size it can
//! see, so volatile drops and the slow-consumer bound are decided on what is
//! really waiting to be written.
//!
//! Owns: reading and decoding one connection, answering its ping frames,
//! back-pressure towards the session. Must not touch: session state; it
//! registers with the session and hands it events, nothing more.

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
use super::packet::{DecodeError, Packet, ProtocolVersion};
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
            Message::Text(text) => {
                self.deliver(Packet::decode_frame_text(&text, self.version), ctx)
            }
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
