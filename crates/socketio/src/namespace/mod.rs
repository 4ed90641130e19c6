//! Namespaces: the Namespace supervisor actor, one per worker thread
//! (connect middleware, socket creation, the live sockets of one namespace
//! on that thread) and the builder that sets a namespace up (middleware and
//! handler actors).
//!
//! A namespace never writes to a transport; the sockets it starts do, through
//! their session.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use actix::dev::ToEnvelope;
use actix::prelude::*;
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use tokio::sync::oneshot;

use crate::client::{Admitted, ClientUpcall, JoinRequest};
use crate::recovery::{Claimed, RecoveryConfig};
use crate::socket::{
    AdapterFactory, Claim, ClaimFrom, Connect, Disconnect, Disconnecting, Event, EventRoute,
    Handlers, Handshake, Identity, Inbound, MiddlewareError, NamespaceCore, NamespaceParts,
    NamespaceRef, Observers, PacketMiddleware, Restore, ServerSideEvent, ServerSideHandlers,
    SocketActor, SocketError, SocketGone, SocketInfo, SocketLimits, SocketRef,
};
use switchyard_core::protocol::Parser;
use switchyard_engineio::{MAILBOX_CAPACITY, ProtocolVersion};

mod takes;

pub use takes::{SocketHandler, Takes};

/// What a connect middleware sees: the socket-to-be's handshake, and its
/// `data`, which it may set.
#[derive(Clone)]
pub struct ConnectRequest {
    info: Arc<SocketInfo>,
}

impl ConnectRequest {
    /// The namespace the client is joining (for a dynamic family, its concrete name).
    pub fn nsp(&self) -> &str {
        &self.info.nsp
    }

    /// The socket-to-be's `socket.handshake`.
    pub fn handshake(&self) -> &Handshake {
        &self.info.handshake
    }

    /// The CONNECT packet's payload (`handshake.auth`).
    pub fn auth(&self) -> &Value {
        &self.info.handshake.auth
    }

    /// Sets the socket-to-be's `socket.data`, read later with [`SocketRef::data`].
    pub fn set_data(&self, value: Value) {
        *self.info.data.lock().unwrap_or_else(|e| e.into_inner()) = value;
    }
}

/// A connect middleware (socket.io's `io.use`): runs in order before a
/// socket is created; an `Err` answers CONNECT_ERROR with its message and data.
pub type ConnectMiddleware = Arc<
    dyn Fn(ConnectRequest) -> LocalBoxFuture<'static, Result<(), MiddlewareError>> + Send + Sync,
>;

/// Starts a worker's own handler actor in that worker's arbiter.
type WorkerHandlers = Arc<dyn Fn(&ArbiterHandle, Handlers) -> Handlers + Send + Sync>;

/// How a namespace (or a family of dynamic namespaces) behaves.
#[derive(Default, Clone)]
pub struct NamespaceBuilder {
    connect_middleware: Vec<ConnectMiddleware>,
    packet_middleware: Vec<PacketMiddleware>,
    handlers: Handlers,
    /// Applied in order to each worker's handlers.
    per_worker: Vec<WorkerHandlers>,
    /// Hear the other nodes' `serverSideEmit`.
    server_side: ServerSideHandlers,
}

impl NamespaceBuilder {
    /// Adds a connect middleware; they run in the order added.
    pub fn use_connect<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(ConnectRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), MiddlewareError>> + 'static,
    {
        self.connect_middleware
            .push(Arc::new(move |req| Box::pin(f(req))));
        self
    }

    /// Adds a per-packet middleware to every socket of this namespace.
    pub fn use_packet<F>(mut self, f: F) -> Self
    where
        F: Fn(&SocketRef, &mut crate::socket::EventPacket) -> Result<(), MiddlewareError>
            + Send
            + Sync
            + 'static,
    {
        self.packet_middleware.push(Arc::new(f));
        self
    }

    /// Sends connect, event and disconnect messages to one handler actor,
    /// which must handle all three ([`SocketHandler`]). For an actor that
    /// handles fewer (only [`Event`], say), use [`Self::handler_with`].
    pub fn handler<A>(self, addr: Addr<A>) -> Self
    where
        A: SocketHandler,
        A::Context: ToEnvelope<A, Connect> + ToEnvelope<A, Event> + ToEnvelope<A, Disconnect>,
    {
        self.handler_with(addr, Takes::lifecycle())
    }

