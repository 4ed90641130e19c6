//! Sockets: one actor per client per namespace, the [`SocketRef`] handle
//! the application uses, and the messages handler actors receive.
//!
//! A socket never touches a transport: it hands encoded packets to the
//! Engine.IO session it belongs to.
mod actor;
mod events;
mod handle;
mod handshake;
mod payload;

pub use actor::SocketActor;
pub(crate) use actor::{Closed, ExpectAck, Inbound};
pub use events::{
    AckSender, AnyEvent, AnyOutgoing, Connect, Disconnect, DisconnectReason, Disconnecting, Event,
    MiddlewareError, SocketError,
};
pub(crate) use handle::SocketInfo;
pub(crate) use handle::check_event;
pub use handle::{AckError, EmitError, EventPacket, PacketMiddleware, SocketRef};
pub use handshake::Handshake;
pub use payload::Payload;
