//! The Engine.IO endpoint: request routing (handshake, polling, WebSocket),
//! the session registry, CORS, and shutdown. One [`Engine`] serves one path.
//!
//! Owns: which request goes where, the handshake, the registry. Must not
//! touch: a session's state; sessions leave the registry through the
//! callback they are started with, so nothing below names this module.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use actix::{Actor, Addr};
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use futures_util::future::LocalBoxFuture;

use super::admission::{Admission, canonical};
use super::burst::Burst;
use super::config::EngineConfig;
use super::data::{CloseReason, RequestInfo};
use super::error::EngineError;
use super::handler::EngineHandler;
use super::packet::{Packet, ProtocolVersion};
use super::polling;
use super::polling::PollFormat;
use super::session::{Close, EngineSession, ProbeComing, SessionInit};
use super::sparse::Sparse;
use super::stats::EngineStats;
use super::upgrade::{WsConnection, WsEndpoint};
use super::websocket::{self, SessionStart};

/// Live sessions by sid. A session leaves it through the callback it is
/// given at its start, so the session layer never names this type.
struct Registry<H: EngineHandler>(Arc<Mutex<SessionMap<H>>>);

type SessionMap<H> = HashMap<Arc<str>, Entry<H>>;

/// A live session and what its requests need to know of it.
struct Entry<H: EngineHandler> {
    addr: Addr<EngineSession<H>>,
    version: ProtocolVersion,
    /// A v3 client that reads binary polling payloads (see [`PollFormat`]).
    binary: bool,
    /// The client's address when it opened the session.
    client: IpAddr,
}

impl<H: EngineHandler> Clone for Entry<H> {
    fn clone(&self) -> Self {
        Entry {
            addr: self.addr.clone(),
            version: self.version,
            binary: self.binary,
            client: self.client,
        }
    }
}

impl<H: EngineHandler> Clone for Registry<H> {
    fn clone(&self) -> Self {
        Registry(self.0.clone())
    }
}

impl<H: EngineHandler> Registry<H> {
    fn map(&self) -> std::sync::MutexGuard<'_, SessionMap<H>> {
        // A panic elsewhere must not take every later request down with it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, sid: &str) -> Option<Entry<H>> {
        self.map().get(sid).cloned()
    }

    /// Takes `sid` out, and gives memory back once the map is mostly empty
    /// (see [`Sparse`]): after a crowd has come and gone it would otherwise
    /// keep its peak's table.
    fn remove(&self, sid: &str) {
        let mut map = self.map();
        map.remove(sid);
        map.shrink_if_sparse();
    }

    fn insert(&self, sid: Arc<str>, entry: Entry<H>) {
        self.map().insert(sid, entry);
    }

    fn all(&self) -> Vec<Addr<EngineSession<H>>> {
        self.map().values().map(|e| e.addr.clone()).collect()
    }

    fn len(&self) -> usize {
        self.map().len()
    }
}

type Factory<H> = dyn Fn() -> H + Send + Sync;

/// An Engine.IO endpoint whose sessions run handler `H`.
///
/// ```no_run
/// use switchyard_engineio::{CloseReason, Engine, EngineConfig, EngineHandler, Message, SessionCtx};
///
/// /// Sends every message back.
/// struct Echo;
///
/// impl EngineHandler for Echo {
///     type Upcall = ();
///     fn on_message(&mut self, message: Message, session: &mut SessionCtx<'_, Self>) {
///         session.send(message);
///     }
///     fn on_close(&mut self, _: CloseReason, _: &mut SessionCtx<'_, Self>) {}
/// }
///
/// # async fn run() -> std::io::Result<()> {
/// let engine = Engine::new(EngineConfig::default(), || Echo);
/// actix_web::HttpServer::new(move || actix_web::App::new().configure(engine.configure("/engine.io/")))
///     .bind("127.0.0.1:3000")?
///     .run()
///     .await
/// # }
/// ```
pub struct Engine<H: EngineHandler> {
    inner: Arc<Inner<H>>,
}

struct Inner<H: EngineHandler> {
    config: Arc<EngineConfig>,
    registry: Registry<H>,
    stats: Arc<EngineStats>,
    factory: Box<Factory<H>>,
    next_conn: AtomicU64,
    admission: Arc<Mutex<Admission>>,
    /// Refusals, logged one line a second at most, however hard a client pushes.
    refusals: Burst,
}

impl<H: EngineHandler> Clone for Engine<H> {
    fn clone(&self) -> Self {
        Engine {
            inner: self.inner.clone(),
        }
    }
}

