//! Hash tables that give memory back once mostly empty: the one rule for
//! when a map or set that shrinks is worth reallocating, used by the
//! session registry here and by the room index in the Socket.IO layer.
//!
//! Owns: the rule (halve once a quarter full; small tables stay). Must not
//! touch: when a caller removes entries, or any table's contents.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

/// Tables of at most this capacity are not worth a reallocation.
pub const SMALL_TABLE: usize = 64;

/// The capacity to shrink a table of `len` entries and `capacity` to, if
/// any: halved to twice its entries once a quarter full, which leaves room
/// to grow before the next reallocation, so a size that moves up and down
/// does not reallocate on every change. Tables of at most [`SMALL_TABLE`]
/// are left as they are.
///
/// ```
/// use switchyard_engineio::sparse::shrunk_capacity;
///
/// assert_eq!(shrunk_capacity(31, 128), Some(62));
/// assert_eq!(shrunk_capacity(40, 128), None);
/// ```
pub fn shrunk_capacity(len: usize, capacity: usize) -> Option<usize> {
    (capacity > SMALL_TABLE && len < capacity / 4).then_some(len * 2)
}

/// A map or set that gives memory back once it is mostly empty: after a
/// crowd has come and gone, a table would otherwise keep the capacity its
/// peak needed, for good. Call it after removing entries.
///
/// ```
/// use std::collections::HashMap;
/// use switchyard_engineio::sparse::{SMALL_TABLE, Sparse};
///
/// let mut map: HashMap<u32, ()> = (0..10_000).map(|i| (i, ())).collect();
/// map.retain(|&i, _| i < 10);
/// map.shrink_if_sparse();
/// assert!(map.capacity() <= SMALL_TABLE);
/// ```
pub trait Sparse {
    /// Shrinks the table by [`shrunk_capacity`]'s rule, if it says so.
    fn shrink_if_sparse(&mut self);
}

impl<K: Eq + Hash, V, S: BuildHasher> Sparse for HashMap<K, V, S> {
    fn shrink_if_sparse(&mut self) {
        if let Some(to) = shrunk_capacity(self.len(), self.capacity()) {
            self.shrink_to(to);
        }
    }
}

impl<K: Eq + Hash, S: BuildHasher> Sparse for HashSet<K, S> {
    fn shrink_if_sparse(&mut self) {
        if let Some(to) = shrunk_capacity(self.len(), self.capacity()) {
            self.shrink_to(to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_shrinks_once_a_quarter_full_and_small_ones_stay() {
        assert_eq!(shrunk_capacity(10, 64), None);
        assert_eq!(shrunk_capacity(40, 128), None);
        assert_eq!(shrunk_capacity(31, 128), Some(62));
        assert_eq!(shrunk_capacity(0, 1024), Some(0));
    }

    /// Removing a crowd one at a time, shrinking after each, ends with a
    /// small table, and a table a little under its peak is not reallocated.
    #[test]
    fn after_a_crowd_has_gone_a_map_and_a_set_are_small_again() {
        let mut map: HashMap<u32, ()> = (0..5_000).map(|i| (i, ())).collect();
        let mut set: HashSet<u32> = (0..5_000).collect();
        let peak = (map.capacity(), set.capacity());
        map.remove(&0);
        map.shrink_if_sparse();
        assert_eq!(map.capacity(), peak.0, "still nearly full");
        for i in 1..5_000 {
            map.remove(&i);
            map.shrink_if_sparse();
            set.remove(&i);
            set.shrink_if_sparse();
        }
        assert!(map.is_empty() && set.len() == 1);
        assert!(
            map.capacity() <= SMALL_TABLE,
            "{} of {}",
            map.capacity(),
            peak.0
        );
        assert!(
            set.capacity() <= SMALL_TABLE,
            "{} of {}",
            set.capacity(),
            peak.1
        );
    }
}
