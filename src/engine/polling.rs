//! The HTTP long-polling transport: a GET waits for queued packets, a POST
//! carries a payload of packets from the client.

use actix::Addr;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;

use super::error::EngineError;
use super::handler::{CloseReason, EngineHandler};
use super::packet::{Packet, ProtocolVersion, decode_payload, encode_payload};
use super::session::{EngineSession, Poll, PollGet, PostDone, PostStart};

pub(super) fn ok_text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=UTF-8")
        .body(body)
}

/// Answers a GET with what the session has queued, waiting for data if it has none.
pub(super) async fn get<H: EngineHandler>(
    session: Addr<EngineSession<H>>,
    version: ProtocolVersion,
) -> Result<HttpResponse, EngineError> {
    match session.send(PollGet).await {
        Ok(Ok(Poll::Ready(body))) => Ok(ok_text(body)),
        Ok(Ok(Poll::Wait(rx))) => {
            // A dropped sender means the session ended without a word: say close.
            let body = rx
                .await
                .unwrap_or_else(|_| encode_payload(&[Packet::Close.encode(version)], version));
            Ok(ok_text(body))
        }
        Ok(Err(_)) => Err(EngineError::BadRequest),
        Err(_) => Err(EngineError::UnknownSid),
    }
}

/// Reads a POST body (bounded by `max_payload`) and hands its packets to the session.
pub(super) async fn post<H: EngineHandler>(
    session: Addr<EngineSession<H>>,
    mut body: web::Payload,
    max_payload: usize,
    version: ProtocolVersion,
) -> Result<HttpResponse, EngineError> {
    match session.send(PostStart).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err(EngineError::BadRequest),
        Err(_) => return Err(EngineError::UnknownSid),
    }
    let mut data = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            session.do_send(PostDone(Err(CloseReason::TransportError)));
            return Err(EngineError::BadRequest);
        };
        if data.len() + chunk.len() > max_payload {
            session.do_send(PostDone(Err(CloseReason::TransportError)));
            return Err(EngineError::PayloadTooLarge);
        }
        data.extend_from_slice(&chunk);
    }
    let packets = std::str::from_utf8(&data)
        .ok()
        .and_then(|text| decode_payload(text, version).ok());
    match packets {
        Some(packets) => {
            session.do_send(PostDone(Ok(packets)));
            Ok(HttpResponse::Ok().content_type("text/html").body("ok"))
        }
        None => {
            session.do_send(PostDone(Err(CloseReason::TransportError)));
            Err(EngineError::BadRequest)
        }
    }
}