/// The query parameters Engine.IO reads, borrowed from the request: decoded
/// (and allocated) only where a value has escapes. Every polling request
/// parses its query, so this is on the per-message path.
struct Query<'a> {
    pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Query<'a> {
    fn parse(req: &'a HttpRequest) -> Query<'a> {
        Query::from_str(req.query_string())
    }

    fn from_str(query: &'a str) -> Query<'a> {
        if query.contains(['%', '+']) {
            let pairs = form_urlencoded::parse(query.as_bytes()).collect();
            return Query { pairs };
        }
        // Nothing to decode (what every Engine.IO client sends: `EIO`,
        // `transport`, `sid`, `t`): the pairs are slices of the query, split
        // as `form_urlencoded` splits them, without its per-byte decoding
        // (about 2.5 k instructions of each polling request).
        let pairs = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (Cow::Borrowed(k), Cow::Borrowed(v))
            })
            .collect();
        Query { pairs }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The pairs as the session keeps them.
    fn into_owned(self) -> Vec<(String, String)> {
        self.pairs
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

impl<H: EngineHandler> Engine<H> {
    /// An endpoint that creates one handler per session with `factory`.
    pub fn new(config: EngineConfig, factory: impl Fn() -> H + Send + Sync + 'static) -> Self {
        Engine {
            inner: Arc::new(Inner {
                config: Arc::new(config.clone()),
                registry: Registry(Arc::default()),
                stats: Arc::default(),
                factory: Box::new(factory),
                next_conn: AtomicU64::new(1),
                admission: Arc::new(Mutex::new(Admission::new(config.admission.clone()))),
                refusals: Burst::default(),
            }),
        }
    }

    /// The settings the endpoint was created with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// The endpoint's counters.
    pub fn stats(&self) -> &EngineStats {
        &self.inner.stats
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Mounts the endpoint at `path` (e.g. `/socket.io/`) in an actix-web app.
    pub fn configure(&self, path: &str) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
        let engine = self.clone();
        let path = path.to_string();
        move |cfg: &mut web::ServiceConfig| {
            let route = || {
                let engine = engine.clone();
                web::route().to(move |req: HttpRequest, body: web::Payload| {
                    let engine = engine.clone();
                    async move { engine.handle(req, body).await }
                })
            };
            // One resource per path, not one resource with both: actix-router
            // matches a single static path by comparing strings, but a set of
            // paths with a regex set and captures, on every request (~4 % of
            // a polling echo's CPU).
            let bare = path.trim_end_matches('/');
            cfg.service(web::resource(path.clone()).route(route()));
            if bare != path {
                cfg.service(web::resource(bare.to_string()).route(route()));
            }
        }
    }

    /// Closes every session with `reason` and waits (up to `timeout`) until they are gone.
    pub async fn close_all(&self, reason: CloseReason, timeout: Duration) {
        for addr in self.inner.registry.all() {
            addr.do_send(Close(reason));
        }
        let deadline = Instant::now() + timeout;
        while self.session_count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Answers one request to the endpoint.
    pub async fn handle(&self, req: HttpRequest, body: web::Payload) -> HttpResponse {
        let mut body = Some(body);
        match self.respond(&req, &mut body).await {
            Routed::Response(res) => res,
            Routed::WebSocket(ws) => {
                ws.into_response(body.take().expect("a WebSocket leaves the body unread"))
            }
        }
    }

    /// Answers a request whose connection the HTTP layer handed over
    /// (`Connection: upgrade`): a WebSocket to run on it, or the response
    /// to write before closing it.
    async fn upgrade(&self, req: &HttpRequest) -> Result<WsConnection, HttpResponse> {
        match self.respond(req, &mut None).await {
            Routed::Response(res) => Err(res),
            Routed::WebSocket(ws) => Ok(ws.into_upgrade()),
        }
    }

    /// Where a WebSocket upgrade to `path` is handed to this endpoint when
    /// `switchyard_socketio::server::serve` takes connections over from actix-web.
    pub fn endpoint(&self, path: &str) -> Arc<dyn WsEndpoint> {
        Arc::new(Mounted {
            engine: self.clone(),
            path: path.to_string(),
        })
    }

    async fn respond(&self, req: &HttpRequest, body: &mut Option<web::Payload>) -> Routed<H> {
        let mut res = if req.method() == Method::OPTIONS {
            preflight(req)
        } else {
            match self.route(req, body).await {
                Ok(Routed::Response(res)) => res,
                Ok(ws) => return ws,
                Err(e) => actix_web::ResponseError::error_response(&e),
            }
        };
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        if let Some(origin) = self.inner.config.cors.allow_origin(origin) {
            let h = res.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                origin.parse().expect("header value"),
            );
            // A listed origin only: browsers refuse credentials with `*`.
            if origin != "*" {
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    header::HeaderValue::from_static("true"),
                );
            }
            h.insert(header::VARY, header::HeaderValue::from_static("Origin"));
        }
        Routed::Response(res)
    }

    async fn route(
        &self,
        req: &HttpRequest,
        body: &mut Option<web::Payload>,
    ) -> Result<Routed<H>, EngineError> {
        let query = Query::parse(req);
        let config = &self.inner.config;
        let websocket = match query.get("transport") {
            Some("polling") if config.polling => false,
            Some("websocket") if config.websocket => true,
            _ => return Err(EngineError::TransportUnknown),
        };
        let client = self.client_ip(req);
        if websocket && config.ws_check_origin {
            let origin = req.headers().get(header::ORIGIN);
            let origin = origin.map(|o| o.to_str().unwrap_or("\u{fffd}"));
            if !config.cors.allows_websocket(origin) {
                self.inner.stats.count_refused_origin();
                self.log_refusal(client, "its Origin is not in cors_origins");
                return Err(EngineError::Forbidden("origin not allowed".into()));
            }
        }
        if let Some(sid) = query.get("sid") {
            let session = self
                .inner
                .registry
                .get(sid)
                .filter(|s| !config.check_sid_address || s.client == client)
                .ok_or(EngineError::UnknownSid)?;
            let format = PollFormat {
                version: session.version,
                binary: session.binary,
                jsonp: query.get("j").map(str::to_owned),
            };
            return if websocket {
                self.accept_probe(req, session.addr, session.version).await
            } else if req.method() == Method::GET {
                polling::get(
                    session.addr,
                    &format,
                    req,
                    config.http_compression_threshold,
                )
                .await
                .map(Routed::Response)
            } else if req.method() == Method::POST
                && let Some(body) = body.take()
            {
                polling::post(session.addr, req, body, config.max_payload, &format)
                    .await
                    .map(Routed::Response)
            } else {
                Err(EngineError::BadRequest)
            };
        }
        if req.method() != Method::GET {
            return Err(EngineError::BadHandshakeMethod);
        }
        let version = match query.get("EIO") {
            Some("4") => ProtocolVersion::V4,
            Some("3") if config.allow_eio3 => ProtocolVersion::V3,
            eio => {
                log::info!(
                    "handshake from {} refused: {}",
                    peer(req),
                    match eio {
                        Some("3") => "Engine.IO v3 (EIO=3) and allow_eio3 is off".to_string(),
                        Some(v) => format!("unsupported protocol version EIO={v:.8}"),
                        None => "no protocol version (EIO) given".to_string(),
                    }
                );
                return Err(EngineError::UnsupportedProtocolVersion);
            }
        };
        if let Some(allow) = &config.allow_request {
            allow(req).map_err(EngineError::Forbidden)?;
        }
        if websocket && !is_ws_upgrade(req) {
            return Err(EngineError::BadRequest);
        }
        let admitted = self.admission().admit(client, Instant::now());
        if let Err(refusal) = admitted {
            self.inner.stats.count_refusal(refusal);
            self.log_refusal(client, &refusal.to_string());
            return Err(EngineError::Forbidden(refusal.to_string()));
        }
        self.handshake(req, query, version, websocket, client)
    }

    fn admission(&self) -> std::sync::MutexGuard<'_, Admission> {
        self.inner
            .admission
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The client's address: the peer's, or behind a trusted proxy the one
    /// it forwards (see [`Admission::client_ip`]).
    fn client_ip(&self, req: &HttpRequest) -> IpAddr {
        let peer = req
            .peer_addr()
            .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
        let headers = req.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        self.admission().client_ip(canonical(peer), header)
    }

    /// Logs a refused handshake: at most one line a second, saying how
    /// many were refused since the last.
    fn log_refusal(&self, client: IpAddr, why: &str) {
        if let Some(n) = self.inner.refusals.event(Instant::now()) {
            log::warn!(
                "handshake from {client} refused: {why} ({n} refused in the last second or so)"
            );
        }
    }

    /// Opens a session for `client`, admitted already.
    fn handshake(
        &self,
        req: &HttpRequest,
        query: Query<'_>,
        version: ProtocolVersion,
        websocket: bool,
        client: IpAddr,
    ) -> Result<Routed<H>, EngineError> {
        let config = &self.inner.config;
        let sid: Arc<str> = crate::id::random_id().into();
        let upgrades: &[&str] = if !websocket && config.websocket {
            &["websocket"]
        } else {
            &[]
        };
        let open = OpenPayload {
            sid: &sid,
            upgrades,
            ping_interval: config.ping_interval.as_millis() as u64,
            ping_timeout: config.ping_timeout.as_millis() as u64,
            // v3 has no maxPayload: its clients do not split their POSTs.
            max_payload: (version == ProtocolVersion::V4).then_some(config.max_payload),
        };
        let open = serde_json::to_string(&open).expect("the open payload serializes");
        let open = Packet::Open(open).encode(version);
        let format = PollFormat {
            version,
            // Only v3 has binary payloads; Node's v3 client says `b64=1`.
            binary: version == ProtocolVersion::V3 && query.get("b64").is_none(),
            jsonp: query.get("j").map(str::to_owned),
        };
        let init = SessionInit {
            sid: sid.clone(),
            version,
            request: Arc::new(request_info(req, query, client)),
            config: config.clone(),
            stats: self.inner.stats.clone(),
            unregister: {
                let registry = self.inner.registry.clone();
                let admission = self.inner.admission.clone();
                let sid = sid.clone();
                Box::new(move || {
                    registry.remove(&sid);
                    let mut admission = admission.lock().unwrap_or_else(|e| e.into_inner());
                    admission.release(client);
                })
            },
            handler: (self.inner.factory)(),
            websocket,
        };
        self.inner.stats.count_open(websocket, version);
        let mut session = EngineSession::new(init);
        if !websocket {
            let addr = session.start();
            self.register(sid, addr, version, format.binary, client);
            return Ok(Routed::Response(format.respond(&[open])));
        }
        // The session reads its WebSocket itself, so it starts with it.
        session.queue_first(open);
        let (pending, addr) = websocket::PendingSession::new(session);
        self.register(sid, addr, version, format.binary, client);
        let (accepted, _) = self.accept_ws(req, SessionStart::Opens(pending), version)?;
        Ok(Routed::WebSocket(accepted))
    }

    fn register(
        &self,
        sid: Arc<str>,
        addr: Addr<EngineSession<H>>,
        version: ProtocolVersion,
        binary: bool,
        client: IpAddr,
    ) {
        let entry = Entry {
            addr,
            version,
            binary,
            client,
        };
        self.inner.registry.insert(sid, entry);
    }

    /// Accepts a WebSocket for `session`: its handshake answer and
    /// transport, and the transport's connection id.
    fn accept_ws(
        &self,
        req: &HttpRequest,
        session: SessionStart<H>,
        version: ProtocolVersion,
    ) -> Result<(websocket::Accepted<H>, u64), EngineError> {
        let config = &self.inner.config;
        let conn = self.inner.next_conn.fetch_add(1, Ordering::Relaxed);
        let setup = websocket::WsSetup {
            session,
            conn,
            version,
            max_payload: config.max_payload,
            deflate: config.per_message_deflate.clone(),
        };
        Ok((websocket::accept(req, setup)?, conn))
    }

    /// Accepts an upgrade probe for polling `session`, registered with it
    /// before the `101` can be written (see [`ProbeComing`]). A probe the
    /// session does not take (closed, upgraded, probing already) still gets
    /// its `101` and is then closed, as engine.io does (its official suite
    /// waits for that close).
    async fn accept_probe(
        &self,
        req: &HttpRequest,
        session: Addr<EngineSession<H>>,
        version: ProtocolVersion,
    ) -> Result<Routed<H>, EngineError> {
        let probe = SessionStart::Probe(session.clone());
        let (accepted, conn) = self.accept_ws(req, probe, version)?;
        // Taken or not, the session says so when the transport opens (`WsEvent::Opened`).
        let _ = session.send(ProbeComing { conn }).await;
        Ok(Routed::WebSocket(accepted))
    }
}

/// The handshake's open packet payload, in engine.io's key order. Serialized
/// straight from this struct: building a `serde_json::Value` (a map of
/// owned keys) and formatting it cost about 7 % of a WebSocket connect.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenPayload<'a> {
    sid: &'a str,
    upgrades: &'a [&'a str],
    ping_interval: u64,
    ping_timeout: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_payload: Option<usize>,
}

