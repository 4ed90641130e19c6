//! [`Applied`]: an effect that has been asked for (join a room, leave one,
//! disconnect), as a future that resolves once it has taken effect, so a
//! handler can ack truthfully after it. The request itself is made at once,
//! whether or not the future is awaited.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Mutex;

use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

/// Whether a socket has left its rooms for good, and who waits to know.
/// Lighter than a watch channel (a few words per socket, nothing allocated
/// until somebody waits), which matters when it sits in every idle socket.
#[derive(Default)]
pub(crate) struct Departure(Mutex<(bool, Vec<oneshot::Sender<()>>)>);

impl Departure {
    /// The socket has left: every waiter hears it, and later ones at once.
    pub fn mark(&self) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = true;
        for waiter in state.1.drain(..) {
            let _ = waiter.send(());
        }
    }

    /// A receiver that fires when the socket leaves; `None` if it has already.
    pub fn subscribe(&self) -> Option<oneshot::Receiver<()>> {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        state.1.push(tx);
        Some(rx)
    }

    /// Waits on what [`subscribe`](Self::subscribe) gave. A dropped sender
    /// means the socket's state is gone: it has left too.
    pub async fn wait(left: Option<oneshot::Receiver<()>>) {
        if let Some(rx) = left {
            let _ = rx.await;
        }
    }
}

/// Why an effect did not take place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EffectError {
    /// The namespace's room registry has a full mailbox; the request was
    /// dropped (counted in the namespace's counters and logged).
    #[error("the namespace's room registry is overloaded; the request was dropped")]
    Overloaded,
    /// The namespace's room registry has stopped.
    #[error("the namespace's room registry is gone")]
    Gone,
    /// A socket is in its maximum of rooms (`max_rooms_per_socket`): it
    /// did not join the rest (counted in the namespace's `rooms_refused`).
    #[error("a socket is in its maximum of rooms; it did not join more")]
    TooManyRooms,
}

/// A requested effect; await it to know it has been applied. Dropping it
/// does not cancel the effect.
pub struct Applied(BoxFuture<'static, Result<(), EffectError>>);

impl Applied {
    /// Resolves with what `done` says (a dropped sender means the registry went away).
    pub(crate) fn when(
        done: Result<oneshot::Receiver<Result<(), EffectError>>, EffectError>,
    ) -> Applied {
        Applied(Box::pin(async move {
            done?.await.map_err(|_| EffectError::Gone)?
        }))
    }

    /// Resolves once the socket has left every room.
    pub(crate) fn gone(departure: &Departure) -> Applied {
        let left = departure.subscribe();
        Applied(Box::pin(async move {
            Departure::wait(left).await;
            Ok(())
        }))
    }

    /// Resolves with what `future` does.
    pub(crate) fn from_future(
        future: impl Future<Output = Result<(), EffectError>> + Send + 'static,
    ) -> Applied {
        Applied(Box::pin(future))
    }

    /// Resolves at once with `result`.
    pub(crate) fn ready(result: Result<(), EffectError>) -> Applied {
        Applied(Box::pin(std::future::ready(result)))
    }
}

impl Future for Applied {
    type Output = Result<(), EffectError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Applied")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_departure_reaches_waiters_before_and_after_it() {
        let gone = Departure::default();
        let mut early = gone.subscribe().expect("not gone yet");
        assert!(early.try_recv().is_err());
        gone.mark();
        assert!(early.try_recv().is_ok());
        // Asked after the fact: nothing to wait for.
        assert!(gone.subscribe().is_none());
    }
}
