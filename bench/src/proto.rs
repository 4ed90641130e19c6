//! Raw Engine.IO v4 / Socket.IO v5 frames, as text, and the few parsers the scenarios need;
//! with `--parser msgpack`, the same packets as `socket.io-msgpack-parser` writes them (one
//! binary frame each), built and read here so that the scenarios do not care ([`read`] and the
//! `*_msg` builders).
//!
//! Every payload the load generator sends is one JSON array argument whose first numbers are
//! what it needs back: `[t_ns, "pad"]` for echo, `[seq, t_ns, "pad"]` for fan-out. All three
//! servers serialise JSON without spaces, so the parsers only look for the first `[` followed
//! by a digit.

use std::time::Instant;

use std::sync::OnceLock;

use rmpv::Value as Mp;
use tokio_tungstenite::tungstenite::Message;

static MSGPACK: OnceLock<bool> = OnceLock::new();

/// Speak `socket.io-msgpack-parser` from now on (before any session opens).
pub fn use_msgpack() {
    let _ = MSGPACK.set(true);
}

/// Whether packets are msgpack.
pub fn msgpack() -> bool {
    MSGPACK.get().copied().unwrap_or(false)
}

/// The msgpack packet `{type, nsp: "/", data, id}` as one binary frame.
fn mp_packet(kind: u8, id: Option<u64>, data: Option<Mp>) -> Message {
    let mut map = vec![
        (Mp::from("type"), Mp::from(kind)),
        (Mp::from("nsp"), Mp::from("/")),
    ];
    if let Some(data) = data {
        map.push((Mp::from("data"), data));
    }
    if let Some(id) = id {
        map.push((Mp::from("id"), Mp::from(id)));
    }
    let mut out = Vec::with_capacity(64);
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &Mp::Map(map));
    Message::binary(out)
}

/// CONNECT to `/`.
pub fn connect_msg() -> Message {
    if msgpack() {
        return mp_packet(0, None, None);
    }
    Message::text("40")
}

/// [`echo_frame`] in the chosen parser.
pub fn echo_msg(ack_id: Option<u64>, t_ns: u64, pad: &str) -> Message {
    if msgpack() {
        let args = Mp::Array(vec![Mp::from(t_ns), Mp::from(pad)]);
        return mp_packet(2, ack_id, Some(Mp::Array(vec![Mp::from("echo"), args])));
    }
    Message::text(echo_frame(ack_id, t_ns, pad))
}

/// [`join_frame`] in the chosen parser.
pub fn join_msg(ack_id: u64, room: &str) -> Message {
    if msgpack() {
        let data = Mp::Array(vec![Mp::from("join"), Mp::from(room)]);
        return mp_packet(2, Some(ack_id), Some(data));
    }
    Message::text(join_frame(ack_id, room))
}

/// [`fanout_frame`] in the chosen parser.
pub fn fanout_msg(ack_id: u64, room: &str, seq: u64, t_ns: u64, pad: &str) -> Message {
    if msgpack() {
        let args = Mp::Array(vec![Mp::from(seq), Mp::from(t_ns), Mp::from(pad)]);
        let data = Mp::Array(vec![Mp::from("fanout"), Mp::from(room), args]);
        return mp_packet(2, Some(ack_id), Some(data));
    }
    Message::text(fanout_frame(ack_id, room, seq, t_ns, pad))
}

/// What a frame from the server is, to the scenarios; the counts are how many of the payload's
/// first numbers were read into `nums` (see [`first_numbers`]).
#[derive(Debug, PartialEq, Eq)]
pub enum In {
    /// An Engine.IO ping, to answer with `3`.
    Ping,
    /// The CONNECT answer.
    Connected,
    /// A CONNECT_ERROR, as received.
    ConnectError(String),
    /// An `echo` event.
    Echo(usize),
    /// A `fanout` event.
    Fanout(usize),
    /// An ACK with its id.
    Ack(u64, usize),
    /// Anything else.
    Other,
}

