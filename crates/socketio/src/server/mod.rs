//! Running a [`SocketIo`] on a server of its own: [`Server::bind`] listens
//! and mounts the endpoint (plus your routes), [`Server::run`] serves until
//! SIGINT/SIGTERM and then shuts down gracefully (every client closed with
//! "server shutting down" first). [`serve`] does both.
//!
//! WebSocket connections are taken over from actix-web's HTTP dispatcher
//! once upgraded (see `switchyard_engineio::upgrade`), which spares each
//! frame actix-web's codec; polling and every other request go through the
//! actix-web app. An app that runs its own `HttpServer` mounts the endpoint
//! with [`SocketIo::configure`] instead and gets actix-web's WebSocket path.
//!
//! Prints nothing: the bound address is [`Server::local_addr`], and the
//! start-up is logged at `info`.

#[cfg(feature = "client-bundle")]
mod bundle;
mod embedded;
mod tap;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_codec::Framed;
use actix_http::{HttpService, Request, h1};
use actix_service::{fn_service, map_config};
use actix_web::dev::AppConfig;
use actix_web::{App, web};
use futures_util::future::LocalBoxFuture;
use tokio::net::TcpStream;

#[cfg(feature = "client-bundle")]
pub use bundle::client_bundle;
pub use embedded::embedded_file;
pub use tap::{AppTap, WorkerApp, tapped};

use crate::io::SocketIo;
use switchyard_engineio::upgrade::{WsEndpoint, serve_upgraded};

/// What [`Server::bind`] mounts and how it stops.
pub struct ServeOptions {
    /// `host:port`; port 0 picks a free one.
    pub addr: String,
    /// Where the Socket.IO endpoint lives, e.g. `/socket.io/`.
    pub path: String,
    /// How long a graceful shutdown waits for sessions to close.
    pub shutdown_timeout: Duration,
    /// Other Engine.IO endpoints that `extra` mounts (`Engine::endpoint`),
    /// so their WebSocket connections are taken over too; a WebSocket
    /// upgrade to any other path is answered 404.
    pub ws_endpoints: Vec<Arc<dyn WsEndpoint>>,
    /// Who gets each worker's finished app (Sails' virtual requests do).
    pub taps: Vec<Arc<dyn AppTap>>,
    /// Serve socket.io's browser client at `{path}socket.io.js` (and
    /// `.min.js`, `.esm.min.js`), as socket.io's `serveClient` does.
    #[cfg(feature = "client-bundle")]
    pub serve_client: bool,
}

impl Default for ServeOptions {
    /// `127.0.0.1:3000`, `/socket.io/`, 10 s to shut down, the browser client served.
    fn default() -> Self {
        ServeOptions {
            addr: "127.0.0.1:3000".into(),
            path: "/socket.io/".into(),
            shutdown_timeout: Duration::from_secs(10),
            ws_endpoints: Vec::new(),
            taps: Vec::new(),
            #[cfg(feature = "client-bundle")]
            serve_client: true,
        }
    }
}

/// The address could not be listened on (in use, not local, not resolved).
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}")]
pub struct ListenError {
    /// The address asked for.
    pub addr: String,
    /// Why it was refused.
    pub source: std::io::Error,
}

/// A server bound to its address, not yet serving.
pub struct Server {
    io: SocketIo,
    server: actix_server::ServerBuilder,
    addr: SocketAddr,
    shutdown_timeout: Duration,
}

impl Server {
    /// Listens on `options.addr` and mounts `io` at `options.path`, then
    /// `extra`'s routes, on every worker. An address that cannot be bound
    /// is an error whose inner error is a [`ListenError`].
    pub fn bind<F>(io: SocketIo, options: ServeOptions, extra: F) -> std::io::Result<Server>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let mount = io.configure(&options.path);
        #[cfg(feature = "client-bundle")]
        let bundle = options.serve_client.then(|| client_bundle(&options.path));
        let taps: Arc<[Arc<dyn AppTap>]> = options.taps.into();
        let endpoints: Arc<[Arc<dyn WsEndpoint>]> =
            std::iter::once(io.engine().endpoint(&options.path))
                .chain(options.ws_endpoints.iter().cloned())
                .collect();
        let listener = std::net::TcpListener::bind(&options.addr).map_err(|source| {
            let kind = source.kind();
            let addr = options.addr.clone();
            std::io::Error::new(kind, ListenError { addr, source })
        })?;
        let addr = listener.local_addr()?;
        let server = actix_server::Server::build()
            .disable_signals()
            .shutdown_timeout(options.shutdown_timeout.as_secs().max(1))
            .listen("switchyard", listener, move || {
                #[allow(unused_mut)]
                let mut app = App::new();
                #[cfg(feature = "client-bundle")]
                if let Some(bundle) = &bundle {
                    app = app.configure(bundle.clone());
                }
                let app = app.configure(mount.clone()).configure(extra.clone());
                let endpoints = endpoints.clone();
                let upgrade = fn_service(
                    move |(req, framed): (Request, Framed<TcpStream, h1::Codec>)| {
                        let endpoints = endpoints.clone();
                        Box::pin(async move {
                            serve_upgraded(&endpoints, req, framed).await;
                            Ok(())
                        })
                            as LocalBoxFuture<'static, Result<(), actix_web::Error>>
                    },
                );
                let app = map_config(tapped(app, taps.clone()), |_| AppConfig::default());
                HttpService::build()
                    // Realtime frames are small: Nagle would hold each behind the previous one's ACK.
                    .tcp_nodelay(true)
                    // A client that closes its side is gone: its pending GET is dropped, and
                    // the session ends at once, as engine.io's does (polling.rs, AbandonGuard).
                    .h1_allow_half_closed(false)
                    .local_addr(addr)
                    .upgrade(upgrade)
                    .finish(app)
                    .tcp()
            })?;
        Ok(Server {
            io,
            server,
            addr,
            shutdown_timeout: options.shutdown_timeout,
        })
    }

    /// The address it listens on (the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until SIGINT or SIGTERM, then closes every client and stops.
    pub async fn run(self) -> std::io::Result<()> {
        log::info!("listening on {}", self.addr);
        let server = self.server.run();
        let handle = server.handle();
        let io = self.io;
        let timeout = self.shutdown_timeout;
        actix_web::rt::spawn(async move {
            wait_for_signal().await;
            log::info!("shutting down");
            io.shutdown(timeout).await;
            handle.stop(true).await;
        });
        server.await
    }
}

/// [`Server::bind`] then [`Server::run`].
///
/// ```no_run
/// use switchyard_socketio::io::{SocketIo, SocketIoConfig};
/// use switchyard_socketio::namespace::NamespaceBuilder;
/// use switchyard_socketio::server::{ServeOptions, serve};
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let io = SocketIo::builder(SocketIoConfig::default())
///         .ns("/", NamespaceBuilder::default())
///         .build();
///     serve(io, ServeOptions::default(), |_| {}).await
/// }
/// ```
pub async fn serve<F>(io: SocketIo, options: ServeOptions, extra: F) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    Server::bind(io, options, extra)?.run().await
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log::error!("cannot listen for signals; stop the process with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
