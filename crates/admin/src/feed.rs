//! The admin namespace's actor: what `instrument()` wires in Node. It hears
//! every namespace (through the server-wide observer), every socket's
//! events in and out and its connection's upgrade (development mode), the
//! admin namespace's own connects and commands, and a timer; and it tells
//! the admin namespace, in the order things happened, through one bounded
//! outbox.
//!
//! Everything it tells goes through the admin namespace's adapter, as
//! Node's `adminNamespace.emit` does, so that a UI connected to any node of
//! a cluster sees every node's `server_stats` and sockets.
//!
//! Owns: the outbox, the connection-to-sockets map upgrades need, the
//! aggregated events. Must not touch: the sockets' own state.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Instant, SystemTime};

use actix::prelude::*;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use switchyard_socketio::io::SocketIo;
use switchyard_socketio::socket::{
    AnyEvent, AnyOutgoing, BroadcastOperator, Connect, Event, Observed, SocketRef, Upgraded,
};

use crate::auth::NEW_SESSION_KEY;
use crate::config::{AdminConfig, Mode, hostname};
use crate::serialize::{self, iso_date};
use crate::stats::{self, Base, EventBuffer, Now};

/// Most messages waiting to be told to the admin namespace; past it, the
/// newest are dropped (and counted): a UI cannot keep up with more anyway.
const OUTBOX_CAPACITY: usize = 1024;