    /// Sends the messages `takes` picks to one handler actor, and only
    /// those: an actor that implements only `Handler<Event>` is plugged in
    /// with `Takes::new().event()` (see [`Takes`]). The messages it does
    /// not take go to whatever was set for them (`on_connect`, ...).
    ///
    /// ```
    /// use actix::prelude::*;
    /// use switchyard_socketio::namespace::{NamespaceBuilder, Takes};
    /// use switchyard_socketio::socket::{Connect, Event};
    ///
    /// /// Greets each socket and counts its events; no Disconnect.
    /// #[derive(Default)]
    /// struct Greeter {
    ///     events: u64,
    /// }
    /// impl Actor for Greeter {
    ///     type Context = Context<Self>;
    /// }
    /// impl Handler<Connect> for Greeter {
    ///     type Result = ();
    ///     fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
    ///         let _ = msg.socket.emit("welcome", serde_json::json!(self.events));
    ///     }
    /// }
    /// impl Handler<Event> for Greeter {
    ///     type Result = ();
    ///     fn handle(&mut self, _: Event, _: &mut Context<Self>) {
    ///         self.events += 1;
    ///     }
    /// }
    ///
    /// actix::System::new().block_on(async {
    ///     let ns = NamespaceBuilder::default()
    ///         .handler_with(Greeter::default().start(), Takes::new().connect().event());
    /// });
    /// ```
    pub fn handler_with<A: Actor>(mut self, addr: Addr<A>, takes: Takes<A>) -> Self {
        takes.wire(&addr, &mut self.handlers);
        self
    }

    /// Like [`handler`](Self::handler), with one handler actor per server
    /// worker thread, built by `factory` in that worker when its first socket
    /// connects: each socket's connect, event and disconnect messages go to
    /// the actor beside it, so an event costs no hop between threads (the
    /// way actix-web builds one `App` per worker). Handler state is per
    /// worker; share what must be shared through an `Arc` or another actor.
    /// The actor must handle all three ([`SocketHandler`]); for one that
    /// handles fewer, use [`Self::handler_per_worker_with`].
    ///
    /// ```no_run
    /// use actix::prelude::*;
    /// use switchyard_socketio::namespace::NamespaceBuilder;
    /// use switchyard_socketio::socket::{Connect, Disconnect, Event};
    ///
    /// struct Echo;
    /// impl Actor for Echo {
    ///     type Context = Context<Self>;
    /// }
    /// impl Handler<Connect> for Echo {
    ///     type Result = ();
    ///     fn handle(&mut self, _: Connect, _: &mut Context<Self>) {}
    /// }
    /// impl Handler<Disconnect> for Echo {
    ///     type Result = ();
    ///     fn handle(&mut self, _: Disconnect, _: &mut Context<Self>) {}
    /// }
    /// impl Handler<Event> for Echo {
    ///     type Result = ();
    ///     fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
    ///         let _ = ev.socket.emit(&ev.name, ev.payload);
    ///     }
    /// }
    ///
    /// let builder = NamespaceBuilder::default().handler_per_worker(|| Echo);
    /// ```
    pub fn handler_per_worker<A, F>(self, factory: F) -> Self
    where
        F: Fn() -> A + Send + Sync + 'static,
        A: SocketHandler<Context = Context<A>>,
    {
        self.handler_per_worker_with(factory, Takes::lifecycle())
    }

    /// Like [`handler_per_worker`](Self::handler_per_worker), sending each
    /// worker's actor the messages `takes` picks, and only those (see
    /// [`Takes`]): an actor that implements only `Handler<Event>` is
    /// plugged in with `Takes::new().event()`.
    ///
    /// ```
    /// use actix::prelude::*;
    /// use switchyard_socketio::namespace::{NamespaceBuilder, Takes};
    /// use switchyard_socketio::socket::Event;
    ///
    /// struct Echo;
    /// impl Actor for Echo {
    ///     type Context = Context<Self>;
    /// }
    /// impl Handler<Event> for Echo {
    ///     type Result = ();
    ///     fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
    ///         let _ = ev.socket.emit(&ev.name, ev.payload);
    ///     }
    /// }
    ///
    /// let builder = NamespaceBuilder::default().handler_per_worker_with(|| Echo, Takes::new().event());
    /// ```
    pub fn handler_per_worker_with<A, F>(mut self, factory: F, takes: Takes<A>) -> Self
    where
        F: Fn() -> A + Send + Sync + 'static,
        A: Actor<Context = Context<A>>,
    {
        let factory = Arc::new(factory);
        self.per_worker.push(Arc::new(move |arbiter, mut base| {
            let factory = factory.clone();
            let addr = A::start_in_arbiter(arbiter, move |_| factory());
            takes.wire(&addr, &mut base);
            base
        }));
        self
    }