/// What a request to the endpoint comes to.
enum Routed<H: EngineHandler> {
    Response(HttpResponse),
    WebSocket(websocket::Accepted<H>),
}

/// An engine mounted at a path, as [`WsEndpoint`].
struct Mounted<H: EngineHandler> {
    engine: Engine<H>,
    path: String,
}

impl<H: EngineHandler> WsEndpoint for Mounted<H> {
    fn serves(&self, path: &str) -> bool {
        path == self.path || path == self.path.trim_end_matches('/')
    }

    fn upgrade(
        &self,
        req: HttpRequest,
    ) -> LocalBoxFuture<'static, Result<WsConnection, HttpResponse>> {
        let engine = self.engine.clone();
        Box::pin(async move { engine.upgrade(&req).await })
    }
}

/// The client's address, for log lines.
fn peer(req: &HttpRequest) -> String {
    req.peer_addr()
        .map_or_else(|| "an unknown address".to_string(), |a| a.to_string())
}

fn is_ws_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn preflight(req: &HttpRequest) -> HttpResponse {
    let mut res = HttpResponse::NoContent();
    res.insert_header((
        header::ACCESS_CONTROL_ALLOW_METHODS,
        "GET,HEAD,PUT,PATCH,POST,DELETE",
    ));
    if let Some(h) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone()));
    }
    HttpResponseBuilder::finish(&mut res)
}

