//! The WebSocket transport: one actor per WebSocket connection, moving
//! frames between the socket and its session. The only module that uses
//! actix-web-actors, so a move to actix-ws touches this file alone.

use actix::prelude::*;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use bytes::{Bytes, BytesMut};

use super::error::EngineError;
use super::handler::EngineHandler;
use super::packet::{DecodeError, Frame, Packet, ProtocolVersion};
use super::session::{EngineSession, WsClosed, WsIn, WsOpened};

/// What a session asks of its WebSocket.
#[derive(Debug, actix::Message)]
#[rtype(result = "()")]
pub enum WsCommand {
    Send(Frame),
    Close,
}

pub struct WsTransport<H: EngineHandler> {
    session: Addr<EngineSession<H>>,
    conn: u64,
    probe: bool,
    version: ProtocolVersion,
    max_payload: usize,
    /// A fragmented message being reassembled: (is text, bytes so far).
    partial: Option<(bool, BytesMut)>,
    failed: bool,
}

/// Accepts the WebSocket handshake in `req` and starts its transport actor.
pub(super) fn start<H: EngineHandler>(
    req: &HttpRequest,
    body: web::Payload,
    session: Addr<EngineSession<H>>,
    conn: u64,
    probe: bool,
    version: ProtocolVersion,
    max_payload: usize,
) -> Result<HttpResponse, EngineError> {
    let actor = WsTransport {
        session,
        conn,
        probe,
        version,
        max_payload,
        partial: None,
        failed: false,
    };
    ws::WsResponseBuilder::new(actor, req, body)
        .frame_size(max_payload)
        .start()
        .map_err(|_| EngineError::BadRequest)
}

impl<H: EngineHandler> WsTransport<H> {
    fn deliver(
        &mut self,
        decoded: Result<Packet, DecodeError>,
        ctx: &mut ws::WebsocketContext<Self>,
    ) {
        let packet = match decoded {
            Ok(packet) => packet,
            Err(e) => {
                log::debug!("ws {}: undecodable frame: {e}", self.conn);
                self.fail(ctx);
                return;
            }
        };
        let msg = WsIn {
            conn: self.conn,
            packet,
        };
        // Fast path; when the session's mailbox is full, stop reading the
        // socket until it has room (back-pressure instead of growth).
        if let Err(SendError::Full(msg)) = self.session.try_send(msg) {
            ctx.wait(self.session.send(msg).into_actor(self).map(|_, _, _| ()));
        }
    }

    fn message(&mut self, text: bool, data: Bytes, ctx: &mut ws::WebsocketContext<Self>) {
        let decoded = if text {
            match std::str::from_utf8(&data) {
                Ok(s) => Packet::decode_text(s),
                Err(_) => Err(DecodeError::Payload("invalid UTF-8")),
            }
        } else {
            Packet::decode_binary(data, self.version)
        };
        self.deliver(decoded, ctx);
    }

    fn fail(&mut self, ctx: &mut ws::WebsocketContext<Self>) {
        self.failed = true;
        ctx.close(Some(ws::CloseCode::Protocol.into()));
        ctx.stop();
    }
}

impl<H: EngineHandler> Actor for WsTransport<H> {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(super::session::MAILBOX_CAPACITY);
        let open = WsOpened {
            conn: self.conn,
            addr: ctx.address(),
            probe: self.probe,
        };
        self.session
            .send(open)
            .into_actor(self)
            .map(|accepted, _, ctx| {
                if !matches!(accepted, Ok(true)) {
                    ctx.close(Some(ws::CloseCode::Normal.into()));
                    ctx.stop();
                }
            })
            .wait(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.session.do_send(WsClosed {
            conn: self.conn,
            error: self.failed,
        });
    }
}

impl<H: EngineHandler> StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsTransport<H> {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        let msg = match msg {
            Ok(msg) => msg,
            Err(e) => {
                log::debug!("ws {}: protocol error: {e}", self.conn);
                self.fail(ctx);
                return;
            }
        };
        match msg {
            ws::Message::Text(text) => self.message(true, text.into_bytes(), ctx),
            ws::Message::Binary(data) => self.message(false, data, ctx),
            ws::Message::Continuation(item) => self.continuation(item, ctx),
            ws::Message::Ping(data) => ctx.pong(&data),
            ws::Message::Pong(_) | ws::Message::Nop => {}
            ws::Message::Close(reason) => {
                ctx.close(reason);
                ctx.stop();
            }
        }
    }
}

impl<H: EngineHandler> WsTransport<H> {
    fn continuation(&mut self, item: actix_http::ws::Item, ctx: &mut ws::WebsocketContext<Self>) {
        let (first, chunk, last) = match item {
            actix_http::ws::Item::FirstText(b) => (Some(true), b, false),
            actix_http::ws::Item::FirstBinary(b) => (Some(false), b, false),
            actix_http::ws::Item::Continue(b) => (None, b, false),
            actix_http::ws::Item::Last(b) => (None, b, true),
        };
        match (first, &mut self.partial) {
            (Some(text), None) => self.partial = Some((text, BytesMut::from(&chunk[..]))),
            (None, Some((_, buf))) if buf.len() + chunk.len() <= self.max_payload => {
                buf.extend_from_slice(&chunk)
            }
            _ => return self.fail(ctx),
        }
        if last {
            let (text, buf) = self.partial.take().expect("set above");
            self.message(text, buf.freeze(), ctx);
        }
    }
}

impl<H: EngineHandler> Handler<WsCommand> for WsTransport<H> {
    type Result = ();
    fn handle(&mut self, cmd: WsCommand, ctx: &mut Self::Context) {
        match cmd {
            WsCommand::Send(Frame::Text(text)) => ctx.text(text),
            WsCommand::Send(Frame::Binary(data)) => ctx.binary(data),
            WsCommand::Close => {
                ctx.close(Some(ws::CloseCode::Normal.into()));
                ctx.stop();
            }
        }
    }
}
