//! The Socket.IO wire protocol (v5): pure packet codec, no I/O.
pub mod packet;

pub use packet::{Decoder, MAX_JSON_DEPTH, Packet, PacketKind, ParseError, RESERVED_EVENTS};
