//! The Engine.IO v4 / Socket.IO v5 text frames of the bench contract, read and written by
//! slicing and scanning bytes: no JSON value is ever built or parsed. It owns the shapes of the
//! frames; it knows nothing of connections, queues or rooms.
//!
//! Only the shapes the load generator sends are recognised (`../../src/proto.rs`):
//! `3`, `40`, `40{...}`, `41`, `1`, `42["echo",...]`, `42<id>["echo",...]`,
//! `42<id>["join","room"]` and `42<id>["fanout","room",payload]`. A room name is taken as the
//! raw bytes between its quotes: names with a quote or a backslash are not recognised, so
//! `join` and `fanout` always compare the same form.

use bytes::{BufMut, Bytes, BytesMut};

/// The heartbeat and size limits the contract sets (`bench/README.md`).
pub(crate) const PING_INTERVAL_MS: u64 = 25_000;
pub(crate) const PING_TIMEOUT_MS: u64 = 20_000;
pub(crate) const MAX_PAYLOAD: usize = 1_000_000;

/// The Engine.IO ping the server sends.
pub(crate) const PING: Bytes = Bytes::from_static(b"2");

/// What a text frame from a client asks for. Slices borrow the frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Incoming<'a> {
    /// Engine.IO pong.
    Pong,
    /// Socket.IO CONNECT to the main namespace, with or without auth.
    Connect,
    /// Socket.IO DISCONNECT or Engine.IO close: the session ends.
    Close,
    /// `echo` without an ack id: the frame goes back as it is.
    Echo,
    /// `echo` with an ack id: `args` runs from the first argument to the frame's closing `]`.
    EchoAck { id: &'a [u8], args: &'a [u8] },
    /// `join` (room).
    Join {
        id: Option<&'a [u8]>,
        room: &'a [u8],
    },
    /// `fanout` (room, payload): `payload` runs from the payload to the frame's closing `]`.
    Fanout {
        id: Option<&'a [u8]>,
        room: &'a [u8],
        payload: &'a [u8],
    },
    /// Any other shape (other namespaces, events, binary attachments, ...).
    Other,
}

/// Reads one text frame from a client.
pub(crate) fn parse(frame: &[u8]) -> Incoming<'_> {
    match frame {
        b"3" => Incoming::Pong,
        b"40" => Incoming::Connect,
        [b'4', b'0', b'{', ..] => Incoming::Connect,
        b"41" | b"1" => Incoming::Close,
        [b'4', b'2', rest @ ..] => event(rest),
        _ => Incoming::Other,
    }
}

/// `<id>["name",...]` after the `42`.
fn event(rest: &[u8]) -> Incoming<'_> {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let (id, body) = rest.split_at(digits);
    let id = (digits > 0).then_some(id);
    let Some(body) = body.strip_prefix(b"[\"") else {
        return Incoming::Other;
    };
    let Some((name, after)) = quoted(body) else {
        return Incoming::Other;
    };
    // `after` is `,args...]` or `]`.
    if after.last() != Some(&b']') {
        return Incoming::Other;
    }
    let args = after.strip_prefix(b",");
    match (name, id, args) {
        (b"echo", None, _) => Incoming::Echo,
        (b"echo", Some(id), args) => Incoming::EchoAck {
            id,
            args: args.unwrap_or(after),
        },
        (b"join", id, Some(args)) => match args.strip_prefix(b"\"").and_then(quoted) {
            Some((room, b"]")) => Incoming::Join { id, room },
            _ => Incoming::Other,
        },
        (b"fanout", id, Some(args)) => match args.strip_prefix(b"\"").and_then(quoted) {
            Some((room, rest)) => match rest.strip_prefix(b",") {
                Some(payload) => Incoming::Fanout { id, room, payload },
                None => Incoming::Other,
            },
            None => Incoming::Other,
        },
        _ => Incoming::Other,
    }
}

/// Splits `name"rest` at the closing quote of a string without escapes.
fn quoted(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = s.iter().position(|&b| b == b'"' || b == b'\\')?;
    (s[end] == b'"').then(|| (&s[..end], &s[end + 1..]))
}

