//! The short way to a WebSocket client: while a session's transport is a
//! WebSocket, a [`SessionHandle`](super::SessionHandle) on any thread writes
//! into its sink directly instead of through the session's mailbox, so a
//! broadcast costs one sink write per recipient, not an actor message.
//!
//! Order is kept: a sender takes the direct path only when no message that
//! may write to the client (an `Outgoing`, an upcall) waits in the session's
//! mailbox. A sender counts its mailbox message as waiting before sending it
//! and the session uncounts it once handled, so a sender's later packet can
//! never overtake its earlier one. Whether the sink takes direct writes at
//! all (not before the upgrade, not once closing) is decided under the
//! sink's own lock, the one lock a direct write takes.
//!
//! Owns: the direct path and the `waiting` count. Must not touch: session
//! logic; what a refused packet leads to (drop, cut-off) is the caller's.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::Waker;

use super::outgoing::{Admit, Outgoing};
use super::sink::WsSink;

/// Where [`Outlet::send_or`] put a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Written into the WebSocket sink, or refused there as `Admit` says.
    Direct(Admit),
    /// Handed to the session's mailbox.
    Mailbox,
}

pub(crate) struct Outlet {
    /// The session's WebSocket, once it has one (a session upgrades once).
    sink: OnceLock<WsSink>,
    /// Messages in the session's mailbox that may write to the client.
    waiting: AtomicUsize,
    max_buffer: usize,
}

impl Outlet {
    pub fn new(max_buffer: usize) -> Outlet {
        Outlet {
            sink: OnceLock::new(),
            waiting: AtomicUsize::new(0),
            max_buffer,
        }
    }

    /// The session's transport is now this WebSocket, with nothing queued.
    pub fn attach(&self, sink: &WsSink) {
        let sink = self.sink.get_or_init(|| sink.clone());
        sink.set_direct(true);
    }

    /// Direct writes stop (the session is closing).
    pub fn detach(&self) {
        if let Some(sink) = self.sink.get() {
            sink.set_direct(false);
        }
    }

    /// The session has handled one counted mailbox message.
    pub fn handled(&self) {
        let _ = self
            .waiting
            .fetch_update(SeqCst, SeqCst, |n| Some(n.saturating_sub(1)));
    }

    /// Counts a mailbox send that may write to the client, then runs it;
    /// a send that failed is uncounted.
    pub fn counted<E>(&self, enqueue: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        self.waiting.fetch_add(1, SeqCst);
        enqueue().inspect_err(|_| self.handled())
    }

    /// Writes `out` into the sink when that keeps the order, else `enqueue`s
    /// it. With `wakes`, the sink's writer is not woken but its waker added there.
    pub fn send_or<E>(
        &self,
        out: &Outgoing,
        wakes: Option<&mut Vec<Waker>>,
        enqueue: impl FnOnce(&Outgoing) -> Result<(), E>,
    ) -> Result<Route, E> {
        if self.waiting.load(SeqCst) == 0
            && let Some(sink) = self.sink.get()
            && let Some((verdict, waker)) = sink.offer(out, self.max_buffer)
        {
            match (waker, wakes) {
                (Some(waker), Some(wakes)) => wakes.push(waker),
                (Some(waker), None) => waker.wake(),
                (None, _) => {}
            }
            return Ok(Route::Direct(verdict));
        }
        self.counted(|| enqueue(out))?;
        Ok(Route::Mailbox)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_send_that_fails_is_uncounted() {
        let outlet = Outlet::new(100);
        assert_eq!(outlet.counted(|| Err::<(), _>("full")), Err("full"));
        assert_eq!(outlet.waiting.load(SeqCst), 0);
        assert_eq!(outlet.counted(|| Ok::<_, ()>(())), Ok(()));
        assert_eq!(outlet.waiting.load(SeqCst), 1);
        outlet.handled();
        assert_eq!(outlet.waiting.load(SeqCst), 0);
    }
}
