//! Raw Engine.IO v4 / Socket.IO v5 frames, as text, and the few parsers the scenarios need.
//!
//! Every payload the load generator sends is one JSON array argument whose first numbers are
//! what it needs back: `[t_ns, "pad"]` for echo, `[seq, t_ns, "pad"]` for fan-out. All three
//! servers serialise JSON without spaces, so the parsers only look for the first `[` followed
//! by a digit.

use std::time::Instant;

use std::sync::OnceLock;

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
}
