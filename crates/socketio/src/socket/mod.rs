//! The Socket.IO object model: one socket per client per namespace (the
//! [`SocketRef`] handle, its actor, its pending acks), the messages handler
//! actors receive, and the operators that reach many sockets at once
//! ([`BroadcastOperator`], [`NamespaceRef`]).
//!
//! A socket never touches a transport: it hands encoded packets to the
//! client's Engine.IO session, in order. Operators reach a namespace's rooms
//! only through the request messages of `requests`, which the `rooms` layer answers.
mod acks;
mod actor;
mod applied;
mod events;
mod fetched;
mod handle;
mod handshake;
mod into_rooms;
mod lifecycle;
mod local;
mod operator;
pub(crate) mod requests;

pub use crate::client::DisconnectReason;
pub(crate) use acks::{AckRefused, Waiter};
pub(crate) use actor::SocketActor;
pub use applied::{Applied, EffectError};
pub use events::{
    AckSender, AnyEvent, AnyOutgoing, Connect, Disconnect, Disconnecting, Event, MiddlewareError,
    SocketError,
};
pub(crate) use events::{EventRoute, Handlers, SocketGone};
pub use fetched::FetchedSocket;
pub(crate) use handle::SocketInfo;
pub use handle::{
    AckError, AckFuture, EmitError, Emitter, EventPacket, PacketMiddleware, SocketRef,
};
pub use handshake::Handshake;
pub use into_rooms::{IntoRooms, ManyRooms, OneRoom};
pub(crate) use local::ServerSideHandlers;
pub use local::{ServerSideAck, ServerSideEvent};
pub use operator::{
    BroadcastAckError, BroadcastError, BroadcastOperator, NamespaceCounters, NamespaceRef,
    ServerSideEmitError,
};
pub(crate) use requests::{
    Broadcast, BroadcastWithAck, BulkRooms, DisconnectSockets, Fetch, NamespaceCore,
    NamespaceParts, Register, RoomStats, Rooms, RoomsOf, Summary, Unregister,
};
pub use requests::{RoomSummary, SocketLimits};
pub use switchyard_core::{
    Adapter, AdapterCounters, AdapterFactory, BroadcastOptions, ClusterError, LocalNamespace,
    LocalSockets, Payload, RemoteCounts, SocketDetails,
};
