//! The Socket.IO server: [`SocketIo`] ties namespaces to an Engine.IO
//! endpoint. Built once at start-up; cloned into every actix-web worker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::web;
use regex::Regex;

pub use crate::client::ClientCounters;
use crate::client::{Client, ClientConfig, ClientStats, JoinRefused, JoinRequest, Namespaces};
use crate::namespace::{LiveCount, NamespaceBuilder, NamespaceEntry};
pub use crate::recovery::{NotRecovered, RecoveryConfig, RecoveryCounters};
use crate::socket::{
    AdapterFactory, BroadcastOperator, IntoRooms, NamespaceRef, Observed, Observers, SocketLimits,
};
pub use switchyard_core::protocol::Parser;
use switchyard_engineio::{CloseReason, Engine, EngineConfig};

/// Decides whether a namespace name belongs to a family of dynamic namespaces.
pub type NamespaceMatcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Socket.IO settings on top of the Engine.IO ones.
#[derive(Debug, Clone)]
pub struct SocketIoConfig {
    /// The Engine.IO settings underneath: ping, payload and buffer limits,
    /// transports, CORS, compression.
    pub engine: EngineConfig,
    /// Close a connection that joins no namespace within this time.
    pub connect_timeout: Duration,
    /// Most binary attachments one packet may carry.
    pub max_attachments: usize,
    /// Most namespaces one connection may join; a CONNECT past it gets a
    /// CONNECT_ERROR (0: no bound).
    pub max_namespaces_per_client: usize,
    /// Deepest nesting of arrays and objects a packet's JSON may have; a
    /// deeper one is a parse error (at most
    /// [`MAX_JSON_DEPTH`](switchyard_core::protocol::MAX_JSON_DEPTH)).
    pub max_json_depth: usize,
    /// Per-socket bounds: rooms, acks awaited.
    pub socket_limits: SocketLimits,
    /// How Socket.IO packets are encoded: socket.io's JSON parser (the
    /// default) or `socket.io-msgpack-parser`'s msgpack, for the whole
    /// server; clients must use the same (see [`SocketIoBuilder::parser`]).
    pub parser: Parser,
    /// Connection state recovery (socket.io's `connectionStateRecovery`):
    /// a client whose transport blinked comes back as the same socket,
    /// with its rooms, `data` and the broadcasts it missed. Off (`None`)
    /// by default, as in socket.io.
    pub recovery: Option<RecoveryConfig>,
}

impl Default for SocketIoConfig {
    /// The documented, safe defaults, the same as the `switchyard` binary's
    /// `config/default.toml`: socket.io's timings (ping 25 s / 20 s,
    /// connect 45 s), 1 MB payloads, 10 attachments, JSON 32 deep, 50
    /// namespaces per client, 1,000 rooms and acks per socket, and the
    /// per-address limits of [`AdmissionConfig`](switchyard_engineio::AdmissionConfig).
    fn default() -> Self {
        SocketIoConfig {
            engine: EngineConfig::default(),
            connect_timeout: Duration::from_millis(45_000),
            max_attachments: 10,
            max_namespaces_per_client: 50,
            max_json_depth: 32,
            socket_limits: SocketLimits::default(),
            parser: Parser::Json,
            recovery: None,
        }
    }
}

pub(crate) struct IoShared {
    namespaces: RwLock<HashMap<String, Arc<NamespaceEntry>>>,
    dynamic: Vec<(NamespaceMatcher, Arc<NamespaceBuilder>)>,
    live: Arc<LiveCount>,
    adapters: Arc<dyn AdapterFactory>,
    limits: SocketLimits,
    recovery: Option<RecoveryConfig>,
    observers: Arc<Observers>,
    parser: Parser,
    /// Set once [`SocketIo::shutdown`] has begun.
    shutting_down: AtomicBool,
}

