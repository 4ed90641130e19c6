//! Reading one virtual-request event (`get`, `post`, ..., or the generic
//! `request`) into the parts of an HTTP request, as sails-hook-sockets'
//! `receiveIncomingSailsIOMsg` does. Pure: no actors, no I/O, so fuzzers
//! and unit tests reach every branch.

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, Uri};
use serde_json::{Map, Value};

/// The events that carry a virtual request; `request` takes its method
/// from the argument, the others are the method.
pub(crate) const REQUEST_EVENTS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "options", "head", "request",
];

/// Whether the event called `name` carries a virtual request.
pub(crate) fn is_request_event(name: &str) -> bool {
    REQUEST_EVENTS.contains(&name)
}

/// Why an event is not a virtual request: Sails' parse error `details`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParseError {
    #[error(
        "Could not parse request- the first argument must be an object like {{ url: '/path', data: {{}}, headers: {{}} }}."
    )]
    NotAnObject,
    #[error("No url provided in request.")]
    NoUrl,
    #[error("Invalid url provided: {0}")]
    BadUrl(String),
    #[error(
        "Invalid method provided: {0} (expected get, post, put, patch, delete, options or head)"
    )]
    BadMethod(String),
    #[error("Invalid header provided: {0}")]
    BadHeader(String),
    /// The socket's sails.io.js SDK (its version, as sent) is older than
    /// the server serves (sails-hook-sockets' message, word for word).
    #[error(
        "This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using ({0}). Please see https://sailsjs.com/documentation/upgrading/to-v-0-11 for more information-- then please continue upgrading all the way to the installed version of Sails."
    )]
    IncompatibleSdk(String),
}

/// Why a virtual request is refused before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Answered 400 with Sails' parse error.
    Parse(ParseError),
    /// The JSON body is over the limit: answered 413.
    TooLarge,
}

impl From<ParseError> for Refused {
    fn from(e: ParseError) -> Self {
        Refused::Parse(e)
    }
}

/// Headers the socket's handshake gives every virtual request.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Defaults<'a> {
    /// The handshake's `cookie`: used unless the request sets its own.
    pub cookie: Option<&'a str>,
    /// The handshake's `origin`: always used, as Sails does (changing a
    /// socket's origin per request would defeat origin checks).
    pub origin: Option<&'a str>,
    /// The handshake's `host`, unless the request sets its own.
    pub host: Option<&'a str>,
}

/// A virtual request, ready to become an HTTP request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VirtualRequest {
    pub method: Method,
    pub uri: Uri,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The JSON body (methods with a body, or data that is no object).
    pub body: Option<Vec<u8>>,
}

/// Reads the event `event`'s first argument `arg` into a request whose
/// JSON body is at most `max_body` bytes.
pub(crate) fn parse(
    event: &str,
    arg: Option<&Value>,
    defaults: Defaults<'_>,
    max_body: usize,
) -> Result<VirtualRequest, Refused> {
    let (msg, url) = message(arg)?;
    let method = method(event, msg.get("method"))?;
    let has_body = !matches!(method, Method::GET | Method::HEAD | Method::DELETE);
    let data = match data(msg) {
        // Sails' body is at least `{}`.
        Value::Null if has_body => Value::Object(Map::new()),
        data => data,
    };
    let (query, body) = match data {
        Value::Object(fields) if !has_body => (query_of(&fields), None),
        data if has_body || !data.is_null() => {
            let body = serde_json::to_vec(&data).map_err(|_| Refused::TooLarge)?;
            if body.len() > max_body {
                return Err(Refused::TooLarge);
            }
            (String::new(), Some(body))
        }
        _ => (String::new(), None),
    };
    let uri = uri(url, &query)?;
    let mut headers = headers(msg.get("headers"))?;
    let has = |headers: &[(HeaderName, HeaderValue)], name: &str| {
        headers.iter().any(|(n, _)| n.as_str() == name)
    };
    headers.retain(|(name, _)| name != "origin");
    let own_cookie = has(&headers, "cookie");
    let own_host = has(&headers, "host");
    let own_type = has(&headers, "content-type");
    for (name, value, add) in [
        ("cookie", defaults.cookie, !own_cookie),
        ("origin", defaults.origin, true),
        ("host", defaults.host, !own_host),
        (
            "content-type",
            Some("application/json"),
            body.is_some() && !own_type,
        ),
    ] {
        if let (Some(value), true) = (value, add)
            && let Ok(value) = HeaderValue::from_str(value)
        {
            headers.push((HeaderName::from_static(name), value));
        }
    }
    Ok(VirtualRequest {
        method,
        uri,
        headers,
        body,
    })
}