/// One thing to tell the admin namespace: an event and its arguments, once
/// known (a socket's rooms, a fetch across nodes, may take a moment).
type Telling = Pin<Box<dyn Future<Output = Option<(&'static str, Vec<Value>)>>>>;

/// The actor behind the admin namespace.
pub(crate) struct Feed {
    config: Arc<AdminConfig>,
    /// Set by [`Attach`]: the server, its admin namespace, the outbox.
    attached: Option<Attached>,
    base: Arc<Base>,
    events: EventBuffer,
    /// Engine.IO sessions opened and open at the last `server_stats`.
    last_opened: u64,
    last_open: usize,
    /// The endpoint's packets and bytes in and out at the last `server_stats`.
    last_traffic: [u64; 4],
    /// Each connection's sockets, for `socket_updated` when it upgrades.
    conns: HashMap<String, Vec<(String, String)>>,
    /// What was dropped, shared with [`Admin::counters`](crate::Admin::counters).
    counts: Arc<Counts>,
}

/// What the feed dropped, since start.
#[derive(Default)]
pub(crate) struct Counts {
    /// Messages the outbox had no room for.
    pub outbox_dropped: AtomicU64,
    /// Event counts the aggregated-events buffer had no room for.
    pub events_dropped: AtomicU64,
}

struct Attached {
    io: SocketIo,
    outbox: mpsc::Sender<Telling>,
}

impl Feed {
    pub(crate) fn new(config: Arc<AdminConfig>, counts: Arc<Counts>) -> Feed {
        let base = Base {
            server_id: config.server_id(),
            hostname: hostname(),
            pid: std::process::id(),
            started: Instant::now(),
        };
        Feed {
            config,
            attached: None,
            base: Arc::new(base),
            events: EventBuffer::default(),
            last_opened: 0,
            last_open: 0,
            last_traffic: [0; 4],
            conns: HashMap::new(),
            counts,
        }
    }

    fn development(&self) -> bool {
        self.config.mode == Mode::Development
    }

    /// Queues `telling` for the admin namespace, in order after what is queued.
    fn tell(&mut self, telling: Telling) {
        let Some(attached) = &self.attached else {
            return;
        };
        if attached.outbox.try_send(telling).is_err() {
            let dropped = self.counts.outbox_dropped.fetch_add(1, Relaxed) + 1;
            // Logged at 1, 2, 4, 8...: a UI that cannot keep up would flood the log.
            if dropped.is_power_of_two() {
                log::warn!("admin UI: {dropped} messages dropped, its outbox was full");
            }
        }
    }

    fn tell_now(&mut self, event: &'static str, args: Vec<Value>) {
        self.tell(Box::pin(async move { Some((event, args)) }));
    }

    /// `server_stats`, with what changed since the last one.
    fn server_stats(&mut self) {
        let Some(attached) = &self.attached else {
            return;
        };
        let engine = attached.io.engine();
        let snapshot = engine.stats().snapshot();
        let opened = snapshot.sessions_opened;
        let open = engine.session_count();
        let new = opened.saturating_sub(self.last_opened);
        // What was open, plus what opened, less what is open: what closed.
        let closed = (self.last_open as u64 + new).saturating_sub(open as u64);
        (self.last_opened, self.last_open) = (opened, open);
        self.events.push("rawConnection", None, new);
        self.events.push("rawDisconnection", None, closed);
        // The Engine.IO packets and bytes since the last time, as Node counts them per packet.
        let traffic = [
            snapshot.packets_in,
            snapshot.packets_out,
            snapshot.bytes_in,
            snapshot.bytes_out,
        ];
        let kinds = ["packetsIn", "packetsOut", "bytesIn", "bytesOut"];
        for ((kind, now), last) in kinds.into_iter().zip(traffic).zip(self.last_traffic) {
            self.events.push(kind, None, now.saturating_sub(last));
        }
        self.last_traffic = traffic;
        let polling = engine.stats().polling_sessions();
        let aggregated = self.events.take();
        let dropped = std::mem::take(&mut self.events.dropped);
        self.counts.events_dropped.fetch_add(dropped, Relaxed);
        let namespaces = attached.io.namespaces();
        let base = self.base.clone();
        self.tell(Box::pin(async move {
            let mut counts = Vec::with_capacity(namespaces.len());
            for ns in namespaces {
                let sockets = ns.rooms().await.sockets;
                counts.push((ns.name().to_string(), sockets));
            }
            let now = Now {
                clients: open,
                polling_clients: polling,
                aggregated,
                namespaces: counts,
            };
            Some(("server_stats", vec![stats::server_stats(&base, now)]))
        }));
    }

    fn observed(&mut self, observed: Observed, ctx: &mut Context<Self>) {
        let date = || json!(iso_date(SystemTime::now()));
        match observed {
            Observed::Connected(socket) => self.connected(socket, ctx),
            Observed::Disconnected { socket, reason } => {
                let conn = socket.conn();
                if let Some(sockets) = self.conns.get_mut(conn.id()) {
                    sockets.retain(|(_, id)| id != socket.id());
                    if sockets.is_empty() {
                        self.conns.remove(conn.id());
                    }
                }
                let args = vec![
                    json!(socket.nsp()),
                    json!(socket.id()),
                    json!(reason.as_str()),
                    date(),
                ];
                self.tell_now("socket_disconnected", args);
            }
            // Node's admin UI watches `socket.data` through a proxy.
            Observed::DataSet(socket) => {
                let update = json!({
                    "id": socket.id(),
                    "nsp": socket.nsp(),
                    "data": serialize::without_admin(socket.data()),
                });
                self.tell_now("socket_updated", vec![update]);
            }
            Observed::RoomJoined { nsp, room, id } => {
                let args = vec![json!(&*nsp), json!(&*room), json!(&*id), date()];
                self.tell_now("room_joined", args);
            }
            Observed::RoomLeft { nsp, room, id } => {
                let args = vec![json!(&*nsp), json!(&*room), json!(&*id), date()];
                self.tell_now("room_left", args);
            }
        }
    }

    /// `socket_connected`, and the socket's events and upgrade from now on.
    fn connected(&mut self, socket: SocketRef, ctx: &mut Context<Self>) {
        let conn = socket.conn();
        let sockets = self.conns.entry(conn.id().to_string()).or_default();
        sockets.push((socket.nsp().to_string(), socket.id().to_string()));
        if sockets.len() == 1 {
            conn.on_upgrade(ctx.address().recipient());
        }
        if socket.nsp() != self.config.namespace {
            socket.on_any(ctx.address().recipient());
            socket.on_any_outgoing(ctx.address().recipient());
        }
        let date = json!(iso_date(SystemTime::now()));
        self.tell(Box::pin(async move {
            let rooms = socket.rooms().await;
            Some((
                "socket_connected",
                vec![serialize::local(&socket, rooms), date],
            ))
        }));
    }

    /// What the UI sees first: its session, the features, every socket.
    fn admin_connected(&mut self, socket: SocketRef) {
        if let Some(session) = socket.data().get(NEW_SESSION_KEY).cloned() {
            socket.set_data(json!({}));
            let _ = socket.emit("session", session);
        }
        let _ = socket.emit("config", json!({ "supportedFeatures": self.features() }));
        let Some(attached) = &self.attached else {
            return;
        };
        if !self.development() {
            return;
        }
        let namespaces = attached.io.namespaces();
        // Straight to the admin socket, as Node's `socket.emit("all_sockets")`.
        actix::spawn(async move {
            let mut all = Vec::new();
            for ns in namespaces {
                let found = ns
                    .fetch_sockets()
                    .await
                    .unwrap_or_else(|e| e.into_partial());
                all.extend(found.iter().map(|s| serialize::fetched(s, ns.name())));
            }
            let _ = socket.emit("all_sockets", json!(all));
        });
    }

    /// `supportedFeatures`, as Node's `detectSupportedFeatures` with socket.io 4.
    fn features(&self) -> Vec<&'static str> {
        let mut features = Vec::new();
        if !self.config.readonly {
            features.extend([
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ]);
        }
        features.push("AGGREGATED_EVENTS");
        if self.development() {
            features.push("ALL_EVENTS");
        }
        features
    }

    /// The UI's commands (`emit`, `join`, `leave`, `_disconnect`), on
    /// every node: the operators go through the namespace's adapter.
    fn command(&self, event: Event) {
        if self.config.readonly {
            return;
        }
        let Some(attached) = &self.attached else {
            return;
        };
        let args = event.payload.args;
        let Some(ns) = args
            .first()
            .and_then(Value::as_str)
            .and_then(|n| attached.io.of(n))
        else {
            return;
        };
        // `filter`: a room (or rooms) to narrow the command to; empty for all.
        let select = |filter: Option<&Value>| -> BroadcastOperator {
            match filter {
                Some(Value::String(room)) if !room.is_empty() => ns.to(room.clone()),
                Some(Value::Array(rooms)) if !rooms.is_empty() => {
                    let rooms: Vec<String> = (rooms.iter())
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect();
                    ns.to(rooms)
                }
                _ => ns.to_all(),
            }
        };
        match event.name.as_str() {
            "emit" => {
                let Some(name) = args.get(2).and_then(Value::as_str).map(str::to_string) else {
                    return;
                };
                let op = select(args.get(1));
                let rest = args.get(3..).unwrap_or_default().to_vec();
                actix::spawn(async move {
                    if let Err(e) = op.emit(&name, rest).await {
                        log::info!("admin UI: emit {name:?} failed: {e}");
                    }
                });
            }
            "join" | "leave" => {
                let Some(room) = args.get(1).and_then(Value::as_str).map(str::to_string) else {
                    return;
                };
                let op = select(args.get(2));
                let applied = match event.name.as_str() {
                    "join" => op.sockets_join([room.clone()]),
                    _ => op.sockets_leave([room.clone()]),
                };
                actix::spawn(async move {
                    if let Err(e) = applied.await {
                        log::info!("admin UI: {room:?}: {e}");
                    }
                });
            }
            "_disconnect" => {
                let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
                let applied = select(args.get(2)).disconnect_sockets(close);
                actix::spawn(async move {
                    if let Err(e) = applied.await {
                        log::info!("admin UI: disconnect: {e}");
                    }
                });
            }
            other => log::debug!("admin UI: unknown command {other:?}"),
        }
    }
}

