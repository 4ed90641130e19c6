//! `ws_diff`: our WebSocket [`WsDecoder`] against tungstenite's, on the same
//! client byte stream; they must agree on the messages, and on whether and
//! with which close code the stream fails.
//!
//! tungstenite is configured as the server's transport runs ours: server
//! role, unmasked client frames refused, one size limit for frames and
//! messages, and no permessage-deflate (tungstenite has none, so RSV1 is an
//! error on both sides).
//!
//! The intended differences, each normalised below and nowhere else:
//! - tungstenite checks a frame only once its whole payload is in; ours
//!   fails on the header. A stream that ends inside a frame ours already
//!   refused is incomplete for tungstenite: accepted if the messages before
//!   it agree.
//! - tungstenite checks the declared length against its limit before
//!   anything else in the header, ours after the bits, opcode, mask and
//!   control-frame rules; a frame that breaks one of those *and* is over the
//!   limit closes with 1002 here and 1009 there. The 64-bit length with its
//!   top bit set (RFC 6455 §5.2: "the most significant bit MUST be 0") is a
//!   protocol error here (1002), only too large there (1009).
//! - A control frame whose length is written in the 16- or 64-bit form
//!   breaks RFC 6455 §5.2 ("the minimal number of bytes MUST be used"), as
//!   the 7-bit form holds any control payload: ours fails it, as `ws` does
//!   (ours only tolerates long forms on data frames, as browsers do);
//!   tungstenite reads it when the length is at most 125.
//! - A close frame with both a code that may not be sent and a reason that
//!   is not UTF-8: ours checks the code first (1002), tungstenite the
//!   reason (1007).
//! - tungstenite answers a close frame with a code that may not be sent by
//!   returning `Close(1002, "Protocol violation")`; ours fails with 1002.
//!   Both count here as failing with 1002.
//! - Close code 1014 (Bad Gateway, in IANA's registry since 2014 and
//!   accepted by `ws` and browsers) is valid here; tungstenite refuses it.

use std::io::{self, Cursor, Read, Write};

use switchyard::fuzzing::{Message, WsDecoder, WsError};
use tungstenite::error::{CapacityError, Error as TError};
use tungstenite::protocol::{Role, WebSocket, WebSocketConfig};

use crate::{decode_stream, mask_server_frame};

/// Size limits for the differential: at least 125, since tungstenite's
/// frame limit also bounds control frames and ours does not.
const LIMITS: [usize; 4] = [125, 1000, 4096, 1 << 20];

/// Close codes worth trying: every boundary of RFC 6455 §7.4.
const CLOSE_CODES: [u16; 26] = [
    0, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
    1015, 1016, 1100, 2000, 2999, 3000, 3999, 4000, 4999, 5000,
];

/// Mode byte: bits 0-1 the size limit; bit 2 set takes the rest as raw
/// bytes, clear as a program that generates a frame stream ([`generate`]).
pub fn ws_diff(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let max = LIMITS[usize::from(mode & 3)];
    let stream = if mode & 4 == 0 {
        generate(input)
    } else {
        input.to_vec()
    };
    let ours = ours(max, &stream);
    let theirs = theirs(max, &stream);
    if ours == theirs {
        return;
    }
    let agreed = match (&ours.end, &theirs.end) {
        // Whatever tungstenite makes of the control frame ours refused.
        (End::Fail(1002, Some(WsError::ControlTooLong)), _) => {
            let n = ours.messages.len();
            theirs.messages.get(..n) == Some(&ours.messages[..])
                && theirs
                    .messages
                    .get(n)
                    .is_none_or(|m| matches!(m, Msg::Ping(_) | Msg::Pong(_) | Msg::Close(_)))
        }
        (End::Fail(_, _), End::Incomplete) => ours.messages == theirs.messages,
        (End::Fail(1002, Some(e)), End::Fail(1009, _)) => {
            header_error(e) && ours.messages == theirs.messages
        }
        (End::Fail(1002, Some(WsError::InvalidCloseCode(_))), End::Fail(1007, _)) => {
            ours.messages == theirs.messages
        }
        (End::Closed, End::Fail(1002, None)) => match ours.messages.split_last() {
            Some((Msg::Close(Some((1014, _))), before)) => before == theirs.messages,
            _ => false,
        },
        _ => false,
    };
    assert!(
        agreed,
        "ws_diff disagreement (limit {max})\n  ours:   {ours:?}\n  theirs: {theirs:?}\n  stream: {stream:02x?}"
    );
}

/// A message as both sides can report it.
#[derive(Debug, PartialEq, Eq)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