/// The argument as an object with a `url` string: the first checks Sails
/// makes of a request, before the SDK's version (see
/// [`crate::sdk`]) and before anything else.
pub(crate) fn message(arg: Option<&Value>) -> Result<(&Map<String, Value>, &str), ParseError> {
    let Some(Value::Object(msg)) = arg else {
        return Err(ParseError::NotAnObject);
    };
    match msg.get("url") {
        None | Some(Value::Null) => Err(ParseError::NoUrl),
        Some(Value::String(url)) if url.is_empty() => Err(ParseError::NoUrl),
        Some(Value::String(url)) => Ok((msg, url)),
        Some(other) => Err(ParseError::BadUrl(other.to_string())),
    }
}

/// The method: the event's name, or for `request` the argument's `method`.
fn method(event: &str, field: Option<&Value>) -> Result<Method, ParseError> {
    let name = match (event, field) {
        ("request", Some(Value::String(m))) => m.to_ascii_lowercase(),
        ("request", other) => {
            let shown = other.map_or("undefined".to_string(), Value::to_string);
            return Err(ParseError::BadMethod(shown));
        }
        (event, _) => event.to_string(),
    };
    match name.as_str() {
        "get" => Ok(Method::GET),
        "post" => Ok(Method::POST),
        "put" => Ok(Method::PUT),
        "patch" => Ok(Method::PATCH),
        "delete" => Ok(Method::DELETE),
        "options" => Ok(Method::OPTIONS),
        "head" => Ok(Method::HEAD),
        _ => Err(ParseError::BadMethod(name)),
    }
}

/// Sails' body: an array `data` as it is; otherwise `params` then `data`
/// merged into one object (`data` wins), or a lone non-object `data`.
fn data(msg: &Map<String, Value>) -> Value {
    let data = msg.get("data").filter(|d| !d.is_null());
    let params = msg.get("params").filter(|p| !p.is_null());
    match (params, data) {
        (_, Some(Value::Array(items))) => Value::Array(items.clone()),
        (Some(Value::Object(p)), Some(Value::Object(d))) => {
            let mut merged = p.clone();
            merged.extend(d.iter().map(|(k, v)| (k.clone(), v.clone())));
            Value::Object(merged)
        }
        (_, Some(data)) => data.clone(),
        (Some(params), None) => params.clone(),
        (None, None) => Value::Null,
    }
}

