//! The service the `switchyard` binary runs: turns a [`Config`] into the
//! library's settings ([`SocketIoConfig`], the Redis adapter, virtual
//! requests), binds, announces the address on stdout for scripts and tests,
//! and serves until SIGINT/SIGTERM. The libraries print nothing; this is
//! where the binary speaks.

use std::path::{Path, PathBuf};

use actix_web::web;
use switchyard_engineio::{AdmissionConfig, Cors, DeflateSettings, EngineConfig};
use switchyard_metrics::Metrics;
use switchyard_redis::{ClientTlsConfig, RedisAdapter, RedisConfig, TlsCertificates, Variant};
use switchyard_sails::{JwrParts, Sails, Sockets, VirtualRequestConfig};
use switchyard_socketio::io::{RecoveryConfig, SocketIo, SocketIoConfig};
use switchyard_socketio::namespace::NamespaceBuilder;
use switchyard_socketio::server::{ListenError, ServeOptions, Server};
use switchyard_socketio::socket::SocketLimits;

use crate::config::{AdapterKind, AdminMode, Config, RedisVariant, Transport};

/// The library settings `config` describes.
pub fn socket_io_config(c: &Config) -> SocketIoConfig {
    SocketIoConfig {
        engine: EngineConfig {
            ping_interval: c.ping_interval(),
            ping_timeout: c.ping_timeout(),
            upgrade_timeout: c.upgrade_timeout(),
            max_payload: c.max_payload,
            max_buffer_bytes: c.max_buffer_bytes,
            polling: c.allows_transport(Transport::Polling),
            websocket: c.allows_transport(Transport::Websocket),
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
        max_json_depth: c.max_json_depth,
        parser: c.parser,
        socket_limits: SocketLimits {
            max_rooms_per_socket: c.max_rooms_per_socket,
            max_pending_acks: c.max_pending_acks_per_socket,
        },
        recovery: c.connection_state_recovery.then(|| RecoveryConfig {
            max_disconnection_duration: c.recovery_max_disconnection(),
            skip_middlewares: c.recovery_skip_middlewares,
            max_packets: c.recovery_max_packets,
            max_bytes: c.recovery_max_bytes,
            // A replay past the client's outgoing bound would only close it again.
            max_replay_bytes: c.max_buffer_bytes,
            ..RecoveryConfig::default()
        }),
    }
}

/// The virtual-request settings `c` describes.
pub fn virtual_request_config(c: &Config) -> VirtualRequestConfig {
    VirtualRequestConfig {
        max_in_flight: c.vr_max_in_flight,
        max_body: c.max_payload,
        parts: JwrParts {
            headers: c.vr_send_response_headers,
            status_code: c.vr_send_status_code,
        },
        ..VirtualRequestConfig::default()
    }
}

/// The Redis adapter settings `c` describes, but for the TLS certificates: those are read from
/// their files when the adapter starts.
pub fn redis_config(c: &Config) -> RedisConfig {
    let variant = match (c.adapter, c.redis_variant) {
        (AdapterKind::RedisStreams, _) => Variant::Streams {
            stream_name: c.redis_stream_name.clone(),
            max_len: c.redis_stream_max_len,
            read_count: c.redis_stream_read_count,
        },
        (_, RedisVariant::Sharded) => Variant::Sharded(c.redis_subscription_mode),
        (_, RedisVariant::Classic) => Variant::Classic,
    };
    RedisConfig {
        key_prefix: c.redis_key_prefix.clone(),
        request_timeout: c.redis_request_timeout(),
        variant,
        cluster: c.redis_cluster.clone(),
        ..RedisConfig::new(c.redis_url.clone())
    }
}

/// The admin UI settings `c` describes (used when `c.admin_ui`).
pub fn admin_config(c: &Config) -> switchyard_admin::AdminConfig {
    let base = switchyard_admin::AdminConfig {
        namespace: c.admin_namespace.clone(),
        readonly: c.admin_readonly,
        mode: match c.admin_mode {
            AdminMode::Development => switchyard_admin::Mode::Development,
            AdminMode::Production => switchyard_admin::Mode::Production,
        },
        server_id: (!c.admin_server_id.is_empty()).then(|| c.admin_server_id.clone()),
        ..switchyard_admin::AdminConfig::default()
    };
    match c.admin_auth {
        true => base.with_basic_auth(&c.admin_username, &c.admin_password_hash),
        false => base,
    }
}

/// Prints one start-up line. A reader that has gone (`switchyard | head -1`)
/// is no reason to stop serving, so a failed write is ignored, where
/// `println!` would panic.
pub(crate) fn announce(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The certificates of the `redis_tls_*` files (`None` when none is set): an error naming the
/// key and the file when one cannot be read.
fn redis_tls(c: &Config) -> std::io::Result<Option<TlsCertificates>> {
    let read = |key: &str, file: &str| -> std::io::Result<Option<Vec<u8>>> {
        if file.is_empty() {
            return Ok(None);
        }
        std::fs::read(file).map(Some).map_err(|e| {
            std::io::Error::other(format!("config key '{key}': cannot read {file:?}: {e}"))
        })
    };
    let root_cert = read("redis_tls_ca_file", &c.redis_tls_ca_file)?;
    let client_cert = read("redis_tls_cert_file", &c.redis_tls_cert_file)?;
    let client_key = read("redis_tls_key_file", &c.redis_tls_key_file)?;
    // Config::check has made sure the certificate and the key come together.
    let client_tls = client_cert
        .zip(client_key)
        .map(|(client_cert, client_key)| ClientTlsConfig {
            client_cert,
            client_key,
        });
    Ok(
        (root_cert.is_some() || client_tls.is_some()).then_some(TlsCertificates {
            client_tls,
            root_cert,
        }),
    )
}

/// The `redis` or `redis-streams` adapter `config` describes: an error (naming the URL and the
/// keys to change) when Redis cannot be reached, unless `redis_wait_at_start`.
async fn redis_adapter(config: &Config) -> std::io::Result<RedisAdapter> {
    let redis = RedisConfig {
        tls: redis_tls(config)?,
        ..redis_config(config)
    };
    let location = redis.location();
    let adapter = match config.redis_wait_at_start {
        true => RedisAdapter::connect_or_wait(redis).await,
        false => RedisAdapter::connect(redis).await,
    };
    let tls = match location.contains("rediss://") {
        true => {
            ", --redis-tls-ca-file for a private CA, --redis-tls-cert-file and --redis-tls-key-file"
        }
        false => "",
    };
    let adapter = adapter.map_err(|e| {
        std::io::Error::other(format!(
            "{e} (set --redis-url or SWITCHYARD_REDIS_URL, --redis-cluster for a Redis Cluster{tls}, or --redis-wait-at-start true to start without it)"
        ))
    })?;
    log::info!("redis adapter: joined the cluster through {location}");
    Ok(adapter)
}

/// Runs the service described by `config`: Socket.IO at `config.path`
/// with `root` as its main namespace (plus virtual requests when
/// `config.virtual_requests`), spanning a cluster when `config.adapter` is
/// `redis` or `redis-streams`, the `extra` routes, and the files of `config.static_dir` at `/`.
/// Prints `listening on ADDR` once bound, then the URL to open.
pub async fn run<F>(config: Config, root: NamespaceBuilder, extra: F) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let sails = Sails::new(virtual_request_config(&config));
    let root = match config.virtual_requests {
        true => sails.namespace(root),
        false => root,
    };
    let mut io = SocketIo::builder(socket_io_config(&config));
    if matches!(
        config.adapter,
        AdapterKind::Redis | AdapterKind::RedisStreams
    ) {
        io = io.adapter(redis_adapter(&config).await?);
    }
    let io = io.ns("/", root);
    let (io, admin) = match config.admin_ui {
        true => {
            let (io, admin) = switchyard_admin::instrument(io, admin_config(&config))
                .map_err(std::io::Error::other)?;
            (io, Some(admin))
        }
        false => (io, None),
    };
    let io = io.build();
    if let Some(admin) = &admin {
        admin.attach(&io);
    }
    let admin_ui = config.admin_ui.then(|| config.admin_ui_path.clone());
    let exe = std::env::current_exe().ok();
    let candidates =
        static_dir_candidates(&config.static_dir, config.file.as_deref(), exe.as_deref());
    let static_dir = candidates.iter().find(|dir| dir.is_dir()).cloned();
    if static_dir.is_none() {
        let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
        log::warn!(
            "static_dir {} is not a directory (looked at {}): nothing is served at / (set --static-dir or SWITCHYARD_STATIC_DIR)",
            config.static_dir.display(),
            looked.join(", ")
        );
    }
    let options = ServeOptions {
        addr: config.socket_addr(),
        path: config.path.clone(),
        shutdown_timeout: config.shutdown_timeout(),
        taps: vec![sails.tap()],
        ..ServeOptions::default()
    };
    let sockets = Sockets::new(io.main());
    let files = static_dir.clone();
    let mut metrics = Metrics::new(&io);
    if config.virtual_requests {
        metrics = metrics.with_sails(&sails);
    }
    if let Some(admin) = &admin {
        metrics = metrics.with_admin(admin);
    }
    let health = metrics.health();
    let routes = move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(sockets.clone());
        health(cfg);
        extra(cfg);
        if let Some(path) = &admin_ui {
            cfg.configure(switchyard_admin::ui::configure(path));
        }
        if let Some(dir) = &files {
            cfg.service(actix_files::Files::new("/", dir).index_file("index.html"));
        }
    };
    let server = Server::bind(io, options, routes).map_err(|e| {
        let listen = e.get_ref().and_then(|e| e.downcast_ref::<ListenError>());
        match listen {
            Some(listen) => std::io::Error::new(
                e.kind(),
                format!("{listen} (choose another with --host/--port, SWITCHYARD_HOST/SWITCHYARD_PORT or the config file)"),
            ),
            None => e,
        }
    })?;
    let addr = server.local_addr();
    let metrics_server = config
        .metrics
        .then(|| metrics_server(&config, &metrics))
        .transpose()?;
    announce(&format!("listening on {addr}"));
    announce(&open_line(addr, &config.path, static_dir));
    if config.admin_ui {
        let path = config.admin_ui_path.trim_end_matches('/');
        announce(&format!(
            "admin UI at http://{addr}{path}/ (namespace {})",
            config.admin_namespace
        ));
    }
    let Some((metrics_addr, metrics_server)) = metrics_server else {
        return server.run().await;
    };
    announce(&format!(
        "metrics at http://{metrics_addr}{} (and /healthz, /readyz there and on the main listener)",
        config.metrics_path
    ));
    let handle = metrics_server.handle();
    actix_web::rt::spawn(metrics_server);
    let served = server.run().await;
    handle.stop(true).await;
    served
}

