//! A connection's bounded queue of outgoing text frames and its policy when full: the frame is
//! dropped and counted (`counters::DROPPED`); the load generator then sees it as lost. Owns the
//! queue's bound; the writing side is in `session.rs`.

use bytes::Bytes;
use tokio::sync::mpsc::{self, Receiver, Sender, error::TrySendError};

use crate::counters;

/// Frames a connection may have queued. Far above what the scenarios keep in flight for one
/// receiver (a fan-out window is 64), so a drop means the writer could not keep up.
pub(crate) const CAPACITY: usize = 1024;

/// The sending side, shared by the connection's reader and the rooms it joined.
#[derive(Clone)]
pub(crate) struct Outbox(Sender<Bytes>);

impl Outbox {
    pub(crate) fn new() -> (Outbox, Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        (Outbox(tx), rx)
    }

    /// Queues `frame` without waiting: a full queue drops it (counted), a closed one (the
    /// connection is ending) ignores it.
    pub(crate) fn push(&self, frame: Bytes) {
        if let Err(TrySendError::Full(_)) = self.0.try_send(frame) {
            counters::DROPPED.add();
        }
    }
}
