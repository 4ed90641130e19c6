//! What `RUST_LOG=trace` shows of the traffic: every message of every
//! session, both ways, one line each (`sid=… in:`/`out:`, as Engine.IO
//! message packets: `42[...]`), text cut at [`SHOWN`] bytes and binary by
//! its length; heartbeats are not shown. Owns only the lines; the
//! session and its handles call it where messages come in and go out.

use super::data::Message;
use super::packet::Frame;

/// Most bytes of a text message a line shows.
const SHOWN: usize = 200;

/// Logs a message the client sent, as an Engine.IO message packet (type
/// digit `4` first, as the frames going out show).
pub(crate) fn incoming(sid: &str, message: &Message) {
    if !log::log_enabled!(log::Level::Trace) {
        return;
    }
    match message {
        Message::Text(text) => line(sid, "in", &format!("4{text}")),
        Message::Binary(data) => log::trace!("sid={sid} in: <binary, {} bytes>", data.len()),
    }
}

/// Logs frames on their way to the client (Engine.IO type digit first).
pub(crate) fn outgoing(sid: &str, frames: &[Frame]) {
    if !log::log_enabled!(log::Level::Trace) {
        return;
    }
    for frame in frames {
        match frame {
            Frame::Text(text) => line(sid, "out", text),
            Frame::Binary(data) => log::trace!("sid={sid} out: <binary, {} bytes>", data.len()),
        }
    }
}

fn line(sid: &str, direction: &str, text: &str) {
    let (shown, more) = cut(text);
    log::trace!("sid={sid} {direction}: {shown}{more}");
}

/// `text` cut at [`SHOWN`] bytes (on a character boundary), and what says so.
fn cut(text: &str) -> (&str, &'static str) {
    if text.len() <= SHOWN {
        return (text, "");
    }
    let end = (0..=SHOWN)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    (&text[..end], "… (cut)")
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        assert_eq!(cut("42[\"hi\"]"), ("42[\"hi\"]", ""));
        let long = format!("{}é", "x".repeat(199));
        // 199 + 2 bytes: the 'é' would be split at 200, so the cut is before it.
        assert_eq!(cut(&long), (&long[..199], "… (cut)"));
        assert_eq!(cut(&"y".repeat(300)).0.len(), 200);
    }
}
