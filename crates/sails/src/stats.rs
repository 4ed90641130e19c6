//! What virtual requests were answered with: one counter per HTTP status,
//! bumped where the dispatcher answers (refusals included), read with
//! [`Sails::counters`](crate::Sails::counters).
//!
//! Owns: the counters. Must not touch: how a request is answered.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The statuses counted one by one: 100 to 599 (what `http::StatusCode` allows).
const FIRST: u16 = 100;
const COUNT: usize = 500;

/// Answers by status; a fixed array, so counting is one atomic add.
#[derive(Debug)]
pub(crate) struct RequestStats {
    by_status: Box<[AtomicU64; COUNT]>,
}

impl Default for RequestStats {
    fn default() -> Self {
        RequestStats {
            by_status: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }
}

impl RequestStats {
    /// One request answered with `status`.
    pub fn count(&self, status: u16) {
        if let Some(counter) = status
            .checked_sub(FIRST)
            .and_then(|i| self.by_status.get(usize::from(i)))
        {
            counter.fetch_add(1, Relaxed);
        }
    }

    pub fn snapshot(&self) -> RequestCounters {
        let by_status = (FIRST..)
            .zip(self.by_status.iter())
            .map(|(status, n)| (status, n.load(Relaxed)))
            .filter(|&(_, n)| n > 0)
            .collect();
        RequestCounters { by_status }
    }
}

/// Virtual requests answered since start, by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestCounters {
    /// `(status, requests)` for every status answered at least once,
    /// lowest first: 200 from a route, 404 where none matched, 400 for a
    /// request that did not parse, 413, 429 (`vr_max_in_flight`), 5xx.
    pub by_status: Vec<(u16, u64)>,
}

impl RequestCounters {
    /// Requests answered with `status`.
    pub fn get(&self, status: u16) -> u64 {
        self.by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_status_and_ignores_impossible_ones() {
        let stats = RequestStats::default();
        stats.count(200);
        stats.count(200);
        stats.count(404);
        stats.count(99);
        stats.count(600);
        let counters = stats.snapshot();
        assert_eq!(counters.by_status, [(200, 2), (404, 1)]);
        assert_eq!(counters.get(404), 1);
        assert_eq!(counters.get(500), 0);
    }
}
