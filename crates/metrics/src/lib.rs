//! Prometheus metrics and health checks for a switchyard server.
//!
//! Every number is read at scrape time from the counters the layers
//! already keep (the Engine.IO endpoint's stats, the client and namespace
//! counters, connection state recovery, the adapter's link, Sails' virtual
//! requests, the admin UI's drops): nothing is counted twice, and serving no scrape costs
//! nothing. [`Metrics::configure`] adds `/metrics` (Prometheus text format),
//! `/healthz` and `/readyz` to an actix-web App; [`Metrics::health`] adds
//! only the last two (for the app's own listener, where orchestrators probe).
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use switchyard_metrics::Metrics;
//! use switchyard_socketio::io::{SocketIo, SocketIoConfig};
//! use switchyard_socketio::namespace::NamespaceBuilder;
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = SocketIo::builder(SocketIoConfig::default())
//!         .ns("/", NamespaceBuilder::default())
//!         .build();
//!     let metrics = Metrics::new(&io);
//!     HttpServer::new(move || {
//!         App::new()
//!             .configure(io.configure("/socket.io/"))
//!             // GET /metrics, /healthz, /readyz
//!             .configure(metrics.configure("/metrics"))
//!     })
//!     .bind("127.0.0.1:3000")?
//!     .run()
//!     .await
//! }
//! ```
//!
//! Owns: the metrics' names and the health routes. Must not touch: any
//! counter (each layer owns its own; this crate only reads snapshots).

mod encode;
mod routes;
mod snapshot;

use actix_web::web;
use switchyard_admin::Admin;
use switchyard_sails::Sails;
use switchyard_socketio::io::SocketIo;

use snapshot::Snapshot;

/// Why `/readyz` answers 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// The server is shutting down ([`SocketIo::shutdown`] has begun).
    ///
    /// [`SocketIo::shutdown`]: switchyard_socketio::io::SocketIo::shutdown
    #[error("the server is shutting down")]
    ShuttingDown,
    /// A namespace's adapter cannot reach the other nodes (Redis is down
    /// or unreachable); the adapter keeps trying.
    #[error("the adapter's link to the cluster is down (namespace {namespace})")]
    AdapterLinkDown {
        /// The first namespace found without its link.
        namespace: String,
    },
}

/// The metrics of one server, and its health routes.
#[derive(Clone)]
pub struct Metrics {
    io: SocketIo,
    sails: Option<Sails>,
    admin: Option<Admin>,
}

impl Metrics {
    /// The metrics of `io`: its Engine.IO endpoint, namespaces and adapter.
    pub fn new(io: &SocketIo) -> Metrics {
        Metrics {
            io: io.clone(),
            sails: None,
            admin: None,
        }
    }

    /// Adds `switchyard_virtual_requests_total`, the virtual requests
    /// `sails` answered, by status.
    pub fn with_sails(mut self, sails: &Sails) -> Metrics {
        self.sails = Some(sails.clone());
        self
    }

    /// Adds `switchyard_admin_dropped_total` and
    /// `switchyard_admin_sessions_evicted_total`: what the admin UI `admin`
    /// serves dropped (its feed's outbox, event counts) or forgot (login
    /// sessions), see [`Admin::counters`].
    pub fn with_admin(mut self, admin: &Admin) -> Metrics {
        self.admin = Some(admin.clone());
        self
    }

    /// Every metric now, in Prometheus text format (0.0.4).
    ///
    /// ```no_run
    /// # async fn show(metrics: switchyard_metrics::Metrics) {
    /// let text = metrics.render().await;
    /// assert!(text.contains("switchyard_engine_sessions_opened_total{"));
    /// # }
    /// ```
    pub async fn render(&self) -> String {
        let admin = self.admin.as_ref().map(Admin::counters);
        encode::text(Snapshot::take(&self.io, self.sails.as_ref(), admin).await)
    }

    /// Whether the server may be given traffic: it is not shutting down,
    /// and every namespace's adapter reaches the cluster. A server that
    /// answers is listening, so that part of readiness holds whenever this
    /// is asked over HTTP.
    pub fn readiness(&self) -> Result<(), NotReady> {
        if self.io.is_shutting_down() {
            return Err(NotReady::ShuttingDown);
        }
        match self
            .io
            .namespaces()
            .into_iter()
            .find(|ns| !ns.adapter_link_up())
        {
            None => Ok(()),
            Some(ns) => Err(NotReady::AdapterLinkDown {
                namespace: ns.name().to_string(),
            }),
        }
    }

    /// Routes for an actix-web App: `GET path` (the metrics), `GET /healthz`
    /// and `GET /readyz` (see [`health`](Self::health)).
    pub fn configure(&self, path: &str) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
        let path = path.to_string();
        let health = self.health();
        move |cfg: &mut web::ServiceConfig| {
            health(cfg);
            cfg.route(&path, web::get().to(routes::metrics));
        }
    }

    /// `GET /healthz`: 200 `ok` while the process serves HTTP (liveness).
    /// `GET /readyz`: 200 `ready`, or 503 `not ready: REASON` while
    /// [`readiness`](Self::readiness) says why not.
    pub fn health(&self) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
        let data = web::Data::new(self.clone());
        move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(data.clone())
                .route("/healthz", web::get().to(routes::healthz))
                .route("/readyz", web::get().to(routes::readyz));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchyard_socketio::io::{SocketIo, SocketIoConfig};

    use super::*;

    #[actix_web::test]
    async fn not_ready_once_the_shutdown_has_begun() {
        let io = SocketIo::builder(SocketIoConfig::default()).build();
        let metrics = Metrics::new(&io);
        assert!(metrics.readiness().is_ok());
        io.shutdown(Duration::ZERO).await;
        assert!(matches!(metrics.readiness(), Err(NotReady::ShuttingDown)));
    }
}
