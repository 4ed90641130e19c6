//! The adapter seam: how a namespace's rooms reach other nodes. A
//! namespace's room registry always delivers to its own
//! node's sockets; what it also hands to the adapter reaches the rest of the
//! cluster. The default, [`LocalAdapter`], is a single node: nothing to reach.
//!
//! The Redis adapter implements this trait; nothing above the registry changes.

use crate::socket::{BroadcastOptions, Payload};

/// What a registry tells the rest of the cluster.
pub trait Adapter: Send + 'static {
    /// A broadcast that is not `local`, already delivered on this node.
    fn publish_broadcast(
        &mut self,
        nsp: &str,
        event: &str,
        payload: &Payload,
        opts: &BroadcastOptions,
    );

    /// `serverSideEmit`: an event for the other nodes' server-side handlers.
    fn server_side_emit(&mut self, nsp: &str, event: &str, payload: &Payload);
}

/// One node, no cluster: both calls have nobody to tell.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalAdapter;

impl Adapter for LocalAdapter {
    fn publish_broadcast(&mut self, _: &str, _: &str, _: &Payload, _: &BroadcastOptions) {}

    fn server_side_emit(&mut self, _: &str, _: &str, _: &Payload) {}
}
