//! The JWR ("JSON WebSocket Response") a virtual request is answered with,
//! `{body, headers, statusCode}`, and Sails' parse error. Pure: built
//! from a response's parts, no actix-web types.

use serde_json::{Map, Value, json};

use super::request::ParseError;

/// Which parts of a response a JWR carries (Sails'
/// `sockets.sendResponseHeaders` and `sockets.sendStatusCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwrParts {
    /// Include the response headers (`set-cookie` is never included).
    pub headers: bool,
    /// Include the status code.
    pub status_code: bool,
}

impl Default for JwrParts {
    fn default() -> Self {
        JwrParts {
            headers: true,
            status_code: true,
        }
    }
}

/// The JWR for a response with `status`, `headers` (lower-case names) and
/// `body`: the body parsed when the response is JSON, else text, and left
/// out when empty.
pub(crate) fn jwr(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    parts: JwrParts,
) -> Value {
    let mut jwr = Map::new();
    if !body.is_empty() {
        let json = headers
            .iter()
            .any(|(n, v)| n == "content-type" && is_json(v));
        let parsed = json.then(|| serde_json::from_slice(body).ok()).flatten();
        let body = parsed.unwrap_or_else(|| Value::String(String::from_utf8_lossy(body).into()));
        jwr.insert("body".into(), body);
    }
    if parts.headers {
        let mut map = Map::new();
        for (name, value) in headers.iter().filter(|(n, _)| n != "set-cookie") {
            match map.get_mut(name) {
                Some(Value::String(joined)) => {
                    joined.push_str(", ");
                    joined.push_str(value);
                }
                _ => drop(map.insert(name.clone(), Value::String(value.clone()))),
            }
        }
        jwr.insert("headers".into(), Value::Object(map));
    }
    if parts.status_code {
        jwr.insert("statusCode".into(), status.into());
    }
    Value::Object(jwr)
}

/// A JWR with a plain-text `message` body (limits, server errors).
pub(crate) fn text(status: u16, message: &str, parts: JwrParts) -> Value {
    let headers = [(
        "content-type".to_string(),
        "text/plain; charset=utf-8".to_string(),
    )];
    jwr(status, &headers, message.as_bytes(), parts)
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// Sails' parse error (`ERRORPACK.PARSE_VIRTUAL_REQ` of sails-hook-sockets),
/// as its fields reach a client.
pub(crate) fn parse_error(error: &ParseError) -> Value {
    const CODE: &str = "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ";
    json!({
        "code": CODE,
        "name": format!("Error ({CODE}):"),
        "status": 400,
        "message": "Failed to parse incoming socket.io request.",
        "details": error.to_string(),
    })
}

/// The 400 JWR carrying Sails' parse error as its body.
pub(crate) fn parse_error_jwr(error: &ParseError, parts: JwrParts) -> Value {
    let mut jwr = Map::new();
    jwr.insert("body".into(), parse_error(error));
    if parts.headers {
        jwr.insert("headers".into(), Value::Object(Map::new()));
    }
    if parts.status_code {
        jwr.insert("statusCode".into(), 400.into());
    }
    Value::Object(jwr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn json_bodies_are_parsed_and_others_are_text() {
        let json = h(&[("content-type", "application/json")]);
        let jwr1 = jwr(200, &json, br#"{"a":1}"#, JwrParts::default());
        assert_eq!(
            jwr1,
            json!({"body": {"a": 1}, "headers": {"content-type": "application/json"}, "statusCode": 200})
        );
        let problem = h(&[("content-type", "application/problem+json; charset=utf-8")]);
        assert_eq!(
            jwr(400, &problem, b"[1]", JwrParts::default())["body"],
            json!([1])
        );
        let text = h(&[("content-type", "text/plain")]);
        assert_eq!(
            jwr(200, &text, b"hello", JwrParts::default())["body"],
            "hello"
        );
        // Claimed JSON that is not: kept as text rather than lost.
        assert_eq!(
            jwr(200, &json, b"{oops", JwrParts::default())["body"],
            "{oops"
        );
    }

    #[test]
    fn an_empty_body_is_left_out() {
        let jwr = jwr(204, &[], b"", JwrParts::default());
        assert_eq!(jwr, json!({"headers": {}, "statusCode": 204}));
    }

    #[test]
    fn set_cookie_never_reaches_the_client_and_repeats_are_joined() {
        let headers = h(&[("set-cookie", "a=1"), ("x-a", "1"), ("x-a", "2")]);
        let jwr = jwr(200, &headers, b"", JwrParts::default());
        assert_eq!(jwr["headers"], json!({"x-a": "1, 2"}));
    }

    #[test]
    fn headers_and_status_can_be_left_out() {
        let parts = JwrParts {
            headers: false,
            status_code: false,
        };
        assert_eq!(jwr(200, &h(&[("x", "y")]), b"", parts), json!({}));
        assert_eq!(
            parse_error_jwr(&ParseError::NoUrl, parts)["body"]["status"],
            400
        );
    }

    #[test]
    fn parse_errors_carry_sails_fields() {
        let jwr = parse_error_jwr(&ParseError::NoUrl, JwrParts::default());
        assert_eq!(jwr["statusCode"], 400);
        assert_eq!(jwr["headers"], json!({}));
        assert_eq!(jwr["body"]["code"], "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ");
        assert_eq!(
            jwr["body"]["message"],
            "Failed to parse incoming socket.io request."
        );
        assert_eq!(jwr["body"]["details"], "No url provided in request.");
    }
}
