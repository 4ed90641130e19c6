#![deny(missing_docs)]
//! The small core of Switchyard's Socket.IO layer that other crates build on,
//! as `socketioxide-core` is to socketioxide: the Socket.IO packet codec
//! ([`protocol`]), event arguments ([`Payload`]), which sockets an operator
//! reaches ([`BroadcastOptions`]), and the cluster seam ([`Adapter`],
//! [`AdapterFactory`], [`LocalSockets`]) that adapter crates such as
//! `switchyard-redis` implement.
//!
//! No actors, no I/O and no clocks here: an adapter crate depends on this
//! one only, never on the whole Socket.IO layer.
//!
//! ```
//! use switchyard_core::protocol::{Decoder, Packet, PacketKind};
//! use switchyard_core::Payload;
//!
//! // Decode what socket.io-client sends for `socket.emit("hi", 1)`.
//! let mut decoder = Decoder::new(10);
//! let packet = decoder.feed_text("2[\"hi\",1]").unwrap().expect("no attachments");
//! assert_eq!(packet.kind, PacketKind::Event);
//! assert_eq!(packet.nsp, "/");
//!
//! // A payload keeps binary arguments beside their placeholders.
//! let p = Payload::new(vec![serde_json::json!("x")]).with_binary(vec![1u8, 2]);
//! assert_eq!(p.binary(1).unwrap().as_ref(), &[1, 2]);
//! ```
pub mod adapter;
pub mod js_date;
mod options;
mod payload;
pub mod protocol;
mod round_trips;

pub use adapter::{
    Adapter, AdapterCounters, AdapterFactory, ClusterError, LocalNamespace, LocalSockets,
    RecoverySession, RemoteCounts, SocketDetails,
};
pub use options::BroadcastOptions;
pub use payload::Payload;
pub use round_trips::{ROUND_TRIP_BOUNDS, RoundTripRecorder, RoundTrips};
