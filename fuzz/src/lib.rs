//! The fuzz targets' bodies: one function per target, taking the raw input
//! and panicking when a codec breaks a property. libFuzzer runs them through
//! the thin binaries in `fuzz_targets/` (nightly, `cargo fuzz`); on stable,
//! [`smoke`] runs them over the seed corpus and mutations of it
//! (`tests/smoke.rs`). The bodies are the only place the properties live.
//!
//! Each body reads its first byte or two as a mode (which decoder, which
//! limit, which protocol version) and the rest as the codec's input, so
//! that one target covers every entry point of one codec.

pub mod smoke;
mod ws_diff;

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use switchyard::config::Config;
use switchyard_engineio::packet::{Frame, Packet, ProtocolVersion};
use switchyard::fuzzing::{self as fz, Message, OpCode, WsDecoder, WsEncoder, WsError};
use switchyard_core::protocol::{
    Decoder as SioDecoder, Packet as SioPacket, PacketKind, Parser, msgpack as sio_msgpack,
};

pub use ws_diff::ws_diff;

/// A target's body: panics when the input shows a codec breaking a property.
pub type Body = fn(&[u8]);

/// Every target, by the name of its binary and of its seed folder.
pub const TARGETS: &[(&str, Body)] = &[
    ("ws_codec", ws_codec),
    ("engine", engine),
    ("socketio", socketio),
    ("msgpack", msgpack),
    ("sails_request", sails_request),
    ("config", config),
    ("ws_diff", ws_diff),
];

/// Message size limits the WebSocket targets pick from: none at all, the
/// control-frame bound, a small one and the server's default order.
const WS_LIMITS: [usize; 4] = [0, 125, 4096, 1 << 20];

// ---------------------------------------------------------------------------
// WebSocket frames and permessage-deflate
// ---------------------------------------------------------------------------

/// `ws_codec`: the frame [`WsDecoder`] without and with an inflater, and
/// [`fz::Inflater::decompress`] alone.
///
/// Mode byte: bits 0-1 pick the decoder (no deflate, deflate with context
/// takeover, without) or the inflater; bits 2-3 the size limit; bits 4-7
/// the chunk size for the incremental feed.
pub fn ws_codec(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let max = WS_LIMITS[usize::from(mode >> 2 & 3)];
    let inflater = match mode & 3 {
        0 => None,
        1 => Some(false),
        2 => Some(true),
        _ => return inflate(max, mode & 0x10 != 0, input),
    };
    let new_decoder = || WsDecoder::new(max, inflater.map(fz::inflater));
    let whole = decode_stream(&mut new_decoder(), input, input.len().max(1));
    // The decoder must not care how the bytes are cut into reads.
    let chunk = usize::from(mode >> 4) + 1;
    let chunked = decode_stream(&mut new_decoder(), input, chunk);
    assert_eq!(whole, chunked, "whole vs {chunk}-byte reads");
    let (messages, _) = whole;
    for message in &messages {
        match message {
            Message::Text(t) => assert!(t.len() <= max),
            Message::Binary(b) => assert!(b.len() <= max),
            Message::Ping(p) | Message::Pong(p) => assert!(p.len() <= 125),
            Message::Close(Some((_, reason))) => assert!(reason.len() <= 123),
            Message::Close(None) => {}
        }
    }
    // Round trip: each message re-encoded as one masked client frame
    // decodes to itself.
    let mut wire = BytesMut::new();
    for message in &messages {
        wire.extend_from_slice(&client_frame(message));
    }
    let (again, end) = decode_stream(&mut WsDecoder::new(max, None), &wire, wire.len().max(1));
    assert_eq!(end, Ok(0), "re-encoded messages left bytes or failed");
    assert_eq!(again, messages, "re-encoded messages decode differently");
}

/// What a stream decodes to: its messages, then either the bytes left over
/// (an incomplete frame) or the error that ended it.
type Decoded = (Vec<Message>, Result<usize, WsError>);

/// Feeds `input` to `decoder` `chunk` bytes at a time, draining every
/// message after each read, as the transport does.
fn decode_stream(decoder: &mut WsDecoder, input: &[u8], chunk: usize) -> Decoded {
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    for read in input.chunks(chunk) {
        buf.extend_from_slice(read);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(message)) => messages.push(message),
                Ok(None) => break,
                Err(e) => return (messages, Err(e)),
            }
        }
    }
    (messages, Ok(buf.len()))
}

