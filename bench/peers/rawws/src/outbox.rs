//! A connection's bounded queue of outgoing text frames and its policy when full. A broadcast
//! waits for room (so a sender outpacing its receivers is slowed down to their pace, as the ack
//! comes only once every member has the frame queued), up to [`WAIT`]; past that the frame is
//! dropped and counted (`counters::DROPPED`), and the load generator sees it as lost. A
//! connection's answers to its own requests are dropped (counted) at once when its queue is
//! full: the one that would wait is its own reader. Owns the queue's bound; the writing side is
//! in `session.rs`.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc::{self, Receiver, Sender, error::TrySendError};
use tokio::time::Instant;

use crate::counters;

/// Frames a connection may have queued. Far above what the scenarios keep in flight for one
/// receiver (a fan-out window is 64 broadcasts).
pub(crate) const CAPACITY: usize = 1024;
/// Longest wait of a broadcast for room in its members' queues.
pub(crate) const WAIT: Duration = Duration::from_secs(1);

/// The sending side, shared by the connection's reader and the rooms it joined.
#[derive(Clone)]
pub(crate) struct Outbox(Sender<Bytes>);

impl Outbox {
    pub(crate) fn new() -> (Outbox, Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        (Outbox(tx), rx)
    }

    /// Queues `frame` if there is room, else gives it back. A closed queue (the connection is
    /// ending) takes it and lets it go.
    pub(crate) fn try_push(&self, frame: Bytes) -> Result<(), Bytes> {
        match self.0.try_send(frame) {
            Err(TrySendError::Full(frame)) => Err(frame),
            Ok(()) | Err(TrySendError::Closed(_)) => Ok(()),
        }
    }

    /// Queues an answer of the connection's own, dropped (counted) when the queue is full.
    pub(crate) fn push(&self, frame: Bytes) {
        if self.try_push(frame).is_err() {
            counters::DROPPED.add();
        }
    }

    /// Queues `frame` once there is room, dropping it (counted) if there is none by `deadline`.
    pub(crate) async fn push_by(&self, frame: Bytes, deadline: Instant) {
        if tokio::time::timeout_at(deadline, self.0.send(frame))
            .await
            .is_err()
        {
            counters::DROPPED.add();
        }
    }
}
