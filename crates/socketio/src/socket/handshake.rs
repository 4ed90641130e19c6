//! `socket.handshake`: what the client's first request and CONNECT packet said.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::UNIX_EPOCH;

use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::Value;

use switchyard_engineio::RequestInfo;

/// The handshake details of a socket, as socket.io exposes them. It shares
/// the session's record of the request (nothing is copied per socket) and
/// serializes to socket.io's `socket.handshake` object.
#[derive(Debug, Clone)]
pub struct Handshake {
    request: Arc<RequestInfo>,
    /// The CONNECT packet's payload (`{}` when it had none).
    pub auth: Value,
    /// The `cookie` header when the request had none: the first cookie a
    /// virtual request's response set, as Sails keeps it for the socket's life.
    kept_cookie: OnceLock<String>,
}

impl Handshake {
    pub(crate) fn new(request: Arc<RequestInfo>, auth: Value) -> Handshake {
        Handshake {
            request,
            auth,
            kept_cookie: OnceLock::new(),
        }
    }

    /// Makes `cookie` (`name=value`) this handshake's `cookie` header if it
    /// has none yet; the first one kept stays.
    pub fn keep_cookie(&self, cookie: String) {
        if self.request.header("cookie").is_none() {
            let _ = self.kept_cookie.set(cookie);
        }
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
        if let Some(cookie) = self.kept_cookie.get() {
            headers.insert("cookie".into(), cookie.clone());
        }
        headers
    }

    /// One request header (the first, if repeated); `name` lower-case.
    pub fn header(&self, name: &str) -> Option<&str> {
        match (self.request.header(name), name) {
            (None, "cookie") => self.kept_cookie.get().map(String::as_str),
            (found, _) => found,
        }
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
            method: "GET".into(),
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

    #[test]
    fn keeps_the_first_cookie_only_when_the_request_had_none() {
        let request = |headers: Vec<(String, String)>| RequestInfo {
            method: "GET".into(),
            headers,
            query: Vec::new(),
            remote_addr: None,
            url: "/".into(),
            secure: false,
            issued: SystemTime::UNIX_EPOCH,
        };
        let bare = Handshake::new(Arc::new(request(Vec::new())), Value::Null);
        bare.keep_cookie("sid=1".into());
        bare.keep_cookie("sid=2".into());
        assert_eq!(bare.header("cookie"), Some("sid=1"));
        assert_eq!(bare.headers()["cookie"], "sid=1");
        let had = vec![("cookie".to_string(), "a=b".to_string())];
        let with = Handshake::new(Arc::new(request(had)), Value::Null);
        with.keep_cookie("sid=1".into());
        assert_eq!(with.header("cookie"), Some("a=b"));
    }
}