/// The Engine.IO open packet: no upgrades (WebSocket only), the contract's heartbeat.
pub(crate) fn open(sid: &str) -> Bytes {
    format!(
        "0{{\"sid\":\"{sid}\",\"upgrades\":[],\"pingInterval\":{PING_INTERVAL_MS},\
         \"pingTimeout\":{PING_TIMEOUT_MS},\"maxPayload\":{MAX_PAYLOAD}}}"
    )
    .into()
}

/// The CONNECT answer of the main namespace.
pub(crate) fn connected(socket_id: &str) -> Bytes {
    format!("40{{\"sid\":\"{socket_id}\"}}").into()
}

/// `43<id>[args...]`: an ack carrying the arguments as they came (`args` ends with `]`).
pub(crate) fn ack(id: &[u8], args: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(3 + id.len() + args.len());
    out.put_slice(b"43");
    out.put_slice(id);
    out.put_u8(b'[');
    out.put_slice(args);
    out.freeze()
}

/// `43<id>["ok"]`
pub(crate) fn ack_ok(id: &[u8]) -> Bytes {
    ack(id, b"\"ok\"]")
}

/// `42["fanout",payload]`: encoded once per broadcast (`payload` ends with `]`).
pub(crate) fn fanout(payload: &[u8]) -> Bytes {
    const HEAD: &[u8] = b"42[\"fanout\",";
    let mut out = BytesMut::with_capacity(HEAD.len() + payload.len());
    out.put_slice(HEAD);
    out.put_slice(payload);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_load_generators_frames() {
        assert_eq!(parse(b"3"), Incoming::Pong);
        assert_eq!(parse(b"40"), Incoming::Connect);
        assert_eq!(parse(b"40{\"token\":\"x\"}"), Incoming::Connect);
        assert_eq!(parse(b"41"), Incoming::Close);
        assert_eq!(parse(br#"42["echo",[123,"xx"]]"#), Incoming::Echo);
        assert_eq!(
            parse(br#"4217["echo",[123,"xx"]]"#),
            Incoming::EchoAck {
                id: b"17",
                args: br#"[123,"xx"]]"#
            }
        );
        assert_eq!(
            parse(br#"421["join","bench"]"#),
            Incoming::Join {
                id: Some(b"1"),
                room: b"bench"
            }
        );
        assert_eq!(
            parse(br#"429["fanout","bench",[4,5,"xx"]]"#),
            Incoming::Fanout {
                id: Some(b"9"),
                room: b"bench",
                payload: br#"[4,5,"xx"]]"#
            }
        );
    }

    #[test]
    fn leaves_other_shapes_alone() {
        for frame in [
            &b"40/admin,"[..],
            b"451-[\"echo\",{\"_placeholder\":true,\"num\":0}]",
            br#"42["leave","bench"]"#,
            br#"42["echo",1"#,
            br#"421["join","a\"b"]"#,
            br#"421["join",7]"#,
            br#"421["fanout","bench"]"#,
            b"5",
        ] {
            assert_eq!(parse(frame), Incoming::Other, "{}", frame.escape_ascii());
        }
    }

    #[test]
    fn answers_by_slicing() {
        let Incoming::EchoAck { id, args } = parse(br#"425["echo",[1,"p"]]"#) else {
            panic!("not an echo with ack");
        };
        assert_eq!(&ack(id, args)[..], br#"435[[1,"p"]]"#);
        let Incoming::EchoAck { id, args } = parse(br#"425["echo"]"#) else {
            panic!("not an echo with ack");
        };
        assert_eq!(&ack(id, args)[..], b"435[]");
        assert_eq!(&ack_ok(b"12")[..], br#"4312["ok"]"#);
        let Incoming::Fanout { payload, .. } = parse(br#"423["fanout","r",[1,2,"p"]]"#) else {
            panic!("not a fanout");
        };
        assert_eq!(&fanout(payload)[..], br#"42["fanout",[1,2,"p"]]"#);
        assert_eq!(&connected("s1")[..], br#"40{"sid":"s1"}"#);
        assert_eq!(
            &open("e1")[..],
            br#"0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
    }
}
