//! Which messages a namespace sends one handler actor: [`Takes`], picked
//! message by message, each pick checked against the actor's `Handler`
//! impls; and [`SocketHandler`], the three that
//! [`handler`](super::NamespaceBuilder::handler) sends.
//!
//! actix has no way to ask, in a generic function, whether an actor also
//! implements `Handler<Connect>`: a bound is either required or absent.
//! So the caller says which messages an actor takes, and the compiler
//! checks each one where it is named.

use std::fmt;

use actix::dev::ToEnvelope;
use actix::prelude::*;

use crate::socket::{Connect, Disconnect, Disconnecting, Event, Handlers, SocketError};

/// The messages a namespace sends one handler actor of type `A`, for
/// [`NamespaceBuilder::handler_with`](super::NamespaceBuilder::handler_with)
/// and [`handler_per_worker_with`](super::NamespaceBuilder::handler_per_worker_with).
///
/// Start from [`Takes::new`] (nothing) and pick each message the actor
/// handles; a pick needs the matching `Handler` impl, and a missing one is
/// a compile error at that pick. A message not picked goes to whatever the
/// builder had for it (`on_connect`, ...), or nowhere.
///
/// A handler that implements only `Handler<Event>`, plugged in for events:
///
/// ```
/// use actix::prelude::*;
/// use switchyard_socketio::namespace::{NamespaceBuilder, Takes};
/// use switchyard_socketio::socket::Event;
///
/// /// Echoes every event back; it needs no Connect nor Disconnect.
/// struct Echo;
/// impl Actor for Echo {
///     type Context = Context<Self>;
/// }
/// impl Handler<Event> for Echo {
///     type Result = ();
///     fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
///         match ev.ack {
///             Some(ack) => ack.send(ev.payload),
///             None => drop(ev.socket.emit(&ev.name, ev.payload)),
///         }
///     }
/// }
///
/// // One actor per server worker thread:
/// let per_worker = NamespaceBuilder::default().handler_per_worker_with(|| Echo, Takes::new().event());
/// // Or one actor for the whole namespace:
/// actix::System::new().block_on(async {
///     let shared = NamespaceBuilder::default().handler_with(Echo.start(), Takes::new().event());
/// });
/// ```
pub struct Takes<A: Actor> {
    picks: Vec<(&'static str, Wire<A>)>,
}

/// Points one message of a namespace's handlers at an actor.
type Wire<A> = fn(&Addr<A>, &mut Handlers);

impl<A: Actor> Takes<A> {
    /// No message yet: pick them with the other methods.
    pub fn new() -> Self {
        Takes { picks: Vec::new() }
    }

    fn pick(mut self, name: &'static str, wire: Wire<A>) -> Self {
        self.picks.push((name, wire));
        self
    }

    /// The actor takes [`Connect`] (socket.io's `connection`).
    pub fn connect(self) -> Self
    where
        A: Handler<Connect>,
        A::Context: ToEnvelope<A, Connect>,
    {
        self.pick("connect", |addr, h| {
            h.connect = Some(addr.clone().recipient())
        })
    }

    /// The actor takes [`Event`]: every event a client emits.
    pub fn event(self) -> Self
    where
        A: Handler<Event>,
        A::Context: ToEnvelope<A, Event>,
    {
        self.pick("event", |addr, h| h.event = Some(addr.clone().recipient()))
    }

    /// The actor takes [`Disconnecting`], while a leaving socket's rooms are still known.
    pub fn disconnecting(self) -> Self
    where
        A: Handler<Disconnecting>,
        A::Context: ToEnvelope<A, Disconnecting>,
    {
        self.pick("disconnecting", |addr, h| {
            h.disconnecting = Some(addr.clone().recipient())
        })
    }

    /// The actor takes [`Disconnect`], once a socket has left its rooms.
    pub fn disconnect(self) -> Self
    where
        A: Handler<Disconnect>,
        A::Context: ToEnvelope<A, Disconnect>,
    {
        self.pick("disconnect", |addr, h| {
            h.disconnect = Some(addr.clone().recipient())
        })
    }

