//! The room index: which members are in which rooms, and which members a
//! broadcast's options select. Plain data with no actors or I/O; the
//! RoomRegistry actor owns one per namespace.

use std::sync::Arc;

// Tables give memory back once mostly empty, by the Engine.IO layer's one rule.
use switchyard_engineio::sparse::Sparse;

use crate::socket::{BroadcastOptions, RoomSummary};

/// Fast hashing for the per-delivery lookups, randomly seeded: room names
/// can come from clients, so no fixed hash function.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

struct Entry<M> {
    value: M,
    rooms: HashSet<Arc<str>>,
}

/// Members (by id) and rooms (by name). Each member is in the room named
/// after its own id from the moment it is inserted until it is removed; a
/// room exists while it has members.
pub(crate) struct RoomIndex<M> {
    rooms: HashMap<Arc<str>, HashSet<Arc<str>>>,
    members: HashMap<Arc<str>, Entry<M>>,
    /// Rooms created (`true`, with whether the room is a member's own id)
    /// or gone (`false`) since last taken; kept only when asked for.
    changes: Option<Vec<RoomChange>>,
    /// Members that joined (`true`) or left (`false`) a room since last
    /// taken; kept only when asked for.
    memberships: Option<Vec<Membership>>,
}

/// A member that joined or left a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Membership {
    pub room: Arc<str>,
    pub id: Arc<str>,
    pub joined: bool,
}

/// A room that came to exist or ceased to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoomChange {
    pub room: Arc<str>,
    pub exists: bool,
    pub is_member_id: bool,
}

impl<M> Default for RoomIndex<M> {
    fn default() -> Self {
        RoomIndex {
            rooms: HashMap::default(),
            members: HashMap::default(),
            changes: None,
            memberships: None,
        }
    }
}

impl<M> RoomIndex<M> {
    /// From now on, keep the rooms created and gone for [`Self::take_changes`].
    pub fn track_changes(&mut self) {
        self.changes.get_or_insert_with(Vec::new);
    }

    /// The rooms created and gone since last asked, in order.
    pub fn take_changes(&mut self) -> Vec<RoomChange> {
        self.changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// From now on, keep who joined and left which room for [`Self::take_memberships`].
    pub fn track_memberships(&mut self) {
        self.memberships.get_or_insert_with(Vec::new);
    }

    /// Who joined and left which room since last asked, in order.
    pub fn take_memberships(&mut self) -> Vec<Membership> {
        self.memberships
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Adds a member, in the room of its own id.
    pub fn insert(&mut self, id: Arc<str>, value: M) {
        let entry = Entry {
            value,
            rooms: HashSet::default(),
        };
        if let Some(old) = self.members.insert(id.clone(), entry) {
            self.leave_all(&id, old.rooms);
        }
        self.join(&id, &id);
    }

    /// The member `id`, if present.
    pub fn get(&self, id: &str) -> Option<&M> {
        self.members.get(id).map(|e| &e.value)
    }

    /// Removes a member from every room.
    pub fn remove(&mut self, id: &str) -> Option<M> {
        let entry = self.members.remove(id)?;
        self.members.shrink_if_sparse();
        self.leave_all(id, entry.rooms);
        Some(entry.value)
    }

    fn leave_all(&mut self, id: &str, rooms: HashSet<Arc<str>>) {
        for room in rooms {
            self.remove_from_room(&room, id);
        }
    }

    /// Puts member `id` in `room`; nothing if it is not a member or already in.
    pub fn join(&mut self, id: &str, room: &str) {
        let Some((id, _)) = self.members.get_key_value(id) else {
            return;
        };
        let id = id.clone();
        // Share one allocation of the room name between both maps.
        let room: Arc<str> = self
            .rooms
            .get_key_value(room)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| room.into());
        let entry = self.members.get_mut(&id).expect("looked up above");
        if entry.rooms.insert(room.clone()) {
            if let Some(changes) = &mut self.changes
                && !self.rooms.contains_key(&room)
            {
                changes.push(RoomChange {
                    is_member_id: room == id,
                    room: room.clone(),
                    exists: true,
                });
            }
            if let Some(memberships) = &mut self.memberships {
                memberships.push(Membership {
                    room: room.clone(),
                    id: id.clone(),
                    joined: true,
                });
            }
            self.rooms.entry(room).or_default().insert(id);
        }
    }

    /// Whether member `id` may join `room` with at most `max` rooms besides
    /// its own (0: no bound). Rooms it is in already are always allowed.
    pub fn may_join(&self, id: &str, room: &str, max: usize) -> bool {
        let Some(entry) = self.members.get(id) else {
            return true;
        };
        max == 0 || entry.rooms.contains(room) || entry.rooms.len() <= max
    }

    /// Takes member `id` out of `room`; a room left empty is gone.
    pub fn leave(&mut self, id: &str, room: &str) {
        let Some(entry) = self.members.get_mut(id) else {
            return;
        };
        if entry.rooms.remove(room) {
            entry.rooms.shrink_if_sparse();
            self.remove_from_room(room, id);
        }
    }

    fn remove_from_room(&mut self, room: &str, id: &str) {
        if let Some(ids) = self.rooms.get_mut(room) {
            if let (Some(memberships), Some(key)) = (&mut self.memberships, ids.get(id)) {
                memberships.push(Membership {
                    room: room.into(),
                    id: key.clone(),
                    joined: false,
                });
            }
            ids.remove(id);
            ids.shrink_if_sparse();
            if ids.is_empty()
                && let Some((room, _)) = self.rooms.remove_entry(room)
            {
                self.rooms.shrink_if_sparse();
                if let Some(changes) = &mut self.changes {
                    let is_member_id = &*room == id;
                    changes.push(RoomChange {
                        room,
                        exists: false,
                        is_member_id,
                    });
                }
            }
        }
    }

    /// The rooms member `id` is in, sorted; empty for a non-member.
    pub fn rooms_of(&self, id: &str) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .members
            .get(id)
            .map(|e| e.rooms.iter().map(|r| r.to_string()).collect())
            .unwrap_or_default();
        rooms.sort();
        rooms
    }

