//! The Socket.IO object model: one socket per client per namespace (the
//! [`SocketRef`] handle, its actor, its pending acks), the messages handler
//! actors receive, and the operators that reach many sockets at once
//! ([`BroadcastOperator`], [`NamespaceRef`]).
//!
//! A socket never touches a transport: it hands encoded packets to the
//! client's Engine.IO session, in order. Operators reach a namespace's rooms
//! only through the request messages of `shared`, which the `rooms` layer answers.
//!
//! No circle of files: the types that name each other (a socket's state,
//! its namespace's, the requests and events that carry sockets) are
//! defined together in `shared`; what they do lives in the files above it.
// Bottom-up: each file imports only from those above it in this list.
mod acks;
mod actor;
mod applied;
mod errors;
mod events;
mod fetched;
mod handle;
mod handshake;
mod inbound;
mod into_rooms;
mod lifecycle;
mod local;
mod operator;
mod server_side;
pub(crate) mod shared;

pub use crate::client::{ClientView, Connection, DisconnectCounts, DisconnectReason, Upgraded};
pub(crate) use acks::{AckRefused, Waiter};
pub(crate) use actor::SocketActor;
pub use applied::{Applied, EffectError};
pub use errors::{AckError, EmitError, MiddlewareError};
pub use events::{AckSender, Connect, Disconnect, Disconnecting, Event, SocketError};
pub(crate) use events::{EventRoute, Handlers, SocketGone};
pub use fetched::FetchedSocket;
pub use handle::{AckFuture, Emitter};
pub use handshake::Handshake;
pub(crate) use inbound::Inbound;
pub use into_rooms::{IntoRooms, ManyRooms, OneRoom};
pub(crate) use local::Local;
pub use operator::{
    BroadcastAckError, BroadcastError, BroadcastOperator, NamespaceCounters, NamespaceRef,
    ServerSideEmitError,
};
pub(crate) use server_side::ServerSideHandlers;
pub use server_side::{ServerSideAck, ServerSideEvent};
pub use shared::{AnyEvent, AnyOutgoing, EventPacket, Observed, PacketMiddleware, SocketRef};
pub(crate) use shared::{
    Broadcast, BroadcastWithAck, BulkRooms, Claim, ClaimFrom, DisconnectSockets, Fetch, HandOver,
    Identity, Lost, NamespaceCore, NamespaceParts, Observers, Register, Restore, RoomStats, Rooms,
    RoomsOf, SocketInfo, Summary, Unregister,
};
pub use shared::{RoomSummary, SocketLimits};
pub use switchyard_core::{
    Adapter, AdapterCounters, AdapterFactory, BroadcastOptions, ClusterError, LocalNamespace,
    LocalSockets, Payload, RemoteCounts, SocketDetails,
};
pub use switchyard_engineio::RequestInfo;
