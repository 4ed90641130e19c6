#![deny(missing_docs)]
//! Switchyard: a Socket.IO server on actix actors.
//!
//! Each client connection is an Engine.IO session; each namespace it joins
//! gives it a socket. Your application is ordinary actix actors that receive
//! typed messages ([`socket::Connect`], [`socket::Event`],
//! [`socket::Disconnecting`], [`socket::Disconnect`]) and answer through the
//! [`socket::SocketRef`] in each: emit, ack, join rooms, broadcast with the
//! operators. A [`namespace::NamespaceBuilder`] wires handlers and middleware
//! to a namespace, [`io::SocketIo`] ties namespaces to an endpoint, and
//! [`server::serve`] runs it all:
//!
//! ```no_run
//! use actix::prelude::*;
//! use serde_json::json;
//! use switchyard::io::{SocketIo, SocketIoConfig};
//! use switchyard::namespace::NamespaceBuilder;
//! use switchyard::server::{serve, ServeOptions};
//! use switchyard::socket::{Connect, Disconnect, Event, MiddlewareError};
//!
//! struct Chat;
//! impl Actor for Chat { type Context = Context<Self>; }
//!
//! impl Handler<Connect> for Chat {
//!     type Result = ();
//!     fn handle(&mut self, Connect { socket }: Connect, _: &mut Context<Self>) {
//!         let _ = socket.emit("welcome", json!({ "id": socket.id() }));
//!     }
//! }
//!
//! impl Handler<Event> for Chat {
//!     type Result = ();
//!     fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
//!         match (ev.name.as_str(), ev.ack) {
//!             // client: socket.emit("echo", ...args, (reply) => ...)
//!             ("echo", Some(ack)) => ack.send(ev.payload),
//!             // server-to-client emit with an ack and a timeout
//!             ("ask", _) => {
//!                 let socket = ev.socket.clone();
//!                 actix::spawn(async move {
//!                     let answer = socket
//!                         .emit_with_ack("question", json!("ready?"), std::time::Duration::from_secs(5))
//!                         .await;
//!                     log::info!("answer: {answer:?}");
//!                 });
//!             }
//!             ("leave", _) => {
//!                 ev.socket.disconnect(false);
//!             }
//!             _ => {}
//!         }
//!     }
//! }
//!
//! impl Handler<Disconnect> for Chat {
//!     type Result = ();
//!     fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
//!         log::info!("{} left: {}", msg.socket.id(), msg.reason);
//!     }
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let chat = NamespaceBuilder::default()
//!         .use_connect(|req| {
//!             let ok = req.auth().get("token").is_some();
//!             async move { if ok { Ok(()) } else { Err(MiddlewareError::new("unauthorized")) } }
//!         })
//!         .handler(Chat.start());
//!     let io = SocketIo::builder(SocketIoConfig::default()).ns("/chat", chat).build();
//!     let options = ServeOptions {
//!         addr: "127.0.0.1:3000".into(),
//!         path: "/socket.io/".into(),
//!         static_dir: None,
//!         shutdown_timeout: std::time::Duration::from_secs(5),
//!         ws_endpoints: Vec::new(),
//!     };
//!     serve(io, options, |_| {}).await
//! }
//! ```
//!
//! # Layers
//!
//! Modules import only from those listed before them:
//!
//! 0. `id`: random session and socket ids, a leaf every layer may use.
//! 1. [`protocol`]: the Socket.IO packet codec. Pure: no actors, no I/O.
//! 2. [`engine`]: Engine.IO: sessions, heartbeat, polling and WebSocket
//!    transports, upgrade. Knows nothing of Socket.IO.
//! 3. `client`: the Socket.IO side of one Engine.IO session (its
//!    `EngineHandler`): decodes packets and routes them to sockets, writes
//!    CONNECT and DISCONNECT. Knows sockets and namespaces only as the
//!    messages it sends them.
//! 4. [`socket`]: the object model users hold: [`socket::SocketRef`], its
//!    actor, handler messages, and the operators (`to`, `except`,
//!    `volatile`, ...). Reaches rooms only through request messages, and
//!    other nodes only through the [`socket::Adapter`] seam.
//! 5. [`adapter`]: the adapters: one node ([`adapter::LocalAdapter`]), or a
//!    cluster over Redis ([`adapter::redis`]).
//! 6. `rooms`: the RoomRegistry actor that answers those requests.
//! 7. [`namespace`]: namespace set-up and the per-worker supervisors that
//!    admit clients and start their sockets.
//! 8. [`io`]: [`io::SocketIo`], which ties namespaces to an Engine.IO endpoint.
//! 9. [`config`]: the service's settings.
//! 10. [`sails`]: Sails' virtual requests (the app's routes answering
//!     socket requests), `sails.sockets` and resourceful pubsub.
//! 11. [`server`]: the runnable service.
//! 12. [`demo`]: the chat demo the `switchyard` binary serves.
//! 13. `fuzzing` (only with the `fuzzing` feature): the codecs' entry
//!     points for the fuzz targets in `fuzz/`.
//!
//! # Order
//!
//! Everything written to one client (emits, acks, broadcasts, disconnects,
//! Engine.IO control packets) leaves through one bounded queue per session,
//! in the order it was written: a [`socket::SocketRef`] writes straight into
//! it on the caller's thread.
mod id;

pub mod protocol;

pub mod engine;

mod client;

pub mod socket;

pub mod adapter;

mod rooms;

pub mod namespace;

pub mod io;

pub mod config;

pub mod sails;

pub mod server;

pub mod demo;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
