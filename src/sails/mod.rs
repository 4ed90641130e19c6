//! Sails on actix: virtual requests, `sails.sockets` and resourceful pubsub.
//!
//! A client emits `get`, `post`, `put`, `patch`, `delete`, `options` or
//! `head` (or `request` with a `method`) with `{url, data, headers}` and an
//! ack, as sails.io.js's `io.socket.get(...)` does. The namespace hands the
//! event to a per-worker dispatcher actor, which turns it into a real
//! actix-web request and runs it through the very `App` that serves HTTP on
//! that worker: the same routes, `wrap` middleware, extractors and app data.
//! The ack gets Sails' JWR, `{body, headers, statusCode}`.
//!
//! Handlers are ordinary actix-web handlers. [`SocketReq`] tells them whether
//! the request came over a socket and gives the socket; [`Sockets`] is
//! `sails.sockets` (join, leave, broadcast, blast, ...); [`Model`] is the
//! resourceful pubsub of one model.
//!
//! ```no_run
//! use actix_web::{HttpResponse, web};
//! use serde_json::json;
//! use switchyard::io::{SocketIo, SocketIoConfig};
//! use switchyard::namespace::NamespaceBuilder;
//! use switchyard::sails::{SocketReq, VirtualRequestConfig, VirtualRequests};
//! use switchyard::server::{ServeOptions, serve};
//!
//! /// GET /hello answers HTTP and `io.socket.get('/hello', cb)` alike.
//! async fn hello(req: SocketReq) -> HttpResponse {
//!     HttpResponse::Ok().json(json!({ "hello": "world", "isSocket": req.is_socket() }))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let root = NamespaceBuilder::default().virtual_requests(VirtualRequestConfig::default());
//!     let io = SocketIo::builder(SocketIoConfig::default()).ns("/", root).build();
//!     let options = ServeOptions {
//!         addr: "127.0.0.1:3000".into(),
//!         path: "/socket.io/".into(),
//!         static_dir: None,
//!         shutdown_timeout: std::time::Duration::from_secs(5),
//!         ws_endpoints: Vec::new(),
//!     };
//!     serve(io, options, |cfg| {
//!         cfg.route("/hello", web::get().to(hello));
//!     })
//!     .await
//! }
//! ```
//!
//! Virtual requests need [`server::serve`](crate::server::serve), which keeps
//! each worker's app for them; elsewhere they are answered 503.
//!
//! # Middleware and CSRF
//!
//! `wrap` middleware runs for both kinds of request, so one check covers
//! both. A virtual request carries the socket handshake's `cookie` (unless it
//! sets its own) and always the handshake's `origin`; a CSRF token travels
//! as a header, per request (`io.socket.request({headers: {'x-csrf-token':
//! token}, ...})`) or for every request (`io.sails.headers`).
//!
//! This module sits above the Socket.IO layers and uses only their public
//! API, plus one hook: [`NamespaceBuilder::route_per_worker`].
mod dispatch;
mod jwr;
mod pubsub;
pub(crate) mod request;
mod sockets;

use std::sync::Arc;

pub use dispatch::VirtualRequestConfig;
pub(crate) use dispatch::shared_app;
pub use jwr::JwrParts;
pub use pubsub::Model;
pub use sockets::{SocketReq, Sockets};

use crate::namespace::NamespaceBuilder;

/// Serves Sails' virtual requests on a namespace.
pub trait VirtualRequests {
    /// Sends this namespace's `get`, `post`, `put`, `patch`, `delete`,
    /// `options`, `head` and `request` events through the app, as virtual
    /// requests, instead of to its event handler.
    fn virtual_requests(self, config: VirtualRequestConfig) -> Self;
}

impl VirtualRequests for NamespaceBuilder {
    fn virtual_requests(self, config: VirtualRequestConfig) -> Self {
        let config = Arc::new(config);
        self.route_per_worker(request::is_request_event, move || {
            dispatch::Dispatcher::new(config.clone())
        })
    }
}
