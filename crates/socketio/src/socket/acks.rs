//! A socket's pending acks: who waits for the client's answer to each ack id.
//!
//! Shared by every handle of the socket (behind a mutex), so whoever writes
//! a packet that asks for an ack records the wait *before* the packet leaves,
//! on the caller's own thread, and the packet keeps its place in the
//! client's order. Plain data: no actors, no timers. A wait nobody listens
//! to any more (its emit timed out, its broadcast finished) is pruned as the
//! table grows, so the table stays proportional to the live waits.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};

use super::Payload;

/// Who waits for one ack id.
pub(crate) enum Waiter {
    /// One emit; dropped unanswered when the socket goes.
    Single(oneshot::Sender<Payload>),
    /// A broadcast collecting every target's answer. Unbounded, yet bounded
    /// by construction: each target holds one entry and answers at most once.
    Broadcast(mpsc::UnboundedSender<Payload>),
}

impl Waiter {
    fn is_closed(&self) -> bool {
        match self {
            Waiter::Single(tx) => tx.is_closed(),
            Waiter::Broadcast(tx) => tx.is_closed(),
        }
    }
}

/// Why a wait was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckRefused {
    /// The socket is gone: nothing will answer.
    Closed,
    /// The socket has its maximum of waits already.
    Full,
}

#[derive(Default)]
struct Table {
    waiting: HashMap<u64, Waiter>,
    /// Size at which abandoned waits are next pruned.
    prune_at: usize,
    closed: bool,
}

/// The pending acks of one socket.
#[derive(Default)]
pub(crate) struct Acks(Mutex<Table>);

/// Smallest table size at which pruning is worth a pass.
const PRUNE_MIN: usize = 64;

impl Acks {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a wait for `id`, with at most `max` waits at once (0: no
    /// bound); refused when the socket is gone or at its bound.
    pub fn insert(&self, id: u64, waiter: Waiter, max: usize) -> Result<(), AckRefused> {
        let mut t = self.table();
        if t.closed {
            return Err(AckRefused::Closed);
        }
        let full = max > 0 && t.waiting.len() >= max;
        if full || t.waiting.len() >= t.prune_at.max(PRUNE_MIN) {
            // Amortised O(1): a pass happens only after the table doubled,
            // or when at the bound (where abandoned waits must not count).
            t.waiting.retain(|_, w| !w.is_closed());
            t.prune_at = 2 * t.waiting.len();
        }
        if max > 0 && t.waiting.len() >= max {
            return Err(AckRefused::Full);
        }
        t.waiting.insert(id, waiter);
        Ok(())
    }

    /// The client answered `id`; unknown or repeated answers are ignored.
    pub fn answer(&self, id: u64, payload: Payload) {
        let waiter = self.table().waiting.remove(&id);
        match waiter {
            Some(Waiter::Single(tx)) => drop(tx.send(payload)),
            Some(Waiter::Broadcast(tx)) => drop(tx.send(payload)),
            None => {}
        }
    }

    /// The emit waiting for `id` gave up.
    pub fn forget(&self, id: u64) {
        self.table().waiting.remove(&id);
    }

    /// The socket is gone: every wait ends unanswered and new ones are refused.
    pub fn close(&self) {
        let mut t = self.table();
        t.closed = true;
        t.waiting.clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table().waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(n: i64) -> Payload {
        Payload::from(json!(n))
    }

    #[test]
    fn an_answer_reaches_its_waiter_once() {
        let acks = Acks::default();
        let (tx, mut rx) = oneshot::channel();
        assert!(acks.insert(7, Waiter::Single(tx), 0).is_ok());
        acks.answer(8, payload(0));
        acks.answer(7, payload(1));
        acks.answer(7, payload(2));
        assert_eq!(rx.try_recv().unwrap(), payload(1));
        assert_eq!(acks.len(), 0);
    }

    #[test]
    fn a_broadcast_collects_from_each_socket() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (a, b) = (Acks::default(), Acks::default());
        assert!(a.insert(1, Waiter::Broadcast(tx.clone()), 0).is_ok());
        assert!(b.insert(1, Waiter::Broadcast(tx), 0).is_ok());
        b.answer(1, payload(2));
        a.answer(1, payload(1));
        assert_eq!(rx.try_recv().unwrap(), payload(2));
        assert_eq!(rx.try_recv().unwrap(), payload(1));
        // Every target answered and dropped its sender: the collector sees the end.
        assert!(rx.try_recv().is_err() && rx.is_closed());
    }

    #[test]
    fn closing_ends_every_wait_and_refuses_new_ones() {
        let acks = Acks::default();
        let (tx, mut rx) = oneshot::channel();
        acks.insert(1, Waiter::Single(tx), 0).unwrap();
        acks.close();
        assert!(rx.try_recv().is_err());
        let (tx, _rx) = oneshot::channel();
        assert_eq!(
            acks.insert(2, Waiter::Single(tx), 0),
            Err(AckRefused::Closed)
        );
    }

    #[test]
    fn a_bound_refuses_waits_past_it_but_not_for_abandoned_ones() {
        let acks = Acks::default();
        let (a, _a) = oneshot::channel();
        let (b, b_rx) = oneshot::channel();
        acks.insert(1, Waiter::Single(a), 2).unwrap();
        acks.insert(2, Waiter::Single(b), 2).unwrap();
        let (c, _c) = oneshot::channel();
        assert_eq!(acks.insert(3, Waiter::Single(c), 2), Err(AckRefused::Full));
        // The emit waiting on 2 gave up: its place is free again.
        drop(b_rx);
        let (c, _c) = oneshot::channel();
        assert_eq!(acks.insert(3, Waiter::Single(c), 2), Ok(()));
    }

    #[test]
    fn abandoned_waits_are_pruned_as_the_table_grows() {
        let acks = Acks::default();
        let mut live = Vec::new();
        for id in 0..10_000u64 {
            let (tx, rx) = oneshot::channel();
            acks.insert(id, Waiter::Single(tx), 0).unwrap();
            // Every tenth wait is still listened to; the rest timed out.
            if id % 10 == 0 {
                live.push(rx);
            }
        }
        // Bounded by a constant times the live waits, not by all ever made.
        assert!(
            acks.len() <= 2 * live.len() + PRUNE_MIN + 1,
            "{}",
            acks.len()
        );
    }
}
