//! The server the end-to-end tests (`tests/js/`) drive with real clients.
//! Every lifecycle event is printed as one stdout line so tests can see
//! server-side reasons: `connect NSP ID`, `disconnecting NSP ID REASON rooms=N`,
//! `disconnect NSP ID REASON`, `error NSP ID MESSAGE`.
//!
//! Namespaces: `/` and `/custom` (echo, acks, handshake, rooms, data, server
//! acks, server disconnects; `/` also has per-packet middleware), `/private`
//! (connect middleware wants `auth.token == "secret"`), dynamic
//! `/dyn-<digits>`, `/per-worker` (the echo handler, one per worker thread)
//! and `/per-worker-all` (the same, also taking `disconnecting` and middleware errors);
//! `/gated` holds a CONNECT whose auth has `hold: true` until `open-gate`;
//! `/event-only` and `/event-connect` have handlers that take only some
//! messages (see `api.rs`).
//!
//! `--admin 1` adds socket.io's admin UI protocol on `/admin` (no login).
//!
//! `--max-namespaces N`, `--max-rooms N`, `--max-acks N` and `--max-json-depth N` set the
//! per-client and per-socket bounds (none by default). `--recovery 1` turns
//! connection state recovery on (`--recovery-max-ms`,
//! `--recovery-skip-middlewares 0|1`, `--recovery-max-packets`); a
//! recovered socket's connect prints `recovered NSP ID` after its `connect` line.
//! `--parser msgpack` speaks `socket.io-msgpack-parser` instead of JSON.
//!
//! With `--adapter redis --redis-url URL` (and optionally
//! `--redis-key-prefix`, `--redis-request-timeout-ms`, `--redis-variant
//! sharded` with `--redis-subscription-mode MODE`, or `--redis-variant
//! streams` with `--redis-stream-name NAME`, `--redis-stream-max-len N`,
//! `--redis-stream-read-count N`, and with a `rediss://` URL `--redis-tls-ca-file
//! PEM`; `--redis-cluster URL,URL,...` for a Redis Cluster's seed nodes instead of
//! `--redis-url`) the node joins a cluster over Redis: the room operations span every node unless their
//! spec says `local: true`, and each node answers other nodes'
//! `serverSideEmit` (see `ServerSide`: a catch-all, and one for those named `sse-by-name`).
//!
//! `/` also serves Sails virtual requests through the routes of `routes.rs`
//! (`--vr-max-in-flight N`, `--vr-max-body BYTES`, and `--vr-min-sdk-version
//! VERSION` for Sails' sails.io.js SDK check, which is off here by default
//! as most tests emit requests from plain socket.io clients); the
//! repository's `static/` is served at `/`.

mod api;
mod routes;

#[path = "../common/flags.rs"]
mod flags;

use flags::flag;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;

