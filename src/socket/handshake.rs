//! `socket.handshake`: what the client's first request and CONNECT packet said.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use serde::Serialize;
use serde_json::Value;

use crate::engine::RequestInfo;

/// The handshake details of a socket, as socket.io exposes them.
#[derive(Debug, Clone, Serialize)]
pub struct Handshake {
    /// Request headers, names lower-cased (repeated headers joined with ", ").
    pub headers: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    /// The CONNECT packet's payload (`{}` when it had none).
    pub auth: Value,
    /// When the session was opened, as an HTTP date.
    pub time: String,
    /// Milliseconds since the Unix epoch.
    pub issued: u64,
    pub url: String,
    /// The client's IP address.
    pub address: String,
    /// Whether the request was cross-origin (carried an `Origin` header).
    pub xdomain: bool,
    pub secure: bool,
}

impl Handshake {
    pub(crate) fn new(request: &RequestInfo, auth: Value) -> Handshake {
        let mut headers = BTreeMap::new();
        for (k, v) in &request.headers {
            headers
                .entry(k.clone())
                .and_modify(|e: &mut String| {
                    e.push_str(", ");
                    e.push_str(v)
                })
                .or_insert_with(|| v.clone());
        }
        let issued = request
            .issued
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Handshake {
            xdomain: request.header("origin").is_some(),
            headers,
            query: request.query.iter().cloned().collect(),
            auth,
            time: httpdate::fmt_http_date(request.issued),
            issued,
            url: request.url.clone(),
            address: request
                .remote_addr
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
            secure: request.secure,
        }
    }
}
