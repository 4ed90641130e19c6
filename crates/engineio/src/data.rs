//! Plain data every layer of the engine passes around: a client's message,
//! why a session ended, what the handshake request looked like.
//!
//! Owns: these types and their strings. Must not touch: anything else — it
//! sits at the bottom, so the session core can use it without knowing the
//! actor or the handler trait.

use std::net::SocketAddr;
use std::time::SystemTime;

use bytes::Bytes;

/// A message a client sent, as the layer above sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (packet type `4`).
    Text(String),
    /// A binary message (a binary WebSocket frame, or `b` + base64 in a polling payload).
    Binary(Bytes),
}

/// Why a session ended. The strings are socket.io's disconnect reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The transport failed, sent something unreadable, or fell behind its outgoing bound.
    TransportError,
    /// The client closed the connection (or sent a `close` packet).
    TransportClose,
    /// No pong within `pingTimeout`.
    PingTimeout,
    /// The layer above found a message it could not parse.
    ParseError,
    /// The server closed the session on purpose.
    ForcedClose,
    /// The server is stopping.
    ServerShutdown,
}

impl CloseReason {
    /// The reason as socket.io spells it, e.g. `"ping timeout"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportError => "transport error",
            CloseReason::TransportClose => "transport close",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShutdown => "server shutting down",
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the handshake request looked like; the Socket.IO layer builds
/// `socket.handshake` from it.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The HTTP method (`GET` for every Engine.IO handshake).
    pub method: String,
    /// Header names lower-cased, in request order.
    pub headers: Vec<(String, String)>,
    /// Decoded query pairs, in request order.
    pub query: Vec<(String, String)>,
    /// The peer's address, when the connection has one.
    pub remote_addr: Option<SocketAddr>,
    /// Path and query as requested.
    pub url: String,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// When the handshake request arrived.
    pub issued: SystemTime,
}

impl RequestInfo {
    /// The first value of header `name`, which must be lower-case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The cookies of the `cookie` header(s), as `(name, value)` pairs in
    /// order; values percent-decoded as Node's `cookie` module does.
    pub fn cookies(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                let decoded = percent_decode(value);
                Some((name.trim().to_string(), decoded))
            })
            .collect()
    }
}

/// `%XX` escapes decoded; a value that does not decode to UTF-8 is kept as sent.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::RequestInfo;

    #[test]
    fn cookies_are_parsed_and_decoded() {
        let request = RequestInfo {
            method: "GET".into(),
            headers: vec![("cookie".into(), "a=1; b=\"x%20y\"; bad; c=%ZZ".into())],
            query: Vec::new(),
            remote_addr: None,
            url: "/".into(),
            secure: false,
            issued: std::time::SystemTime::UNIX_EPOCH,
        };
        let cookies = request.cookies();
        assert_eq!(
            cookies,
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y".to_string()),
                ("c".to_string(), "%ZZ".to_string()),
            ]
        );
    }
}
