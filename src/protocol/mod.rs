//! The Socket.IO wire protocol (v5): pure packet codec, no I/O.
pub mod packet;

pub use packet::{Decoder, Packet, PacketKind, ParseError, RESERVED_EVENTS};
