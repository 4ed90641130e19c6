//! Adapters: how a namespace reaches the other nodes of a cluster. The
//! seam itself (the [`Adapter`] and [`AdapterFactory`] traits, and
//! [`LocalNamespace`], through which other nodes reach this one's sockets)
//! lives in `switchyard-core`, so that adapter crates need not depend on
//! this one; this module holds the default, [`LocalAdapter`]: one node,
//! nobody to tell. `switchyard-redis` spans a cluster over Redis,
//! wire-compatible with Node's `@socket.io/redis-adapter`.
//!
//! Choose one with [`SocketIoBuilder::adapter`](crate::io::SocketIoBuilder::adapter).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use tokio::sync::mpsc;

pub use switchyard_core::{
    Adapter, AdapterCounters, AdapterFactory, ClusterError, LocalNamespace, LocalSockets,
    RemoteCounts, SocketDetails,
};
use switchyard_core::{BroadcastOptions, Payload};

/// One node, no cluster: there is nobody to tell, and nobody to wait for.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapter;

impl AdapterFactory for LocalAdapter {
    fn create(&self, _: &str, _: LocalNamespace) -> Arc<dyn Adapter> {
        Arc::new(LocalAdapter)
    }
}

impl Adapter for LocalAdapter {
    fn spans_nodes(&self) -> bool {
        false
    }

    fn broadcast(&self, _: &str, _: &Payload, _: &BroadcastOptions) {}

    fn broadcast_with_ack(
        &self,
        _: &str,
        _: &Payload,
        _: &BroadcastOptions,
        _: Duration,
        _: mpsc::UnboundedSender<Payload>,
    ) -> BoxFuture<'static, RemoteCounts> {
        std::future::ready(RemoteCounts::none()).boxed()
    }

    fn sockets_rooms(&self, _: &BroadcastOptions, _: &[String], _: bool) {}

    fn disconnect_sockets(&self, _: &BroadcastOptions, _: bool) {}

    fn fetch_sockets(
        &self,
        _: &BroadcastOptions,
        _: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<SocketDetails>, ClusterError<Vec<SocketDetails>>>> {
        std::future::ready(Ok(Vec::new())).boxed()
    }

    fn server_side_emit(
        &self,
        _: &str,
        _: &Payload,
        _: bool,
        _: Option<Duration>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, ClusterError<Vec<Payload>>>> {
        std::future::ready(Ok(Vec::new())).boxed()
    }

    fn server_count(&self) -> BoxFuture<'static, Result<usize, ClusterError<usize>>> {
        std::future::ready(Ok(1)).boxed()
    }
}
