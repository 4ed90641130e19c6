//! The runnable service: binds an actix-web server around a [`SocketIo`],
//! serves socket.io's browser client beside it, announces the bound
//! address, and turns SIGINT/SIGTERM into a graceful shutdown (every client
//! closed with "server shutting down" first).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_codec::Framed;
use actix_http::{HttpService, Request, h1};
use actix_service::fn_service;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use tokio::net::TcpStream;

use crate::adapter::redis::{RedisAdapter, RedisConfig, Variant};
use crate::config::Config;
use crate::engine::upgrade::{WsEndpoint, serve_upgraded};
use crate::engine::{AdmissionConfig, Cors, DeflateSettings, EngineConfig};
use crate::io::{SocketIo, SocketIoConfig};
use crate::namespace::NamespaceBuilder;
use crate::sails::{JwrParts, Sockets, VirtualRequestConfig, VirtualRequests, shared_app};
use crate::socket::SocketLimits;

impl From<&Config> for SocketIoConfig {
    fn from(c: &Config) -> Self {
        SocketIoConfig {
            engine: EngineConfig {
                ping_interval: c.ping_interval(),
                ping_timeout: c.ping_timeout(),
                upgrade_timeout: c.upgrade_timeout(),
                max_payload: c.max_payload,
                max_buffer_bytes: c.max_buffer_bytes,
                polling: c.allows_transport("polling"),
                websocket: c.allows_transport("websocket"),
                cors: Cors::from_list(&c.cors_origins),
                allow_request: None,
                per_message_deflate: DeflateSettings {
                    enabled: c.per_message_deflate,
                    ..DeflateSettings::default()
                },
                http_compression_threshold: (c.http_compression_threshold > 0)
                    .then_some(c.http_compression_threshold),
                allow_eio3: c.allow_eio3,
                ws_check_origin: c.ws_check_origin,
                check_sid_address: c.check_sid_address,
                admission: AdmissionConfig {
                    max_sessions_per_ip: c.max_connections_per_ip,
                    handshakes_per_second: c.handshakes_per_second_per_ip,
                    handshake_burst: c.handshake_burst_per_ip,
                    trusted_proxies: c.trusted_proxy_networks(),
                },
            },
            connect_timeout: c.connect_timeout(),
            max_attachments: c.max_attachments,
            max_namespaces_per_client: c.max_namespaces_per_client,
            socket_limits: SocketLimits {
                max_rooms_per_socket: c.max_rooms_per_socket,
                max_pending_acks: c.max_pending_acks_per_socket,
            },
        }
    }
}

/// What [`serve`] mounts and how it stops.
pub struct ServeOptions {
    /// `host:port`; port 0 picks a free one.
    pub addr: String,
    /// Where the Socket.IO endpoint lives, e.g. `/socket.io/`.
    pub path: String,
    /// Files served at `/` (with `index.html`), if any.
    pub static_dir: Option<PathBuf>,
    /// How long a graceful shutdown waits for sessions to close.
    pub shutdown_timeout: Duration,
    /// Other Engine.IO endpoints that `extra` mounts (`Engine::endpoint`),
    /// so their WebSocket connections are taken over too; a WebSocket
    /// upgrade to any other path is answered 404.
    pub ws_endpoints: Vec<Arc<dyn WsEndpoint>>,
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

/// Serves `io` (plus `extra` routes) until SIGINT/SIGTERM, then shuts down
/// gracefully. Prints `listening on ADDR` once bound, for scripts and
/// tests, then the URL to open and what is served there. An address that
/// cannot be bound is an error whose inner error is a [`ListenError`].
///
/// WebSocket connections to `io` (and to `options.ws_endpoints`) are taken
/// over from actix-web's HTTP dispatcher once upgraded (see
/// [`engine::upgrade`](crate::engine::upgrade)); every other request,
/// polling included, goes through the actix-web app. Each worker's app also
/// answers the virtual requests of the sockets on that worker
/// ([`sails`](crate::sails)), and has the main namespace's
/// [`Sockets`] in its app data. socket.io's browser client is served at
/// `{path}socket.io.js` (and `.min.js`, `.esm.min.js`), as socket.io's
/// `serveClient` does.
pub async fn serve<F>(io: SocketIo, options: ServeOptions, extra: F) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let mount = io.configure(&options.path);
    let bundle = client_bundle(&options.path);
    let sockets = Sockets::new(io.main());
    let static_dir = options.static_dir.clone();
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
            let mut app = App::new()
                .app_data(sockets.clone())
                .configure(bundle.clone())
                .configure(mount.clone())
                .configure(extra.clone());
            if let Some(dir) = &static_dir {
                app = app.service(actix_files::Files::new("/", dir).index_file("index.html"));
            }
            let endpoints = endpoints.clone();
            let upgrade = fn_service(
                move |(req, framed): (Request, Framed<TcpStream, h1::Codec>)| {
                    let endpoints = endpoints.clone();
                    Box::pin(async move {
                        serve_upgraded(&endpoints, req, framed).await;
                        Ok(())
                    }) as LocalBoxFuture<'static, Result<(), actix_web::Error>>
                },
            );
            HttpService::build()
                // Realtime frames are small: Nagle would hold each behind the previous one's ACK.
                .tcp_nodelay(true)
                .local_addr(addr)
                .upgrade(upgrade)
                .finish(shared_app(app))
                .tcp()
        })?;
    announce(&format!("listening on {addr}"));
    let files = match &options.static_dir {
        Some(dir) => format!("files from {}, ", dir.display()),
        None => String::new(),
    };
    announce(&format!(
        "open http://{addr}/ ({files}Socket.IO at {path}, its browser client at {path}socket.io.js)",
        path = options.path
    ));
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        wait_for_signal().await;
        log::info!("shutting down");
        io.shutdown(options.shutdown_timeout).await;
        handle.stop(true).await;
    });
    server.await
}

