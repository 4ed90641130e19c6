//! The JWR ("JSON WebSocket Response") a virtual request is answered with,
//! `{body, headers, statusCode}`, and Sails' parse error. Pure: built
//! from a response's parts, no actix-web types.
//!
//! # Which headers a JWR carries
//!
//! The headers the route set, as in Sails, whose JWR carries `res.headers`:
//! what the action set with `res.set(...)`/`res.header(...)` and what its
//! middleware set (CORS, ...), and nothing Sails adds by itself. Over a
//! socket, Sails' `res.json(object)`, `res.send(...)`, `res.ok(...)` and
//! `res.sendStatus(...)` set no `content-type`: they hand the body itself to
//! the socket (`lib/router/res.js`, the `_clientCallback` branch of
//! `res.send`), so a route that sets no header answers `headers: {}`. Only
//! `res.set('content-type', ...)`, `res.type(...)`, `res.redirect` (HTML and
//! `location`) and `res.json(aString)` (`application/json`) put one there.
//!
//! actix-web, unlike Sails, writes a `content-type` for the body helpers, and
//! a response cannot tell it from one the handler chose. So the rule here:
//!
//! - `content-type` is left out when it is one that actix-web sets by itself
//!   for a body, spelled as it spells it: `application/json`
//!   (`HttpResponseBuilder::json`, `web::Json`), `text/plain; charset=utf-8`
//!   (a `String` or `&str` responder, `ResponseError`'s default answer) and
//!   `application/octet-stream` (a `Bytes` or `Vec<u8>` responder). Any
//!   other `content-type` (`text/html; charset=utf-8`,
//!   `application/problem+json`, `application/json; charset=utf-8`, ...) is
//!   the handler's own and kept: to send one of the three anyway, spell it
//!   otherwise (`application/json; charset=utf-8`).
//! - `set-cookie` is never included (sails-hook-sockets deletes it; the
//!   first one is kept as the socket's cookie instead).
//! - Every other header the response has is kept: a handler's
//!   `insert_header`, `wrap` middleware's. Those the HTTP layer writes only
//!   when it sends a response over a connection (`content-length`, `date`)
//!   are not in it, so never in a JWR.
//!
//! Repeated headers are joined with `", "`. With
//! [`JwrParts::headers`] off the JWR has no `headers` at all.
//!
//! The `content-type` still decides how the body is read, before it is left
//! out: a JSON one (`application/json`, `*+json`) is parsed, anything else is
//! text.
//!
//! # Not Found
//!
//! A 404 with an empty body (actix-web's own answer to a request no route
//! matched, or a handler's bodiless `HttpResponse::NotFound().finish()`)
//! answers Sails' `res.notFound()` over a socket: `res.sendStatus(404)`, the
//! body `"Not Found"`. A 404 with a body keeps it.

use serde_json::{Map, Value, json};

use super::request::ParseError;

/// Which parts of a response a JWR carries (Sails'
/// `sockets.sendResponseHeaders` and `sockets.sendStatusCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwrParts {
    /// Include the headers the route set (`set-cookie` never; see the
    /// crate's JWR rule in its docs on virtual requests).
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

/// The `content-type`s actix-web writes by itself for a body: never in a
/// JWR (see the module's doc).
const IMPLIED_CONTENT_TYPES: [&str; 3] = [
    "application/json",
    "text/plain; charset=utf-8",
    "application/octet-stream",
];

/// The body of a bodiless 404 (Sails' `res.sendStatus(404)`).
const NOT_FOUND: &[u8] = b"Not Found";

/// Whether the response header `name: value` goes into a JWR.
fn carried(name: &str, value: &str) -> bool {
    match name {
        "set-cookie" => false,
        "content-type" => !IMPLIED_CONTENT_TYPES.contains(&value),
        _ => true,
    }
}

