//! Running virtual requests through the worker's own actix-web `App`: the
//! slot where [`server::serve`](crate::server::serve) leaves each worker's
//! app service, and the per-worker [`Dispatcher`] actor that takes a
//! socket's `get`/`post`/... events, runs them through that service and
//! acks the JWR.
//!
//! One app per worker, as actix-web builds them: the dispatcher lives on the
//! same thread as the app it calls (the namespace starts one per worker),
//! so a virtual request costs no hop between threads and sees exactly the
//! routes, middleware and app data that HTTP requests see.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;

use actix::prelude::*;
use actix_http::{Payload as HttpPayload, Request};
use actix_service::{IntoServiceFactory, Service, ServiceFactory, fn_factory, fn_service};
use actix_web::body::{BoxBody, MessageBody, to_bytes_limited};
use actix_web::dev::{AppConfig, ServiceResponse};
use actix_web::{App, HttpMessage, HttpResponse};
use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use super::SocketReq;
use super::jwr::{self, JwrParts};
use super::request::{self, Defaults, Refused};
use crate::socket::{AckSender, Event, SocketRef};

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
}

impl Default for VirtualRequestConfig {
    fn default() -> Self {
        VirtualRequestConfig {
            max_in_flight: 16,
            max_body: 1_000_000,
            parts: JwrParts::default(),
        }
    }
}

/// One worker's app, callable with a request: what HTTP requests reach.
type AppService = Rc<dyn Fn(Request) -> LocalBoxFuture<'static, HttpResponse>>;

thread_local! {
    /// This worker's app, set when the worker starts its HTTP service.
    static APP: RefCell<Option<AppService>> = const { RefCell::new(None) };
}

/// Wraps `app` so that each worker's service is also kept for the virtual
/// requests of that worker (see the module doc). Used by `serve`.
pub(crate) fn shared_app<T, B>(
    app: App<T>,
) -> impl ServiceFactory<
    Request,
    Config = (),
    Response = ServiceResponse<B>,
    Error = HttpResponse,
    InitError = (),
>
where
    T: ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let factory = app.into_factory();
    fn_factory(move || {
        let init = factory.new_service(AppConfig::default());
        async move {
            let service = Rc::new(init.await?);
            let kept = service.clone();
            let call: AppService = Rc::new(move |req| {
                let service = kept.clone();
                Box::pin(async move {
                    match service.call(req).await {
                        Ok(res) => res.into_parts().1.map_into_boxed_body(),
                        Err(e) => e.error_response(),
                    }
                })
            });
            APP.with(|slot| *slot.borrow_mut() = Some(call));
            let installed = Rc::new(Installed);
            Ok(fn_service(move |req: Request| {
                let _ = &installed;
                let service = service.clone();
                async move { service.call(req).await.map_err(|e| e.error_response()) }
            }))
        }
    })
}

/// Empties the worker's app slot when its HTTP service is dropped (the
/// worker stopping): the app must go while the thread's other locals, which
/// its drop touches, are still there.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = APP.try_with(|slot| slot.borrow_mut().take());
    }
}

/// Takes the virtual-request events of the sockets on one worker.
pub(crate) struct Dispatcher {
    config: Arc<VirtualRequestConfig>,
    /// Requests running per socket id; an entry leaves at zero.
    in_flight: HashMap<Arc<str>, usize>,
}

impl Dispatcher {
    pub(crate) fn new(config: Arc<VirtualRequestConfig>) -> Self {
        Dispatcher {
            config,
            in_flight: HashMap::new(),
        }
    }

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
        ctx.set_mailbox_capacity(crate::engine::session::MAILBOX_CAPACITY);
    }
}

impl Handler<Event> for Dispatcher {
    type Result = ();

    fn handle(&mut self, ev: Event, ctx: &mut Context<Self>) {
        let parts = self.config.parts;
        let handshake = ev.socket.handshake();
        let defaults = Defaults {
            cookie: handshake.header("cookie"),
            origin: handshake.header("origin"),
            host: handshake.header("host"),
        };
        let arg = ev.payload.args.first();
        let parsed = request::parse(&ev.name, arg, defaults, self.config.max_body);
        let req = match parsed {
            Ok(req) => req,
            Err(Refused::Parse(error)) => {
                log::debug!("virtual request from {}: {error}", ev.socket.id());
                match ev.ack {
                    Some(ack) => ack.send(jwr::parse_error_jwr(&error, parts)),
                    // Sails' answer when there is no callback to answer.
                    None => drop(ev.socket.emit("sails:parseError", jwr::parse_error(&error))),
                }
                return;
            }
            Err(Refused::TooLarge) => {
                return answer(ev.ack, jwr::text(413, "Request body too large", parts));
            }
        };
        let id: Arc<str> = ev.socket.id().into();
        if self.in_flight.get(&id).copied().unwrap_or(0) >= self.config.max_in_flight {
            let stats = &ev.socket.info.ns.stats;
            stats
                .requests_refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(n) = stats.refusals.event(std::time::Instant::now()) {
                log::warn!(
                    "virtual requests refused ({n} in the last second or so): vr_max_in_flight"
                );
            }
            let message = "Too many virtual requests in flight on this socket";
            return answer(ev.ack, jwr::text(429, message, parts));
        }
        *self.in_flight.entry(id.clone()).or_default() += 1;
        let Some(app) = APP.with(|slot| slot.borrow().clone()) else {
            log::error!(
                "virtual request with no app on this thread: serve with switchyard::server::serve"
            );
            self.finished(&id);
            return answer(
                ev.ack,
                jwr::text(503, "Virtual requests are not served here", parts),
            );
        };
        let run = run(app, req, ev.socket, self.config.clone());
        let ack = ev.ack;
        run.into_actor(self)
            .map(move |reply, act, _| {
                act.finished(&id);
                answer(ack, reply);
            })
            .spawn(ctx);
    }
}

fn answer(ack: Option<AckSender>, jwr: Value) {
    if let Some(ack) = ack {
        ack.send(jwr);
    }
}

/// Runs `req` through `app` for `socket` and builds its JWR; keeps the
/// first cookie the response sets on a handshake that had none.
async fn run(
    app: AppService,
    req: request::VirtualRequest,
    socket: SocketRef,
    config: Arc<VirtualRequestConfig>,
) -> Value {
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
        return jwr::text(500, "Internal Server Error", parts);
    };
    if let Some((_, cookie)) = headers.iter().find(|(n, _)| n == "set-cookie") {
        let pair = cookie.split(';').next().unwrap_or_default().trim();
        socket.handshake().keep_cookie(pair.to_string());
    }
    match body {
        Ok(_) if head_only => jwr::jwr(status, &headers, b"", parts),
        Ok(bytes) => jwr::jwr(status, &headers, &bytes, parts),
        Err(problem) => jwr::text(500, problem, parts),
    }
}

/// The app's answer to `http`: status, headers (lower-case names) and
/// the body, read up to `max_body` bytes.
async fn respond(
    app: AppService,
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
