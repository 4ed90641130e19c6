//! Sockets: one actor per client per namespace, the [`SocketRef`] handle
//! the application uses, and the messages handler actors receive.
//!
//! A socket never touches a transport: it hands encoded packets to the
//! Engine.IO session it belongs to.
mod acks;
mod actor;
mod applied;
mod events;
mod handle;
mod handshake;
mod payload;

pub(crate) use acks::Waiter;
pub use actor::SocketActor;
pub(crate) use actor::{Closed, Inbound};
pub use applied::{Applied, EffectError};
pub use events::{
    AckSender, AnyEvent, AnyOutgoing, Connect, Disconnect, DisconnectReason, Disconnecting, Event,
    MiddlewareError, SocketError,
};
pub(crate) use handle::SocketInfo;
pub(crate) use handle::check_event;
pub use handle::{
    AckError, AckFuture, EmitError, Emitter, EventPacket, PacketMiddleware, SocketRef,
};
pub use handshake::Handshake;
pub use payload::Payload;
