//! The process-wide counters, printed as one `counters {...}` line at exit (SIGTERM / SIGINT),
//! so that a run's log says what was refused or dropped. Owns only the numbers.

use std::sync::atomic::{AtomicU64, Ordering};

/// One counter.
pub(crate) struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    pub(crate) fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// WebSocket sessions opened (handshake answered with 101).
pub(crate) static SESSIONS: Counter = Counter::new();
/// HTTP requests answered with 400 (polling, other paths, bad handshakes).
pub(crate) static REFUSED: Counter = Counter::new();
/// Frames not queued because a connection's outbox was full (the drop policy).
pub(crate) static DROPPED: Counter = Counter::new();
/// Sessions closed because no pong came within the ping timeout.
pub(crate) static PING_TIMEOUTS: Counter = Counter::new();
/// Frames of a shape this peer does not handle, ignored.
pub(crate) static IGNORED: Counter = Counter::new();

/// The exit line's JSON object.
pub(crate) fn json() -> String {
    format!(
        "{{\"sessions\":{},\"refused\":{},\"dropped\":{},\"ping_timeouts\":{},\"ignored\":{}}}",
        SESSIONS.get(),
        REFUSED.get(),
        DROPPED.get(),
        PING_TIMEOUTS.get(),
        IGNORED.get()
    )
}
