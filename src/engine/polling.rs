//! The HTTP long-polling transport: a GET waits for queued packets, a POST
//! carries a payload of packets from the client.
//!
//! Owns: the HTTP side (body limits, payload decoding, response
//! compression). Must not touch: session state; it only asks the session
//! (`PollGet`, `PostStart`, `PostDone`) and writes what it is told.

use std::io::Write;

use actix::Addr;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use futures_util::StreamExt;

use super::data::CloseReason;
use super::error::EngineError;
use super::handler::EngineHandler;
use super::packet::{Packet, ProtocolVersion, decode_payload, encode_payload};
use super::queue::PollBody;
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
    req: &HttpRequest,
    compress_from: Option<usize>,
) -> Result<HttpResponse, EngineError> {
    let body = match session.send(PollGet).await {
        Ok(Ok(Poll::Ready(body))) => body,
        // A dropped sender means the session ended without a word: say close.
        Ok(Ok(Poll::Wait(rx))) => match rx.await {
            Ok(Ok(body)) => body,
            // Sent after an upgrade that was decided while it waited.
            Ok(Err(_)) => return Err(EngineError::BadRequest),
            Err(_) => PollBody {
                body: encode_payload(&[Packet::Close.encode(version)], version),
                compress: false,
            },
        },
        Ok(Err(_)) => return Err(EngineError::BadRequest),
        Err(_) => return Err(EngineError::UnknownSid),
    };
    Ok(respond(body, req, compress_from))
}

/// The GET response, compressed when a packet asked for it, the body is at
/// least `compress_from` bytes and the client accepts gzip or deflate.
fn respond(body: PollBody, req: &HttpRequest, compress_from: Option<usize>) -> HttpResponse {
    let big_enough = compress_from.is_some_and(|t| body.body.len() >= t);
    if !(body.compress && big_enough) {
        return ok_text(body.body);
    }
    let header = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let accepts = |coding: &str| header.is_some_and(|h| accepts_coding(h, coding));
    let (coding, data) = if accepts("gzip") {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        let _ = enc.write_all(body.body.as_bytes());
        ("gzip", enc.finish())
    } else if accepts("deflate") {
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        let _ = enc.write_all(body.body.as_bytes());
        ("deflate", enc.finish())
    } else {
        return ok_text(body.body);
    };
    match data {
        Ok(data) => HttpResponse::Ok()
            .content_type("text/plain; charset=UTF-8")
            .insert_header((header::CONTENT_ENCODING, coding))
            .body(data),
        Err(_) => ok_text(body.body),
    }
}

/// Whether an `Accept-Encoding` value allows `coding`: named (or `*`) with
/// a q-value above zero (RFC 9110 §12.5.3; `q=0` means "not acceptable").
fn accepts_coding(header: &str, coding: &str) -> bool {
    let mut wildcard = false;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q > 0.0;
        }
        if name == "*" {
            wildcard = q > 0.0;
        }
    }
    wildcard
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
            session.do_send(PostDone(Err(CloseReason::ParseError)));
            Err(EngineError::BadRequest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::accepts_coding;

    #[test]
    fn accept_encoding_honours_q_values() {
        assert!(accepts_coding("gzip, deflate, br", "gzip"));
        assert!(accepts_coding("deflate;q=0.5, GZIP;q=1", "gzip"));
        assert!(!accepts_coding("gzip;q=0", "gzip"));
        assert!(!accepts_coding("gzip;q=0, deflate;q=0", "deflate"));
        assert!(!accepts_coding("identity", "gzip"));
        assert!(accepts_coding("*", "deflate"));
        assert!(!accepts_coding("*, gzip;q=0", "gzip"));
        assert!(!accepts_coding("*;q=0", "gzip"));
    }
}
