//! Which Socket.IO parser a server speaks: the names it is configured by.
//! The codecs themselves are in [`packet`](super::packet) (JSON) and
//! [`msgpack`](super::msgpack).

use std::fmt;
use std::str::FromStr;

/// The Socket.IO parser (packet encoding) of a whole server; a client must
/// be set up with the same one, as with socket.io's `parser` option.
///
/// ```
/// use switchyard_core::protocol::Parser;
///
/// assert_eq!("msgpack".parse::<Parser>(), Ok(Parser::Msgpack));
/// assert_eq!(Parser::default(), Parser::Json);
/// assert_eq!(Parser::Msgpack.to_string(), "msgpack");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parser {
    /// socket.io's default parser (`socket.io-parser`): a text message per
    /// packet, then one binary message per attachment.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: each packet is one binary message, the
    /// msgpack map `{type, nsp, data, id}`, binary values inline. Clients
    /// must use that parser (`parser: require("socket.io-msgpack-parser")`).
    Msgpack,
}

/// A parser name that is neither `json` nor `msgpack`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown parser {0:?} (expected \"json\" or \"msgpack\")")]
pub struct UnknownParser(pub String);

impl FromStr for Parser {
    type Err = UnknownParser;

    fn from_str(name: &str) -> Result<Parser, UnknownParser> {
        match name {
            "json" => Ok(Parser::Json),
            "msgpack" => Ok(Parser::Msgpack),
            other => Err(UnknownParser(other.to_owned())),
        }
    }
}

impl fmt::Display for Parser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Parser::Json => "json",
            Parser::Msgpack => "msgpack",
        })
    }
}
