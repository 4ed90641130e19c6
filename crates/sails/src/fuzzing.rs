//! The virtual-request parser's entry point for the fuzz crate in `fuzz/`,
//! and nothing else. Built only with the `fuzzing` feature; the parser stays
//! `pub(crate)`, and this wraps it in plain types.

use serde_json::Value;

use crate::request;

/// A virtual request as `sails::request::parse` reads it, in plain types:
/// the method, the request target, the headers and the JSON body.
#[derive(Debug)]
pub struct VirtualRequest {
    /// Upper-case method name.
    pub method: String,
    /// The path and query.
    pub uri: String,
    /// Lower-case names and their values' bytes, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The JSON body, if the request has one.
    pub body: Option<Vec<u8>>,
}

/// `sails::request::parse` of event `event`'s first argument `arg`, with a
/// handshake that set a cookie, an origin and a host; `Err` carries the
/// refusal.
pub fn sails_parse(
    event: &str,
    arg: Option<&Value>,
    max_body: usize,
) -> Result<VirtualRequest, String> {
    let defaults = request::Defaults {
        cookie: Some("sid=handshake"),
        origin: Some("http://origin.test"),
        host: Some("host.test"),
    };
    let req = request::parse(event, arg, defaults, max_body).map_err(|e| format!("{e:?}"))?;
    Ok(VirtualRequest {
        method: req.method.to_string(),
        uri: req.uri.to_string(),
        headers: (req.headers.into_iter())
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect(),
        body: req.body,
    })
}