    /// Like [`handler_per_worker`](Self::handler_per_worker) for an actor
    /// that also takes `Disconnecting` and `SocketError`: each worker's own
    /// actor receives every message a namespace sends a handler.
    pub fn handler_per_worker_all<A, F>(self, factory: F) -> Self
    where
        F: Fn() -> A + Send + Sync + 'static,
        A: SocketHandler<Context = Context<A>> + Handler<Disconnecting> + Handler<SocketError>,
    {
        let takes = Takes::lifecycle().disconnecting().error();
        self.handler_per_worker_with(factory, takes)
    }

    /// Sends the events whose name `matches` to an actor of their own, one
    /// per server worker thread built by `factory` in that worker, instead
    /// of the event handler. They still pass the per-packet middleware and
    /// the catch-all listeners first. This is how virtual requests
    /// (`switchyard_sails`) take the `get`, `post`, ... events.
    pub fn route_per_worker<A, F>(mut self, matches: fn(&str) -> bool, factory: F) -> Self
    where
        F: Fn() -> A + Send + Sync + 'static,
        A: Actor<Context = Context<A>> + Handler<Event>,
    {
        let factory = Arc::new(factory);
        self.per_worker.push(Arc::new(move |arbiter, mut base| {
            let factory = factory.clone();
            let to = A::start_in_arbiter(arbiter, move |_| factory()).recipient();
            base.routes.push(EventRoute { matches, to });
            base
        }));
        self
    }

    /// Receives every socket's `connection` (socket.io's `connection` event).
    pub fn on_connect(mut self, r: Recipient<Connect>) -> Self {
        self.handlers.connect = Some(r);
        self
    }

    /// Receives every event a client emits (socket.io's `socket.on(name, ...)`,
    /// one message for all names).
    pub fn on_event(mut self, r: Recipient<Event>) -> Self {
        self.handlers.event = Some(r);
        self
    }

    /// Receives every socket's `disconnecting`, while its rooms are still known.
    pub fn on_disconnecting(mut self, r: Recipient<Disconnecting>) -> Self {
        self.handlers.disconnecting = Some(r);
        self
    }

    /// Receives every socket's `disconnect`, once it has left its rooms.
    pub fn on_disconnect(mut self, r: Recipient<Disconnect>) -> Self {
        self.handlers.disconnect = Some(r);
        self
    }

    /// Receives the events other nodes send this namespace with
    /// [`NamespaceRef::server_side_emit`] that no handler of their name
    /// takes ([`Self::on_server_side_event`]): a catch-all. Events nobody
    /// takes are dropped (and a node waiting for an answer gets none).
    pub fn on_server_side(mut self, r: Recipient<ServerSideEvent>) -> Self {
        self.server_side.any = Some(r);
        self
    }

    /// Receives the events called `name` that other nodes send this
    /// namespace with [`NamespaceRef::server_side_emit`] (socket.io's
    /// `io.on(name, ...)` for `serverSideEmit`), before the catch-all of
    /// [`Self::on_server_side`]. One handler per name: another for the same
    /// name replaces it.
    ///
    /// ```
    /// use actix::prelude::*;
    /// use serde_json::json;
    /// use switchyard_socketio::namespace::NamespaceBuilder;
    /// use switchyard_socketio::socket::ServerSideEvent;
    ///
    /// /// Answers another node's `serverSideEmitWithAck("ping")`.
    /// struct Ping;
    /// impl Actor for Ping {
    ///     type Context = Context<Self>;
    /// }
    /// impl Handler<ServerSideEvent> for Ping {
    ///     type Result = ();
    ///     fn handle(&mut self, ev: ServerSideEvent, _: &mut Context<Self>) {
    ///         if let Some(ack) = ev.ack {
    ///             ack.send(json!("pong"));
    ///         }
    ///     }
    /// }
    ///
    /// actix::System::new().block_on(async {
    ///     let ns = NamespaceBuilder::default().on_server_side_event("ping", Ping.start().recipient());
    /// });
    /// ```
    pub fn on_server_side_event(
        mut self,
        name: impl Into<String>,
        r: Recipient<ServerSideEvent>,
    ) -> Self {
        self.server_side.by_name.insert(name.into(), r);
        self
    }

