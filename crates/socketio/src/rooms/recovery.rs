//! Connection state recovery in the room registry: the claims of
//! reconnecting clients, putting a recovered socket back (rooms, then its
//! replay, in one step), keeping a departing socket's session, handing it
//! over to another node, and forgetting what was kept after a loss. The
//! rules of what may be recovered are `crate::recovery`'s; this is where
//! they meet the registry's one order of broadcasts.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::RoomRegistry;
use crate::recovery::{NotRecovered, RecoveryLog, Session};
use crate::socket::{Claim, ClaimFrom, HandOver, Lost, Restore, Unregister};
use switchyard_engineio::{CloseReason, Outgoing};

impl RoomRegistry {
    /// Puts a recovered socket back in its rooms and replays what it
    /// missed, in one step: a broadcast handled before this is in the
    /// replay, one handled after reaches the socket live. If packets it
    /// missed were dropped since its claim, its connection is closed
    /// rather than given a replay with a hole.
    pub(super) fn restore(&mut self, id: &Arc<str>, restore: Restore) {
        let Restore { rooms, after, done } = restore;
        self.replay(id, rooms, after);
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    fn replay(&mut self, id: &Arc<str>, rooms: Vec<String>, after: u64) {
        for room in &rooms {
            self.index.join(id, room);
        }
        let (Some(log), Some(member)) = (&self.recovery, self.index.get(id)) else {
            return;
        };
        let stats = &self.stats.recovery;
        let Ok(missed) = log.missed(after, &rooms) else {
            stats.aborted.fetch_add(1, Relaxed);
            log::warn!("socket {id}: packets it missed were dropped before it was back; closing");
            return member.session.close(CloseReason::TransportError);
        };
        let mut frames = Vec::new();
        let mut count = 0;
        for (kept, _) in missed {
            frames.extend_from_slice(kept.frames());
            count += 1;
        }
        if count == 0 {
            return;
        }
        stats.replayed.fetch_add(count, Relaxed);
        // One unit: the whole replay takes one place in the session's queue.
        member.session.send(Outgoing::new(frames));
    }
}

impl Handler<Unregister> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, Unregister { id, persist }: Unregister, _: &mut Context<Self>) {
        let rooms = persist.as_ref().map(|_| self.index.rooms_of(&id));
        let Some(member) = self.index.remove(&id) else {
            return;
        };
        self.rooms_changed();
        let Some(pid) = member.socket.info.pid.clone() else {
            return;
        };
        self.pids.remove(&pid);
        let waiting = self.waiting.remove(&pid);
        let (Some(log), Some(persist), Some(rooms)) = (&mut self.recovery, persist, rooms) else {
            // Not kept: a client that came back meanwhile starts afresh.
            match waiting {
                Some(Waiting::Claim(claim)) => {
                    let _ = claim.reply.send(
                        self.recovery
                            .as_ref()
                            .map_or(Err(NotRecovered::UnknownSession), RecoveryLog::claim_none),
                    );
                }
                Some(Waiting::HandOver(reply)) => drop(reply.send(None)),
                None => {}
            }
            return;
        };
        let mut session = Session {
            sid: id.to_string(),
            pid: persist.pid.to_string(),
            rooms,
            data: persist.data,
        };
        // A client that came back before its old socket was gone claims it
        // now: here, or on the node that asked for it.
        match waiting {
            Some(Waiting::Claim(claim)) => {
                let _ = claim.reply.send(log.claim_kept(session, &claim.offset));
                return;
            }
            Some(Waiting::HandOver(reply)) => match reply.send(Some(session)) {
                Ok(()) => return,
                // The node that asked is gone: kept as any other.
                Err(unsent) => session = unsent.expect("sent Some"),
            },
            None => {}
        }
        // Where every node finds it, if the adapter keeps sessions.
        let window = log.window();
        let adapter = self.adapter.as_ref();
        if !adapter.is_some_and(|a| a.persist_session(&session, window)) {
            log.persist(session, Instant::now());
        }
    }
}

impl RoomRegistry {
    fn answer(&mut self, claim: Claim, now: Instant) {
        let Some(log) = &mut self.recovery else {
            return;
        };
        let Claim {
            pid,
            offset,
            from,
            reply,
        } = claim;
        let result = match from {
            ClaimFrom::Node => log.claim(&pid, &offset, now),
            ClaimFrom::Cluster(Some(session)) => log.claim_kept(session, &offset),
            ClaimFrom::Cluster(None) => log.claim_none(),
        };
        let _ = reply.send(result);
    }
}

impl Handler<Claim> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, claim: Claim, _: &mut Context<Self>) {
        let live = match claim.from {
            // Kept by the cluster: its socket is gone already.
            ClaimFrom::Cluster(Some(_)) => None,
            ClaimFrom::Node | ClaimFrom::Cluster(None) => {
                self.pids.get(claim.pid.as_str()).cloned()
            }
        };
        let Some(id) = live else {
            return self.answer(claim, Instant::now());
        };
        let pid: Arc<str> = claim.pid.as_str().into();
        if let Err(Waiting::Claim(claim)) =
            self.await_departure(pid, &id, Waiting::Claim(Box::new(claim)))
        {
            self.stats.recovery.unknown_session.fetch_add(1, Relaxed);
            let _ = claim.reply.send(Err(NotRecovered::UnknownSession));
        }
    }
}

impl Handler<HandOver> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, HandOver { pid, reply }: HandOver, _: &mut Context<Self>) {
        let Some(id) = self.pids.get(pid.as_str()).cloned() else {
            let _ = reply.send(None);
            return;
        };
        let waiter = Waiting::HandOver(reply);
        if let Err(Waiting::HandOver(reply)) = self.await_departure(pid.into(), &id, waiter) {
            let _ = reply.send(None);
        }
    }
}

/// Who waits for the live socket of a pid to go, to have its session.
pub(super) enum Waiting {
    /// A client back on this node.
    Claim(Box<Claim>),
    /// Another node, where the client is back.
    HandOver(oneshot::Sender<Option<Session>>),
}

impl RoomRegistry {
    /// The client of socket `id` has a new connection, so its old one is
    /// dead though not yet noticed: closes it; `waiter` has the session
    /// once the socket is gone (see the `Unregister` handler). One waits
    /// per pid: a second is given back.
    fn await_departure(&mut self, pid: Arc<str>, id: &str, waiter: Waiting) -> Result<(), Waiting> {
        if self.waiting.contains_key(&pid) {
            return Err(waiter);
        }
        if let Some(member) = self.index.get(id) {
            member.session.close(CloseReason::TransportClose);
        }
        self.waiting.insert(pid, waiter);
        Ok(())
    }
}

impl Handler<Lost> for RoomRegistry {
    type Result = ();
    fn handle(&mut self, _: Lost, _: &mut Context<Self>) {
        if let Some(log) = &mut self.recovery {
            log.forget_kept();
        }
    }
}
