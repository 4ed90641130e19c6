//! Running virtual requests through the app: [`Sails`], which every
//! worker's finished app is handed to (it is a
//! [`switchyard_socketio::server::AppTap`]), the per-worker `Runner` actor
//! that keeps that app and runs requests through it, and the per-worker
//! `Dispatcher` actor that takes a socket's `get`/`post`/... events, keeps
//! the per-socket bound, and acks the JWR.
//!
//! One app per worker, as actix-web builds them: a socket's dispatcher
//! hands its request to the runner on its own thread when there is one (no
//! hop between threads; the namespace starts one dispatcher per worker), and
//! to another worker's otherwise, so the request sees exactly the routes,
//! middleware and app data that HTTP requests see. Nothing is kept per
//! thread: the runners are listed in the [`Sails`] value the app and the
//! namespace share.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use actix::prelude::*;
use actix_http::{Payload as HttpPayload, Request};
use actix_service::ServiceFactory;
use actix_web::body::{BoxBody, MessageBody, to_bytes_limited};
use actix_web::dev::{AppConfig, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpMessage};
use bytes::Bytes;
use futures_util::FutureExt;
use serde_json::Value;

use super::SocketReq;
use super::jwr::{self, JwrParts};
use super::request::{self, Defaults, ParseError, Refused};
use super::sdk::{SdkMetadata, SdkVersion};
use super::stats::{RequestCounters, RequestStats};
use switchyard_socketio::namespace::NamespaceBuilder;
use switchyard_socketio::server::{AppTap, WorkerApp, tapped};
use switchyard_socketio::socket::{AckSender, Event, SocketRef};

/// How virtual requests are served on a namespace.
#[derive(Debug, Clone)]
pub struct VirtualRequestConfig {
    /// Most virtual requests one socket may have running; more are answered 429.
    pub max_in_flight: usize,
    /// Largest request body (the JSON of `data`) and response body, in bytes:
    /// a bigger request is answered 413, a bigger response 500.
    pub max_body: usize,
    /// What the JWR carries besides the body.
    pub parts: JwrParts,
    /// The oldest sails.io.js SDK whose virtual requests are served, as
    /// sails-hook-sockets checks it (default: Sails' 0.11.0). A socket
    /// whose handshake names an older SDK, or none (taken as 0.9.0), has
    /// each request refused with Sails' parse error (its `details` name the
    /// version); its other events are untouched, and nothing is checked at
    /// connect time. `None` serves every client, such as socket.io clients
    /// that emit `get`/`post`/... without the SDK's handshake query.
    pub min_sdk_version: Option<SdkVersion>,
}

impl Default for VirtualRequestConfig {
    fn default() -> Self {
        VirtualRequestConfig {
            max_in_flight: 16,
            max_body: 1_000_000,
            parts: JwrParts::default(),
            min_sdk_version: Some(SdkVersion::SAILS_MINIMUM),
        }
    }
}

/// Sails' virtual requests for one server: the namespaces whose
/// `get`/`post`/... events it takes ([`namespace`](Self::namespace)) and
/// the app it runs them through ([`app`](Self::app) for your own
/// `HttpServer`, or as one of `ServeOptions::taps`). Clone it freely: the
/// clones share one list of worker apps.
///
/// ```no_run
/// use actix_web::{App, HttpResponse, HttpServer, web};
/// use switchyard_sails::{Sails, SocketReq, Sockets, VirtualRequestConfig};
/// use switchyard_socketio::io::{SocketIo, SocketIoConfig};
/// use switchyard_socketio::namespace::NamespaceBuilder;
///
/// async fn hello(req: SocketReq) -> HttpResponse {
///     HttpResponse::Ok().json(serde_json::json!({ "isSocket": req.is_socket() }))
/// }
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let sails = Sails::new(VirtualRequestConfig::default());
///     let root = sails.namespace(NamespaceBuilder::default());
///     let io = SocketIo::builder(SocketIoConfig::default()).ns("/", root).build();
///     HttpServer::new(move || {
///         sails.app(
///             App::new()
///                 .app_data(Sockets::new(io.main()))
///                 .configure(io.configure("/socket.io/"))
///                 .route("/hello", web::get().to(hello)),
///         )
///     })
///     .bind("127.0.0.1:3000")?
///     .run()
///     .await
/// }
/// ```
#[derive(Clone)]
pub struct Sails {
    shared: Arc<Shared>,
}

struct Shared {
    config: Arc<VirtualRequestConfig>,
    /// Each worker's runner, by the worker's thread.
    runners: Mutex<Vec<(ThreadId, Addr<Runner>)>>,
    /// Round robin over the runners for a socket whose thread has none.
    next: AtomicUsize,
    /// Answers by status.
    stats: RequestStats,
}

impl Sails {
    /// Virtual requests served with `config`.
    pub fn new(config: VirtualRequestConfig) -> Sails {
        Sails {
            shared: Arc::new(Shared {
                config: Arc::new(config),
                runners: Mutex::new(Vec::new()),
                next: AtomicUsize::new(0),
                stats: RequestStats::default(),
            }),
        }
    }

