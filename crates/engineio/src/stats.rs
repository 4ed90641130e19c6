//! Counters of one Engine.IO endpoint: what was opened, and what was
//! dropped or cut off and why. Nothing is lost without a counter saying so.
//!
//! Owns: the counters. Must not touch: the decisions they count.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::packet::{Frame, Packet, ProtocolVersion};

/// The counters, updated by the sessions; read them with [`snapshot`](Self::snapshot).
#[derive(Debug, Default)]
pub struct EngineStats {
    /// Sessions opened, by first transport (polling, websocket) then
    /// protocol version (3, 4): see [`SessionCounts`].
    opened: [[AtomicU64; 2]; 2],
    /// Sessions open now, by current transport then protocol version.
    open: [[AtomicU64; 2]; 2],
    upgrades: AtomicU64,
    packets_in: AtomicU64,
    bytes_in: AtomicU64,
    packets_out: AtomicU64,
    bytes_out: AtomicU64,
    volatile_dropped: AtomicU64,
    overflow_closed: AtomicU64,
    upcall_overflow_closed: AtomicU64,
    refused_sessions_per_ip: AtomicU64,
    refused_handshake_rate: AtomicU64,
    refused_origin: AtomicU64,
}

/// A point-in-time copy of [`EngineStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Sessions opened (handshakes answered) since the endpoint started.
    pub sessions_opened: u64,
    /// The same sessions by the transport they opened on and their protocol version.
    pub opened_by: SessionCounts,
    /// Sessions open now, by their transport now (an upgraded one counts as
    /// WebSocket) and their protocol version.
    pub open_by: SessionCounts,
    /// Polling sessions upgraded to WebSocket.
    pub upgrades: u64,
    /// Engine.IO packets received (pings, messages, ...; polling payloads
    /// counted per packet).
    pub packets_in: u64,
    /// Bytes of the packets received: type and data as decoded, before
    /// transport framing (payload separators, WebSocket headers, compression).
    pub bytes_in: u64,
    /// Engine.IO packets handed to a transport for writing.
    pub packets_out: u64,
    /// Bytes of the packets written, as [`bytes_in`](Self::bytes_in) counts them.
    pub bytes_out: u64,
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

/// Sessions by transport and Engine.IO protocol version (3: socket.io 2
/// clients, 4: socket.io 3+).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionCounts {
    /// Polling, protocol 3.
    pub polling_v3: u64,
    /// Polling, protocol 4.
    pub polling_v4: u64,
    /// WebSocket, protocol 3.
    pub websocket_v3: u64,
    /// WebSocket, protocol 4.
    pub websocket_v4: u64,
}

impl SessionCounts {
    /// Every session, whatever its transport and version.
    pub fn total(&self) -> u64 {
        self.polling_v3 + self.polling_v4 + self.websocket_v3 + self.websocket_v4
    }
}

/// Bytes a packet counts for in [`StatsSnapshot::bytes_in`]: its type and data.
fn packet_bytes(packet: &Packet) -> usize {
    1 + match packet {
        Packet::Open(data) | Packet::Ping(data) | Packet::Pong(data) | Packet::Message(data) => {
            data.len()
        }
        Packet::Binary(data) => data.len(),
        Packet::Close | Packet::Upgrade | Packet::Noop => 0,
    }
}

/// A version's index in the `[transport][version]` arrays.
fn v(version: ProtocolVersion) -> usize {
    usize::from(version == ProtocolVersion::V4)
}

impl EngineStats {
    pub(super) fn count_open(&self, websocket: bool, version: ProtocolVersion) {
        self.opened[usize::from(websocket)][v(version)].fetch_add(1, Relaxed);
        self.open[usize::from(websocket)][v(version)].fetch_add(1, Relaxed);
    }

    /// A polling session of `version` moved to WebSocket.
    pub(super) fn count_upgrade(&self, version: ProtocolVersion) {
        self.upgrades.fetch_add(1, Relaxed);
        self.open[1][v(version)].fetch_add(1, Relaxed);
        self.open[0][v(version)].fetch_sub(1, Relaxed);
    }