/// Reads one frame from the server in the chosen parser (Engine.IO pings are text in both).
pub fn read(msg: &Message, nums: &mut [u64]) -> In {
    match msg {
        Message::Text(t) => read_text(t.as_str(), nums),
        Message::Binary(b) if msgpack() => read_msgpack(b, nums),
        _ => In::Other,
    }
}

fn read_text(s: &str, nums: &mut [u64]) -> In {
    if s == "2" {
        In::Ping
    } else if s.starts_with("40") {
        In::Connected
    } else if s.starts_with("44") {
        In::ConnectError(s.to_owned())
    } else if s.starts_with("42[\"echo\"") {
        In::Echo(first_numbers(s, nums))
    } else if s.starts_with("42[\"fanout\"") {
        In::Fanout(first_numbers(s, nums))
    } else if let Some(id) = ack_id(s) {
        In::Ack(id, first_numbers(s, nums))
    } else {
        In::Other
    }
}

/// Reads a msgpack packet without building it: the receivers of a fan-out read every
/// delivery, and the load generator shares the CPUs with the server, so this costs about what
/// [`first_numbers`] costs on text.
fn read_msgpack(bytes: &[u8], nums: &mut [u64]) -> In {
    let mut c = Cursor { b: bytes, i: 0 };
    let (mut kind, mut id, mut data) = (None, None, None);
    let Some(Head::Map(len)) = c.head() else {
        return In::Other;
    };
    for _ in 0..len {
        let key = match c.head() {
            Some(Head::Str(n)) => c.take(n),
            _ => return In::Other,
        };
        match key {
            Some(b"type") => kind = c.uint(),
            Some(b"id") => id = c.uint(),
            Some(b"data") => {
                data = Some(c.i);
                c.skip();
            }
            _ => c.skip(),
        }
    }
    let mut args = Cursor {
        b: bytes,
        i: data.unwrap_or(bytes.len()),
    };
    let Some(Head::Array(n)) = args.head() else {
        return match kind {
            Some(0) => In::Connected,
            Some(4) => In::ConnectError(format!("{bytes:?}")),
            _ => In::Other,
        };
    };
    match (kind, id) {
        (Some(2), _) => {
            let name = match args.head() {
                Some(Head::Str(len)) => args.take(len),
                _ => None,
            };
            match name {
                Some(b"echo") => In::Echo(args.first_numbers(n - 1, nums)),
                Some(b"fanout") => In::Fanout(args.first_numbers(n - 1, nums)),
                _ => In::Other,
            }
        }
        (Some(3), Some(id)) => In::Ack(id, args.first_numbers(n, nums)),
        (Some(0), _) => In::Connected,
        _ => In::Other,
    }
}