use actix::prelude::*;
use serde_json::{Value, json};
use switchyard_engineio::{AdmissionConfig, Cors, DeflateSettings, EngineConfig};
use switchyard_redis::{RedisAdapter, RedisConfig, TlsCertificates, Variant};
use switchyard_sails::{Sails, SdkVersion, Sockets, VirtualRequestConfig};
use switchyard_socketio::io::{Parser, RecoveryConfig, SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::NamespaceBuilder;
use switchyard_socketio::server::{ServeOptions, Server};
use switchyard_socketio::socket::{
    AckSender, AnyEvent, AnyOutgoing, Connect, Disconnect, Disconnecting, Event, EventPacket,
    MiddlewareError, Payload, SocketError, SocketRef, Upgraded,
};
use switchyard_socketio::socket::{
    BroadcastAckError, BroadcastOperator, FetchedSocket, ServerSideEmitError, ServerSideEvent,
    SocketLimits,
};

struct TestHandler;

impl Actor for TestHandler {
    type Context = Context<Self>;
}

impl Handler<Connect> for TestHandler {
    type Result = ();
    fn handle(&mut self, Connect { socket, recovered }: Connect, _: &mut Context<Self>) {
        println!("connect {} {}", socket.nsp(), socket.id());
        if recovered {
            println!("recovered {} {}", socket.nsp(), socket.id());
        }
        if socket.nsp().starts_with("/dyn-") {
            let _ = socket.emit("nsp", json!(socket.nsp()));
        } else {
            let _ = socket.emit("auth", socket.handshake().auth.clone());
        }
    }
}

impl Handler<Event> for TestHandler {
    type Result = ();
    fn handle(&mut self, ev: Event, _: &mut Context<Self>) {
        let socket = ev.socket;
        let first = ev.payload.args.first().cloned().unwrap_or(Value::Null);
        match (ev.name.as_str(), ev.ack) {
            ("message", _) => drop(socket.emit("message-back", ev.payload)),
            ("message-with-ack", Some(ack)) => ack.send(ev.payload),
            ("double", _) => drop(socket.emit("double-back", ev.payload)),
            ("handshake", Some(ack)) => {
                ack.send(serde_json::to_value(socket.handshake()).unwrap_or_default())
            }
            ("rooms", Some(ack)) => {
                actix::spawn(async move { ack.send(json!(socket.rooms().await)) });
            }
            ("connection", Some(ack)) => ack.send(connection(&socket)),
            ("watch-upgrade", _) => {
                socket.conn().on_upgrade(
                    UpgradeWatcher {
                        socket: socket.clone(),
                    }
                    .start()
                    .recipient(),
                );
            }
            ("set-data", _) => socket.set_data(first),
            ("get-data", Some(ack)) => ack.send(socket.data()),
            ("ask", _) => {
                let timeout = Duration::from_millis(first.as_u64().unwrap_or(1000));
                actix::spawn(ask(socket, timeout));
            }
            ("disconnect-me", _) => {
                socket.disconnect(false);
            }
            ("close-me", _) => {
                socket.disconnect(true);
            }
            ("order", Some(ack)) => order(socket, ack),
            (name, ack) => {
                actix::spawn(rooms_event(socket, name.to_string(), ev.payload, ack));
            }
        }
    }
}

/// `socket.conn`, `socket.request` and `socket.client`, as one object.
fn connection(socket: &SocketRef) -> Value {
    let conn = socket.conn();
    let request = socket.request();
    let pairs = |list: Vec<(String, String)>| {
        Value::Object(
            list.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    };
    let sockets: Vec<Value> = (socket.client().sockets().into_iter())
        .map(|(nsp, id)| json!({"nsp": nsp, "id": id}))
        .collect();
    json!({
        "conn": {
            "id": conn.id(),
            "transport": conn.transport(),
            "readyState": conn.ready_state(),
            "remoteAddress": conn.remote_address().map(|a| a.ip().to_string()),
            "protocol": conn.protocol(),
        },
        "request": {
            "method": request.method,
            "url": request.url,
            "headers": pairs(request.headers.clone()),
            "cookies": pairs(request.cookies()),
            "remoteAddress": request.remote_addr.map(|a| a.ip().to_string()),
        },
        "client": {"id": socket.client().id(), "sockets": sockets},
    })
}

/// Emits `upgraded` to its socket when the connection moves to WebSocket.
struct UpgradeWatcher {
    socket: SocketRef,
}

impl Actor for UpgradeWatcher {
    type Context = Context<Self>;
}

impl Handler<Upgraded> for UpgradeWatcher {
    type Result = ();
    fn handle(&mut self, up: Upgraded, ctx: &mut Context<Self>) {
        let _ = self.socket.emit(
            "upgraded",
            json!({"transport": up.transport, "now": self.socket.conn().transport()}),
        );
        ctx.stop();
    }
}

/// The handler actor, for catch-all listeners registered at run time.
static HANDLER: std::sync::OnceLock<Addr<TestHandler>> = std::sync::OnceLock::new();

/// Releases the CONNECTs `/gated` holds.
static GATE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// The port this node listens on, for its answers to other nodes.
static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();

/// The server, for the counters its engine keeps.
static IO: std::sync::OnceLock<SocketIo> = std::sync::OnceLock::new();

/// `spec.data` as one argument, with the binary its placeholders stand for.
fn data(spec: &Value, payload: &Payload) -> Payload {
    Payload {
        args: vec![spec["data"].clone()],
        binary: payload.binary.clone(),
    }
}

/// Each answer's first argument.
fn args(answers: &[Payload]) -> Vec<Value> {
    (answers.iter())
        .map(|p| p.args.first().cloned().unwrap_or(Value::Null))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// Builds an operator from `{rooms, except, volatile, compress}`; `rooms`
/// and `except` are one room or a list, passed on as given.
fn operator(op: BroadcastOperator, spec: &Value) -> BroadcastOperator {
    let mut op = op
        .to(strings(&spec["rooms"]))
        .except(strings(&spec["except"]));
    if spec["volatile"] == json!(true) {
        op = op.volatile();
    }
    if spec["compress"] == json!(false) {
        op = op.compress(false);
    }
    if spec["local"] == json!(true) {
        op = op.local();
    }
    if let Some(ms) = spec["timeout"].as_u64() {
        op = op.timeout(Duration::from_millis(ms));
    }
    op
}

/// A fetched socket as the tests compare it.
fn fetched(s: &FetchedSocket) -> Value {
    json!({ "id": s.id(), "data": s.data(), "rooms": s.rooms() })
}

/// Answers other nodes' `serverSideEmit`: tells this node's sockets in
/// room `sse-watchers` (`<relay>` with the event and its arguments) and,
/// when asked, answers `<label>-<port>`. The catch-all relays `sse-received`
/// as `node`; the handler of one name ([`api::BY_NAME`]) relays
/// `sse-by-name-received` as `named-node`.
struct ServerSide {
    relay: &'static str,
    label: &'static str,
}

impl Actor for ServerSide {
    type Context = Context<Self>;
}

impl Handler<ServerSideEvent> for ServerSide {
    type Result = ();
    fn handle(&mut self, ev: ServerSideEvent, _: &mut Context<Self>) {
        let mut args = vec![json!(ev.name)];
        args.extend(ev.payload.args);
        let payload = Payload {
            args,
            binary: ev.payload.binary,
        };
        if let Some(io) = IO.get() {
            let op = io.to("sse-watchers").local();
            let relay = self.relay;
            actix::spawn(async move { drop(op.emit(relay, payload).await) });
        }
        if let Some(ack) = ev.ack {
            let port = PORT.get().copied().unwrap_or(0);
            ack.send(json!(format!("{}-{port}", self.label)));
        }
    }
}

/// Room and broadcast operations; each answers through the ack when one was asked.
async fn rooms_event(socket: SocketRef, name: String, payload: Payload, ack: Option<AckSender>) {
    let spec = payload.args.first().cloned().unwrap_or(Value::Null);
    let ns = socket.namespace();
    let reply = match name.as_str() {
        "open-gate" => {
            GATE.notify_waiters();
            json!(true)
        }
        "join" => {
            let _ = socket.join(strings(&spec)).await;
            json!(socket.rooms().await)
        }
        "leave" => {
            for room in strings(&spec) {
                let _ = socket.leave(room).await;
            }
            json!(socket.rooms().await)
        }
        // From the socket: the sender is left out.
        "to" => json!(
            operator(socket.broadcast(), &spec)
                .emit("room-msg", data(&spec, &payload))
                .await
                .ok()
        ),
        // From the namespace: the sender is included when selected.
        "io-emit" => json!(
            operator(ns.to_all(), &spec)
                .emit("room-msg", data(&spec, &payload))
                .await
                .ok()
        ),
        "burst" => {
            let count = spec["count"].as_u64().unwrap_or(0).min(100_000);
            let data = json!("x".repeat(spec["size"].as_u64().unwrap_or(10).min(1 << 20) as usize));
            // An optional pause between emits paces the burst like a real producer.
            let pause = Duration::from_millis(spec["pause_ms"].as_u64().unwrap_or(0).min(1000));
            for i in 0..count {
                let _ = operator(ns.to_all(), &spec)
                    .emit("burst", json!([i, data]))
                    .await;
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
            json!(count)
        }
        "broadcast-ack" => {
            let op = operator(socket.broadcast(), &spec);
            match op.emit_with_ack("poll", json!("vote?")).await {
                Ok(answers) => {
                    json!({ "ok": answers.iter().map(|p| p.args.clone()).collect::<Vec<_>>() })
                }
                Err(
                    e @ BroadcastAckError::Timeout {
                        expected, missing, ..
                    },
                ) => {
                    json!({ "error": e.to_string(), "expected": expected, "missing": missing })
                }
                Err(e) => json!({ "error": e.to_string() }),
            }
        }
        "fetch" => match operator(ns.to_all(), &spec).fetch_sockets().await {
            Ok(sockets) => {
                let mut list: Vec<Value> = sockets.iter().map(fetched).collect();
                list.sort_by_key(|v| v["id"].as_str().unwrap_or_default().to_string());
                json!(list)
            }
            Err(e) => json!({ "error": e.to_string() }),
        },
        "remote-emit" => {
            let target = spec["id"].as_str().unwrap_or_default();
            let event = spec["event"].as_str().unwrap_or("remote");
            let sockets = ns.to(target).fetch_sockets().await;
            let mut sent = 0;
            for s in sockets.unwrap_or_else(|e| e.into_partial()) {
                sent += usize::from(s.emit(event, spec["data"].clone()).await.is_ok());
            }
            json!(sent)
        }
        "sse" => {
            let event = spec["event"].as_str().unwrap_or("sse");
            let data = spec["data"].clone();
            if spec["ack"] == json!(true) {
                let timeout = spec["timeout"].as_u64().map(Duration::from_millis);
                match ns.server_side_emit_with_ack(event, data, timeout).await {
                    Ok(answers) => json!({ "ok": args(&answers) }),
                    Err(ServerSideEmitError::Cluster(e)) => {
                        let error = e.to_string();
                        json!({ "error": error, "responses": args(&e.into_partial()) })
                    }
                    Err(e) => json!({ "error": e.to_string() }),
                }
            } else {
                json!(ns.server_side_emit(event, data).is_ok())
            }
        }
        "server-count" => match ns.server_count().await {
            Ok(n) => json!(n),
            Err(e) => json!({ "error": e.to_string() }),
        },
        "sockets-join" => {
            let _ = operator(ns.to_all(), &spec)
                .sockets_join(strings(&spec["join"]))
                .await;
            json!(socket.rooms().await)
        }
        "sockets-leave" => {
            let _ = operator(ns.to_all(), &spec)
                .sockets_leave(strings(&spec["leave"]))
                .await;
            json!(socket.rooms().await)
        }
        "disconnect-sockets" => {
            let applied = operator(ns.to_all(), &spec)
                .disconnect_sockets(spec["close"] == json!(true))
                .await;
            json!(applied.is_ok())
        }
        "room-summary" => json!(ns.rooms().await),
        "to-many" => api::to_many(socket.clone(), spec).await,
        "ask-report" => return api::ask_report(socket, &spec, ack),
        "listen-any" => {
            if let Some(handler) = HANDLER.get() {
                socket.on_any(handler.clone().recipient());
                socket.on_any_outgoing(handler.clone().recipient());
            }
            json!([socket.listeners_any(), socket.listeners_any_outgoing()])
        }
        "off-any" => {
            socket.off_any(None);
            socket.off_any_outgoing(None);
            json!([socket.listeners_any(), socket.listeners_any_outgoing()])
        }
        // Emits `big` ("x" * size) to this socket with the compress flag given.
        "compress-test" => {
            let size = spec["size"].as_u64().unwrap_or(0).min(1 << 20) as usize;
            let compress = spec["compress"] != json!(false);
            json!(
                socket
                    .compress(compress)
                    .emit("big", json!("x".repeat(size)))
                    .is_ok()
            )
        }
        "counters" => {
            let mut counters = json!(ns.counters());
            counters["adapter"] = json!(ns.adapter_counters());
            counters["recovery"] = json!(ns.recovery_counters());
            counters["clients"] = json!(IO.get().map(SocketIo::client_counters));
            let engine = IO.get().map(|io| io.engine().stats().snapshot());
            counters["engine"] = json!(engine);
            counters
        }
        _ => return,
    };
    if let Some(ack) = ack {
        ack.send(reply);
    }
}

/// Writes to the client along every path there is, in an order the client
/// checks: emit, ack, emit in the handler, then from a task an emit with
/// compress off, a volatile emit, a room operator aimed at the socket's own
/// id, and a plain emit. Each `order` event carries its step.
fn order(socket: SocketRef, ack: AckSender) {
    let _ = socket.emit("order", json!(0));
    ack.send(json!("ack"));
    let _ = socket.emit("order", json!(1));
    actix::spawn(async move {
        let _ = socket.compress(false).emit("order", json!(2));
        let _ = socket.volatile().emit("order", json!(3));
        let own = socket.id().to_string();
        let _ = socket.namespace().to(own).emit("order", json!(4)).await;
        let _ = socket.emit("order", json!(5));
    });
}

/// Emits `question` with an ack and reports how it went.
async fn ask(socket: SocketRef, timeout: Duration) {
    match socket
        .emit_with_ack("question", json!("ready?"), timeout)
        .await
    {
        Ok(answer) => drop(socket.emit("answer", answer)),
        Err(e) => drop(socket.emit("answer-timeout", json!(e.to_string()))),
    }
}

impl Handler<Disconnecting> for TestHandler {
    type Result = ();
    fn handle(&mut self, msg: Disconnecting, _: &mut Context<Self>) {
        let s = &msg.socket;
        println!(
            "disconnecting {} {} {} rooms={}",
            s.nsp(),
            s.id(),
            msg.reason,
            msg.rooms.len()
        );
    }
}

impl Handler<Disconnect> for TestHandler {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        println!(
            "disconnect {} {} {}",
            msg.socket.nsp(),
            msg.socket.id(),
            msg.reason
        );
    }
}

impl Handler<AnyEvent> for TestHandler {
    type Result = ();
    fn handle(&mut self, msg: AnyEvent, _: &mut Context<Self>) {
        println!("any {} {} {}", msg.socket.nsp(), msg.socket.id(), msg.name);
    }
}

impl Handler<AnyOutgoing> for TestHandler {
    type Result = ();
    fn handle(&mut self, msg: AnyOutgoing, _: &mut Context<Self>) {
        println!(
            "any-out {} {} {}",
            msg.socket.nsp(),
            msg.socket.id(),
            msg.name
        );
    }
}

impl Handler<SocketError> for TestHandler {
    type Result = ();
    fn handle(&mut self, msg: SocketError, _: &mut Context<Self>) {
        let s = &msg.socket;
        println!("error {} {} {}", s.nsp(), s.id(), msg.error.message);
        let _ = s.emit("middleware-error", json!(msg.error.message));
    }
}

/// Rejects `forbidden`; doubles the number sent with `double`.
fn packet_middleware(_: &SocketRef, packet: &mut EventPacket) -> Result<(), MiddlewareError> {
    match packet.name.as_str() {
        "forbidden" => Err(MiddlewareError::new("forbidden event")),
        "double" => {
            if let Some(n) = packet.payload.args.first().and_then(Value::as_f64) {
                packet.payload.args[0] = json!(n * 2.0);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init();
    let config = SocketIoConfig {
        engine: EngineConfig {
            ping_interval: Duration::from_millis(flag("--ping-interval", 300)),
            ping_timeout: Duration::from_millis(flag("--ping-timeout", 200)),
            max_payload: 100_000,
            max_buffer_bytes: 1 << 20,
            cors: Cors::Any,
            allow_request: Some(Arc::new(|req: &HttpRequest| {
                if req.query_string().contains("deny=1") {
                    Err("denied by allowRequest".to_string())
                } else {
                    Ok(())
                }
            })),
            per_message_deflate: DeflateSettings {
                enabled: flag("--deflate", 0) == 1,
                ..DeflateSettings::default()
            },
            allow_eio3: flag("--allow-eio3", 1) == 1,
            // A fixture: many clients from one loopback address, on purpose.
            admission: AdmissionConfig::unlimited(),
            ..EngineConfig::default()
        },
        connect_timeout: Duration::from_millis(1000),
        max_namespaces_per_client: flag("--max-namespaces", 0),
        max_json_depth: flag(
            "--max-json-depth",
            switchyard_core::protocol::MAX_JSON_DEPTH,
        ),
        parser: flag("--parser", Parser::Json),
        socket_limits: SocketLimits {
            max_rooms_per_socket: flag("--max-rooms", 0),
            max_pending_acks: flag("--max-acks", 0),
        },
        recovery: (flag("--recovery", 0) == 1).then(|| RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(flag("--recovery-max-ms", 120_000)),
            skip_middlewares: flag("--recovery-skip-middlewares", 1) == 1,
            max_packets: flag("--recovery-max-packets", 10_000),
            ..RecoveryConfig::default()
        }),
        ..SocketIoConfig::default()
    };
    let handler = TestHandler.start();
    let _ = HANDLER.set(handler.clone());
    let server_side = ServerSide {
        relay: "sse-received",
        label: "node",
    }
    .start();
    let by_name = ServerSide {
        relay: "sse-by-name-received",
        label: "named-node",
    }
    .start();
    let ns = || {
        NamespaceBuilder::default()
            .handler(handler.clone())
            .on_server_side(server_side.clone().recipient())
            .on_server_side_event(api::BY_NAME, by_name.clone().recipient())
            .on_disconnecting(handler.clone().recipient())
            .on_error(handler.clone().recipient())
    };
    let private = ns().use_connect(|req| {
        let ok = req.auth().get("token").and_then(Value::as_str) == Some("secret");
        async move {
            if ok {
                Ok(())
            } else {
                Err(MiddlewareError::new("unauthorized")
                    .with_data(json!({ "reason": "bad token" })))
            }
        }
    });
    // `/gated`: a CONNECT whose auth has `hold: true` waits in the connect
    // middleware (printing `held`) until a socket emits `open-gate`.
    let gated = ns().use_connect(|req| {
        let hold = req.auth().get("hold") == Some(&json!(true));
        // Created before the line is printed: it hears every `notify_waiters` after it.
        let opened = GATE.notified();
        async move {
            if hold {
                println!("held {}", req.nsp());
                opened.await;
            }
            Ok(())
        }
    });
    // Sails' SDK check is off unless asked for: most tests emit `get`/`post`
    // from plain socket.io clients, without sails.io.js's handshake query.
    let min_sdk = flag("--vr-min-sdk-version", String::from("off"));
    let min_sdk_version = match min_sdk.as_str() {
        "off" => None,
        version => {
            Some(SdkVersion::parse(version).expect("--vr-min-sdk-version: a semver version or off"))
        }
    };
    let sails = Sails::new(VirtualRequestConfig {
        max_in_flight: flag("--vr-max-in-flight", 16usize),
        max_body: flag("--vr-max-body", 100_000usize),
        min_sdk_version,
        ..VirtualRequestConfig::default()
    });
    let mut builder = SocketIo::builder(config);
    if flag("--adapter", String::from("local")) == "redis" {
        let variant = match flag("--redis-variant", String::from("classic")).as_str() {
            "sharded" => Variant::Sharded(flag("--redis-subscription-mode", Default::default())),
            "streams" => Variant::Streams {
                stream_name: flag("--redis-stream-name", "socket.io".to_string()),
                max_len: flag("--redis-stream-max-len", 10_000),
                read_count: flag("--redis-stream-read-count", 100),
            },
            _ => Variant::Classic,
        };
        let seeds = flag("--redis-cluster", String::new());
        let redis = RedisConfig {
            variant,
            cluster: (seeds.split(','))
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            key_prefix: flag("--redis-key-prefix", "socket.io".to_string()),
            request_timeout: Duration::from_millis(flag("--redis-request-timeout-ms", 5000)),
            tls: match flag("--redis-tls-ca-file", String::new()) {
                ca if ca.is_empty() => None,
                ca => Some(TlsCertificates {
                    root_cert: Some(std::fs::read(ca)?),
                    client_tls: None,
                }),
            },
            ..RedisConfig::new(flag("--redis-url", "redis://127.0.0.1:6379".to_string()))
        };
        let redis = RedisAdapter::connect(redis)
            .await
            .map_err(std::io::Error::other)?;
        builder = builder.adapter(redis);
    }
    for (name, setup) in api::namespaces() {
        builder = builder.ns(name, setup);
    }
    let builder = builder
        .ns("/", sails.namespace(ns().use_packet(packet_middleware)))
        .ns("/custom", ns())
        .ns("/private", private)
        .ns("/gated", gated)
        .dynamic_ns(regex::Regex::new(r"^/dyn-\d+$").expect("valid regex"), ns())
        .ns(
            "/per-worker",
            NamespaceBuilder::default().handler_per_worker(|| TestHandler),
        )
        .ns(
            "/per-worker-all",
            NamespaceBuilder::default()
                .use_packet(packet_middleware)
                .handler_per_worker_all(|| TestHandler),
        );
    // `--admin 1`: socket.io's admin UI protocol on `/admin`, no login.
    let (builder, admin) = match flag("--admin", 0u8) {
        1 => {
            let config = switchyard_admin::AdminConfig {
                auth: switchyard_admin::Auth::None,
                ..Default::default()
            };
            let (builder, admin) =
                switchyard_admin::instrument(builder, config).map_err(std::io::Error::other)?;
            (builder, Some(admin))
        }
        _ => (builder, None),
    };
    let io = builder.build();
    if let Some(admin) = admin {
        admin.attach(&io);
    }
    let _ = IO.set(io.clone());
    let options = ServeOptions {
        addr: format!("127.0.0.1:{}", flag("--port", 3000u16)),
        shutdown_timeout: Duration::from_secs(3),
        taps: vec![sails.tap()],
        ..ServeOptions::default()
    };
    let sockets = Sockets::new(io.main());
    let app = move |cfg: &mut actix_web::web::ServiceConfig| {
        cfg.app_data(sockets.clone());
        routes::configure(cfg);
        cfg.service(actix_files::Files::new("/", "static").index_file("index.html"));
    };
    let server = Server::bind(io, options, app)?;
    // This node answers other nodes as `node-<port>`: the port bound, also with --port 0.
    let _ = PORT.set(server.local_addr().port());
    println!("listening on {}", server.local_addr());
    server.run().await
}
