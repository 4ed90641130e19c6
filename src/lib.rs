#![deny(missing_docs)]
//! The Switchyard service: what the `switchyard` binary runs. It reads the
//! configuration ([`config`]: the embedded default, a file, `SWITCHYARD_*`
//! variables, CLI flags), turns it into the libraries' settings and runs
//! them ([`service`]), with the chat demo ([`demo`]) on top.
//!
//! To embed Switchyard in your own actix-web app, depend on the library
//! crates instead, one per layer:
//!
//! - `switchyard-engineio`: Engine.IO v3/v4 (codecs, the pure session core,
//!   polling and WebSocket transports);
//! - `switchyard-core`: the Socket.IO packet codec and the adapter seam;
//! - `switchyard-socketio`: namespaces, sockets, rooms and operators;
//! - `switchyard-redis`: the Redis adapter, wire-compatible with Node's;
//! - `switchyard-sails`: Sails' virtual requests, `sails.sockets`, pubsub.
pub mod allocator;

pub mod config;

pub mod logging;

pub mod service;

pub mod demo;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
