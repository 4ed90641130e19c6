//! The Socket.IO wire protocol (v5): pure packet codecs, no I/O. Two
//! encodings, chosen per server ([`Parser`]): socket.io's default JSON one
//! ([`packet`]) and `socket.io-msgpack-parser`'s ([`msgpack`]).
pub mod msgpack;
pub mod packet;
mod parser;

pub use packet::{Decoder, MAX_JSON_DEPTH, Packet, PacketKind, ParseError, RESERVED_EVENTS};
pub use parser::{Parser, UnknownParser};