/// `message` as a client would send it: one masked frame, FIN set. The
/// server's [`WsEncoder`] writes it, then the mask bit and a key go in.
fn client_frame(message: &Message) -> Vec<u8> {
    let mut encoder = WsEncoder::new(None);
    let mut out = BytesMut::new();
    match message {
        Message::Text(t) => encoder.encode_text(t.as_bytes(), false, &mut out),
        Message::Binary(b) => encoder.encode_binary(b, false, &mut out),
        Message::Ping(p) => encoder.encode_control(OpCode::Ping, p, &mut out),
        Message::Pong(p) => encoder.encode_control(OpCode::Pong, p, &mut out),
        Message::Close(Some((code, reason))) => encoder.encode_close(*code, reason, &mut out),
        Message::Close(None) => encoder.encode_control(OpCode::Close, &[], &mut out),
    }
    mask_server_frame(&out, [0x37, 0xfa, 0x21, 0x3d])
}

/// Turns one unmasked frame into the same frame masked with `key`.
pub(crate) fn mask_server_frame(frame: &[u8], key: [u8; 4]) -> Vec<u8> {
    let header_len = match frame[1] & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    let mut out = Vec::with_capacity(frame.len() + 4);
    out.extend_from_slice(&frame[..header_len]);
    out[1] |= 0x80;
    out.extend_from_slice(&key);
    out.extend(
        frame[header_len..]
            .iter()
            .zip(key.iter().cycle())
            .map(|(b, k)| b ^ k),
    );
    out
}

