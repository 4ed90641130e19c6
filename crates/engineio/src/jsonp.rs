//! JSONP long-polling (`j=N` in the query), for clients that cannot use
//! XHR: the GET answers a script that hands the payload to
//! `___eio[N]`, the POST carries the payload as the form field `d`.
//!
//! Owns: the two wrappings, as pure functions (engine.io's
//! `polling-jsonp`). Must not touch: the payload format inside them
//! ([`packet`](super::packet)) or HTTP ([`polling`](super::polling)).
//! Written by hand because it is two string transforms no crate offers.

use super::packet::DecodeError;

/// The script a JSONP GET answers: `___eio[index]("payload");`. The
/// payload is a JSON string literal with U+2028 and U+2029 escaped too,
/// since JSON allows them raw where JavaScript (before ES2019) does not.
pub(crate) fn wrap(index: &str, payload: &str) -> String {
    let literal = serde_json::Value::from(payload)
        .to_string()
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    // Only the digits of `j` reach the script, as engine.io does.
    let index: String = index.chars().filter(char::is_ascii_digit).collect();
    format!("___eio[{index}]({literal});")
}

/// The payload of a JSONP POST body (`d=...`, form-encoded). The client
/// escapes newlines (so no user agent turns them into `\r\n`) as `\n`, and
/// an escaped newline already in the payload as `\\n`; this undoes both.
pub(crate) fn unwrap(body: &str) -> Result<String, DecodeError> {
    let fields = actix_web::web::Query::<Vec<(String, String)>>::from_query(body)
        .map_err(|_| DecodeError::Payload("invalid form body"))?
        .into_inner();
    let data = fields
        .into_iter()
        .find_map(|(k, v)| (k == "d").then_some(v))
        .ok_or(DecodeError::Payload("missing d field"))?;
    Ok(unescape_newlines(&data))
}

/// `\\n` → `\n` (an escaped newline, kept escaped) and `\n` → a newline.
fn unescape_newlines(data: &str) -> String {
    let mut out = String::with_capacity(data.len());
    let mut rest = data;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("\\\\n") {
            out.push_str("\\n");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("\\n") {
            out.push('\n');
            rest = after;
        } else {
            out.push('\\');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_the_payload_as_a_script_call() {
        assert_eq!(wrap("3", "1:6"), r#"___eio[3]("1:6");"#);
        assert_eq!(wrap("0", "4:4\"\\"), r#"___eio[0]("4:4\"\\");"#);
        // Line separators would end the string in old JavaScript engines.
        assert_eq!(wrap("1", "2:4\u{2028}"), r#"___eio[1]("2:4\u2028");"#);
        // Only digits of the index reach the script.
        assert_eq!(wrap("1);alert(1", "1:6"), r#"___eio[11]("1:6");"#);
    }

    #[test]
    fn unwraps_what_engine_io_client_3_posts() {
        // The payload `9:4["a\n"]` (a JSON escape): the client doubles its
        // backslash, form-encodes it, and the server gets the original back.
        let sent = r#"d=9%3A4%5B%22a%5C%5Cn%22%5D"#;
        assert_eq!(unwrap(sent).unwrap(), r#"9:4["a\n"]"#);
        // A raw newline travels as `\n`.
        assert_eq!(unwrap("d=a%5Cnb").unwrap(), "a\nb");
        assert_eq!(unwrap("d=1%3A6").unwrap(), "1:6");
        // A backslash before anything else is kept.
        assert_eq!(unescape_newlines(r"a\\b\x\"), r"a\\b\x\");
    }

    #[test]
    fn a_body_without_d_is_refused() {
        assert!(unwrap("x=1").is_err());
        assert!(unwrap("").is_err());
    }
}
