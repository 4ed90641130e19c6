//! Engine.IO settings: timings, limits, transports, CORS and the
//! `allowRequest` hook. Plain data, built by the application.
//!
//! Owns: the settings and their defaults. Must not touch: anything that acts
//! on them (the session core reads its timings through `Limits`).

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;

pub use super::admission::AdmissionConfig;
pub use super::ws_codec::DeflateSettings;

/// Decides whether a handshake request may open a session (socket.io's
/// `allowRequest`). An `Err` answers HTTP 403 with that message.
pub type AllowRequest = Arc<dyn Fn(&HttpRequest) -> Result<(), String> + Send + Sync>;

/// Which origins get CORS headers on polling responses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cors {
    /// No CORS headers: same-origin clients only.
    #[default]
    Off,
    /// Any origin (`*`).
    Any,
    /// These exact origins.
    Origins(Vec<String>),
}

impl Cors {
    /// `["*"]` means any origin, `[]` none, otherwise the listed ones.
    pub fn from_list(origins: &[String]) -> Cors {
        if origins.iter().any(|o| o == "*") {
            Cors::Any
        } else if origins.is_empty() {
            Cors::Off
        } else {
            Cors::Origins(origins.to_vec())
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`.
    /// Any origin is `*`, which browsers never combine with credentials:
    /// only a listed origin is echoed, and allowed credentials.
    pub fn allow_origin(&self, origin: Option<&str>) -> Option<String> {
        match (self, origin) {
            (Cors::Off, _) => None,
            (Cors::Any, _) => Some("*".to_string()),
            (Cors::Origins(list), Some(o)) if list.iter().any(|l| l == o) => Some(o.to_string()),
            (Cors::Origins(_), _) => None,
        }
    }

    /// Whether a WebSocket handshake from `origin` may go on: browsers do
    /// not apply CORS to WebSockets, so the allow-list is checked here. A
    /// request without `Origin` is not from a browser page and passes.
    pub fn allows_websocket(&self, origin: Option<&str>) -> bool {
        match (self, origin) {
            (Cors::Origins(list), Some(o)) => list.iter().any(|l| l == o),
            _ => true,
        }
    }
}

/// Settings of one Engine.IO endpoint.
#[derive(Clone)]
pub struct EngineConfig {
    /// How often the server sends a ping (`pingInterval` in the handshake).
    pub ping_interval: Duration,
    /// How long the server waits for the pong before closing the session
    /// with "ping timeout" (`pingTimeout` in the handshake).
    pub ping_timeout: Duration,
    /// How long a WebSocket probe may take to send `5` (upgrade).
    pub upgrade_timeout: Duration,
    /// Largest accepted message or polling request body, in bytes.
    pub max_payload: usize,
    /// Bound of one session's outgoing queue, in bytes.
    pub max_buffer_bytes: usize,
    /// Whether the HTTP long-polling transport is offered.
    pub polling: bool,
    /// Whether the WebSocket transport is offered (directly or as an upgrade).
    pub websocket: bool,
    /// CORS headers on polling responses.
    pub cors: Cors,
    /// A check run on every handshake request before a session opens.
    pub allow_request: Option<AllowRequest>,
    /// permessage-deflate on WebSocket (off by default, as in socket.io).
    pub per_message_deflate: DeflateSettings,
    /// Whether Engine.IO v3 clients (socket.io-client 2.x, sails.io.js) may
    /// connect, beside v4 ones (socket.io's `allowEIO3`; on by default, as
    /// in Sails).
    pub allow_eio3: bool,
    /// Polling responses at least this big are gzip/deflate-compressed when
    /// the client accepts it and a packet asked for compression; `None` never.
    pub http_compression_threshold: Option<usize>,
    /// Check a WebSocket handshake's `Origin` against the CORS allow-list
    /// (see [`Cors::allows_websocket`]).
    pub ws_check_origin: bool,
    /// Refuse a polling request or upgrade whose client address differs
    /// from the one that opened the session (`Session ID unknown`).
    pub check_sid_address: bool,
    /// Per-address limits and trusted proxies.
    pub admission: AdmissionConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            max_buffer_bytes: 1 << 20,
            polling: true,
            websocket: true,
            cors: Cors::Off,
            allow_request: None,
            per_message_deflate: DeflateSettings::default(),
            allow_eio3: true,
            http_compression_threshold: Some(1024),
            ws_check_origin: true,
            check_sid_address: false,
            admission: AdmissionConfig::default(),
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("max_payload", &self.max_payload)
            .field("max_buffer_bytes", &self.max_buffer_bytes)
            .field("polling", &self.polling)
            .field("websocket", &self.websocket)
            .field("cors", &self.cors)
            .field("allow_request", &self.allow_request.is_some())
            .field("per_message_deflate", &self.per_message_deflate)
            .field("allow_eio3", &self.allow_eio3)
            .field(
                "http_compression_threshold",
                &self.http_compression_threshold,
            )
            .field("ws_check_origin", &self.ws_check_origin)
            .field("check_sid_address", &self.check_sid_address)
            .field("admission", &self.admission)
            .finish()
    }
}
