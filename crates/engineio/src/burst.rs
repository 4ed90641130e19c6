//! Log lines for events that come in bursts (refusals a client can cause
//! as fast as it likes): one line a second at most, saying how many were
//! left out. Plain data; the caller passes the time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When a burst was last logged, and how many since.
#[derive(Debug, Default)]
pub struct Burst(Mutex<(Option<Instant>, u64)>);

impl Burst {
    /// Counts one event at `now`; `Some(n)` when a line is due, with `n`
    /// the events since the last line, this one included.
    pub fn event(&self, now: Instant) -> Option<u64> {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.1 += 1;
        let due = state
            .0
            .is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1));
        if !due {
            return None;
        }
        let n = state.1;
        *state = (Some(now), 0);
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_with_the_count() {
        let burst = Burst::default();
        let t = Instant::now();
        assert_eq!(burst.event(t), Some(1));
        for _ in 0..99 {
            assert_eq!(burst.event(t + Duration::from_millis(500)), None);
        }
        assert_eq!(burst.event(t + Duration::from_secs(1)), Some(100));
        assert_eq!(burst.event(t + Duration::from_millis(1500)), None);
    }
}
