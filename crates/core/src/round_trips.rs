//! How long an adapter's requests to the other nodes took (fetchSockets,
//! serverSideEmit with an ack, broadcasts with acks), as a histogram with fixed buckets: cheap
//! atomics to record, a plain copy to read.
//!
//! Owns: the buckets and the recording. Must not touch: what is timed
//! (the adapter decides) or how it is shown.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (a last one, +Inf, takes the
/// rest): from half a millisecond on loopback to the 5 s default timeout.
pub const ROUND_TRIP_BOUNDS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Records round trips; one per adapter, shared by its namespaces.
#[derive(Debug, Default)]
pub struct RoundTripRecorder {
    /// Per bucket (not cumulative); the last is +Inf.
    buckets: [AtomicU64; ROUND_TRIP_BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

impl RoundTripRecorder {
    /// One request that got every answer after `took`.
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = ROUND_TRIP_BOUNDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(ROUND_TRIP_BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> RoundTrips {
        RoundTrips {
            buckets: self.buckets.each_ref().map(|b| b.load(Relaxed)),
            sum_micros: self.sum_micros.load(Relaxed),
        }
    }
}

/// A copy of a [`RoundTripRecorder`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RoundTrips {
    /// Requests per bucket of [`ROUND_TRIP_BOUNDS`] (not cumulative), then
    /// those above the last bound.
    pub buckets: [u64; ROUND_TRIP_BOUNDS.len() + 1],
    /// Every round trip added up, in microseconds.
    pub sum_micros: u64,
}

impl RoundTrips {
    /// How many round trips were recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// `(upper bound in seconds, requests in that bucket)` for each bound,
    /// then `(+Inf, requests above the last bound)`. Not cumulative:
    /// Prometheus' `le` buckets add them up.
    pub fn by_bound(&self) -> Vec<(f64, u64)> {
        let bounds = ROUND_TRIP_BOUNDS.iter().copied().chain([f64::INFINITY]);
        bounds.zip(self.buckets).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_round_trip_lands_in_the_first_bucket_that_holds_it() {
        let recorder = RoundTripRecorder::default();
        recorder.observe(Duration::from_micros(300));
        recorder.observe(Duration::from_millis(1));
        recorder.observe(Duration::from_millis(7));
        recorder.observe(Duration::from_secs(9));
        let trips = recorder.snapshot();
        assert_eq!(trips.count(), 4);
        assert_eq!(trips.sum_micros, 300 + 1_000 + 7_000 + 9_000_000);
        let buckets = trips.by_bound();
        assert_eq!(buckets[0], (0.0005, 1));
        assert_eq!(buckets[1], (0.001, 1));
        assert_eq!(buckets[4], (0.01, 1));
        assert_eq!(buckets[12], (5.0, 0));
        assert_eq!(buckets[13], (f64::INFINITY, 1));
    }
}