/// A msgpack header: what the scenarios tell apart.
enum Head {
    Uint(u64),
    Str(usize),
    Array(usize),
    Map(usize),
    /// Any other value, already skipped.
    Scalar,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let out = self.b.get(self.i..self.i.checked_add(n)?)?;
        self.i += n;
        Some(out)
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0, |acc, &b| acc << 8 | u64::from(b)),
        )
    }

    fn head(&mut self) -> Option<Head> {
        let m = *self.take(1)?.first()?;
        let len = |c: &mut Self, n| c.be(n).map(|v| v as usize);
        Some(match m {
            0x00..=0x7f => Head::Uint(m.into()),
            0x80..=0x8f => Head::Map((m & 0x0f).into()),
            0x90..=0x9f => Head::Array((m & 0x0f).into()),
            0xa0..=0xbf => Head::Str((m & 0x1f).into()),
            0xcc => Head::Uint(self.be(1)?),
            0xcd => Head::Uint(self.be(2)?),
            0xce => Head::Uint(self.be(4)?),
            0xcf => Head::Uint(self.be(8)?),
            0xd9 => Head::Str(len(self, 1)?),
            0xda => Head::Str(len(self, 2)?),
            0xdb => Head::Str(len(self, 4)?),
            0xdc => Head::Array(len(self, 2)?),
            0xdd => Head::Array(len(self, 4)?),
            0xde => Head::Map(len(self, 2)?),
            0xdf => Head::Map(len(self, 4)?),
            // Fixed-size scalars and binary / extension values, skipped here.
            0xc0 | 0xc2 | 0xc3 | 0xe0..=0xff => Head::Scalar,
            0xd0 | 0xd4 => self
                .take(1 + usize::from(m == 0xd4))
                .map(|_| Head::Scalar)?,
            0xd1 | 0xd5 => self
                .take(2 + usize::from(m == 0xd5))
                .map(|_| Head::Scalar)?,
            0xd2 | 0xca | 0xd6 => self
                .take(4 + usize::from(m == 0xd6))
                .map(|_| Head::Scalar)?,
            0xd3 | 0xcb | 0xd7 => self
                .take(8 + usize::from(m == 0xd7))
                .map(|_| Head::Scalar)?,
            0xd8 => self.take(17).map(|_| Head::Scalar)?,
            0xc4..=0xc6 => {
                let n = len(self, 1 << (m - 0xc4))?;
                self.take(n).map(|_| Head::Scalar)?
            }
            0xc7..=0xc9 => {
                let n = len(self, 1 << (m - 0xc7))?;
                self.take(n + 1).map(|_| Head::Scalar)?
            }
            _ => return None,
        })
    }

    fn uint(&mut self) -> Option<u64> {
        match self.head()? {
            Head::Uint(v) => Some(v),
            _ => None,
        }
    }

    /// Skips one value (its items too); the server's packets nest a few levels at most.
    fn skip(&mut self) {
        let items = match self.head() {
            Some(Head::Str(n)) => {
                let _ = self.take(n);
                return;
            }
            Some(Head::Array(n)) => n,
            Some(Head::Map(n)) => 2 * n,
            _ => return,
        };
        for _ in 0..items {
            self.skip();
        }
    }

    /// [`first_numbers`] over the next `n` values: the leading numbers of the first array
    /// that starts with one.
    fn first_numbers(&mut self, n: usize, nums: &mut [u64]) -> usize {
        for _ in 0..n {
            let start = self.i;
            if let Some(Head::Array(len)) = self.head() {
                let mut read = 0;
                while read < len.min(nums.len()) {
                    let before = self.i;
                    match self.head() {
                        Some(Head::Uint(v)) => nums[read] = v,
                        _ => {
                            self.i = before;
                            break;
                        }
                    }
                    read += 1;
                }
                if read > 0 {
                    return read;
                }
            }
            self.i = start;
            self.skip();
        }
        0
    }
}

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the process-wide epoch (the same clock for senders and receivers).
pub fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

pub fn init_clock() {
    let _ = now_ns();
}

/// `"x" * n` as a JSON-safe padding string.
pub fn pad(n: usize) -> String {
    "x".repeat(n)
}

/// `42["echo",[t,"pad"]]`, or `42<id>["echo",[t,"pad"]]` when an ack is wanted.
pub fn echo_frame(ack_id: Option<u64>, t_ns: u64, pad: &str) -> String {
    match ack_id {
        Some(id) => format!("42{id}[\"echo\",[{t_ns},\"{pad}\"]]"),
        None => format!("42[\"echo\",[{t_ns},\"{pad}\"]]"),
    }
}

/// `42<id>["join","room"]`
pub fn join_frame(ack_id: u64, room: &str) -> String {
    format!("42{ack_id}[\"join\",\"{room}\"]")
}

/// `42<id>["leave","room"]`
pub fn leave_frame(ack_id: u64, room: &str) -> String {
    format!("42{ack_id}[\"leave\",\"{room}\"]")
}