impl IoShared {
    /// The namespace called `name`, creating it if a dynamic family matches.
    pub(crate) fn namespace(&self, name: &str) -> Option<Arc<NamespaceEntry>> {
        let map = self.namespaces.read().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = map.get(name) {
            return Some(entry.clone());
        }
        drop(map);
        let (_, setup) = self.dynamic.iter().find(|(matches, _)| matches(name))?;
        let mut map = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(name.to_string()).or_insert_with(|| {
            Arc::new(NamespaceEntry::start(
                name,
                setup.clone(),
                self.live.clone(),
                &*self.adapters,
                self.limits,
                self.recovery,
                self.observers.clone(),
                self.parser,
            ))
        });
        Some(entry.clone())
    }
}

impl Namespaces for IoShared {
    fn join(&self, nsp: &str, join: JoinRequest) -> Result<(), JoinRefused> {
        let namespace = self.namespace(nsp).ok_or(JoinRefused::Unknown)?;
        namespace
            .local()
            .try_send(join)
            .map_err(|_| JoinRefused::Overloaded)
    }
}

/// Builds a [`SocketIo`]: namespaces, dynamic namespace families, settings.
pub struct SocketIoBuilder {
    config: SocketIoConfig,
    namespaces: Vec<(String, NamespaceBuilder)>,
    dynamic: Vec<(NamespaceMatcher, Arc<NamespaceBuilder>)>,
    adapters: Arc<dyn AdapterFactory>,
    observers: Vec<actix::Recipient<Observed>>,
}

impl SocketIoBuilder {
    /// Adds a server-wide observer: it hears every socket that connects or
    /// disconnects and every room join and leave, in every namespace
    /// (dynamic ones included). What socket.io's admin UI instruments
    /// with `io.on("new_namespace")`, `connection` and the adapter's
    /// `join-room` / `leave-room`. An observer whose mailbox is full
    /// misses notices (counted in each namespace's `listener_dropped`).
    pub fn observe(mut self, r: actix::Recipient<Observed>) -> Self {
        self.observers.push(r);
        self
    }

    /// Sets up namespace `name` (`"/"` exists even when not set up).
    pub fn ns(mut self, name: &str, setup: NamespaceBuilder) -> Self {
        self.namespaces.push((name.to_string(), setup));
        self
    }

    /// Every namespace whose whole name matches `pattern` gets its own
    /// instance set up by `setup` when a client first connects to it.
    pub fn dynamic_ns(self, pattern: Regex, setup: NamespaceBuilder) -> Self {
        self.dynamic_ns_fn(
            move |name| pattern.find(name).is_some_and(|m| m.len() == name.len()),
            setup,
        )
    }

    /// Like [`Self::dynamic_ns`] with a predicate.
    pub fn dynamic_ns_fn(
        mut self,
        matches: impl Fn(&str) -> bool + Send + Sync + 'static,
        setup: NamespaceBuilder,
    ) -> Self {
        self.dynamic.push((Arc::new(matches), Arc::new(setup)));
        self
    }

    /// Turns connection state recovery on (socket.io's
    /// `connectionStateRecovery`), as [`SocketIoConfig::recovery`] does: a
    /// client whose connection blinked comes back as the same socket, with
    /// its rooms, `data` and the broadcasts it missed.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use switchyard_socketio::io::{RecoveryConfig, SocketIo, SocketIoConfig};
    ///
    /// # actix::System::new().block_on(async {
    /// let io = SocketIo::builder(SocketIoConfig::default())
    ///     .connection_state_recovery(RecoveryConfig {
    ///         max_disconnection_duration: Duration::from_secs(30),
    ///         ..RecoveryConfig::default()
    ///     })
    ///     .build();
    /// # });
    /// ```
    pub fn connection_state_recovery(mut self, recovery: RecoveryConfig) -> Self {
        self.config.recovery = Some(recovery);
        self
    }

