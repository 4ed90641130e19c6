//! Counters of one Engine.IO endpoint: what was opened, and what was
//! dropped or cut off and why. Nothing is lost without a counter saying so.
//!
//! Owns: the counters. Must not touch: the decisions they count.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The counters, updated by the sessions; read them with [`snapshot`](Self::snapshot).
#[derive(Debug, Default)]
pub struct EngineStats {
    sessions_opened: AtomicU64,
    volatile_dropped: AtomicU64,
    overflow_closed: AtomicU64,
    upcall_overflow_closed: AtomicU64,
    refused_sessions_per_ip: AtomicU64,
    refused_handshake_rate: AtomicU64,
    refused_origin: AtomicU64,
    /// Open sessions on HTTP long-polling now (a gauge, not a counter).
    polling: AtomicU64,
}

/// A point-in-time copy of [`EngineStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Sessions opened (handshakes answered) since the endpoint started.
    pub sessions_opened: u64,
    /// Volatile packets dropped because the transport was not writable.
    pub volatile_dropped: u64,
    /// Sessions closed because their outgoing queue went over its bound (or
    /// their mailbox was full for an outgoing packet).
    pub overflow_closed: u64,
    /// Sessions closed because their mailbox was full for an upcall.
    pub upcall_overflow_closed: u64,
    /// Handshakes refused: the address held its maximum of live sessions.
    pub refused_sessions_per_ip: u64,
    /// Handshakes refused: the address handshook faster than allowed.
    pub refused_handshake_rate: u64,
    /// WebSocket handshakes refused: their `Origin` is not allowed.
    pub refused_origin: u64,
}

impl EngineStats {
    pub(super) fn count_open(&self) {
        self.sessions_opened.fetch_add(1, Relaxed);
    }

    pub(super) fn count_volatile_drop(&self) {
        self.volatile_dropped.fetch_add(1, Relaxed);
    }

    pub(super) fn count_overflow(&self) {
        self.overflow_closed.fetch_add(1, Relaxed);
    }

    pub(super) fn count_upcall_overflow(&self) {
        self.upcall_overflow_closed.fetch_add(1, Relaxed);
    }

    pub(super) fn count_refusal(&self, refusal: super::Refusal) {
        let counter = match refusal {
            super::Refusal::TooManySessions => &self.refused_sessions_per_ip,
            super::Refusal::TooManyHandshakes => &self.refused_handshake_rate,
        };
        counter.fetch_add(1, Relaxed);
    }

    pub(super) fn count_refused_origin(&self) {
        self.refused_origin.fetch_add(1, Relaxed);
    }

    pub(super) fn polling_opened(&self) {
        self.polling.fetch_add(1, Relaxed);
    }

    pub(super) fn polling_ended(&self) {
        // Never below zero, whatever the order of the calls.
        let _ = self
            .polling
            .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
    }

    /// Open sessions on HTTP long-polling right now (those not upgraded).
    pub fn polling_sessions(&self) -> u64 {
        self.polling.load(Relaxed)
    }

    /// The current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            sessions_opened: self.sessions_opened.load(Relaxed),
            volatile_dropped: self.volatile_dropped.load(Relaxed),
            overflow_closed: self.overflow_closed.load(Relaxed),
            upcall_overflow_closed: self.upcall_overflow_closed.load(Relaxed),
            refused_sessions_per_ip: self.refused_sessions_per_ip.load(Relaxed),
            refused_handshake_rate: self.refused_handshake_rate.load(Relaxed),
            refused_origin: self.refused_origin.load(Relaxed),
        }
    }
}
