//! `socket.handshake`: what the client's first request and CONNECT packet said.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;

use crate::engine::RequestInfo;

/// The handshake details of a socket, as socket.io exposes them. It shares
/// the session's record of the request (nothing is copied per socket) and
/// serializes to socket.io's `socket.handshake` object.
#[derive(Debug, Clone)]
pub struct Handshake {
    request: Arc<RequestInfo>,
    /// The CONNECT packet's payload (`{}` when it had none).
    pub auth: Value,
}

impl Handshake {
    pub(crate) fn new(request: Arc<RequestInfo>, auth: Value) -> Handshake {
        Handshake { request, auth }
    }

    /// Request headers, names lower-cased (repeated headers joined with ", ").
    pub fn headers(&self) -> BTreeMap<String, String> {
        let mut headers = BTreeMap::new();
        for (k, v) in &self.request.headers {
            headers
                .entry(k.clone())
                .and_modify(|e: &mut String| {
                    e.push_str(", ");
                    e.push_str(v)
                })
                .or_insert_with(|| v.clone());
        }
        headers
    }

    /// One request header (the first, if repeated); `name` lower-case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// Query parameters of the first request (the last value of a repeated one).
    pub fn query(&self) -> BTreeMap<String, String> {
        self.request.query.iter().cloned().collect()
    }

    /// When the session was opened, as an HTTP date.
    pub fn time(&self) -> String {
        httpdate::fmt_http_date(self.request.issued)
    }

    /// Milliseconds since the Unix epoch.
    pub fn issued(&self) -> u64 {
        self.request
            .issued
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    /// The first request's path and query, as requested (`handshake.url`).
    pub fn url(&self) -> &str {
        &self.request.url
    }

    /// The client's IP address.
    pub fn address(&self) -> String {
        self.request
            .remote_addr
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    }

    /// Whether the request was cross-origin (carried an `Origin` header).
    pub fn xdomain(&self) -> bool {
        self.request.header("origin").is_some()
    }

    /// Whether the connection came in over TLS (`https`/`wss`).
    pub fn secure(&self) -> bool {
        self.request.secure
    }
}

impl Serialize for Handshake {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Handshake", 9)?;
        s.serialize_field("headers", &self.headers())?;
        s.serialize_field("query", &self.query())?;
        s.serialize_field("auth", &self.auth)?;
        s.serialize_field("time", &self.time())?;
        s.serialize_field("issued", &self.issued())?;
        s.serialize_field("url", self.url())?;
        s.serialize_field("address", &self.address())?;
        s.serialize_field("xdomain", &self.xdomain())?;
        s.serialize_field("secure", &self.secure())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn serializes_as_socket_io_does() {
        let request = RequestInfo {
            headers: vec![
                ("origin".into(), "http://a".into()),
                ("x-a".into(), "1".into()),
                ("x-a".into(), "2".into()),
            ],
            query: vec![("EIO".into(), "4".into()), ("t".into(), "x".into())],
            remote_addr: Some("127.0.0.1:5000".parse().unwrap()),
            url: "/socket.io/?EIO=4&t=x".into(),
            secure: false,
            issued: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        };
        let hs = Handshake::new(Arc::new(request), serde_json::json!({"token": "t"}));
        let v = serde_json::to_value(&hs).unwrap();
        assert_eq!(v["headers"]["x-a"], "1, 2");
        assert_eq!(v["query"]["t"], "x");
        assert_eq!(v["auth"]["token"], "t");
        assert_eq!(v["issued"], 1_700_000_000_123u64);
        assert_eq!(v["time"], "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(v["address"], "127.0.0.1");
        assert_eq!(v["xdomain"], true);
        assert_eq!(v["secure"], false);
        assert_eq!(v["url"], "/socket.io/?EIO=4&t=x");
        assert_eq!(hs.header("x-a"), Some("1"));
    }
}