/// `data`'s fields as a query string: strings as they are, other values as JSON.
fn query_of(fields: &Map<String, Value>) -> String {
    let mut query = String::new();
    for (key, value) in fields {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            other => other.to_string(),
        };
        if !query.is_empty() {
            query.push('&');
        }
        encode_component(key, &mut query);
        query.push('=');
        encode_component(&text, &mut query);
    }
    query
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_component(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// The request target: the path and query of `url` (an absolute URL's
/// scheme and host dropped), bytes no URI may hold percent-encoded, and
/// `extra` query parameters appended.
fn uri(url: &str, extra: &str) -> Result<Uri, ParseError> {
    let bad = || ParseError::BadUrl(url.to_string());
    let target = match url.split_once("://") {
        Some((scheme, rest)) if scheme.bytes().all(|b| b.is_ascii_alphabetic()) => {
            rest.find('/').map_or("/", |i| &rest[i..])
        }
        _ => url,
    };
    let target = target.split('#').next().unwrap_or_default();
    let mut text = String::with_capacity(target.len() + extra.len() + 2);
    if !target.starts_with('/') {
        text.push('/');
    }
    for byte in target.bytes() {
        if byte.is_ascii_graphic() {
            text.push(byte as char);
        } else {
            text.push_str(&format!("%{byte:02X}"));
        }
    }
    if !extra.is_empty() {
        text.push(if text.contains('?') { '&' } else { '?' });
        text.push_str(extra);
    }
    let uri: Uri = text.parse().map_err(|_| bad())?;
    // Only a path and query: never an authority smuggled in by `//host`.
    if uri.authority().is_some() || uri.scheme().is_some() {
        return Err(bad());
    }
    Ok(uri)
}

/// The argument's `headers` object: strings as they are, numbers and
/// booleans as text, `null` left out.
fn headers(field: Option<&Value>) -> Result<Vec<(HeaderName, HeaderValue)>, ParseError> {
    let fields = match field {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(fields)) => fields,
        Some(other) => return Err(ParseError::BadHeader(other.to_string())),
    };
    let mut headers = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            other => return Err(ParseError::BadHeader(format!("{name}: {other}"))),
        };
        let bad = || ParseError::BadHeader(name.clone());
        let name =
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_str(&text).map_err(|_| bad())?;
        headers.push((name, value));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(event: &str, arg: Value) -> VirtualRequest {
        parse(event, Some(&arg), Defaults::default(), 1000).unwrap()
    }

    fn refused(event: &str, arg: Option<Value>) -> Refused {
        parse(event, arg.as_ref(), Defaults::default(), 1000).unwrap_err()
    }

    fn header<'a>(req: &'a VirtualRequest, name: &str) -> Option<&'a str> {
        let found = req.headers.iter().find(|(n, _)| n.as_str() == name);
        found.map(|(_, v)| v.to_str().unwrap())
    }

    #[test]
    fn get_data_becomes_query_parameters() {
        let req = ok(
            "get",
            json!({"url": "/a?x=1", "data": {"b": "two words", "n": 3, "z": null}}),
        );
        assert_eq!(req.method, Method::GET);
        assert_eq!(req.uri, "/a?x=1&b=two%20words&n=3");
        assert_eq!(req.body, None);
        assert_eq!(header(&req, "content-type"), None);
    }

    #[test]
    fn post_data_is_the_json_body_and_params_merge_under_it() {
        let req = ok(
            "post",
            json!({"url": "/a", "params": {"a": 1, "b": 1}, "data": {"b": 2}}),
        );
        assert_eq!(req.method, Method::POST);
        assert_eq!(req.body.as_deref(), Some(br#"{"a":1,"b":2}"#.as_slice()));
        assert_eq!(header(&req, "content-type"), Some("application/json"));
        let array = ok(
            "put",
            json!({"url": "/a", "params": {"a": 1}, "data": [1, 2]}),
        );
        assert_eq!(array.body.as_deref(), Some(b"[1,2]".as_slice()));
        let empty = ok("patch", json!({"url": "/a"}));
        assert_eq!(empty.body.as_deref(), Some(b"{}".as_slice()));
    }

    #[test]
    fn the_generic_event_takes_the_method_from_the_argument() {
        let req = ok("request", json!({"method": "DELETE", "url": "/r/1"}));
        assert_eq!(req.method, Method::DELETE);
        assert!(matches!(
            refused("request", Some(json!({"method": "brew", "url": "/"}))),
            Refused::Parse(ParseError::BadMethod(m)) if m == "brew"
        ));
        assert!(matches!(
            refused("request", Some(json!({"url": "/"}))),
            Refused::Parse(ParseError::BadMethod(_))
        ));
    }

    #[test]
    fn bad_arguments_are_sails_parse_errors() {
        let parse_error = |arg| match refused("get", arg) {
            Refused::Parse(e) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(parse_error(None), ParseError::NotAnObject);
        assert_eq!(parse_error(Some(json!("/a"))), ParseError::NotAnObject);
        assert_eq!(parse_error(Some(json!({}))), ParseError::NoUrl);
        assert_eq!(parse_error(Some(json!({"url": ""}))), ParseError::NoUrl);
        assert_eq!(
            parse_error(Some(json!({"url": 42}))),
            ParseError::BadUrl("42".into())
        );
        assert!(matches!(
            parse_error(Some(json!({"url": "/", "headers": {"bad name": "x"}}))),
            ParseError::BadHeader(_)
        ));
        assert!(matches!(
            parse_error(Some(json!({"url": "/", "headers": "x"}))),
            ParseError::BadHeader(_)
        ));
    }

    #[test]
    fn urls_keep_path_and_query_only() {
        assert_eq!(
            ok("get", json!({"url": "http://h:1/p?q=1#f"})).uri,
            "/p?q=1"
        );
        assert_eq!(ok("get", json!({"url": "p"})).uri, "/p");
        // A path that looks like a host stays a path: no authority is ever set.
        let double = ok("get", json!({"url": "//evil.example/x"})).uri;
        assert_eq!(
            (double.path(), double.authority()),
            ("//evil.example/x", None)
        );
        assert_eq!(ok("get", json!({"url": "/é x"})).uri, "/%C3%A9%20x");
    }

    #[test]
    fn handshake_headers_sit_under_the_request_own_but_origin_is_always_the_handshake() {
        let defaults = Defaults {
            cookie: Some("sid=1"),
            origin: Some("http://app"),
            host: Some("h:3000"),
        };
        let arg = json!({"url": "/", "headers": {"origin": "http://evil", "x-n": 5}});
        let req = parse("get", Some(&arg), defaults, 100).unwrap();
        assert_eq!(header(&req, "cookie"), Some("sid=1"));
        assert_eq!(header(&req, "origin"), Some("http://app"));
        assert_eq!(header(&req, "host"), Some("h:3000"));
        assert_eq!(header(&req, "x-n"), Some("5"));
        let arg = json!({"url": "/", "headers": {"Cookie": "mine=2"}});
        let own = parse("get", Some(&arg), defaults, 100).unwrap();
        assert_eq!(header(&own, "cookie"), Some("mine=2"));
    }

    #[test]
    fn a_body_over_the_limit_is_refused() {
        let arg = json!({"url": "/", "data": {"big": "x".repeat(2000)}});
        assert_eq!(refused("post", Some(arg)), Refused::TooLarge);
    }
}
