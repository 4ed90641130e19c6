//! Server-side events: what another node's `serverSideEmit` brings this
//! namespace ([`ServerSideEvent`], answered through [`ServerSideAck`]), and
//! who hears it (`ServerSideHandlers`: the handler of its name, else the
//! catch-all). Plain messages; names no socket and no adapter.

use std::collections::HashMap;

use actix::prelude::*;
use tokio::sync::oneshot;

use switchyard_core::Payload;

/// A server-side event from another node (socket.io's `io.on(event, ...)`
/// for a `serverSideEmit`), for the handler of its name
/// ([`NamespaceBuilder::on_server_side_event`]) or else the catch-all
/// ([`NamespaceBuilder::on_server_side`]).
///
/// [`NamespaceBuilder::on_server_side_event`]: crate::namespace::NamespaceBuilder::on_server_side_event
/// [`NamespaceBuilder::on_server_side`]: crate::namespace::NamespaceBuilder::on_server_side
#[derive(Message)]
#[rtype(result = "()")]
pub struct ServerSideEvent {
    /// The namespace it was emitted on.
    pub nsp: String,
    /// The event name.
    pub name: String,
    /// Its arguments.
    pub payload: Payload,
    /// Set when the emitting node waits for an answer: send one, once.
    pub ack: Option<ServerSideAck>,
}

/// The answer to a [`ServerSideEvent`]: like socket.io, only its first
/// argument reaches the emitting node.
pub struct ServerSideAck(pub(crate) oneshot::Sender<Payload>);

impl ServerSideAck {
    /// Answers the emitting node.
    pub fn send(self, payload: impl Into<Payload>) {
        let _ = self.0.send(payload.into());
    }
}

/// Who hears a namespace's server-side events: the handler of the
/// event's name, else the catch-all.
#[derive(Default, Clone)]
pub(crate) struct ServerSideHandlers {
    pub by_name: HashMap<String, Recipient<ServerSideEvent>>,
    pub any: Option<Recipient<ServerSideEvent>>,
}

impl ServerSideHandlers {
    /// Who hears the event called `name`, if anybody.
    pub fn for_event(&self, name: &str) -> Option<&Recipient<ServerSideEvent>> {
        self.by_name.get(name).or(self.any.as_ref())
    }
}