/// The JWR for a response with `status`, `headers` (lower-case names) and
/// `body`: the body parsed when the response is JSON, else text, and left
/// out when empty; a bodiless 404 gets Sails' `"Not Found"`. `None` is
/// the answer to a HEAD request, which never has a body. The headers are
/// the route's own (see the module's doc).
pub(crate) fn jwr(
    status: u16,
    headers: &[(String, String)],
    body: Option<&[u8]>,
    parts: JwrParts,
) -> Value {
    let mut jwr = Map::new();
    let body = match (status, body) {
        (_, None) => b"".as_slice(),
        (404, Some(b"")) => NOT_FOUND,
        (_, Some(body)) => body,
    };
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
        for (name, value) in headers.iter().filter(|(n, v)| carried(n, v)) {
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
    jwr(status, &headers, Some(message.as_bytes()), parts)
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

    fn ok(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Value {
        jwr(status, &h(headers), Some(body), JwrParts::default())
    }

    #[test]
    fn json_bodies_are_parsed_and_others_are_text() {
        let json = [("content-type", "application/json")];
        assert_eq!(
            ok(200, &json, br#"{"a":1}"#),
            json!({"body": {"a": 1}, "headers": {}, "statusCode": 200})
        );
        let problem = [("content-type", "application/problem+json; charset=utf-8")];
        assert_eq!(ok(400, &problem, b"[1]")["body"], json!([1]));
        let text = [("content-type", "text/plain")];
        assert_eq!(ok(200, &text, b"hello")["body"], "hello");
        // Claimed JSON that is not: kept as text rather than lost.
        assert_eq!(ok(200, &json, b"{oops")["body"], "{oops");
    }

    #[test]
    fn a_route_that_set_no_header_answers_empty_headers() {
        // What actix-web writes by itself for `.json(..)`, a `&str`
        // responder and a `Bytes` responder: Sails' res.json / res.send set
        // nothing over a socket.
        for implied in [
            "application/json",
            "text/plain; charset=utf-8",
            "application/octet-stream",
        ] {
            let jwr = ok(200, &[("content-type", implied)], b"1");
            assert_eq!(jwr["headers"], json!({}), "{implied}");
        }
        assert_eq!(ok(200, &[], b"hello")["headers"], json!({}));
    }

    #[test]
    fn headers_the_route_set_are_carried_and_only_they() {
        let jwr = ok(
            200,
            &[
                ("content-type", "application/json"),
                ("x-echo", "yes"),
                ("access-control-allow-origin", "*"),
            ],
            b"{}",
        );
        assert_eq!(
            jwr["headers"],
            json!({"x-echo": "yes", "access-control-allow-origin": "*"})
        );
        // A content-type the handler chose (res.set / res.type in Sails).
        for own in [
            "text/html; charset=utf-8",
            "application/json; charset=utf-8",
            "application/problem+json",
            "text/plain",
            "text/csv",
        ] {
            let jwr = ok(200, &[("content-type", own)], b"x");
            assert_eq!(jwr["headers"], json!({"content-type": own}), "{own}");
        }
    }

    #[test]
    fn an_empty_body_is_left_out() {
        assert_eq!(ok(204, &[], b""), json!({"headers": {}, "statusCode": 204}));
        let head = jwr(200, &h(&[("x-a", "1")]), None, JwrParts::default());
        assert_eq!(head, json!({"headers": {"x-a": "1"}, "statusCode": 200}));
    }

    #[test]
    fn a_bodiless_404_is_sails_not_found_and_a_404_with_a_body_keeps_it() {
        assert_eq!(
            ok(404, &[], b""),
            json!({"body": "Not Found", "headers": {}, "statusCode": 404})
        );
        let own = ok(404, &[("content-type", "application/json")], br#"{"e":1}"#);
        assert_eq!(own["body"], json!({"e": 1}));
        assert_eq!(ok(404, &[], b"gone")["body"], "gone");
        // A HEAD request's answer has no body, a 404 neither.
        let head = jwr(404, &[], None, JwrParts::default());
        assert_eq!(head, json!({"headers": {}, "statusCode": 404}));
        // Other statuses without a body stay without one.
        assert_eq!(ok(410, &[], b"").get("body"), None);
    }

    #[test]
    fn set_cookie_never_reaches_the_client_and_repeats_are_joined() {
        let headers = [("set-cookie", "a=1"), ("x-a", "1"), ("x-a", "2")];
        assert_eq!(ok(200, &headers, b"")["headers"], json!({"x-a": "1, 2"}));
    }

    #[test]
    fn text_answers_carry_no_header() {
        let jwr = text(429, "slow down", JwrParts::default());
        assert_eq!(
            jwr,
            json!({"body": "slow down", "headers": {}, "statusCode": 429})
        );
    }

    #[test]
    fn headers_and_status_can_be_left_out() {
        let parts = JwrParts {
            headers: false,
            status_code: false,
        };
        assert_eq!(jwr(200, &h(&[("x", "y")]), Some(b""), parts), json!({}));
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

    #[test]
    fn an_old_sdk_is_refused_with_sails_words() {
        let error = ParseError::IncompatibleSdk("0.9.0".into());
        let jwr = parse_error_jwr(&error, JwrParts::default());
        assert_eq!(jwr["statusCode"], 400);
        assert_eq!(jwr["body"]["code"], "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ");
        assert_eq!(
            jwr["body"]["details"],
            "This version of Sails is not compatible with the socket.io/sails.io.js client SDK \
             version you are using (0.9.0). Please see \
             https://sailsjs.com/documentation/upgrading/to-v-0-11 for more information-- then \
             please continue upgrading all the way to the installed version of Sails."
        );
    }
}
