#![deny(missing_docs)]
//! Socket.IO v5 on actix actors: namespaces, sockets, rooms and operators,
//! over the Engine.IO layer of `switchyard-engineio`.
//!
//! Each client connection is an Engine.IO session; each namespace it joins
//! gives it a socket. Your application is ordinary actix actors that receive
//! typed messages ([`socket::Connect`], [`socket::Event`],
//! [`socket::Disconnecting`], [`socket::Disconnect`]) and answer through the
//! [`socket::SocketRef`] in each: emit, ack, join rooms, broadcast with the
//! operators. A [`namespace::NamespaceBuilder`] wires handlers and middleware
//! to a namespace, and [`io::SocketIo`] ties namespaces to an endpoint that
//! you mount on your own actix-web `App`:
//!
//! ```no_run
//! use actix::prelude::*;
//! use actix_web::{App, HttpServer};
//! use switchyard_socketio::{io::{SocketIo, SocketIoConfig}, namespace::NamespaceBuilder, socket::Event};
//!
//! struct Echo;
//! impl Actor for Echo { type Context = Context<Self>; }
//! impl Handler<Event> for Echo {
//!     type Result = ();
//!     fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
//!         if let Some(ack) = ev.ack { ack.send(ev.payload) } // socket.emit("x", 1, (reply) => ...)
//!     }
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let ns = NamespaceBuilder::default().on_event(Echo.start().recipient());
//!     let io = SocketIo::builder(SocketIoConfig::default()).ns("/", ns).build();
//!     HttpServer::new(move || App::new().configure(io.configure("/socket.io/")))
//!         // A client that closes its connection is gone: its pending polling GET
//!         // ends the session at once, as on engine.io (else at the ping timeout).
//!         .h1_allow_half_closed(false)
//!         .bind("127.0.0.1:3000")?.run().await
//! }
//! ```
//!
//! [`server::serve`] runs a server of its own instead, which takes upgraded
//! WebSocket connections over from actix-web (leaner per frame) and serves
//! socket.io's browser client (feature `client-bundle`, on by default).
//!
//! A handler actor takes the messages it implements `Handler` for. One that
//! handles connect, event and disconnect is plugged in with
//! [`NamespaceBuilder::handler`](namespace::NamespaceBuilder::handler), or
//! one per worker thread with
//! [`handler_per_worker`](namespace::NamespaceBuilder::handler_per_worker);
//! one that handles fewer (only `Event`, as `Echo` above) names them with
//! [`Takes`](namespace::Takes):
//! [`handler_with`](namespace::NamespaceBuilder::handler_with)`(addr, Takes::new().event())`
//! or
//! [`handler_per_worker_with`](namespace::NamespaceBuilder::handler_per_worker_with)`(|| Echo, Takes::new().event())`.
//! Single messages also go to any actor's recipient: `on_connect`,
//! `on_event`, `on_disconnect`, as above.
//!
//! # Layers
//!
//! Modules import only from those listed before them (and from
//! `switchyard-engineio` and `switchyard-core` underneath):
//!
//! 0. `recovery`: connection state recovery as plain data (what is kept,
//!    and who may recover).
//! 1. `client`: the Socket.IO side of one Engine.IO session (its
//!    `EngineHandler`): decodes packets and routes them to sockets, writes
//!    CONNECT and DISCONNECT.
//! 2. [`socket`]: the object model users hold: [`socket::SocketRef`], its
//!    actor, handler messages, and the operators (`to`, `except`,
//!    `volatile`, ...). Reaches rooms only through request messages, and
//!    other nodes only through the [`socket::Adapter`] seam.
//! 3. [`adapter`]: the default adapter, one node ([`adapter::LocalAdapter`]).
//! 4. `rooms`: the RoomRegistry actor that answers those requests.
//! 5. [`namespace`]: namespace set-up and the per-worker supervisors that
//!    admit clients and start their sockets.
//! 6. [`io`]: [`io::SocketIo`], which ties namespaces to an Engine.IO endpoint.
//! 7. [`server`]: a server of its own for a [`io::SocketIo`], and the
//!    worker-app hook ([`server::AppTap`]) that Sails' virtual requests use.
//!
//! # Order
//!
//! Everything written to one client (emits, acks, broadcasts, disconnects,
//! Engine.IO control packets) leaves through one bounded queue per session,
//! in the order it was written: a [`socket::SocketRef`] writes straight into
//! it on the caller's thread.
mod recovery;

mod client;

pub mod socket;

pub mod adapter;

mod rooms;

pub mod namespace;

pub mod io;

pub mod server;