/// The inflater alone: `input` is a list of messages, each a length byte
/// and that many bytes. Each one is inflated (whatever it holds, the output
/// stays within `max`), then compressed by a peer's deflater and inflated
/// back (it must come out as it went in, or as too large).
fn inflate(max: usize, no_context_takeover: bool, input: &[u8]) {
    let mut inflater = fz::inflater(no_context_takeover);
    let mut peer = fz::deflate(no_context_takeover).split().1;
    let mut ours = fz::inflater(no_context_takeover);
    let mut rest = input;
    while let Some((&len, tail)) = rest.split_first() {
        let (message, tail) = tail.split_at(usize::from(len).min(tail.len()));
        rest = tail;
        if let Ok(out) = inflater.decompress(message, max) {
            assert!(out.len() <= max, "inflated {} > {max}", out.len());
        }
        let compressed = peer.compress(message);
        match ours.decompress(&compressed, max) {
            Ok(out) => assert_eq!(out, message, "deflate round trip"),
            Err(WsError::TooLarge) => {
                assert!(
                    message.len() > max,
                    "{} bytes refused under {max}",
                    message.len()
                );
                // The streams are out of step now: a fresh pair goes on.
                ours = fz::inflater(no_context_takeover);
                peer = fz::deflate(no_context_takeover).split().1;
            }
            Err(e) => panic!("deflate round trip failed: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Engine.IO
// ---------------------------------------------------------------------------

/// `engine`: Engine.IO packets (text, v3 text frames, binary frames), polling
/// payloads (v4, v3, v3 binary) and JSONP bodies, each with its round trip.
///
/// Mode byte: bits 0-2 pick the decoder, bit 3 the protocol version where
/// the decoder takes one.
pub fn engine(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let version = if mode & 8 == 0 {
        ProtocolVersion::V4
    } else {
        ProtocolVersion::V3
    };
    let text = String::from_utf8_lossy(input);
    match mode & 7 {
        0 => {
            if let Ok(packet) = fz::engine_decode_text(&text) {
                assert_packet_round_trip(&packet, ProtocolVersion::V4);
            }
        }
        1 => {
            if let Ok(packet) = fz::engine_decode_frame_text(&text, version) {
                assert_packet_round_trip(&packet, version);
            }
        }
        2 => {
            if let Ok(packet) = fz::engine_decode_binary(Bytes::copy_from_slice(input), version) {
                assert_packet_round_trip(&packet, version);
            }
        }
        3 | 4 => {
            let version = if mode & 7 == 3 {
                ProtocolVersion::V4
            } else {
                ProtocolVersion::V3
            };
            if let Ok(packets) = fz::engine_decode_payload(&text, version) {
                assert_payload_round_trip(&packets, version);
            }
        }
        5 => {
            if let Ok(packets) = fz::engine_decode_binary_payload(input) {
                let frames: Vec<Frame> = packets
                    .iter()
                    .map(|p| p.encode(ProtocolVersion::V3))
                    .collect();
                let body = fz::engine_encode_binary_payload(&frames);
                assert_eq!(
                    fz::engine_decode_binary_payload(&body).as_ref(),
                    Ok(&packets),
                    "v3 binary payload round trip"
                );
            }
        }
        _ => {
            if let Ok(payload) = fz::jsonp_unwrap(&text)
                && let Ok(packets) = fz::engine_decode_payload(&payload, version)
            {
                assert_payload_round_trip(&packets, version);
            }
        }
    }
}

/// A decoded packet encodes to a frame that decodes back to it.
fn assert_packet_round_trip(packet: &Packet, version: ProtocolVersion) {
    let again = match packet.encode(version) {
        Frame::Text(text) => fz::engine_decode_frame_text(&text, version),
        Frame::Binary(data) => fz::engine_decode_binary(data, version),
    };
    assert_eq!(again.as_ref(), Ok(packet), "{version} packet round trip");
}

/// Decoded payload packets encode to a payload that decodes back to them.
fn assert_payload_round_trip(packets: &[Packet], version: ProtocolVersion) {
    let frames: Vec<Frame> = packets.iter().map(|p| p.encode(version)).collect();
    // A v4 payload cannot carry a record separator inside a text packet
    // (engine.io-parser has the same limit); such a packet came from a v3
    // payload or a JSONP body and has no v4 payload form.
    if version == ProtocolVersion::V4
        && frames
            .iter()
            .any(|f| matches!(f, Frame::Text(t) if t.contains('\x1e')))
    {
        return;
    }
    let body = fz::engine_encode_payload(&frames, version);
    let again = fz::engine_decode_payload(&body, version);
    assert_eq!(
        again.as_deref(),
        Ok(packets),
        "{version} payload round trip"
    );
}

// ---------------------------------------------------------------------------
// Socket.IO
// ---------------------------------------------------------------------------

/// `socketio`: a stream of Engine.IO messages through the Socket.IO
/// [`SioDecoder`], attachments included; each valid packet that comes out
/// encodes to messages that decode back to it.
///
/// Mode byte: the attachment limit (0 to 7). The rest is split at `0x00`
/// into messages; one starting with `0x01` is a binary attachment (without
/// that byte), any other is text.
pub fn socketio(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let max_attachments = usize::from(mode & 7);
    let mut decoder = SioDecoder::new(max_attachments);
    for message in input.split(|&b| b == 0) {
        let result = match message.split_first() {
            Some((1, binary)) => decoder.feed_binary(Bytes::copy_from_slice(binary)),
            _ => decoder.feed_text(&String::from_utf8_lossy(message)),
        };
        let Ok(Some(packet)) = result else {
            continue;
        };
        assert!(packet.attachments.len() <= max_attachments);
        assert!(!matches!(
            packet.kind,
            PacketKind::BinaryEvent | PacketKind::BinaryAck
        ));
        if packet.validate().is_ok() {
            assert_eq!(
                sio_round_trip(&packet, max_attachments).as_ref(),
                Ok(&packet),
                "socket.io round trip"
            );
        }
    }
}

fn sio_round_trip(
    packet: &SioPacket,
    max_attachments: usize,
) -> Result<SioPacket, switchyard_core::protocol::ParseError> {
    let (text, attachments) = packet.encode();
    let mut decoder = SioDecoder::new(max_attachments);
    let mut done = decoder.feed_text(&text)?;
    for attachment in attachments {
        assert!(done.is_none(), "packet complete before its attachments");
        done = decoder.feed_binary(attachment)?;
    }
    Ok(done.expect("packet incomplete after all its attachments"))
}

/// `msgpack`: one binary Engine.IO message through the Socket.IO
/// [`SioDecoder`] set up for `socket.io-msgpack-parser`; a packet that comes
/// out is within the bounds, and encodes to bytes that decode to the same
/// packet (compared with each binary value in its place, since the
/// attachments are numbered in wire order and a map's keys may come back in
/// another order).
///
/// Mode byte: bits 0-2 the attachment limit (0 to 7), bits 3-7 the depth
/// limit (1 to 32). The rest is the message.
pub fn msgpack(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let max_attachments = usize::from(mode & 7);
    let max_depth = usize::from(mode >> 3) + 1;
    let mut decoder = SioDecoder::new(max_attachments)
        .with_max_depth(max_depth)
        .with_parser(Parser::Msgpack);
    let Ok(Some(packet)) = decoder.feed_binary(Bytes::copy_from_slice(input)) else {
        return;
    };
    assert!(packet.attachments.len() <= max_attachments);
    assert!(!matches!(
        packet.kind,
        PacketKind::BinaryEvent | PacketKind::BinaryAck
    ));
    assert!(depth(packet.data.as_ref()) <= max_depth, "nested past the limit");
    let bytes = sio_msgpack::encode(&packet);
    let again = sio_msgpack::decode(&bytes, max_attachments, max_depth)
        .unwrap_or_else(|e| panic!("re-encoded packet refused: {e}"));
    assert_eq!(
        (again.kind, &again.nsp, again.id),
        (packet.kind, &packet.nsp, packet.id)
    );
    assert_eq!(
        resolved(again.data.as_ref(), &again.attachments),
        resolved(packet.data.as_ref(), &packet.attachments),
        "msgpack round trip"
    );
}

/// How deep `value` nests arrays and objects.
fn depth(value: Option<&serde_json::Value>) -> usize {
    use serde_json::Value;
    match value {
        Some(Value::Array(items)) => 1 + items.iter().map(|v| depth(Some(v))).max().unwrap_or(0),
        Some(Value::Object(map)) => 1 + map.values().map(|v| depth(Some(v))).max().unwrap_or(0),
        _ => 0,
    }
}

/// `value` with each placeholder replaced by its attachment's bytes.
fn resolved(value: Option<&serde_json::Value>, attachments: &[Bytes]) -> Option<serde_json::Value> {
    use serde_json::Value;
    Some(match value? {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter_map(|v| resolved(Some(v), attachments))
                .collect(),
        ),
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
            let num = map.get("num").and_then(Value::as_u64).unwrap_or(u64::MAX);
            match usize::try_from(num).ok().and_then(|n| attachments.get(n)) {
                Some(bytes) => serde_json::json!({ "$binary": bytes.to_vec() }),
                None => Value::Object(map.clone()),
            }
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), resolved(Some(v), attachments)?)))
                .collect(),
        ),
        other => other.clone(),
    })
}