/// How a stream ended.
#[derive(Debug)]
enum End {
    /// A close frame was read; what follows it is not compared.
    Closed,
    /// The bytes ran out (between frames or inside one).
    Incomplete,
    /// The stream failed with this close code (and, on our side, error).
    Fail(u16, Option<WsError>),
}

impl PartialEq for End {
    /// The close code is what the peer sees; the error is only for reports.
    fn eq(&self, other: &End) -> bool {
        match (self, other) {
            (End::Closed, End::Closed) | (End::Incomplete, End::Incomplete) => true,
            (End::Fail(a, _), End::Fail(b, _)) => a == b,
            _ => false,
        }
    }
}

#[derive(Debug, PartialEq)]
struct Outcome {
    messages: Vec<Msg>,
    end: End,
}

impl Outcome {
    /// Adds `message`; a close ends the outcome (`false`), and a close with
    /// tungstenite's "code not allowed" answer is a failure with 1002.
    fn push(&mut self, message: Msg) -> bool {
        match message {
            Msg::Close(Some((1002, reason))) if reason == "Protocol violation" => {
                self.end = End::Fail(1002, None);
                false
            }
            Msg::Close(close) => {
                self.messages.push(Msg::Close(close));
                self.end = End::Closed;
                false
            }
            other => {
                self.messages.push(other);
                true
            }
        }
    }
}

/// Errors ours reports on a frame header alone, before the length is
/// checked against the limit (see the module docs).
fn header_error(e: &WsError) -> bool {
    matches!(
        e,
        WsError::ReservedBits
            | WsError::UnexpectedRsv1
            | WsError::ReservedOpcode(_)
            | WsError::Unmasked
            | WsError::FragmentedControl
            | WsError::ControlTooLong
            | WsError::UnexpectedContinuation
            | WsError::ExpectedContinuation
            | WsError::InvalidLength
    )
}

fn ours(max: usize, stream: &[u8]) -> Outcome {
    let (messages, end) =
        decode_stream(&mut WsDecoder::new(max, None), stream, stream.len().max(1));
    let mut outcome = Outcome {
        messages: Vec::new(),
        end: End::Incomplete,
    };
    for message in messages {
        let message = match message {
            Message::Text(t) => Msg::Text(t),
            Message::Binary(b) => Msg::Binary(b.to_vec()),
            Message::Ping(p) => Msg::Ping(p.to_vec()),
            Message::Pong(p) => Msg::Pong(p.to_vec()),
            Message::Close(c) => Msg::Close(c),
        };
        if !outcome.push(message) {
            return outcome;
        }
    }
    if let Err(e) = end {
        outcome.end = End::Fail(e.close_code(), Some(e));
    }
    outcome
}

/// The client's bytes to read, and a sink for what the server writes back
/// (pongs, the close reply).
struct Peer {
    input: Cursor<Vec<u8>>,
}

