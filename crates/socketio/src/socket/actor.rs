//! The socket actor: one per client per namespace. Greets the namespace's
//! handler actors (`Connect`), runs the per-packet step (`inbound`) for the
//! packets the client could not run it for itself, holding back later ones
//! while a handler's mailbox is full (back-pressure), and runs
//! `disconnecting` then `disconnect`.
//!
//! It never writes to the client: handles do that themselves, in order
//! (see [`SocketRef`]). Its rooms live in the namespace's RoomRegistry.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::LocalBoxFuture;
use tokio::sync::oneshot;

use super::events::{Connect, Disconnect, Disconnecting, Handlers, SocketGone};
use super::inbound::{Inbound, Stalled, offer};
use super::lifecycle::{Lifecycle, Listening, Step};
use super::shared::{Observed, SocketInfo, SocketRef};
use super::shared::{Persist, RoomsOf, Unregister};
use crate::client::{DisconnectReason, ToSocket};

/// How long a socket waits for the handler's `disconnecting` before it
/// leaves its rooms anyway.
const DISCONNECTING_WAIT: Duration = Duration::from_secs(5);

/// The actor behind one socket; users reach it through [`SocketRef`].
pub struct SocketActor {
    info: Arc<SocketInfo>,
    namespace: Recipient<SocketGone>,
    handlers: Arc<Handlers>,
    /// The per-packet step, shared with the client.
    inbound: Arc<Inbound>,
    life: Lifecycle,
    /// Fires once a recovered socket's replay is queued; `Connect` waits for it.
    replayed: Option<oneshot::Receiver<()>>,
    /// Why the socket is closing, once it is.
    reason: Option<DisconnectReason>,
}

impl SocketActor {
    pub(crate) fn new(inbound: Arc<Inbound>, namespace: Recipient<SocketGone>) -> Self {
        let handlers = inbound.handlers.clone();
        let life = Lifecycle::new(Listening {
            disconnecting: handlers.disconnecting.is_some(),
            disconnect: handlers.disconnect.is_some(),
        });
        SocketActor {
            info: inbound.info.clone(),
            namespace,
            handlers,
            inbound,
            life,
            replayed: None,
            reason: None,
        }
    }

    /// Tells the handlers of the socket (and reads its packets) only once
    /// `replayed` fires: a recovered socket's handlers write after its replay.
    pub(crate) fn after(mut self, replayed: Option<oneshot::Receiver<()>>) -> Self {
        self.replayed = replayed;
        self
    }

    /// Tells the handlers of the socket; packets wait behind this (see `inbound`).
    fn greet(&mut self, ctx: &mut Context<Self>) {
        let socket = self.socket_ref();
        self.info.ns.observed(|| Observed::Connected(socket));
        let stalled = self.handlers.connect.as_ref().and_then(|r| {
            let socket = self.socket_ref();
            let recovered = self.info.recovered;
            offer(r, Connect { socket, recovered })
        });
        self.settle(stalled, ctx);
    }

    /// Releases what the actor held once a handler has taken it: at once,
    /// or after waiting for room in its mailbox (reading nothing else meanwhile).
    fn settle(&mut self, stalled: Option<Stalled>, ctx: &mut Context<Self>) {
        match stalled {
            None => self.inbound.release(),
            Some(Stalled(send)) => ctx.wait(
                send.into_actor(self)
                    .map(|(), act, _| act.inbound.release()),
            ),
        }
    }

    fn socket_ref(&self) -> SocketRef {
        SocketRef {
            info: self.info.clone(),
        }
    }

    /// Starts the way out (once): `disconnecting`, leave the rooms,
    /// `disconnect`, stop, as [`Lifecycle`] orders them.
    fn close(&mut self, reason: DisconnectReason, ctx: &mut Context<Self>) {
        let Some(first) = self.life.close(reason) else {
            return;
        };
        self.reason = Some(reason);
        self.info.ns.stats.disconnects[reason as usize].fetch_add(1, Ordering::Relaxed);
        self.info.closed.store(true, Ordering::Release);
        self.info.acks.close();
        self.run(first, ctx);
    }