// ---------------------------------------------------------------------------
// Sails virtual requests
// ---------------------------------------------------------------------------

/// `sails_request`: a virtual request's first argument through
/// [`fz::sails_parse`].
///
/// Mode bytes: the event (one of the request events, or an unknown one),
/// then the body limit. The rest is the argument's JSON; text that is not
/// JSON is passed as a JSON string, and no input as no argument.
pub fn sails_request(data: &[u8]) {
    const EVENTS: [&str; 9] = [
        "get", "post", "put", "patch", "delete", "options", "head", "request", "emit",
    ];
    let [event, limit, input @ ..] = data else {
        return;
    };
    let event = EVENTS[usize::from(*event) % EVENTS.len()];
    let max_body = [0, 16, 1024, 1 << 20][usize::from(limit & 3)];
    let arg = match serde_json::from_slice(input) {
        Ok(value) => Some(value),
        Err(_) if input.is_empty() => None,
        Err(_) => Some(serde_json::Value::String(
            String::from_utf8_lossy(input).into_owned(),
        )),
    };
    let Ok(req) = fz::sails_parse(event, arg.as_ref(), max_body) else {
        return;
    };
    // Origin form only (`//host/x` is a path there, as in the unit tests).
    assert!(req.uri.starts_with('/'), "request target {:?}", req.uri);
    if let Some(body) = &req.body {
        assert!(body.len() <= max_body, "body over the limit");
        serde_json::from_slice::<serde_json::Value>(body).expect("body is JSON");
    }
    // The handshake's origin is the only one, whatever the request says.
    let origins: Vec<_> = req.headers.iter().filter(|(n, _)| n == "origin").collect();
    assert_eq!(origins.len(), 1, "origin headers: {origins:?}");
    assert_eq!(origins[0].1, b"http://origin.test");
}

// ---------------------------------------------------------------------------
// Config file
// ---------------------------------------------------------------------------

/// `config`: the input as the config file of [`Config::load`]. What loads
/// must pass [`Config::validate`].
///
/// `Config::load` reads its file by path, so the input goes through one
/// file per process (rewritten for every input; the fuzzers run one input
/// at a time per process).
pub fn config(data: &[u8]) {
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        std::env::temp_dir().join(format!(
            "switchyard-fuzz-config-{}.toml",
            std::process::id()
        ))
    });
    std::fs::write(path, data).expect("write the config file");
    let args = ["switchyard".as_ref(), "--config".as_ref(), path.as_os_str()];
    let env: [(&str, &str); 0] = [];
    if let Ok(config) = Config::load(args, env) {
        config.validate().expect("a loaded config validates");
    }
}