/// `42<id>["fanout","room",[seq,t,"pad"]]`
pub fn fanout_frame(ack_id: u64, room: &str, seq: u64, t_ns: u64, pad: &str) -> String {
    format!("42{ack_id}[\"fanout\",\"{room}\",[{seq},{t_ns},\"{pad}\"]]")
}

/// Parses the unsigned integer starting at `s[i]`; returns it and the index after it.
fn uint_at(s: &[u8], mut i: usize) -> Option<(u64, usize)> {
    let start = i;
    let mut v: u64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add((s[i] - b'0') as u64)?;
        i += 1;
    }
    (i > start).then_some((v, i))
}

/// The numbers of the first `[n1,n2,...` in `s` (up to `out.len()` of them); how many were read.
pub fn first_numbers(s: &str, out: &mut [u64]) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] == b'[' && b[i + 1].is_ascii_digit() {
            let mut j = i + 1;
            let mut n = 0;
            while n < out.len() {
                match uint_at(b, j) {
                    Some((v, next)) => {
                        out[n] = v;
                        n += 1;
                        if next < b.len() && b[next] == b',' {
                            j = next + 1;
                        } else {
                            break;
                        }
                    }
                    None => break,
                }
            }
            return n;
        }
        i += 1;
    }
    0
}

/// The ack id of a Socket.IO ACK packet on the main namespace (`43<id>[...]`).
pub fn ack_id(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 3 || b[0] != b'4' || b[1] != b'3' {
        return None;
    }
    uint_at(b, 2).map(|(v, _)| v)
}

/// The `sid` of an Engine.IO open packet or a Socket.IO CONNECT answer.
pub fn sid(s: &str) -> Option<String> {
    let key = "\"sid\":\"";
    let start = s.find(key)? + key.len();
    let end = s[start..].find('"')? + start;
    Some(s[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_acks() {
        let mut out = [0u64; 2];
        assert_eq!(first_numbers("42[\"echo\",[123,\"xx\"]]", &mut out[..1]), 1);
        assert_eq!(out[0], 123);
        assert_eq!(first_numbers("4317[[99,\"xx\"]]", &mut out[..1]), 1);
        assert_eq!(out[0], 99);
        assert_eq!(first_numbers("42[\"fanout\",[7,8,\"p\"]]", &mut out), 2);
        assert_eq!(out, [7, 8]);
        assert_eq!(ack_id("4317[[99]]"), Some(17));
        assert_eq!(ack_id("42[\"x\"]"), None);
        assert_eq!(
            sid("0{\"sid\":\"abc\",\"upgrades\":[]}").as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn reads_msgpack_packets() {
        let mut nums = [0u64; 2];
        let frame = |kind: u8, id: Option<u64>, data: Mp| match mp_packet(kind, id, Some(data)) {
            Message::Binary(b) => b,
            other => panic!("{other:?}"),
        };
        let echo = Mp::Array(vec![
            Mp::from("echo"),
            Mp::Array(vec![Mp::from(123u64), Mp::from("xx")]),
        ]);
        assert_eq!(
            read_msgpack(&frame(2, None, echo), &mut nums[..1]),
            In::Echo(1)
        );
        assert_eq!(nums[0], 123);
        let ack = Mp::Array(vec![Mp::Array(vec![Mp::from(99u64), Mp::from("xx")])]);
        assert_eq!(
            read_msgpack(&frame(3, Some(17), ack), &mut nums[..1]),
            In::Ack(17, 1)
        );
        assert_eq!(nums[0], 99);
        let fanout = Mp::Array(vec![
            Mp::from("fanout"),
            Mp::Array(vec![Mp::from(7u64), Mp::from(8u64), Mp::from("p")]),
        ]);
        assert_eq!(
            read_msgpack(&frame(2, None, fanout), &mut nums),
            In::Fanout(2)
        );
        assert_eq!(nums, [7, 8]);
        assert_eq!(read_text("2", &mut nums), In::Ping);
        assert_eq!(read_text("4317[[99]]", &mut nums), In::Ack(17, 1));
    }
}