    /// Virtual requests answered so far, by status (refusals included).
    pub fn counters(&self) -> RequestCounters {
        self.shared.stats.snapshot()
    }

    /// Sends this namespace's `get`, `post`, `put`, `patch`, `delete`,
    /// `options`, `head` and `request` events through the app, as virtual
    /// requests, instead of to its event handler.
    pub fn namespace(&self, ns: NamespaceBuilder) -> NamespaceBuilder {
        let shared = self.shared.clone();
        ns.route_per_worker(request::is_request_event, move || Dispatcher {
            shared: shared.clone(),
            in_flight: HashMap::new(),
        })
    }

    /// Wraps your `App` so that virtual requests run through it: use it in
    /// your `HttpServer`'s factory (see the example above). An app that is
    /// not wrapped answers every virtual request 503.
    pub fn app<T, B>(
        &self,
        app: App<T>,
    ) -> impl ServiceFactory<
        Request,
        Config = AppConfig,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
        InitError = (),
    >
    + 'static
    + use<T, B>
    where
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        tapped(app, Arc::new([self.tap()]))
    }

    /// This value as an [`AppTap`], for `ServeOptions::taps`.
    pub fn tap(&self) -> Arc<dyn AppTap> {
        Arc::new(self.clone())
    }

    /// The runner for a socket on this thread: its own worker's, else the
    /// next one round the others.
    fn runner(&self) -> Option<Addr<Runner>> {
        let here = std::thread::current().id();
        let runners = self
            .shared
            .runners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((_, addr)) = runners.iter().find(|(t, _)| *t == here) {
            return Some(addr.clone());
        }
        let n = runners.len();
        (n > 0).then(|| {
            runners[self.shared.next.fetch_add(1, Relaxed) % n]
                .1
                .clone()
        })
    }
}

impl AppTap for Sails {
    fn worker_app(&self, app: WorkerApp) {
        let config = self.shared.config.clone();
        let addr = Runner { app, config }.start();
        self.set_runner(Some(addr));
    }

    fn worker_stopped(&self) {
        self.set_runner(None);
    }
}

impl Sails {
    /// This worker thread's runner becomes `runner` (none: it has gone).
    fn set_runner(&self, runner: Option<Addr<Runner>>) {
        let here = std::thread::current().id();
        let mut runners = self
            .shared
            .runners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        runners.retain(|(t, _)| *t != here);
        runners.extend(runner.map(|addr| (here, addr)));
    }
}

/// One worker's app, which runs that worker's share of virtual requests.
struct Runner {
    app: WorkerApp,
    config: Arc<VirtualRequestConfig>,
}

impl Actor for Runner {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(switchyard_engineio::MAILBOX_CAPACITY);
    }
}

/// Run this request for this socket; the answer is its JWR.
#[derive(Message)]
#[rtype(result = "(u16, Value)")]
struct Serve {
    req: request::VirtualRequest,
    socket: SocketRef,
}

impl Handler<Serve> for Runner {
    type Result = ResponseFuture<(u16, Value)>;

    fn handle(&mut self, msg: Serve, _: &mut Context<Self>) -> Self::Result {
        Box::pin(run(
            self.app.clone(),
            msg.req,
            msg.socket,
            self.config.clone(),
        ))
    }
}

/// Takes the virtual-request events of the sockets on one worker.
struct Dispatcher {
    shared: Arc<Shared>,
    /// Requests running per socket id; an entry leaves at zero.
    in_flight: HashMap<Arc<str>, usize>,
}

impl Dispatcher {
    fn finished(&mut self, id: &Arc<str>) {
        if let Some(n) = self.in_flight.get_mut(id) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(id);
            }
        }
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(switchyard_engineio::MAILBOX_CAPACITY);
    }
}

impl Handler<Event> for Dispatcher {
    type Result = ();

