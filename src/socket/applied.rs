//! [`Applied`]: an effect that has been asked for (join a room, leave one,
//! disconnect), as a future that resolves once it has taken effect, so a
//! handler can ack truthfully after it. The request itself is made at once,
//! whether or not the future is awaited.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

use super::handle::SocketInfo;

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
}

/// A requested effect; await it to know it has been applied. Dropping it
/// does not cancel the effect.
pub struct Applied(BoxFuture<'static, Result<(), EffectError>>);

impl Applied {
    /// Resolves when `done` fires (or is dropped, which means the registry went away).
    pub(crate) fn when(done: Result<oneshot::Receiver<()>, EffectError>) -> Applied {
        Applied(Box::pin(async move {
            done?.await.map_err(|_| EffectError::Gone)
        }))
    }

    /// Resolves once the socket has left every room.
    pub(crate) fn gone(info: &SocketInfo) -> Applied {
        let mut gone = info.gone.subscribe();
        Applied(Box::pin(async move {
            // An error means the socket's state was dropped: it is gone too.
            let _ = gone.wait_for(|g| *g).await;
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