    /// Receives per-packet middleware rejections (socket.io's server-side `error`).
    pub fn on_error(mut self, r: Recipient<SocketError>) -> Self {
        self.handlers.error = Some(r);
        self
    }
}

/// The supervisor of one namespace on one worker thread: admits that
/// thread's clients through the connect middleware, starts their socket
/// actors beside them and counts them until they are gone. Each worker has
/// its own, so joining costs no hop between threads; the namespace's rooms
/// live in its one RoomRegistry, shared by all.
pub struct Namespace {
    core: Arc<NamespaceCore>,
    setup: Arc<NamespaceBuilder>,
    /// This worker's handlers: the namespace's own, or with
    /// `handler_per_worker` this worker's own actor's.
    handlers: Arc<Handlers>,
    /// The namespace's per-packet middleware, shared by its sockets.
    middleware: Arc<[PacketMiddleware]>,
    sockets: HashSet<Arc<str>>,
    live: Arc<LiveCount>,
}

/// One namespace: its shared core and set-up, and its supervisor on each
/// worker thread that has had a client for it.
pub(crate) struct NamespaceEntry {
    core: Arc<NamespaceCore>,
    setup: Arc<NamespaceBuilder>,
    live: Arc<LiveCount>,
    supervisors: Mutex<HashMap<ThreadId, Addr<Namespace>>>,
}

impl NamespaceEntry {
    /// Starts the namespace's shared actors (its RoomRegistry) and its adapter.
    // The server-wide settings one by one, as `IoShared` keeps them; the
    // two callers are both in `io`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        name: &str,
        setup: Arc<NamespaceBuilder>,
        live: Arc<LiveCount>,
        adapters: &dyn AdapterFactory,
        limits: SocketLimits,
        recovery: Option<RecoveryConfig>,
        observers: Arc<Observers>,
        parser: Parser,
    ) -> Self {
        let parts = NamespaceParts {
            adapters,
            server_side: setup.server_side.clone(),
            limits,
            recovery,
            observers,
            parser,
        };
        NamespaceEntry {
            core: crate::rooms::start(name, parts),
            setup,
            live,
            supervisors: Mutex::default(),
        }
    }

    pub(crate) fn handle(&self) -> NamespaceRef {
        NamespaceRef {
            core: self.core.clone(),
        }
    }

    /// The supervisor on the calling thread, started in its arbiter (with
    /// that worker's handler actor, if per worker) on first use.
    pub(crate) fn local(&self) -> Addr<Namespace> {
        let mut supervisors = self.supervisors.lock().unwrap_or_else(|e| e.into_inner());
        supervisors
            .entry(std::thread::current().id())
            .or_insert_with(|| {
                let arbiter = Arbiter::current();
                let handlers = (self.setup.per_worker.iter())
                    .fold(self.setup.handlers.clone(), |base, start| {
                        start(&arbiter, base)
                    });
                Namespace {
                    core: self.core.clone(),
                    setup: self.setup.clone(),
                    handlers: Arc::new(handlers),
                    middleware: self.setup.packet_middleware.clone().into(),
                    sockets: HashSet::new(),
                    live: self.live.clone(),
                }
                .start()
            })
            .clone()
    }
}

/// Sockets alive across all namespaces, for a graceful shutdown to wait on.
#[derive(Default, Debug)]
pub(crate) struct LiveCount(Mutex<usize>);