    fn handle(&mut self, ev: Event, ctx: &mut Context<Self>) {
        let config = self.shared.config.clone();
        let parts = config.parts;
        let handshake = ev.socket.handshake();
        let defaults = Defaults {
            cookie: handshake.header("cookie"),
            origin: handshake.header("origin"),
            host: handshake.header("host"),
        };
        let arg = ev.payload.args.first();
        // Sails' order: the url first, then the SDK, then the rest.
        let parsed = request::message(arg)
            .and_then(|_| sdk_check(&ev.socket, config.min_sdk_version))
            .map_err(Refused::Parse)
            .and_then(|()| request::parse(&ev.name, arg, defaults, config.max_body));
        let req = match parsed {
            Ok(req) => req,
            Err(Refused::Parse(error)) => {
                log::debug!("virtual request from {}: {error}", ev.socket.id());
                self.shared.stats.count(400);
                match ev.ack {
                    Some(ack) => ack.send(jwr::parse_error_jwr(&error, parts)),
                    // Sails' answer when there is no callback to answer.
                    None => drop(ev.socket.emit("sails:parseError", jwr::parse_error(&error))),
                }
                return;
            }
            Err(Refused::TooLarge) => {
                let jwr = jwr::text(413, "Request body too large", parts);
                return self.answer(ev.ack, 413, jwr);
            }
        };
        let id: Arc<str> = ev.socket.id().into();
        if self.in_flight.get(&id).copied().unwrap_or(0) >= config.max_in_flight {
            if let Some(n) = ev.socket.count_request_refused() {
                log::warn!(
                    "virtual requests refused ({n} in the last second or so): vr_max_in_flight"
                );
            }
            let message = "Too many virtual requests in flight on this socket";
            return self.answer(ev.ack, 429, jwr::text(429, message, parts));
        }
        let sails = Sails {
            shared: self.shared.clone(),
        };
        let Some(runner) = sails.runner() else {
            log::error!(
                "virtual request with no app to run it: serve with ServeOptions::taps or wrap the App with Sails::app"
            );
            let jwr = jwr::text(503, "Virtual requests are not served here", parts);
            return self.answer(ev.ack, 503, jwr);
        };
        *self.in_flight.entry(id.clone()).or_default() += 1;
        let ack = ev.ack;
        let socket = ev.socket;
        runner
            .send(Serve { req, socket })
            .into_actor(self)
            .map(move |reply, act, _| {
                act.finished(&id);
                let (status, reply) = reply.unwrap_or_else(|_| {
                    (
                        503,
                        jwr::text(503, "Virtual requests are not served here", parts),
                    )
                });
                act.answer(ack, status, reply);
            })
            .spawn(ctx);
    }
}

/// Sails' refusal of a socket whose SDK is older than `min`, if it is.
fn sdk_check(socket: &SocketRef, min: Option<SdkVersion>) -> Result<(), ParseError> {
    let Some(min) = min else {
        return Ok(());
    };
    let sdk = SdkMetadata::of(socket.handshake());
    match sdk.is_compatible(min) {
        true => Ok(()),
        false => Err(ParseError::IncompatibleSdk(sdk.version)),
    }
}

impl Dispatcher {
    /// Answers with `jwr`, whose status is `status` (counted).
    fn answer(&self, ack: Option<AckSender>, status: u16, jwr: Value) {
        self.shared.stats.count(status);
        if let Some(ack) = ack {
            ack.send(jwr);
        }
    }
}

/// Runs `req` through `app` for `socket` and builds its JWR; keeps the
/// first cookie the response sets on a handshake that had none.
async fn run(
    app: WorkerApp,
    req: request::VirtualRequest,
    socket: SocketRef,
    config: Arc<VirtualRequestConfig>,
) -> (u16, Value) {
    let parts = config.parts;
    // As over HTTP, where the connection drops it: a HEAD answer has no body.
    let head_only = req.method == actix_web::http::Method::HEAD;
    let body = req.body.map(Bytes::from).unwrap_or_default();
    let mut http = Request::with_payload(HttpPayload::from(body));
    let head = http.head_mut();
    head.method = req.method;
    head.uri = req.uri;
    let ip: Option<std::net::IpAddr> = socket.handshake().address().parse().ok();
    head.peer_addr = ip.map(|ip| (ip, 0).into());
    for (name, value) in req.headers {
        head.headers.append(name, value);
    }
    http.extensions_mut().insert(SocketReq::new(socket.clone()));
    // A handler (or its body) that panics fails its request, not the
    // socket, this dispatcher or the worker.
    let answered = AssertUnwindSafe(respond(app, http, config.max_body)).catch_unwind();
    let Ok((status, headers, body)) = answered.await else {
        log::error!(
            "a handler panicked serving a virtual request of {}",
            socket.id()
        );
        return (500, jwr::text(500, "Internal Server Error", parts));
    };
    if let Some((_, cookie)) = headers.iter().find(|(n, _)| n == "set-cookie") {
        let pair = cookie.split(';').next().unwrap_or_default().trim();
        socket.handshake().keep_cookie(pair.to_string());
    }
    match body {
        Ok(_) if head_only => (status, jwr::jwr(status, &headers, None, parts)),
        Ok(bytes) => (status, jwr::jwr(status, &headers, Some(&bytes), parts)),
        Err(problem) => (500, jwr::text(500, problem, parts)),
    }
}

/// The app's answer to `http`: status, headers (lower-case names) and
/// the body, read up to `max_body` bytes.
async fn respond(
    app: WorkerApp,
    http: Request,
    max_body: usize,
) -> (u16, Vec<(String, String)>, Result<Bytes, &'static str>) {
    let res = app(http).await;
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    let body: BoxBody = res.into_body();
    let body = match to_bytes_limited(body, max_body).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err("Could not read the response body"),
        Err(_) => Err("Response body too large"),
    };
    (status, headers, body)
}