/// The metrics listener on `config.metrics_addr`, bound, not yet serving;
/// one worker is plenty for a scrape every few seconds. The main server
/// catches the signals and stops it.
fn metrics_server(
    config: &Config,
    metrics: &Metrics,
) -> std::io::Result<(std::net::SocketAddr, actix_web::dev::Server)> {
    let routes = metrics.configure(&config.metrics_path);
    let listener = std::net::TcpListener::bind(&config.metrics_addr).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "metrics_addr {}: {e} (choose another with --metrics-addr or SWITCHYARD_METRICS_ADDR, or turn metrics off)",
                config.metrics_addr
            ),
        )
    })?;
    let addr = listener.local_addr()?;
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(routes.clone()))
            .workers(1)
            .disable_signals()
            .listen(listener)?
            .run();
    Ok((addr, server))
}

/// Where a `static_dir` may be, in order: as given when absolute; a
/// relative one in the working directory, next to the config file, then
/// next to the binary or up to three directories above it (so a binary
/// under `target/` finds the repository's `static/` wherever it is started).
fn static_dir_candidates(dir: &Path, file: Option<&Path>, exe: Option<&Path>) -> Vec<PathBuf> {
    if dir.is_absolute() {
        return vec![dir.to_path_buf()];
    }
    let mut candidates = vec![dir.to_path_buf()];
    if let Some(beside) = file
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
    {
        candidates.push(beside.join(dir));
    }
    let above_binary = exe
        .and_then(Path::parent)
        .into_iter()
        .flat_map(Path::ancestors);
    candidates.extend(above_binary.take(4).map(|p| p.join(dir)));
    candidates
}

