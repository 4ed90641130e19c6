//! [`BroadcastOptions`]: which sockets an operator reaches, as plain data that
//! the room registry and every adapter read alike. Owns no behaviour.

/// Which sockets a broadcast (or a bulk operation) is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// Only sockets in any of these rooms (all sockets when empty).
    pub rooms: Vec<String>,
    /// Not sockets in any of these rooms.
    pub except: Vec<String>,
    /// Not this socket (the sender, for `socket.broadcast` / `socket.to`).
    pub except_id: Option<String>,
    /// Drop for clients that cannot take the packet right now (counted).
    pub volatile: bool,
    /// Compress where the transport negotiated it.
    pub compress: bool,
    /// This node only, even once an adapter spans several.
    pub local: bool,
}
