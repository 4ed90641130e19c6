//! Switchyard: a Socket.IO server on actix actors.
//!
//! Layers, bottom up: [`engine`] (Engine.IO sessions and transports),
//! [`protocol`] (the pure Socket.IO codec), [`socket`] and [`namespace`]
//! (the actors), [`io`] (the server that ties them together), and
//! [`server`] (the runnable service with its config).
pub mod adapter;
pub mod config;
pub mod engine;
mod id;
pub mod io;
pub mod namespace;
pub mod protocol;
pub mod rooms;
pub mod server;
pub mod socket;
