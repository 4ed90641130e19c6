//! Switchyard: a Socket.IO server on actix actors.
pub mod config;
pub mod engine;
mod id;
pub mod protocol;
