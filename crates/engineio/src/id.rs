//! Random identifiers for sessions and sockets (the layers above use them for
//! socket ids and adapter uids too).
//!
//! Owns: the per-thread pool of OS randomness ids are cut from. Must not
//! touch: where ids are used.

use std::cell::RefCell;

use base64::Engine as _;

/// Random bytes in one id: 120 bits, as socket.io's `base64id` (15 bytes).
const ID_BYTES: usize = 15;

/// Bytes fetched from the OS at once: 273 ids per `getrandom` call instead
/// of one call each (two per WebSocket connect: its sid and its socket id).
/// Node's `base64id` pools `crypto.randomBytes` the same way.
const POOL_BYTES: usize = ID_BYTES * 273;

/// Unused OS randomness of this thread; each byte is handed out once.
struct Pool {
    bytes: [u8; POOL_BYTES],
    /// Bytes before this index are used up.
    used: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool { bytes: [0; POOL_BYTES], used: POOL_BYTES })
    };
}

impl Pool {
    /// The next `ID_BYTES` unused random bytes, refilling from the OS when
    /// the pool is spent.
    fn take(&mut self) -> [u8; ID_BYTES] {
        if self.used + ID_BYTES > POOL_BYTES {
            // No OS randomness means no unpredictable ids: nothing sensible
            // to serve sessions with (what `uuid::new_v4` did too).
            getrandom::fill(&mut self.bytes).expect("the OS random source");
            self.used = 0;
        }
        let mut id = [0; ID_BYTES];
        id.copy_from_slice(&self.bytes[self.used..self.used + ID_BYTES]);
        // Not handed out twice, and not left readable once used.
        self.bytes[self.used..self.used + ID_BYTES].fill(0);
        self.used += ID_BYTES;
        id
    }
}

/// 20 random base64url characters (15 random bytes), like socket.io's `base64id`.
pub fn random_id() -> String {
    let raw = POOL.with(|pool| pool.borrow_mut().take());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_20_url_safe_chars_and_distinct() {
        let a = random_id();
        let b = random_id();
        assert_eq!(a.len(), 20);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn ids_stay_distinct_across_pool_refills() {
        let n = 3 * POOL_BYTES / ID_BYTES + 7;
        let ids: HashSet<String> = (0..n).map(|_| random_id()).collect();
        assert_eq!(ids.len(), n);
    }
}
