//! Switchyard: a Socket.IO server on actix actors.
//!
//! # Layers
//!
//! Modules import only from those listed before them:
//!
//! 0. `id`: random session and socket ids, a leaf every layer may use.
//! 1. [`protocol`]: the Socket.IO packet codec. Pure: no actors, no I/O.
//! 2. [`engine`]: Engine.IO: sessions, heartbeat, polling and WebSocket
//!    transports, upgrade. Knows nothing of Socket.IO.
//! 3. `client`: the Socket.IO side of one Engine.IO session (its
//!    `EngineHandler`): decodes packets and routes them to sockets, writes
//!    CONNECT and DISCONNECT. Knows sockets and namespaces only as the
//!    messages it sends them.
//! 4. [`socket`]: the object model users hold: [`socket::SocketRef`], its
//!    actor, handler messages, and the operators (`to`, `except`,
//!    `volatile`, ...). Reaches rooms only through request messages.
//! 5. [`adapter`]: how a namespace's rooms reach other nodes.
//! 6. `rooms`: the RoomRegistry actor that answers those requests.
//! 7. [`namespace`]: namespace set-up and the per-worker supervisors that
//!    admit clients and start their sockets.
//! 8. [`io`]: [`io::SocketIo`], which ties namespaces to an Engine.IO endpoint.
//! 9. [`config`] and [`server`]: the runnable service.
//!
//! # Order
//!
//! Everything written to one client (emits, acks, broadcasts, disconnects,
//! Engine.IO control packets) leaves through one bounded queue per session,
//! in the order it was written: a [`socket::SocketRef`] writes straight into
//! it on the caller's thread.
mod id;

pub mod protocol;

pub mod engine;

mod client;

pub mod socket;

pub mod adapter;

mod rooms;

pub mod namespace;

pub mod io;

pub mod config;

pub mod server;