    /// A session ended (once per [`count_open`](Self::count_open)), on
    /// WebSocket if `websocket`.
    pub(super) fn count_close(&self, websocket: bool, version: ProtocolVersion) {
        self.open[usize::from(websocket)][v(version)].fetch_sub(1, Relaxed);
    }

    pub(super) fn count_in(&self, packet: &Packet) {
        self.packets_in.fetch_add(1, Relaxed);
        self.bytes_in
            .fetch_add(packet_bytes(packet) as u64, Relaxed);
    }

    pub(super) fn count_out<'a>(&self, frames: impl IntoIterator<Item = &'a Frame>) {
        let (mut packets, mut bytes) = (0, 0);
        for frame in frames {
            packets += 1;
            bytes += frame.len() as u64;
        }
        self.packets_out.fetch_add(packets, Relaxed);
        self.bytes_out.fetch_add(bytes, Relaxed);
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

    /// Open sessions on HTTP long-polling right now (those not upgraded).
    pub fn polling_sessions(&self) -> u64 {
        self.open[0].iter().map(|n| n.load(Relaxed)).sum()
    }

    /// The current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        let by = |counts: &[[AtomicU64; 2]; 2]| SessionCounts {
            polling_v3: counts[0][0].load(Relaxed),
            polling_v4: counts[0][1].load(Relaxed),
            websocket_v3: counts[1][0].load(Relaxed),
            websocket_v4: counts[1][1].load(Relaxed),
        };
        let opened_by = by(&self.opened);
        StatsSnapshot {
            sessions_opened: opened_by.total(),
            opened_by,
            open_by: by(&self.open),
            upgrades: self.upgrades.load(Relaxed),
            packets_in: self.packets_in.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            packets_out: self.packets_out.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            volatile_dropped: self.volatile_dropped.load(Relaxed),
            overflow_closed: self.overflow_closed.load(Relaxed),
            upcall_overflow_closed: self.upcall_overflow_closed.load(Relaxed),
            refused_sessions_per_ip: self.refused_sessions_per_ip.load(Relaxed),
            refused_handshake_rate: self.refused_handshake_rate.load(Relaxed),
            refused_origin: self.refused_origin.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_counted_by_transport_and_version_and_add_up() {
        let stats = EngineStats::default();
        stats.count_open(true, ProtocolVersion::V4);
        stats.count_open(true, ProtocolVersion::V4);
        stats.count_open(false, ProtocolVersion::V3);
        let s = stats.snapshot();
        let expected = SessionCounts {
            polling_v3: 1,
            websocket_v4: 2,
            ..SessionCounts::default()
        };
        assert_eq!(s.opened_by, expected);
        assert_eq!(s.sessions_opened, 3);
        // Open now: one closes on WebSocket, one moves from polling by upgrade.
        stats.count_close(true, ProtocolVersion::V4);
        stats.count_open(false, ProtocolVersion::V4);
        stats.count_upgrade(ProtocolVersion::V4);
        let open = stats.snapshot().open_by;
        let expected = SessionCounts {
            polling_v3: 1,
            websocket_v4: 2,
            ..SessionCounts::default()
        };
        assert_eq!(open, expected);
        // The admin UI's polling gauge is the polling part of it.
        assert_eq!(stats.polling_sessions(), 1);
    }

    #[test]
    fn packets_count_their_type_and_data() {
        let stats = EngineStats::default();
        stats.count_in(&Packet::Message("hello".into()));
        stats.count_in(&Packet::Ping(String::new()));
        stats.count_out([
            &Frame::Text("4hi".into()),
            &Frame::Binary(vec![1, 2].into()),
        ]);
        let s = stats.snapshot();
        assert_eq!((s.packets_in, s.bytes_in), (2, 6 + 1));
        assert_eq!((s.packets_out, s.bytes_out), (2, 3 + 2));
    }
}