/// What the second start-up line says is served where: the page to open,
/// or, with no files to serve, only where Socket.IO is.
fn open_line(addr: std::net::SocketAddr, path: &str, static_dir: Option<PathBuf>) -> String {
    match static_dir {
        Some(dir) => format!(
            "open http://{addr}/ (files from {}, Socket.IO at {path}, its browser client at {path}socket.io.js)",
            dir.display()
        ),
        None => format!(
            "Socket.IO at http://{addr}{path}, its browser client at {path}socket.io.js (no files at /)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One set of defaults: what `config/default.toml` states is what the
    /// libraries' `Default`s give, so an app built on the libraries ships
    /// with the limits the binary has.
    #[test]
    fn a_relative_static_dir_is_looked_for_here_beside_the_config_then_above_the_binary() {
        let dir = Path::new("static");
        let file = Path::new("/etc/switchyard/app.toml");
        let exe = Path::new("/srv/app/target/debug/switchyard");
        let found = static_dir_candidates(dir, Some(file), Some(exe));
        let expected = [
            "static",
            "/etc/switchyard/static",
            "/srv/app/target/debug/static",
            "/srv/app/target/static",
            "/srv/app/static",
            "/srv/static",
        ];
        assert_eq!(found, expected.map(PathBuf::from));
        // A bare file name has no directory to look beside.
        let found = static_dir_candidates(dir, Some(Path::new("app.toml")), None);
        assert_eq!(found, [PathBuf::from("static")]);
        let absolute = Path::new("/var/www");
        assert_eq!(
            static_dir_candidates(absolute, Some(file), Some(exe)),
            [absolute]
        );
    }

    #[test]
    fn library_defaults_are_the_config_file_defaults() {
        let on = Config {
            connection_state_recovery: true,
            ..Config::default()
        };
        assert_eq!(
            socket_io_config(&on).recovery,
            Some(switchyard_socketio::io::RecoveryConfig::default())
        );
        let c = Config::default();
        assert_eq!(
            format!("{:?}", socket_io_config(&c)),
            format!("{:?}", SocketIoConfig::default())
        );
        assert_eq!(
            format!("{:?}", virtual_request_config(&c)),
            format!("{:?}", VirtualRequestConfig::default())
        );
        assert_eq!(
            format!("{:?}", redis_config(&c)),
            format!("{:?}", RedisConfig::new(c.redis_url.clone()))
        );
    }
}
