#![deny(missing_docs)]
//! The Engine.IO layer: handshake, sessions, heartbeat, transports (HTTP
//! long-polling and WebSocket) and upgrade.
//!
//! Knows nothing of Socket.IO: the layer above plugs in through
//! [`EngineHandler`], which receives decoded messages and sends frames back.
//! It serves a plain Engine.IO endpoint on its own, mounted on your actix-web
//! `App` (`engine.io-client` connects to it):
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use switchyard_engineio::{CloseReason, Engine, EngineConfig, EngineHandler, Message, SessionCtx};
//!
//! /// Sends every message back to the client that sent it.
//! struct Echo;
//! impl EngineHandler for Echo {
//!     type Upcall = ();
//!     fn on_message(&mut self, message: Message, session: &mut SessionCtx<'_, Self>) {
//!         session.send(message);
//!     }
//!     fn on_close(&mut self, _: CloseReason, _: &mut SessionCtx<'_, Self>) {}
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let engine = Engine::new(EngineConfig::default(), || Echo);
//!     HttpServer::new(move || App::new().configure(engine.configure("/engine.io/")))
//!         // A client that closes its connection is gone: its pending polling GET
//!         // ends the session at once, as on engine.io (else at the ping timeout).
//!         .h1_allow_half_closed(false)
//!         .bind("127.0.0.1:3000")?
//!         .run()
//!         .await
//! }
//! ```
//!
//!
//! Modules depend on each other bottom-up only:
//!
//! 1. pure data and codecs: [`data`], [`admission`], `burst`, [`config`], [`packet`], `ws_codec`,
//!    [`outgoing`] (what the layer above sends, and the admit rule),
//!    `queue` (a session's outgoing frames), `sink` (a WebSocket's outgoing
//!    bytes), [`sparse`] (when a table that shrinks gives memory back), [`stats`], `error`;
//! 2. the session core, `session::core`: the whole session logic as a state
//!    machine, no actix, no I/O, no clock;
//! 3. the session actor (`session`, with its public face in [`handler`]
//!    and the direct WebSocket path in `outlet`): a thin shell that feeds the
//!    core and carries out what it asks;
//! 4. the transports: `polling` (with `jsonp`), `websocket`, [`upgrade`] (connections
//!    taken over from the HTTP layer);
//! 5. the endpoint, [`server`]: routing, handshake, the session registry.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod id;

pub mod admission;
pub mod burst;
pub mod config;
pub mod data;
pub(crate) mod error;
pub mod handler;
pub(crate) mod jsonp;
pub mod outgoing;
mod outlet;
pub mod packet;
mod polling;
mod queue;
pub mod server;
pub(crate) mod session;
mod sink;
pub mod sparse;
pub mod stats;
mod trace;
pub mod upgrade;
mod websocket;
pub(crate) mod ws_codec;

pub use admission::{AdmissionConfig, Refusal};
pub use config::{AllowRequest, Cors, DeflateSettings, EngineConfig};
pub use handler::{
    CloseReason, EngineHandler, Message, RequestInfo, SendError, SessionCtx, SessionHandle,
};
pub use outgoing::{Outgoing, SharedFrames};
pub use packet::{Frame, ProtocolVersion};
pub use server::Engine;
pub use session::MAILBOX_CAPACITY;
pub use stats::{EngineStats, SessionCounts, StatsSnapshot};