    /// Encodes packets with `parser` (socket.io's `parser` option): with
    /// [`Parser::Msgpack`], compatible with npm `socket.io-msgpack-parser`
    /// 3.x, each packet is one binary message and binary arguments travel
    /// inline. The bounds of [`SocketIoConfig`] (attachments, nesting
    /// depth, payload size) hold for both. A msgpack server refuses
    /// Engine.IO v3 clients (socket.io-client 2, sails.io.js) at the
    /// handshake, whatever `allow_eio3` says: they speak JSON.
    ///
    /// ```
    /// use switchyard_socketio::io::{Parser, SocketIo, SocketIoConfig};
    ///
    /// # actix::System::new().block_on(async {
    /// let io = SocketIo::builder(SocketIoConfig::default())
    ///     .parser(Parser::Msgpack)
    ///     .build();
    /// # });
    /// ```
    ///
    /// The client side, in JavaScript:
    ///
    /// ```js
    /// const socket = io(url, { parser: require("socket.io-msgpack-parser") });
    /// ```
    pub fn parser(mut self, parser: Parser) -> Self {
        self.config.parser = parser;
        self
    }

    /// How namespaces reach the other nodes of a cluster: the default
    /// [`LocalAdapter`](crate::adapter::LocalAdapter) is one node; see
    /// `switchyard_redis::RedisAdapter` for a cluster.
    pub fn adapter(mut self, adapters: impl AdapterFactory) -> Self {
        self.adapters = Arc::new(adapters);
        self
    }

    /// Starts the namespace actors. Call inside a running actix system.
    pub fn build(self) -> SocketIo {
        let live = Arc::new(LiveCount::default());
        let adapters = self.adapters;
        let limits = self.config.socket_limits;
        let recovery = self.config.recovery;
        let parser = self.config.parser;
        let observers = Arc::new(Observers::with(self.observers));
        let mut namespaces = HashMap::new();
        let start = |name: &str, setup| {
            let entry = NamespaceEntry::start(
                name,
                setup,
                live.clone(),
                &*adapters,
                limits,
                recovery,
                observers.clone(),
                parser,
            );
            Arc::new(entry)
        };
        for (name, setup) in self.namespaces {
            let entry = start(&name, Arc::new(setup));
            namespaces.insert(name, entry);
        }
        if !namespaces.contains_key("/") {
            namespaces.insert("/".to_string(), start("/", Arc::default()));
        }
        let shared = Arc::new(IoShared {
            namespaces: RwLock::new(namespaces),
            dynamic: self.dynamic,
            live,
            adapters,
            limits,
            recovery,
            observers,
            parser,
            shutting_down: AtomicBool::new(false),
        });
        let counters = Arc::new(ClientStats::default());
        let client = ClientConfig {
            connect_timeout: self.config.connect_timeout,
            max_attachments: self.config.max_attachments,
            max_namespaces: self.config.max_namespaces_per_client,
            max_json_depth: self.config.max_json_depth,
            parser,
            counters: counters.clone(),
        };
        let namespaces: Arc<dyn Namespaces> = shared.clone();
        let mut engine = self.config.engine;
        if parser == Parser::Msgpack && engine.allow_eio3 {
            // Engine.IO v3 clients are socket.io-client 2 and sails.io.js,
            // which speak JSON: refused at the handshake (HTTP 400), a clear
            // failure, rather than sent msgpack they would misread.
            log::info!("parser msgpack: Engine.IO v3 clients are refused (allow_eio3 off)");
            engine.allow_eio3 = false;
        }
        let engine = Engine::new(engine, move || {
            Client::new(namespaces.clone(), client.clone())
        });
        SocketIo {
            shared,
            engine,
            counters,
        }
    }
}

