#![deny(missing_docs)]
//! Sails on actix: virtual requests, `sails.sockets` and resourceful pubsub.
//!
//! A client emits `get`, `post`, `put`, `patch`, `delete`, `options` or
//! `head` (or `request` with a `method`) with `{url, data, headers}` and an
//! ack, as sails.io.js's `io.socket.get(...)` does. The namespace hands the
//! event to a per-worker dispatcher actor, which turns it into a real
//! actix-web request and runs it through the very `App` that serves HTTP on
//! that worker: the same routes, `wrap` middleware, extractors and app data.
//! The ack gets Sails' JWR, `{body, headers, statusCode}`: the headers are
//! those the route set (no `content-type` actix-web wrote by itself for a
//! body; the rule is in `jwr.rs`'s module doc and on [`JwrParts`]), and a
//! request no route matched gets Sails' `{body: "Not Found", statusCode:
//! 404}`.
//!
//! As sails-hook-sockets does, a request is refused (Sails' parse error, a
//! 400 JWR) unless the socket's handshake names a sails.io.js SDK of 0.11.0
//! or later (`__sails_io_sdk_version`, which sails.io.js sends; see
//! [`VirtualRequestConfig::min_sdk_version`] and [`SdkMetadata`]). Clients
//! that send no virtual requests are never asked.
//!
//! Handlers are ordinary actix-web handlers. [`SocketReq`] tells them whether
//! the request came over a socket and gives the socket; [`Sockets`] is
//! `sails.sockets` (join, leave, broadcast, blast, ...), taking a socket as
//! Sails does: its id, the socket, or the request ([`SocketTarget`]);
//! [`Model`] is the resourceful pubsub of one model.
//!
//! With [`serve`](switchyard_socketio::server::serve), [`Sails`] is one of
//! the options' `taps` (it gets each worker's finished app):
//!
//! ```no_run
//! use actix_web::{HttpResponse, web};
//! use serde_json::json;
//! use switchyard_sails::{Sails, SocketReq, Sockets, VirtualRequestConfig};
//! use switchyard_socketio::io::{SocketIo, SocketIoConfig};
//! use switchyard_socketio::namespace::NamespaceBuilder;
//! use switchyard_socketio::server::{ServeOptions, serve};
//!
//! /// GET /hello answers HTTP and `io.socket.get('/hello', cb)` alike.
//! async fn hello(req: SocketReq) -> HttpResponse {
//!     HttpResponse::Ok().json(json!({ "hello": "world", "isSocket": req.is_socket() }))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let sails = Sails::new(VirtualRequestConfig::default());
//!     let root = sails.namespace(NamespaceBuilder::default());
//!     let io = SocketIo::builder(SocketIoConfig::default()).ns("/", root).build();
//!     let sockets = Sockets::new(io.main());
//!     let options = ServeOptions { taps: vec![sails.tap()], ..ServeOptions::default() };
//!     serve(io, options, move |cfg| {
//!         cfg.app_data(sockets.clone()).route("/hello", web::get().to(hello));
//!     })
//!     .await
//! }
//! ```
//!
//! An app that runs its own `HttpServer` wraps its `App` with
//! [`Sails::app`] (see there); an app that does neither answers every
//! virtual request 503.
//!
//! # Middleware and CSRF
//!
//! `wrap` middleware runs for both kinds of request, so one check covers
//! both. A virtual request carries the socket handshake's `cookie` (unless it
//! sets its own) and always the handshake's `origin`; a CSRF token travels
//! as a header, per request (`io.socket.request({headers: {'x-csrf-token':
//! token}, ...})`) or for every request (`io.sails.headers`).
//!
//! This crate sits above the Socket.IO layer and uses only its public API:
//! [`NamespaceBuilder::route_per_worker`] for the request events, and
//! [`AppTap`](switchyard_socketio::server::AppTap) for the app.
//!
//! [`NamespaceBuilder::route_per_worker`]: switchyard_socketio::namespace::NamespaceBuilder::route_per_worker
mod dispatch;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod jwr;
mod pubsub;
pub(crate) mod request;
mod sdk;
mod sockets;
mod stats;

pub use dispatch::{Sails, VirtualRequestConfig};
pub use jwr::JwrParts;
pub use pubsub::Model;
pub use sdk::{SdkMetadata, SdkVersion};
pub use sockets::{
    Broadcast, DEFAULT_EVENT_NAME, RoomChange, Rooms, SocketReq, SocketTarget, Sockets,
};
pub use stats::RequestCounters;