/// What a session keeps of its handshake request; its address is the
/// client's (see [`Engine::client_ip`]), with the peer's port.
fn request_info(req: &HttpRequest, query: Query<'_>, client: IpAddr) -> RequestInfo {
    let headers = req
        .headers()
        .iter()
        // Header names are lower-case already (`HeaderName` stores them so).
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    RequestInfo {
        method: req.method().to_string(),
        headers,
        query: query.into_owned(),
        remote_addr: req.peer_addr().map(|a| SocketAddr::new(client, a.port())),
        url: req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        secure: scheme_is_https(req),
        issued: SystemTime::now(),
    }
}

/// Whether the request's scheme, as actix-web's `ConnectionInfo` sees it, is
/// `https`. Without forwarding headers that is the URI's scheme or the app's
/// TLS setting, read here directly: building the `ConnectionInfo` formats the
/// peer's address into strings (a few % of a WebSocket connect) that the
/// handshake does not use.
fn scheme_is_https(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::FORWARDED) || headers.contains_key("x-forwarded-proto") {
        return req.connection_info().scheme() == "https";
    }
    match req.uri().scheme_str() {
        Some(scheme) => scheme == "https",
        None => req.app_config().secure(),
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn queries_without_escapes_split_as_form_urlencoded_splits_them() {
        for query in [
            "EIO=4&transport=polling&sid=lv_VI97HAXpY6yYWAAAC&t=PXa1b2c",
            "",
            "&&EIO=4&&",
            "flag&empty=&a=b=c&=v&EIO=3&EIO=4",
            "n%C3%A4me=v%20w&x=a+b&j=0",
        ] {
            let expected: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            assert_eq!(Query::from_str(query).pairs, expected, "{query:?}");
        }
        let query = Query::from_str("EIO=4&transport=websocket&sid=abc");
        assert_eq!(query.get("transport"), Some("websocket"));
        assert_eq!(query.get("j"), None);
    }

    #[test]
    fn the_open_payload_has_engine_ios_keys_in_its_order() {
        let open = |max_payload| OpenPayload {
            sid: "lv_VI97HAXpY6yYWAAAC",
            upgrades: &["websocket"],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload,
        };
        assert_eq!(
            serde_json::to_string(&open(Some(1_000_000))).unwrap(),
            r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        // Engine.IO v3's has no maxPayload.
        assert_eq!(
            serde_json::to_string(&open(None)).unwrap(),
            r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000}"#
        );
    }

    #[test]
    fn the_scheme_is_the_one_actix_web_reads_with_or_without_forwarding_headers() {
        let cases = [
            TestRequest::get().uri("/socket.io/?EIO=4"),
            TestRequest::get().uri("https://example.org/socket.io/?EIO=4"),
            TestRequest::get().insert_header(("x-forwarded-proto", "https")),
            TestRequest::get().insert_header(("forwarded", "for=1.2.3.4; proto=https")),
            TestRequest::get()
                .uri("https://example.org/")
                .insert_header(("x-forwarded-proto", "http")),
        ];
        let secure = cases.map(|r| {
            let req = r.to_http_request();
            let expected = req.connection_info().scheme() == "https";
            assert_eq!(scheme_is_https(&req), expected, "{:?}", req.headers());
            expected
        });
        assert_eq!(secure, [false, true, true, true, false]);
    }
}
