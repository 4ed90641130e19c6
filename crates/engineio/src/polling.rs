//! The HTTP long-polling transport: a GET waits for queued packets, a POST
//! carries a payload of packets from the client.
//!
//! Owns: the HTTP side (body limits, payload decoding, response
//! compression). Must not touch: session state; it only asks the session
//! (`PollGet`, `PostStart`, `PostDone`), tells it of a GET whose connection
//! closed (`PollAbandoned`) and writes what it is told.

use std::io::Write;

use actix::{Addr, prelude::SendError};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use futures_util::StreamExt;
use tokio::sync::oneshot;

use super::data::CloseReason;
use super::error::EngineError;
use super::handler::EngineHandler;
use super::jsonp;
use super::packet::{
    DecodeError, Frame, Packet, ProtocolVersion, decode_binary_payload, decode_payload,
    encode_binary_payload, encode_payload,
};
use super::queue::PollBody;
use super::session::{EngineSession, PollAbandoned, PollGet, PostDone, PostStart};

/// How one polling request wants its payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PollFormat {
    /// The session's protocol revision.
    pub version: ProtocolVersion,
    /// A v3 client that reads binary payloads (XHR2: no `b64=1` at its
    /// handshake); it gets one whenever a response holds binary data.
    pub binary: bool,
    /// JSONP polling: the request's `j`, the index of the client's callback.
    pub jsonp: Option<String>,
}

impl PollFormat {
    /// The response body for `frames`, and its content type.
    fn encode(&self, frames: &[Frame]) -> (Vec<u8>, &'static str) {
        if let Some(index) = &self.jsonp {
            let script = jsonp::wrap(index, &encode_payload(frames, self.version));
            return (script.into_bytes(), "text/javascript; charset=UTF-8");
        }
        if self.binary && frames.iter().any(|f| matches!(f, Frame::Binary(_))) {
            return (encode_binary_payload(frames), "application/octet-stream");
        }
        let text = encode_payload(frames, self.version);
        (text.into_bytes(), "text/plain; charset=UTF-8")
    }

    /// The packets of a POST body. v3 XHR2 clients post binary payloads
    /// (as `application/octet-stream`), JSONP clients a form.
    fn decode(&self, body: &[u8], content_type: &str) -> Result<Vec<Packet>, DecodeError> {
        let text = || std::str::from_utf8(body).map_err(|_| DecodeError::Payload("invalid UTF-8"));
        if self.jsonp.is_some() {
            return decode_payload(&jsonp::unwrap(text()?)?, self.version);
        }
        if self.version == ProtocolVersion::V3
            && content_type.starts_with("application/octet-stream")
        {
            return decode_binary_payload(body);
        }
        decode_payload(text()?, self.version)
    }

    /// A response carrying `frames`, uncompressed.
    pub(super) fn respond(&self, frames: &[Frame]) -> HttpResponse {
        let (body, content_type) = self.encode(frames);
        HttpResponse::Ok().content_type(content_type).body(body)
    }
}

/// Tells the session when a GET is dropped unanswered: actix-web drops the
/// handler when the client's connection closes (the server runs with
/// `h1_allow_half_closed(false)`), and the session then ends as engine.io's
/// does on "poll connection closed prematurely", instead of at the ping
/// timeout: a closed tab leaves at once.
struct AbandonGuard<H: EngineHandler> {
    session: Option<Addr<EngineSession<H>>>,
}

impl<H: EngineHandler> AbandonGuard<H> {
    /// The GET was answered: nothing to say on drop.
    fn disarm(&mut self) {
        self.session = None;
    }
}

impl<H: EngineHandler> Drop for AbandonGuard<H> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            session.do_send(PollAbandoned);
        }
    }
}

/// Answers a GET with what the session has queued, waiting for data if it has none.
pub(super) async fn get<H: EngineHandler>(
    session: Addr<EngineSession<H>>,
    format: &PollFormat,
    req: &HttpRequest,
    compress_from: Option<usize>,
) -> Result<HttpResponse, EngineError> {
    let mut guard = AbandonGuard {
        session: Some(session.clone()),
    };
    let answer = wait_for_body(session).await;
    guard.disarm();
    Ok(respond(format, answer?, req, compress_from))
}

/// What a GET is answered with: what the session has queued, now or once it has some.
async fn wait_for_body<H: EngineHandler>(
    session: Addr<EngineSession<H>>,
) -> Result<PollBody, EngineError> {
    let (reply, answer) = oneshot::channel();
    match session.try_send(PollGet { reply }) {
        Ok(()) => {}
        // Waits for room rather than growing the mailbox past its bound.
        Err(SendError::Full(get)) => session
            .send(get)
            .await
            .map_err(|_| EngineError::UnknownSid)?,
        Err(SendError::Closed(_)) => return Err(EngineError::UnknownSid),
    }
    match answer.await {
        Ok(Ok(body)) => Ok(body),
        // Polling is over for this session (upgraded, or refused as a second GET).
        Ok(Err(_)) => Err(EngineError::BadRequest),
        // The session ended before it took the GET.
        Err(_) => Err(EngineError::UnknownSid),
    }
}

/// The GET response, compressed when a packet asked for it, the body is at
/// least `compress_from` bytes and the client accepts gzip or deflate.
fn respond(
    format: &PollFormat,
    body: PollBody,
    req: &HttpRequest,
    compress_from: Option<usize>,
) -> HttpResponse {
    let (data, content_type) = format.encode(&body.frames);
    let plain = |data| HttpResponse::Ok().content_type(content_type).body(data);
    let big_enough = compress_from.is_some_and(|t| data.len() >= t);
    if !(body.compress && big_enough) {
        return plain(data);
    }
    let header = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let accepts = |coding: &str| header.is_some_and(|h| accepts_coding(h, coding));
    let (coding, compressed) = if accepts("gzip") {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        let _ = enc.write_all(&data);
        ("gzip", enc.finish())
    } else if accepts("deflate") {
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        let _ = enc.write_all(&data);
        ("deflate", enc.finish())
    } else {
        return plain(data);
    };
    match compressed {
        Ok(compressed) => HttpResponse::Ok()
            .content_type(content_type)
            .insert_header((header::CONTENT_ENCODING, coding))
            .body(compressed),
        Err(_) => plain(data),
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
    req: &HttpRequest,
    mut body: web::Payload,
    max_payload: usize,
    format: &PollFormat,
) -> Result<HttpResponse, EngineError> {
    // Not waited for: whether the session took the POST comes with the
    // answer to `PostDone`, and when the body came with the request head
    // both messages reach the session on one wake-up.
    match session.try_send(PostStart) {
        Ok(()) => {}
        // Waits for room rather than growing the mailbox past its bound.
        Err(SendError::Full(start)) => session
            .send(start)
            .await
            .map_err(|_| EngineError::UnknownSid)?,
        Err(SendError::Closed(_)) => return Err(EngineError::UnknownSid),
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
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match format.decode(&data, content_type).ok() {
        Some(packets) => match session.send(PostDone(Ok(packets))).await {
            Ok(Ok(())) => Ok(HttpResponse::Ok().content_type("text/html").body("ok")),
            Ok(Err(_)) => Err(EngineError::BadRequest),
            Err(_) => Err(EngineError::UnknownSid),
        },
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
