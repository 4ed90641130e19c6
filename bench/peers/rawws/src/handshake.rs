//! The HTTP side: reads the request head, answers a WebSocket upgrade to
//! `/socket.io/?EIO=4&transport=websocket` with 101, and refuses everything else with 400 and
//! an Engine.IO-style error body. Owns nothing past the 101; the frames are `session.rs`'s.
//!
//! Done by hand (httparse for the head, SHA-1 + base64 for the accept key) rather than through
//! an HTTP server: one read and one write per connection, and a clear 400 for the polling
//! transport, which this peer does not speak.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::counters;

/// The longest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// RFC 6455's GUID for the accept key.
const WS_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why a request was not upgraded; the message goes in the 400's body (no quotes in it).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("the raw WebSocket peer speaks only transport=websocket (no HTTP long-polling)")]
    Transport,
    #[error("only GET /socket.io/?EIO=4&transport=websocket is served")]
    Path,
    #[error("not a WebSocket upgrade (Upgrade or Sec-WebSocket-Key missing)")]
    NotUpgrade,
    #[error("malformed or oversized request head")]
    BadHead,
    #[error("data sent before the handshake answer")]
    EarlyData,
}

impl Refused {
    /// Engine.IO's error codes: 0 is "Transport unknown", 3 "Bad request".
    fn code(&self) -> u8 {
        match self {
            Refused::Transport => 0,
            _ => 3,
        }
    }
}

/// What came of a request.
pub(crate) enum Outcome {
    /// 101 sent: the connection now carries WebSocket frames.
    Upgraded,
    /// 400 sent (or the connection broke); it is to be closed.
    Closed,
}

/// Reads the request head and answers it.
pub(crate) async fn accept(stream: &mut TcpStream) -> Outcome {
    let mut head = Vec::with_capacity(1024);
    loop {
        match stream.read_buf(&mut head).await {
            Ok(0) | Err(_) => return Outcome::Closed,
            Ok(_) => {}
        }
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.len() >= MAX_HEAD {
            break;
        }
    }
    let answer = match accept_key(&head) {
        Ok(key) => format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {key}\r\n\r\n"
        ),
        Err(refused) => {
            counters::REFUSED.add();
            let body = format!("{{\"code\":{},\"message\":\"{refused}\"}}", refused.code());
            let answer = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            return Outcome::Closed;
        }
    };
    if stream.write_all(answer.as_bytes()).await.is_err() {
        return Outcome::Closed;
    }
    counters::SESSIONS.add();
    Outcome::Upgraded
}

/// The Sec-WebSocket-Accept value for a request head that asks for what this peer serves.
fn accept_key(head: &[u8]) -> Result<String, Refused> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(head) {
        Ok(httparse::Status::Complete(len)) => len,
        _ => return Err(Refused::BadHead),
    };
    let (path, query) = req
        .path
        .unwrap_or_default()
        .split_once('?')
        .unwrap_or((req.path.unwrap_or_default(), ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    if req.method != Some("GET") || !matches!(path, "/socket.io/" | "/socket.io") {
        return Err(Refused::Path);
    }
    if param("transport") != Some("websocket") || param("sid").is_some() {
        return Err(Refused::Transport);
    }
    if param("EIO") != Some("4") {
        return Err(Refused::Path);
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    let upgrade = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket"));
    let key = header("sec-websocket-key").ok_or(Refused::NotUpgrade)?;
    if !upgrade {
        return Err(Refused::NotUpgrade);
    }
    // RFC 6455: the client waits for the answer before it sends frames.
    if len != head.len() {
        return Err(Refused::EarlyData);
    }
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WS_GUID);
    Ok(BASE64.encode(sha.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str) -> Vec<u8> {
        format!(
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn accepts_the_websocket_transport() {
        // RFC 6455's example key and answer.
        let key = accept_key(&request("/socket.io/?EIO=4&transport=websocket")).unwrap();
        assert_eq!(key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn refuses_everything_else() {
        let polling = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n";
        assert!(matches!(accept_key(polling), Err(Refused::Transport)));
        let upgrade = request("/socket.io/?EIO=4&transport=websocket&sid=abc");
        assert!(matches!(accept_key(&upgrade), Err(Refused::Transport)));
        let eio3 = request("/socket.io/?EIO=3&transport=websocket");
        assert!(matches!(accept_key(&eio3), Err(Refused::Path)));
        let other = request("/other/?EIO=4&transport=websocket");
        assert!(matches!(accept_key(&other), Err(Refused::Path)));
        let plain = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: h\r\n\r\n";
        assert!(matches!(accept_key(plain), Err(Refused::NotUpgrade)));
        let mut early = request("/socket.io/?EIO=4&transport=websocket");
        early.extend_from_slice(&[0x81, 0x80]);
        assert!(matches!(accept_key(&early), Err(Refused::EarlyData)));
        assert!(matches!(
            accept_key(b"GET / HTTP/1.1\r\n"),
            Err(Refused::BadHead)
        ));
    }
}