    /// Carries out `step`, then the next, until the actor stops.
    fn run(&mut self, step: Step, ctx: &mut Context<Self>) {
        let socket = self.socket_ref();
        let ns = self.info.ns.clone();
        let handlers = self.handlers.clone();
        let work: LocalBoxFuture<'static, ()> = match step {
            Step::Disconnecting(reason) => Box::pin(async move {
                let Some(r) = handlers.disconnecting.clone() else {
                    return;
                };
                let id = socket.info.id.clone();
                let rooms = ns.rooms.rooms_of.send(RoomsOf { id }).await;
                let msg = Disconnecting {
                    socket,
                    reason,
                    rooms: rooms.unwrap_or_default(),
                };
                // A handler that never answers does not keep the socket in its rooms.
                let _ = r.send(msg).timeout(DISCONNECTING_WAIT).await;
            }),
            Step::LeaveRooms(reason) => Box::pin(async move {
                let info = &socket.info;
                // socket.io keeps the session when the transport went, not
                // when the server or the client chose to end the socket.
                let persist = (info.pid.clone())
                    .filter(|_| ns.recovery.is_some() && reason.recoverable())
                    .map(|pid| Persist {
                        pid,
                        data: info.data.lock().unwrap_or_else(|e| e.into_inner()).clone(),
                    });
                let id = info.id.clone();
                let _ = ns.rooms.unregister.send(Unregister { id, persist }).await;
                info.gone.mark();
            }),
            Step::Disconnect(reason) => Box::pin(async move {
                if let Some(r) = handlers.disconnect.clone() {
                    let _ = r.send(Disconnect { socket, reason }).await;
                }
            }),
            Step::Stop => {
                if let Some(reason) = self.reason {
                    self.info
                        .ns
                        .observed(|| Observed::Disconnected { socket, reason });
                }
                // Bounded: once per socket, to the supervisor that started it.
                self.namespace.do_send(SocketGone {
                    id: self.info.id.clone(),
                });
                return ctx.stop();
            }
        };
        work.into_actor(self)
            .map(|(), act, ctx| {
                if let Some(next) = act.life.next() {
                    act.run(next, ctx);
                }
            })
            .wait(ctx);
    }
}

impl Actor for SocketActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(switchyard_engineio::MAILBOX_CAPACITY);
        match self.replayed.take() {
            // Bounded: the registry answers every Register it handles.
            Some(replayed) => ctx.wait(replayed.into_actor(self).map(|_, act, ctx| act.greet(ctx))),
            None => self.greet(ctx),
        }
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        if self.life.finished() {
            return;
        }
        // Stopped before the way out was done: the system is stopping, or
        // the session ended before it took the socket. Nothing may wait forever.
        self.info.closed.store(true, Ordering::Release);
        self.info.acks.close();
        self.info.ns.rooms.unregister.do_send(Unregister {
            id: self.info.id.clone(),
            persist: None,
        });
        self.info.gone.mark();
        self.namespace.do_send(SocketGone {
            id: self.info.id.clone(),
        });
    }
}

impl Handler<ToSocket> for SocketActor {
    type Result = ();
    fn handle(&mut self, msg: ToSocket, ctx: &mut Context<Self>) {
        let packet = match msg {
            ToSocket::Closed(reason) => return self.close(reason, ctx),
            ToSocket::Inbound(_) if !self.life.connected() => return self.inbound.release(),
            ToSocket::Inbound(packet) => packet,
        };
        let stalled = self.inbound.step(packet);
        self.settle(stalled, ctx);
    }
}

/// A message the client's step could not hand over: the socket waits for it.
impl Handler<Stalled> for SocketActor {
    type Result = ();
    fn handle(&mut self, stalled: Stalled, ctx: &mut Context<Self>) {
        self.settle(Some(stalled), ctx);
    }
}
