//! Rooms: which connections' outboxes a `fanout` goes to. Owns the membership lists; knows
//! nothing of frame contents. One lock, shared by every thread, held only to copy a frame handle
//! into each member's queue (no I/O and no waiting under it).

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

use crate::outbox::Outbox;

/// A connection in a room.
struct Member {
    conn: u64,
    outbox: Outbox,
}

/// Every room, by its raw name.
#[derive(Default)]
pub(crate) struct Rooms(Mutex<HashMap<Bytes, Vec<Member>>>);

impl Rooms {
    /// Adds connection `conn` to `room`; false when it was already a member.
    pub(crate) fn join(&self, room: &[u8], conn: u64, outbox: &Outbox) -> bool {
        let mut rooms = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let members = rooms.entry(Bytes::copy_from_slice(room)).or_default();
        if members.iter().any(|m| m.conn == conn) {
            return false;
        }
        members.push(Member {
            conn,
            outbox: outbox.clone(),
        });
        true
    }

    /// Queues the same `frame` (one shared buffer) to every member of `room` that has room for
    /// it, and returns the outboxes of those that had none (to be waited on without the lock).
    pub(crate) fn broadcast(&self, room: &[u8], frame: &Bytes) -> Vec<Outbox> {
        let rooms = self.0.lock().unwrap_or_else(|e| e.into_inner());
        rooms
            .get(room)
            .into_iter()
            .flatten()
            .filter(|member| member.outbox.try_push(frame.clone()).is_err())
            .map(|member| member.outbox.clone())
            .collect()
    }

    /// Removes connection `conn` from each of `rooms`; empty rooms go.
    pub(crate) fn leave_all(&self, rooms: &[Bytes], conn: u64) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for room in rooms {
            if let Some(members) = all.get_mut(room) {
                members.retain(|m| m.conn != conn);
                if members.is_empty() {
                    all.remove(room);
                }
            }
        }
    }
}