/// The feed's mailbox: notices come with `try_send` from every socket and
/// room registry; past this bound they are dropped and counted in each
/// namespace's `listener_dropped` (actix's default, 16, would drop a burst
/// of connections).
const MAILBOX_CAPACITY: usize = 4096;

impl Actor for Feed {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

/// Starts the feed on a built server: the outbox, the stats timer.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Attach(pub SocketIo);

impl Handler<Attach> for Feed {
    type Result = ();
    fn handle(&mut self, Attach(io): Attach, ctx: &mut Context<Self>) {
        let (outbox, mut queued) = mpsc::channel::<Telling>(OUTBOX_CAPACITY);
        let ns = io.of(&self.config.namespace);
        self.attached = Some(Attached { io, outbox });
        let Some(ns) = ns else {
            log::error!(
                "admin UI: namespace {} is not set up",
                self.config.namespace
            );
            return;
        };
        // One task tells everything, in the order it was queued.
        actix::spawn(async move {
            while let Some(telling) = queued.recv().await {
                if let Some((event, args)) = telling.await
                    && let Err(e) = ns.emit(event, args).await
                {
                    log::debug!("admin UI: {event} not told: {e}");
                }
            }
        });
        // Node emits the first stats at once, then every period.
        self.server_stats();
        ctx.run_interval(self.config.stats_interval, |feed, _| feed.server_stats());
    }
}

impl Handler<Observed> for Feed {
    type Result = ();
    fn handle(&mut self, observed: Observed, ctx: &mut Context<Self>) {
        if self.development() {
            self.observed(observed, ctx);
        }
    }
}

/// An `event_received` or `event_sent` notice: namespace, socket id,
/// `[event, ...args]` and the time, as Node's admin UI server sends it.
fn event_notice(socket: &SocketRef, name: String, args: Vec<Value>) -> Vec<Value> {
    let mut all = vec![json!(name)];
    all.extend(args);
    let date = json!(iso_date(SystemTime::now()));
    vec![json!(socket.nsp()), json!(socket.id()), json!(all), date]
}

impl Handler<AnyEvent> for Feed {
    type Result = ();
    fn handle(&mut self, ev: AnyEvent, _: &mut Context<Self>) {
        let told = event_notice(&ev.socket, ev.name, ev.payload.args);
        self.tell_now("event_received", told);
    }
}

impl Handler<AnyOutgoing> for Feed {
    type Result = ();
    fn handle(&mut self, ev: AnyOutgoing, _: &mut Context<Self>) {
        let told = event_notice(&ev.socket, ev.name, ev.payload.args);
        self.tell_now("event_sent", told);
    }
}

impl Handler<Upgraded> for Feed {
    type Result = ();
    fn handle(&mut self, up: Upgraded, _: &mut Context<Self>) {
        let sockets = self.conns.get(&*up.conn_id).cloned().unwrap_or_default();
        for (nsp, id) in sockets {
            let update = json!({"id": id, "nsp": nsp, "transport": up.transport});
            self.tell_now("socket_updated", vec![update]);
        }
    }
}

impl Handler<Connect> for Feed {
    type Result = ();
    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
        self.admin_connected(msg.socket);
    }
}

impl Handler<Event> for Feed {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        self.command(ev);
    }
}