/// Prints one start-up line. A reader that has gone (`switchyard | head -1`)
/// is no reason to stop serving, so a failed write is ignored, where
/// `println!` would panic.
pub(crate) fn announce(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
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

/// socket.io-client's browser bundles, vendored from npm (see
/// `scripts/refresh-socket-io-client.sh`), as (file name, contents).
const CLIENT_BUNDLES: [(&str, &str); 3] = [
    (
        "socket.io.js",
        include_str!("../static/vendor/socket.io-client/socket.io.js"),
    ),
    (
        "socket.io.min.js",
        include_str!("../static/vendor/socket.io-client/socket.io.min.js"),
    ),
    (
        "socket.io.esm.min.js",
        include_str!("../static/vendor/socket.io-client/socket.io.esm.min.js"),
    ),
];

/// The vendored client's version, which is also its ETag.
const CLIENT_VERSION: &str = include_str!("../static/vendor/socket.io-client/VERSION");

/// Routes serving [`CLIENT_BUNDLES`] under `path`, with socket.io's ETag
/// (the version) so a browser revalidates with a 304.
fn client_bundle(path: &str) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
    let base = path.to_string();
    move |cfg: &mut web::ServiceConfig| {
        for (name, body) in CLIENT_BUNDLES {
            let etag = format!("\"{}\"", CLIENT_VERSION.trim());
            cfg.route(
                &format!("{base}{name}"),
                web::get().to(move |req: HttpRequest| {
                    let etag = etag.clone();
                    async move {
                        let fresh = req.headers().get(header::IF_NONE_MATCH);
                        if fresh.is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
                            return HttpResponse::NotModified().finish();
                        }
                        HttpResponse::Ok()
                            .content_type("application/javascript; charset=utf-8")
                            .insert_header((header::ETAG, etag))
                            .insert_header((header::CACHE_CONTROL, "public, max-age=0"))
                            .body(body)
                    }
                }),
            );
        }
    }
}

/// The `redis` adapter `config` describes: an error (naming the URL and the
/// keys to change) when Redis cannot be reached, unless `redis_wait_at_start`.
async fn redis_adapter(config: &Config) -> std::io::Result<RedisAdapter> {
    let variant = match config.redis_variant.as_str() {
        // Checked by `Config::validate`.
        "sharded" => Variant::Sharded(config.redis_subscription_mode.parse().unwrap_or_default()),
        _ => Variant::Classic,
    };
    let redis = RedisConfig {
        key_prefix: config.redis_key_prefix.clone(),
        request_timeout: config.redis_request_timeout(),
        variant,
        ..RedisConfig::new(config.redis_url.clone())
    };
    let adapter = match config.redis_wait_at_start {
        true => RedisAdapter::connect_or_wait(redis).await,
        false => RedisAdapter::connect(redis).await,
    };
    let adapter = adapter.map_err(|e| {
        std::io::Error::other(format!(
            "{e} (set --redis-url or SWITCHYARD_REDIS_URL, or --redis-wait-at-start true to start without it)"
        ))
    })?;
    log::info!("redis adapter: joined the cluster at {}", config.redis_url);
    Ok(adapter)
}

/// Runs the service described by `config`: Socket.IO at `config.path`
/// with `root` as its main namespace (plus virtual requests when
/// `config.virtual_requests`), spanning a cluster when `config.adapter` is
/// `redis`, the `extra` routes, and the files of
/// `config.static_dir` at `/`.
pub async fn run<F>(config: Config, root: NamespaceBuilder, extra: F) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let root = if config.virtual_requests {
        root.virtual_requests(VirtualRequestConfig {
            max_in_flight: config.vr_max_in_flight,
            max_body: config.max_payload,
            parts: JwrParts {
                headers: config.vr_send_response_headers,
                status_code: config.vr_send_status_code,
            },
        })
    } else {
        root
    };
    let mut io = SocketIo::builder(SocketIoConfig::from(&config));
    if config.adapter == "redis" {
        io = io.adapter(redis_adapter(&config).await?);
    }
    let io = io.ns("/", root).build();
    let static_dir = config
        .static_dir
        .is_dir()
        .then(|| config.static_dir.clone());
    if static_dir.is_none() {
        log::warn!(
            "static_dir {} is not a directory: nothing is served at / (set --static-dir or SWITCHYARD_STATIC_DIR)",
            config.static_dir.display()
        );
    }
    let options = ServeOptions {
        addr: config.socket_addr(),
        path: config.path.clone(),
        static_dir,
        shutdown_timeout: config.shutdown_timeout(),
        ws_endpoints: Vec::new(),
    };
    serve(io, options, extra).await.map_err(|e| {
        let listen = e.get_ref().and_then(|e| e.downcast_ref::<ListenError>());
        match listen {
            Some(listen) => std::io::Error::new(
                e.kind(),
                format!("{listen} (choose another with --host/--port, SWITCHYARD_HOST/SWITCHYARD_PORT or the config file)"),
            ),
            None => e,
        }
    })
}
