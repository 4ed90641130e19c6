//! The Engine.IO layer: handshake, sessions, heartbeat, transports (HTTP
//! long-polling and WebSocket) and upgrade.
//!
//! Knows nothing of Socket.IO: the layer above plugs in through
//! [`EngineHandler`], which receives decoded messages and sends frames back.
//! The codec ([`packet`]) is pure; the actors are a thin shell around it.
pub mod config;
pub mod error;
pub mod handler;
pub mod outgoing;
mod outlet;
pub mod packet;
mod polling;
mod queue;
pub mod server;
pub mod session;
pub mod stats;
pub mod upgrade;
mod websocket;
pub mod ws_codec;

pub use config::{AllowRequest, Cors, DeflateSettings, EngineConfig};
pub use error::EngineError;
pub use handler::{
    CloseReason, EngineHandler, Message, RequestInfo, SendError, SessionCtx, SessionHandle,
};
pub use outgoing::{Outgoing, SharedFrames};
pub use packet::{Frame, ProtocolVersion};
pub use server::Engine;
pub use stats::{EngineStats, StatsSnapshot};
