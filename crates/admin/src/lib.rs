#![deny(missing_docs)]
//! socket.io's admin UI for a `switchyard-socketio` server: the protocol of
//! `@socket.io/admin-ui` 0.5.1 (what its `instrument(io, opts)` does in
//! Node) on an admin namespace, and the UI itself, vendored and served
//! from memory.
//!
//! It uses the public Socket.IO API like any application: an admin
//! namespace with a connect middleware (the login) and a handler actor, a
//! server-wide observer ([`SocketIoBuilder::observe`]) for sockets and rooms,
//! each socket's catch-all listeners for its events, and the namespaces'
//! operators for the UI's commands. Through the adapter, it works across a
//! cluster as Node's does: each node emits its own `server_stats` to the
//! admin namespace of every node, and `all_sockets`, `join`, `leave` and
//! `disconnect` reach the sockets of every node.
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use switchyard_admin::{AdminConfig, Auth};
//! use switchyard_socketio::io::{SocketIo, SocketIoConfig};
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let config = AdminConfig {
//!         auth: Auth::Basic {
//!             username: "admin".into(),
//!             // bcrypt hash of the password, e.g. `htpasswd -bnBC 10 "" changeit`
//!             password_hash: "$2b$10$...".into(),
//!         },
//!         ..AdminConfig::default()
//!     };
//!     let builder = SocketIo::builder(SocketIoConfig::default());
//!     let (builder, admin) = switchyard_admin::instrument(builder, config).expect("valid settings");
//!     let io = builder.build();
//!     admin.attach(&io);
//!     HttpServer::new(move || {
//!         App::new()
//!             .configure(io.configure("/socket.io/"))
//!             .configure(switchyard_admin::ui::configure("/admin-ui"))
//!     })
//!     .bind("127.0.0.1:3000")?
//!     .run()
//!     .await
//! }
//! ```
//!
//! Then open `http://127.0.0.1:3000/admin-ui/`, with `http://127.0.0.1:3000`
//! as the server URL.
//!
//! Modules, bottom-up: [`config`]; `serialize` (sockets and dates as the UI
//! reads them); `stats` (`server_stats` and its aggregated events); `auth`
//! (the login); `feed` (the admin namespace's actor); [`ui`] (the files).
//!
//! [`SocketIoBuilder::observe`]: switchyard_socketio::io::SocketIoBuilder::observe

mod auth;
pub mod config;
mod feed;
mod serialize;
mod stats;
pub mod ui;

use std::sync::Arc;

use actix::{Actor, Addr};
use switchyard_socketio::io::{SocketIo, SocketIoBuilder};
use switchyard_socketio::namespace::{NamespaceBuilder, Takes};

pub use config::{AdminConfig, AdminError, Auth, Mode};

/// The admin UI of one server; [`attach`](Self::attach) it once the server is built.
#[derive(Clone)]
pub struct Admin {
    feed: Addr<feed::Feed>,
    counts: Arc<feed::Counts>,
    sessions: Arc<auth::Sessions>,
}

/// What the admin UI dropped or forgot, since start (nothing is lost
/// without a counter saying so).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AdminCounters {
    /// Messages for the admin namespace dropped: its outbox was full (a UI
    /// that cannot keep up with the feed).
    pub outbox_dropped: u64,
    /// Event counts left out of `aggregatedEvents`: its buffer was full.
    pub events_dropped: u64,
    /// Login sessions forgotten to keep the store at its bound (their UI
    /// logs in with the password again).
    pub sessions_evicted: u64,
}

/// Adds the admin namespace and the observer to `builder` (socket.io's
/// `instrument(io, opts)`). Call inside a running actix system, then
/// [`Admin::attach`] the built server.
pub fn instrument(
    builder: SocketIoBuilder,
    config: AdminConfig,
) -> Result<(SocketIoBuilder, Admin), AdminError> {
    config.validate()?;
    if config.auth == Auth::None {
        log::warn!(
            "admin UI on {}: authentication is disabled, please use with caution",
            config.namespace
        );
    }
    let config = Arc::new(config);
    let counts = Arc::new(feed::Counts::default());
    let feed = feed::Feed::new(config.clone(), counts.clone()).start();
    let sessions = Arc::new(auth::Sessions::default());
    let auth = config.auth.clone();
    let store = sessions.clone();
    let namespace = NamespaceBuilder::default()
        .use_connect(move |req| auth::check(auth.clone(), store.clone(), req))
        .handler_with(feed.clone(), Takes::new().connect().event());
    let builder = builder
        .ns(&config.namespace, namespace)
        .observe(feed.clone().recipient());
    let admin = Admin {
        feed,
        counts,
        sessions,
    };
    Ok((builder, admin))
}

impl Admin {
    /// Starts telling the admin namespace of `io` (the server built from
    /// the instrumented builder): `server_stats` at once and every period.
    pub fn attach(&self, io: &SocketIo) {
        self.feed.do_send(feed::Attach(io.clone()));
    }

    /// What the admin UI dropped or forgot, since start.
    pub fn counters(&self) -> AdminCounters {
        use std::sync::atomic::Ordering::Relaxed;
        AdminCounters {
            outbox_dropped: self.counts.outbox_dropped.load(Relaxed),
            events_dropped: self.counts.events_dropped.load(Relaxed),
            sessions_evicted: self.sessions.evicted.load(Relaxed),
        }
    }
}