impl LiveCount {
    fn add(&self, n: isize) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *v = v.saturating_add_signed(n);
    }

    pub(crate) fn get(&self) -> usize {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Actor for Namespace {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Clients ask with `try_send`: a full mailbox refuses the CONNECT.
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

impl Handler<JoinRequest> for Namespace {
    type Result = ();

    fn handle(&mut self, join: JoinRequest, ctx: &mut Context<Self>) {
        let core = self.core.clone();
        let middleware = self.middleware.clone();
        let chain = self.setup.connect_middleware.clone();
        async move {
            // socket.io: the session is restored first, and a recovered
            // socket skips the connect middleware unless told otherwise.
            let recovering = recovery_claim(&core, &join);
            let identity = match recovering {
                Some(claim) => claim.await,
                None => None,
            };
            let recovered = identity.is_some();
            let (identity, restore) = match identity {
                Some((identity, restore)) => (identity, Some(restore)),
                None => {
                    let recoverable =
                        core.recovery.is_some() && join.session.version() == ProtocolVersion::V4;
                    (Identity::fresh(recoverable), None)
                }
            };
            let handshake = Arc::new(Handshake::new(join.request.clone(), join.auth.clone()));
            let info = Arc::new(SocketInfo::new(
                identity,
                handshake,
                core.clone(),
                join.session.clone(),
                join.conn.clone(),
                middleware,
            ));
            let skip = recovered && core.recovery.is_some_and(|r| r.skip_middlewares);
            if !skip {
                let req = ConnectRequest { info: info.clone() };
                for mw in chain {
                    if let Err(error) = mw(req.clone()).await {
                        return Err((join.session, error));
                    }
                }
            }
            Ok((join, info, restore))
        }
        .into_actor(self)
        .map(move |result, act, ctx| {
            let nsp = act.core.name.to_string();
            let (join, info, mut restore) = match result {
                Ok(admitted) => admitted,
                Err((session, error)) => {
                    session.upcall(ClientUpcall::ConnectFailed {
                        nsp,
                        message: error.message,
                        data: error.data,
                    });
                    return;
                }
            };
            let session = join.session;
            if !session.connected() {
                return;
            }
            act.sockets.insert(info.id.clone());
            act.live.add(1);
            // The client queues CONNECT and registers the socket in its
            // rooms before the socket actor starts: CONNECT goes out before
            // anything the `connection` handler or a broadcast writes (a
            // recovered socket's replay included).
            let (tx, rx) = actix::dev::channel::channel(MAILBOX_CAPACITY);
            let addr = Addr::new(tx);
            let socket = SocketRef { info: info.clone() };
            let replayed = restore.as_mut().map(|restore| {
                let (done, replayed) = oneshot::channel();
                restore.done = Some(done);
                replayed
            });
            let inbound = Arc::new(Inbound::new(
                info.clone(),
                act.handlers.clone(),
                addr.clone().recipient(),
                addr.recipient(),
            ));
            session.upcall(ClientUpcall::Connected(Admitted {
                nsp,
                id: info.id.clone(),
                pid: info.pid.clone(),
                socket: inbound.clone(),
                register: Box::new(move || socket.register(restore)),
            }));
            let actor = SocketActor::new(inbound, ctx.address().recipient()).after(replayed);
            join.arbiter.spawn_fn(move || {
                let ctx = Context::with_receiver(rx);
                actix::spawn(ctx.into_future(actor));
            });
        })
        .spawn(ctx);
    }
}

/// The claim of a CONNECT that asks to recover a socket (`auth` with a
/// string `pid` and `offset`, as socket.io-client 4 sends them), when the
/// namespace has recovery and the client's protocol can use it. Resolves
/// to the socket it recovers, or `None` for a fresh one.
fn recovery_claim(
    core: &Arc<NamespaceCore>,
    join: &JoinRequest,
) -> Option<impl Future<Output = Option<(Identity, Restore)>> + 'static> {
    core.recovery?;
    if join.session.version() != ProtocolVersion::V4 {
        return None;
    }
    let pid = join.auth.get("pid")?.as_str()?.to_owned();
    let offset = join.auth.get("offset")?.as_str()?.to_owned();
    let claim = core.rooms.claim.clone();
    let nsp = core.name.clone();
    let taken = core.adapter.take_session(&pid);
    Some(async move {
        let from = match taken {
            Some(taken) => ClaimFrom::Cluster(taken.await),
            None => ClaimFrom::Node,
        };
        let (reply, answer) = oneshot::channel();
        let request = Claim {
            pid,
            offset,
            from,
            reply,
        };
        claim.send(request).await.ok()?;
        match answer.await.ok()? {
            Ok(Claimed { session, after }) => {
                let rooms = session.rooms.clone();
                let restore = Restore {
                    rooms,
                    after,
                    done: None,
                };
                Some((Identity::recovered(session), restore))
            }
            Err(why) => {
                log::debug!("namespace {nsp}: a socket starts afresh: {why}");
                None
            }
        }
    })
}

impl Handler<SocketGone> for Namespace {
    type Result = ();
    fn handle(&mut self, gone: SocketGone, _: &mut Context<Self>) {
        if self.sockets.remove(&gone.id) {
            self.live.add(-1);
        }
    }
}