    /// The actor takes [`SocketError`]: per-packet middleware rejections.
    pub fn error(self) -> Self
    where
        A: Handler<SocketError>,
        A::Context: ToEnvelope<A, SocketError>,
    {
        self.pick("error", |addr, h| h.error = Some(addr.clone().recipient()))
    }

    /// Points the picked messages of `handlers` at `addr`.
    pub(crate) fn wire(&self, addr: &Addr<A>, handlers: &mut Handlers) {
        for (_, wire) in &self.picks {
            wire(addr, handlers);
        }
    }
}

impl<A: Actor> Default for Takes<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Actor> Clone for Takes<A> {
    fn clone(&self) -> Self {
        Takes {
            picks: self.picks.clone(),
        }
    }
}

impl<A: Actor> fmt::Debug for Takes<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Takes")
            .field(&self.picks.iter().map(|(name, _)| *name).collect::<Vec<_>>())
            .finish()
    }
}

/// An actor that takes [`Connect`], [`Event`] and [`Disconnect`]: what
/// [`NamespaceBuilder::handler`](super::NamespaceBuilder::handler) and
/// [`handler_per_worker`](super::NamespaceBuilder::handler_per_worker) send
/// it. Implemented for every such actor; never implement it yourself.
///
/// An actor that handles fewer is plugged in with
/// [`handler_with`](super::NamespaceBuilder::handler_with) or
/// [`handler_per_worker_with`](super::NamespaceBuilder::handler_per_worker_with)
/// and the [`Takes`] it handles.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not handle all of Connect, Event and Disconnect, which `handler` and \
               `handler_per_worker` send it",
    note = "for an actor that handles fewer, name them: `.handler_with(addr, Takes::new().event())` \
            or `.handler_per_worker_with(factory, Takes::new().event())`"
)]
pub trait SocketHandler: Actor + Handler<Connect> + Handler<Event> + Handler<Disconnect> {}

impl<A> SocketHandler for A where A: Actor + Handler<Connect> + Handler<Event> + Handler<Disconnect> {}

impl<A> Takes<A>
where
    A: SocketHandler,
    A::Context: ToEnvelope<A, Connect> + ToEnvelope<A, Event> + ToEnvelope<A, Disconnect>,
{
    /// Connect, Event and Disconnect: what `handler` sends.
    pub(crate) fn lifecycle() -> Self {
        Takes::new().connect().event().disconnect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct OnlyEvents;
    impl Actor for OnlyEvents {
        type Context = Context<Self>;
    }
    impl Handler<Event> for OnlyEvents {
        type Result = ();
        fn handle(&mut self, _: Event, _: &mut Context<Self>) {}
    }
    impl Handler<Connect> for OnlyEvents {
        type Result = ();
        fn handle(&mut self, _: Connect, _: &mut Context<Self>) {}
    }

    #[test]
    fn only_the_picked_messages_are_wired_and_the_rest_stay() {
        actix::System::new().block_on(async {
            let addr = OnlyEvents.start();
            let other = OnlyEvents.start();
            let mut handlers = Handlers {
                connect: Some(other.clone().recipient()),
                ..Handlers::default()
            };
            Takes::new().event().wire(&addr, &mut handlers);
            let mine: Recipient<Event> = addr.clone().recipient();
            assert!(handlers.event.as_ref() == Some(&mine));
            let theirs: Recipient<Connect> = other.recipient();
            assert!(handlers.connect.as_ref() == Some(&theirs));
            assert!(handlers.disconnect.is_none() && handlers.disconnecting.is_none());
            assert!(handlers.error.is_none());
            Takes::new().connect().wire(&addr, &mut handlers);
            let mine: Recipient<Connect> = addr.recipient();
            assert!(handlers.connect.as_ref() == Some(&mine));
        });
    }

    #[test]
    fn a_pick_list_names_its_picks() {
        let takes = Takes::<OnlyEvents>::new().event().connect();
        assert_eq!(format!("{takes:?}"), r#"Takes(["event", "connect"])"#);
    }
}