    /// Calls `f` once for each member `opts` selects: in any of `opts.rooms`
    /// (everyone when empty), in none of `opts.except`, not `opts.except_id`.
    pub fn for_each_target<'a>(
        &'a self,
        opts: &BroadcastOptions,
        mut f: impl FnMut(&'a Arc<str>, &'a M),
    ) {
        let mut excluded: HashSet<&str> = HashSet::default();
        for room in &opts.except {
            if let Some(ids) = self.rooms.get(room.as_str()) {
                excluded.extend(ids.iter().map(|id| &**id));
            }
        }
        if let Some(id) = &opts.except_id {
            excluded.insert(id);
        }
        let mut visit = |id: &'a Arc<str>| {
            if !excluded.contains(&**id)
                && let Some(entry) = self.members.get(id)
            {
                f(id, &entry.value);
            }
        };
        match opts.rooms.as_slice() {
            [] => self.members.keys().for_each(visit),
            [room] => self
                .rooms
                .get(room.as_str())
                .into_iter()
                .flatten()
                .for_each(visit),
            several => {
                let mut seen: HashSet<&str> = HashSet::default();
                for id in several
                    .iter()
                    .filter_map(|room| self.rooms.get(room.as_str()))
                    .flatten()
                {
                    if seen.insert(id) {
                        visit(id);
                    }
                }
            }
        }
    }

    /// The ids of the members `opts` selects, each once.
    pub fn targets(&self, opts: &BroadcastOptions) -> Vec<Arc<str>> {
        let mut ids = Vec::new();
        self.for_each_target(opts, |id, _| ids.push(id.clone()));
        ids
    }

    /// Joined rooms with their sizes (not members' own-id rooms), and the member count.
    pub fn summary(&self) -> RoomSummary {
        let mut rooms: Vec<(String, usize)> = self
            .rooms
            .iter()
            // A member's own-id room is the one named after it, with it inside.
            .filter(|(r, ids)| !(self.members.contains_key(*r) && ids.contains(*r)))
            .map(|(r, ids)| (r.to_string(), ids.len()))
            .collect();
        rooms.sort();
        RoomSummary {
            rooms,
            sockets: self.members.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use switchyard_engineio::sparse::SMALL_TABLE;

    use super::*;

    fn index(ids: &[&str]) -> RoomIndex<()> {
        let mut index = RoomIndex::default();
        for id in ids {
            index.insert((*id).into(), ());
        }
        index
    }

    /// A crowd that came and went leaves neither the index nor the room it
    /// was in holding the tables its peak needed.
    #[test]
    fn after_a_crowd_has_gone_the_tables_are_small_again() {
        let ids: Vec<String> = (0..5_000).map(|i| format!("s{i}")).collect();
        let mut ix: RoomIndex<()> = RoomIndex::default();
        ix.insert("stays".into(), ());
        ix.join("stays", "lobby");
        for id in &ids {
            ix.insert(id.as_str().into(), ());
            ix.join(id, "lobby");
        }
        let peak = (
            ix.members.capacity(),
            ix.rooms.capacity(),
            ix.rooms["lobby"].capacity(),
        );
        for id in &ids {
            ix.remove(id);
        }
        assert_eq!(ix.members.len(), 1);
        assert!(
            ix.members.capacity() <= SMALL_TABLE,
            "{} of {}",
            ix.members.capacity(),
            peak.0
        );
        assert!(
            ix.rooms.capacity() <= SMALL_TABLE,
            "{} of {}",
            ix.rooms.capacity(),
            peak.1
        );
        assert!(
            ix.rooms["lobby"].capacity() <= SMALL_TABLE,
            "{} of {}",
            ix.rooms["lobby"].capacity(),
            peak.2
        );
        assert!(peak.2 >= 5_000);
        assert_eq!(
            ix.rooms_of("stays"),
            vec!["lobby".to_string(), "stays".to_string()]
        );
    }

    fn opts(rooms: &[&str], except: &[&str], except_id: Option<&str>) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            except: except.iter().map(|r| r.to_string()).collect(),
            except_id: except_id.map(String::from),
            ..BroadcastOptions::default()
        }
    }

    fn targets(index: &RoomIndex<()>, o: &BroadcastOptions) -> Vec<String> {
        let mut ids: Vec<String> = index.targets(o).iter().map(|i| i.to_string()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn room_changes_are_kept_only_when_tracked() {
        let mut untracked = index(&["a"]);
        untracked.join("a", "r");
        assert!(untracked.take_changes().is_empty());

        let mut index = RoomIndex::default();
        index.track_changes();
        index.insert("a".into(), ());
        index.insert("b".into(), ());
        index.join("a", "r");
        index.join("b", "r");
        let change = |room: &str, exists, is_member_id| RoomChange {
            room: room.into(),
            exists,
            is_member_id,
        };
        assert_eq!(
            index.take_changes(),
            [
                change("a", true, true),
                change("b", true, true),
                change("r", true, false)
            ]
        );
        index.leave("a", "r");
        assert!(index.take_changes().is_empty(), "b is still in r");
        index.remove("b");
        let mut gone = index.take_changes();
        gone.sort_by(|x, y| x.room.cmp(&y.room));
        assert_eq!(gone, [change("b", false, true), change("r", false, false)]);
    }

    #[test]
    fn members_start_in_their_own_room_and_leave_every_room_when_removed() {
        let mut ix = index(&["a", "b"]);
        ix.join("a", "r");
        ix.join("b", "r");
        assert_eq!(ix.rooms_of("a"), ["a", "r"]);
        assert!(ix.remove("a").is_some());
        assert!(ix.rooms_of("a").is_empty());
        assert_eq!(ix.summary().rooms, [("r".to_string(), 1)]);
        ix.remove("b");
        assert_eq!(ix.summary(), RoomSummary::default());
    }

    #[test]
    fn a_room_bound_leaves_out_the_own_id_room_and_rooms_already_joined() {
        let mut ix = index(&["a"]);
        assert!(ix.may_join("a", "r1", 2));
        ix.join("a", "r1");
        ix.join("a", "r2");
        assert!(!ix.may_join("a", "r3", 2));
        assert!(ix.may_join("a", "r2", 2), "already in");
        assert!(ix.may_join("a", "r3", 0), "no bound");
        ix.leave("a", "r1");
        assert!(ix.may_join("a", "r3", 2));
    }

    #[test]
    fn memberships_are_kept_in_order_when_tracked() {
        let mut index = RoomIndex::<()>::default();
        index.track_memberships();
        index.insert("a".into(), ());
        index.join("a", "r");
        index.join("a", "r");
        index.leave("a", "r");
        index.remove("a");
        let seen: Vec<(String, bool)> = (index.take_memberships().into_iter())
            .map(|m| (m.room.to_string(), m.joined))
            .collect();
        let expected = [("a", true), ("r", true), ("r", false), ("a", false)];
        assert_eq!(seen, expected.map(|(r, j)| (r.to_string(), j)));
        assert!(index.take_memberships().is_empty());
    }

    #[test]
    fn joining_twice_or_as_a_stranger_changes_nothing() {
        let mut ix = index(&["a"]);
        ix.join("a", "r");
        ix.join("a", "r");
        ix.join("nobody", "r");
        ix.leave("a", "elsewhere");
        assert_eq!(ix.summary().rooms, [("r".to_string(), 1)]);
    }

    #[test]
    fn targets_union_rooms_minus_except_and_sender() {
        let mut ix = index(&["a", "b", "c", "d"]);
        for (id, room) in [("a", "x"), ("b", "x"), ("b", "y"), ("c", "y"), ("d", "z")] {
            ix.join(id, room);
        }
        assert_eq!(targets(&ix, &opts(&[], &[], None)), ["a", "b", "c", "d"]);
        // b is in both rooms and is selected once.
        assert_eq!(targets(&ix, &opts(&["x", "y"], &[], None)), ["a", "b", "c"]);
        assert_eq!(targets(&ix, &opts(&["x", "y"], &["y"], None)), ["a"]);
        assert_eq!(targets(&ix, &opts(&[], &["z"], Some("a"))), ["b", "c"]);
        // A member's own id works as a room.
        assert_eq!(targets(&ix, &opts(&["c"], &[], None)), ["c"]);
        assert!(targets(&ix, &opts(&["nowhere"], &[], None)).is_empty());
    }

    #[test]
    fn a_summary_tells_own_id_rooms_from_joined_ones() {
        let mut ix = index(&["a", "b"]);
        let s = ix.summary();
        assert_eq!(s.sockets, 2);
        assert!(s.rooms.is_empty(), "{s:?}");
        ix.join("a", "lobby");
        assert_eq!(ix.summary().rooms, [("lobby".to_string(), 1)]);
    }
}