/// A Socket.IO server.
///
/// ```no_run
/// use actix::prelude::*;
/// use switchyard_socketio::io::{SocketIo, SocketIoConfig};
/// use switchyard_socketio::namespace::NamespaceBuilder;
/// use switchyard_socketio::socket::{Connect, Disconnect, Event};
///
/// /// Answers `ping` with `pong`.
/// struct Pinger;
/// impl Actor for Pinger { type Context = Context<Self>; }
/// impl Handler<Connect> for Pinger {
///     type Result = ();
///     fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
///         println!("{} connected", msg.socket.id());
///     }
/// }
/// impl Handler<Event> for Pinger {
///     type Result = ();
///     fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
///         if ev.name == "ping" {
///             let _ = ev.socket.emit("pong", ev.payload);
///         }
///     }
/// }
/// impl Handler<Disconnect> for Pinger {
///     type Result = ();
///     fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
///         println!("{} left: {}", msg.socket.id(), msg.reason);
///     }
/// }
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let io = SocketIo::builder(SocketIoConfig::default())
///         .ns("/", NamespaceBuilder::default().handler(Pinger.start()))
///         .build();
///     let app_io = io.clone();
///     actix_web::HttpServer::new(move || actix_web::App::new().configure(app_io.configure("/socket.io/")))
///         .bind("127.0.0.1:3000")?
///         .run()
///         .await
/// }
/// ```
#[derive(Clone)]
pub struct SocketIo {
    shared: Arc<IoShared>,
    engine: Engine<Client>,
    counters: Arc<ClientStats>,
}

impl SocketIo {
    /// Starts describing a server: add namespaces, then [`SocketIoBuilder::build`].
    pub fn builder(config: SocketIoConfig) -> SocketIoBuilder {
        SocketIoBuilder {
            config,
            namespaces: Vec::new(),
            dynamic: Vec::new(),
            adapters: Arc::new(crate::adapter::LocalAdapter),
            observers: Vec::new(),
        }
    }

    /// Mounts the Socket.IO endpoint at `path` in an actix-web app.
    pub fn configure(&self, path: &str) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
        self.engine.configure(path)
    }

    /// The Engine.IO endpoint underneath (stats, session count).
    pub fn engine(&self) -> &Engine<Client> {
        &self.engine
    }

    /// What clients were refused, over every connection: CONNECTs past
    /// `max_namespaces_per_client`, packets that did not parse.
    pub fn client_counters(&self) -> ClientCounters {
        self.counters.snapshot()
    }

    /// The namespace called `name`, if it exists (dynamic ones once a client joined).
    pub fn of(&self, name: &str) -> Option<NamespaceRef> {
        let map = self
            .shared
            .namespaces
            .read()
            .unwrap_or_else(|e| e.into_inner());
        map.get(name).map(|entry| entry.handle())
    }

    /// Every namespace that exists now (dynamic ones once a client
    /// joined), by name (socket.io's `io._nsps`).
    pub fn namespaces(&self) -> Vec<NamespaceRef> {
        let map = self
            .shared
            .namespaces
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<NamespaceRef> = map.values().map(|entry| entry.handle()).collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }

    /// The main namespace, `/`.
    pub fn main(&self) -> NamespaceRef {
        self.of("/").expect("the main namespace always exists")
    }

    /// Sockets of the main namespace in `rooms`, one room or several
    /// (socket.io's `io.to(room)` and `io.to([a, b])`; see [`IntoRooms`]).
    pub fn to<M>(&self, rooms: impl IntoRooms<M>) -> BroadcastOperator {
        self.main().to(rooms)
    }

    /// Same as [`Self::to`] (socket.io's `io.in`).
    pub fn within<M>(&self, rooms: impl IntoRooms<M>) -> BroadcastOperator {
        self.main().to(rooms)
    }

    /// Sockets of the main namespace in none of `rooms` (socket.io's `io.except`).
    pub fn except<M>(&self, rooms: impl IntoRooms<M>) -> BroadcastOperator {
        self.main().except(rooms)
    }

    /// Whether [`shutdown`](Self::shutdown) has begun: a readiness probe
    /// should then say "not ready", so that no new traffic comes.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutting_down.load(Ordering::Acquire)
    }

    /// Graceful stop: closes every connection with "server shutting down"
    /// and waits (up to `timeout`) until every socket's `disconnect` has run.
    pub async fn shutdown(&self, timeout: Duration) {
        self.shared.shutting_down.store(true, Ordering::Release);
        let deadline = Instant::now() + timeout;
        self.engine
            .close_all(CloseReason::ServerShutdown, timeout)
            .await;
        while self.shared.live.get() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