impl Read for Peer {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Peer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn theirs(max: usize, stream: &[u8]) -> Outcome {
    let config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
        .accept_unmasked_frames(false);
    let peer = Peer {
        input: Cursor::new(stream.to_vec()),
    };
    let mut socket = WebSocket::from_raw_socket(peer, Role::Server, Some(config));
    let mut outcome = Outcome {
        messages: Vec::new(),
        end: End::Incomplete,
    };
    loop {
        use tungstenite::Message as T;
        let message = match socket.read() {
            Ok(T::Text(t)) => Msg::Text(t.as_str().to_owned()),
            Ok(T::Binary(b)) => Msg::Binary(b.to_vec()),
            Ok(T::Ping(p)) => Msg::Ping(p.to_vec()),
            Ok(T::Pong(p)) => Msg::Pong(p.to_vec()),
            Ok(T::Close(c)) => Msg::Close(c.map(|c| (c.code.into(), c.reason.as_str().to_owned()))),
            Ok(T::Frame(_)) => unreachable!("tungstenite reads no raw frames"),
            Err(e) => {
                outcome.end = match e {
                    TError::Protocol(
                        tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                    ) => End::Incomplete,
                    TError::Protocol(_) => End::Fail(1002, None),
                    TError::Capacity(CapacityError::MessageTooLong { .. }) => End::Fail(1009, None),
                    TError::Utf8(_) => End::Fail(1007, None),
                    other => panic!("unexpected tungstenite error: {other}"),
                };
                return outcome;
            }
        };
        if !outcome.push(message) {
            return outcome;
        }
    }
}

// ---------------------------------------------------------------------------
// Frame stream generator
// ---------------------------------------------------------------------------

/// Reads a fuzzer's bytes as choices; past the end every choice is 0.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// Characters for text payloads: one of each UTF-8 length.
const ALPHABET: [char; 4] = ['a', 'é', '€', '𝄞'];

/// A client frame stream from `input`, one frame per step: each step's
/// first byte picks the kind of frame, the second its variations (RSV bits,
/// length encoding, mask, FIN), the third its payload size. Valid frames
/// dominate, so that the streams get past their first frame; every rule of
/// RFC 6455 §5 has a step that breaks it.
pub(crate) fn generate(input: &[u8]) -> Vec<u8> {
    let mut c = Choices(input);
    let mut out = Vec::new();
    while !c.0.is_empty() {
        let kind = c.byte();
        let flags = c.byte();
        let size = usize::from(c.byte());
        // (first header byte, payload)
        let (b0, payload): (u8, Vec<u8>) = match kind % 16 {
            0 | 1 => (0x81, text(&mut c, size)),
            2 => (0x82, c.bytes(size)),
            3 => (0x01, text(&mut c, size)),
            4 => (0x02, c.bytes(size)),
            5 => (0x00, text(&mut c, size)),
            6 => (0x80, text(&mut c, size)),
            7 => (0x89, c.bytes(size % 126)),
            8 => (0x8a, c.bytes(size % 126)),
            9 => {
                let code = CLOSE_CODES[size % CLOSE_CODES.len()];
                let mut payload = code.to_be_bytes().to_vec();
                let reason_len = usize::from(c.byte() % 40);
                payload.extend(text(&mut c, reason_len));
                (0x88, payload)
            }
            10 => (0x88, c.bytes(size % 4)),
            11 => (c.byte(), c.bytes(size)),
            12 => (0x81, c.bytes(size)),
            13 => {
                // A declared length the payload does not (or barely) have.
                let declared: u64 = match size % 6 {
                    0 => 126,
                    1 => 0xffff,
                    2 => 0x1_0000,
                    3 => 1 << 20 | 1,
                    4 => u64::MAX >> 1,
                    _ => u64::MAX,
                };
                out.push(if flags & 1 == 0 { 0x82 } else { 0x89 });
                out.push(0x80 | 127);
                out.extend_from_slice(&declared.to_be_bytes());
                out.extend_from_slice(&[1, 2, 3, 4]);
                out.extend(c.bytes(usize::from(flags >> 1)));
                continue;
            }
            14 => {
                // A text message cut mid-character across two frames.
                let whole = text(&mut c, size.max(1));
                let cut = whole.len().min(1 + usize::from(flags) % 3);
                push_frame(&mut out, 0x01, &whole[..cut], 0, [9, 8, 7, 6]);
                (0x80, whole[cut..].to_vec())
            }
            _ => (0x81, text(&mut c, size).repeat(usize::from(flags % 8) + 1)),
        };
        let mut b0 = b0;
        if flags & 0x07 == 0x07 {
            b0 |= (flags & 0x70) | 0x10; // some RSV bit
        }
        if kind & 0x10 != 0 && kind % 16 != 14 && flags & 0x08 != 0 {
            b0 ^= 0x80; // flip FIN
        }
        let key = [kind, flags, 0x5a, size as u8];
        if flags & 0xc0 == 0xc0 && kind & 0x20 != 0 {
            // Unmasked.
            let mut frame = Vec::new();
            push_frame(&mut frame, b0, &payload, flags >> 6 & 1, [0; 4]);
            let header_len = frame.len() - 4 - payload.len();
            frame[1] &= 0x7f;
            frame.drain(header_len..header_len + 4);
            out.extend(frame);
        } else {
            push_frame(&mut out, b0, &payload, flags >> 6, key);
        }
    }
    out
}

/// `size` characters of [`ALPHABET`] picked by the next choices.
fn text(c: &mut Choices<'_>, size: usize) -> Vec<u8> {
    let text: String = (0..size)
        .map(|_| ALPHABET[usize::from(c.byte() >> 6)])
        .collect();
    text.into_bytes()
}

/// Appends a masked client frame. `form` picks the length encoding: 0 the
/// shortest, 1 the 16-bit form, 2 the 64-bit form (RFC 6455 allows the
/// longer ones), 3 the shortest again.
fn push_frame(out: &mut Vec<u8>, b0: u8, payload: &[u8], form: u8, key: [u8; 4]) {
    let len = payload.len();
    let mut frame = vec![b0];
    match form {
        1 if len <= 0xffff => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        2 => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
        _ if len < 126 => frame.push(len as u8),
        _ if len <= 0xffff => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(payload);
    out.extend(mask_server_frame(&frame, key));
}
