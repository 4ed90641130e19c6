//! The codecs' entry points for the fuzz crate in `fuzz/`, and nothing else.
//!
//! Built only with the `fuzzing` feature, which nothing but `fuzz/` turns
//! on (through the `switchyard` package's own `fuzzing` feature). The codecs stay `pub(crate)`: this module re-exports the types a fuzz
//! target needs to drive them and wraps each crate-private function in a
//! thin public one whose error is the codec's message, so no internal error
//! type leaks. The properties the fuzzers check live in `fuzz/src/lib.rs`.

use bytes::Bytes;

use crate::jsonp;
use crate::packet::{self, Frame, Packet, ProtocolVersion};

pub use crate::ws_codec::{
    Decoder as WsDecoder, Deflate, DeflateParams, Encoder as WsEncoder, Inflater, Message, OpCode,
    WsError,
};

/// An [`Inflater`] as a negotiated permessage-deflate connection has it.
pub fn inflater(client_no_context_takeover: bool) -> Inflater {
    deflate(client_no_context_takeover).split().0
}

/// Both contexts of a negotiated permessage-deflate connection (the
/// deflater compresses at zlib's level 6 without a threshold), to build a
/// peer that compresses what an [`Inflater`] reads.
pub fn deflate(no_context_takeover: bool) -> Deflate {
    Deflate::new(DeflateParams {
        server_no_context_takeover: no_context_takeover,
        client_no_context_takeover: no_context_takeover,
        server_max_window_bits: None,
        threshold: 0,
    })
}

/// `Packet::decode_text`: one Engine.IO packet from its text form.
pub fn engine_decode_text(text: &str) -> Result<Packet, String> {
    Packet::decode_text(text).map_err(|e| e.to_string())
}

/// `Packet::decode_frame_text`: a text WebSocket frame for `version`.
pub fn engine_decode_frame_text(text: &str, version: ProtocolVersion) -> Result<Packet, String> {
    Packet::decode_frame_text(text.to_owned(), version).map_err(|e| e.to_string())
}

/// `Packet::decode_binary`: a binary WebSocket frame for `version`.
pub fn engine_decode_binary(data: Bytes, version: ProtocolVersion) -> Result<Packet, String> {
    Packet::decode_binary(data, version).map_err(|e| e.to_string())
}

/// `decode_payload`: a long-polling request body for `version`.
pub fn engine_decode_payload(body: &str, version: ProtocolVersion) -> Result<Vec<Packet>, String> {
    packet::decode_payload(body, version).map_err(|e| e.to_string())
}

/// `encode_payload`: frames as one long-polling response body.
pub fn engine_encode_payload(frames: &[Frame], version: ProtocolVersion) -> String {
    packet::encode_payload(frames, version)
}

/// `decode_binary_payload`: a v3 XHR2 client's binary request body.
pub fn engine_decode_binary_payload(body: &[u8]) -> Result<Vec<Packet>, String> {
    packet::decode_binary_payload(body).map_err(|e| e.to_string())
}

/// `encode_binary_payload`: frames as a v3 binary payload.
pub fn engine_encode_binary_payload(frames: &[Frame]) -> Vec<u8> {
    packet::encode_binary_payload(frames)
}

/// `jsonp::unwrap`: the payload of a JSONP POST body.
pub fn jsonp_unwrap(body: &str) -> Result<String, String> {
    jsonp::unwrap(body).map_err(|e| e.to_string())
}
