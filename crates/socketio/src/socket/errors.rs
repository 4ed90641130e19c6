//! Why an emit, an ack or a packet was refused: [`EmitError`], [`AckError`],
//! [`MiddlewareError`], and the reserved-name rule every emit checks. Plain
//! data; the messages are socket.io's where it has one. Names no socket.

use serde_json::Value;
use switchyard_core::protocol::RESERVED_EVENTS;

/// Why an emit was refused. The messages are socket.io's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// socket.io reserves this name (`connect`, `disconnect`, ...); the
    /// message is socket.io's: `"connect" is a reserved event name`.
    #[error("\"{0}\" is a reserved event name")]
    Reserved(String),
    /// The socket has disconnected; nothing was sent. socket.io's server
    /// drops such an emit without a word; the message is the one its client
    /// gives for the same case, `socket has been disconnected`.
    #[error("socket has been disconnected")]
    Disconnected,
}

/// Why an emit with ack did not get its answer. The messages are
/// socket.io's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// No answer within the timeout (socket.io's `operation has timed out`).
    #[error("operation has timed out")]
    Timeout,
    /// The socket disconnected before answering. socket.io's server waits
    /// for its timeout then; the message is the one socket.io's client
    /// gives an ack cut short this way, `socket has been disconnected`.
    #[error("socket has been disconnected")]
    Disconnected,
    /// The socket has its maximum of acks awaited already
    /// (`max_pending_acks`); nothing was sent.
    #[error("too many acks awaited from this socket; nothing was sent")]
    TooManyPending,
    /// The emit itself was refused.
    #[error(transparent)]
    Emit(#[from] EmitError),
}

/// A middleware's refusal: a message and optional data for the client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct MiddlewareError {
    /// The error message (socket.io's `err.message`).
    pub message: String,
    /// Extra details for the client (socket.io's `err.data`).
    pub data: Option<Value>,
}

impl MiddlewareError {
    /// A refusal with `message` and no data.
    pub fn new(message: impl Into<String>) -> Self {
        MiddlewareError {
            message: message.into(),
            data: None,
        }
    }

    /// Attaches `data`, which a refused client reads as `err.data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

pub(crate) fn check_event(event: &str) -> Result<(), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::Reserved(event.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// socket.io's own strings, where it has one (`lib/socket.ts`, and
    /// socket.io-client's `lib/socket.ts` for a disconnected socket).
    #[test]
    fn emit_and_ack_errors_read_as_socket_io_s() {
        let reserved = check_event("disconnect").unwrap_err();
        assert_eq!(
            reserved.to_string(),
            r#""disconnect" is a reserved event name"#
        );
        let gone = EmitError::Disconnected;
        assert_eq!(gone.to_string(), "socket has been disconnected");
        assert_eq!(AckError::Timeout.to_string(), "operation has timed out");
        let cut = AckError::Disconnected;
        assert_eq!(cut.to_string(), "socket has been disconnected");
        assert_eq!(
            AckError::from(EmitError::Disconnected).to_string(),
            "socket has been disconnected"
        );
        assert_eq!(
            AckError::from(EmitError::Reserved("connect".into())).to_string(),
            r#""connect" is a reserved event name"#
        );
        // Not socket.io's (it has no such bound); callers look for "too many".
        assert_eq!(
            AckError::TooManyPending.to_string(),
            "too many acks awaited from this socket; nothing was sent"
        );
    }
}
