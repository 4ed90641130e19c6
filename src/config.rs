//! Server configuration: the configuration model, where its values come from,
//! and the order in which those sources win.
//!
//! This module owns [`Config`], the flat set of settings the server reads at
//! start-up, and [`Config::load`], which builds one from these sources, lowest
//! to highest precedence:
//!
//! 1. the defaults in `config/default.toml`, embedded into the binary (the only
//!    place default values are written; that file documents every key);
//! 2. a TOML config file named by `--config PATH`, or else by the
//!    `SWITCHYARD_CONFIG` environment variable (ignored when empty). It sets
//!    only the keys it lists; a key the defaults do not have is an error;
//! 3. environment variables `SWITCHYARD_<KEY>` (key in upper case, e.g.
//!    `SWITCHYARD_PING_INTERVAL_MS`); any other `SWITCHYARD_*` variable is an
//!    error, so a misspelt one is not silently ignored;
//! 4. command-line flags `--<key>` with `_` written as `-` (e.g.
//!    `--ping-interval-ms`).
//!
//! In environment variables and flags, list values (`cors_origins`,
//! `transports`, `redis_cluster`) are comma-separated; blank items are dropped, so an empty
//! value means the empty list. Every value is type-checked where it is read,
//! even one a higher layer later overrides; the merged result is then
//! validated as a whole. Each error names the offending key and its source
//! (file path, variable or flag), or the file.
//!
//! # One definition per key
//!
//! A key is declared once, as a field of [`Config`] (its name and type), and
//! documented once, with its default, in `config/default.toml`. Everything
//! else is derived from those two: the environment variable and flag names
//! from the key, the flags and their help text from the keys and comments of
//! `config/default.toml`, and how text from the environment or a flag is read
//! from the type of the key's default (a list default means a comma-separated
//! value). The layering itself is [figment]'s: each source is one provider
//! whose metadata names the source, and serde does the type checking.
//!
//! This module must not touch server code: it opens no sockets, starts no
//! actors and serves nothing. It only reads its inputs (arguments, the
//! environment as a caller-supplied list of variables, and the config file)
//! and hands back a validated [`Config`] or a [`ConfigError`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgMatches, Command, value_parser};
use figment::error::Kind;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};
use serde::Deserialize;
pub use switchyard_core::protocol::Parser;
pub use switchyard_redis::SubscriptionMode;

pub use crate::logging::LogFormat;

/// The embedded defaults; see `config/default.toml`.
const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Prefix of the environment variable for each key: `SWITCHYARD_<KEY>`.
pub const ENV_PREFIX: &str = "SWITCHYARD_";

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "SWITCHYARD_CONFIG";

/// How this node reaches a cluster ([`Config::adapter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdapterKind {
    /// One node, no cluster.
    Local,
    /// A cluster over Redis pub/sub (`switchyard-redis`, Node's
    /// `@socket.io/redis-adapter`).
    Redis,
    /// A cluster over one Redis stream (`switchyard-redis`, Node's
    /// `@socket.io/redis-streams-adapter`).
    RedisStreams,
}

/// The Redis adapter's wire protocol ([`Config::redis_variant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RedisVariant {
    /// Ordinary pub/sub (Node's `createAdapter`).
    Classic,
    /// Sharded pub/sub, Redis 7 (Node's `createShardedAdapter`).
    Sharded,
}

/// What the admin UI is told ([`Config::admin_mode`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdminMode {
    /// Every socket, room and event.
    Development,
    /// Only the servers' stats.
    Production,
}

/// A transport clients may use ([`Config::transports`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    Websocket,
}

/// Largest delay a JavaScript timer can hold; clients arm one timer for
/// `ping_interval_ms + ping_timeout_ms`.
const JS_TIMER_MAX_MS: u64 = i32::MAX as u64;

/// Id of the `--config` flag. No key may have this name; a test checks.
const CONFIG_FLAG: &str = "config";

/// The server's settings, after all sources are merged and validated.
///
/// Every key is documented, with its default, in `config/default.toml`;
/// adding a field here and a documented entry there is all a new key needs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on: an IP address or a host name.
    pub host: String,
    /// TCP port to listen on; 0 lets the operating system pick one.
    pub port: u16,
    /// HTTP path of the Socket.IO endpoint; starts and ends with `/`.
    pub path: String,
    /// Directory of static files served over HTTP.
    pub static_dir: PathBuf,
    /// Milliseconds between heartbeat pings; see [`Config::ping_interval`].
    pub ping_interval_ms: u64,
    /// Milliseconds to wait for a pong; see [`Config::ping_timeout`].
    pub ping_timeout_ms: u64,
    /// Milliseconds allowed for a transport upgrade; see [`Config::upgrade_timeout`].
    pub upgrade_timeout_ms: u64,
    /// Milliseconds allowed to connect to a namespace after the handshake;
    /// see [`Config::connect_timeout`].
    pub connect_timeout_ms: u64,
    /// Largest accepted message or HTTP request body, in bytes.
    pub max_payload: usize,
    /// Bound, in bytes, of one client's queue of undelivered outgoing packets.
    pub max_buffer_bytes: usize,
    /// Largest number of binary attachments in one Socket.IO packet.
    pub max_attachments: usize,
    /// Allowed cross-origin request origins; `["*"]` allows any origin and
    /// `[]` none. The server applies them through
    /// [`Cors::from_list`](switchyard_engineio::Cors::from_list), which owns the
    /// matching rule.
    pub cors_origins: Vec<String>,
    /// Enabled transports; not empty.
    pub transports: Vec<Transport>,
    /// Milliseconds to wait on shutdown for connections to close; see
    /// [`Config::shutdown_timeout`].
    pub shutdown_timeout_ms: u64,
    /// How log lines on standard error are written: text or JSON lines.
    pub log_format: LogFormat,
    /// Whether WebSocket messages are compressed (permessage-deflate) when
    /// the client offers it.
    pub per_message_deflate: bool,
    /// Polling responses of at least this many bytes are compressed; 0 never.
    pub http_compression_threshold: usize,
    /// Whether Engine.IO v3 clients (socket.io-client 2.x, sails.io.js) may connect.
    pub allow_eio3: bool,
    /// Deepest JSON nesting a packet may have, 1 to 128.
    pub max_json_depth: usize,
    /// How Socket.IO packets are encoded: `json` (socket.io's default) or
    /// `msgpack` (npm `socket.io-msgpack-parser`).
    pub parser: Parser,
    /// Most namespaces one connection may join; 0 for no limit.
    pub max_namespaces_per_client: usize,
    /// Most rooms one socket may be in besides its own; 0 for no limit.
    pub max_rooms_per_socket: usize,
    /// Most acks the server may await from one socket at once; 0 for no limit.
    pub max_pending_acks_per_socket: usize,
    /// Most live sessions per client address; 0 for no limit.
    pub max_connections_per_ip: usize,
    /// Handshakes per second per client address, on average; 0 for no limit.
    pub handshakes_per_second_per_ip: u32,
    /// The burst above that average.
    pub handshake_burst_per_ip: u32,
    /// Proxies whose forwarding headers name the client; see
    /// [`Config::trusted_proxy_networks`].
    pub trusted_proxies: Vec<String>,
    /// Whether a WebSocket handshake's `Origin` must be in `cors_origins`.
    pub ws_check_origin: bool,
    /// Whether a session's requests must come from the address that opened it.
    pub check_sid_address: bool,
    /// Serve Sails' virtual requests on the main namespace.
    pub virtual_requests: bool,
    /// Most virtual requests one socket may have running at once.
    pub vr_max_in_flight: usize,
    /// Whether a virtual request's answer (JWR) carries the response headers.
    pub vr_send_response_headers: bool,
    /// Whether a virtual request's answer (JWR) carries the status code.
    pub vr_send_status_code: bool,
    /// How this node reaches a cluster.
    pub adapter: AdapterKind,
    /// The Redis URL of the `redis` and `redis-streams` adapters.
    pub redis_url: String,
    /// A Redis Cluster's seed nodes; when not empty, used instead of
    /// [`Config::redis_url`].
    pub redis_cluster: Vec<String>,
    /// With a `rediss://` URL, the CA certificates (PEM) to trust instead
    /// of the system's roots; empty for the system's.
    pub redis_tls_ca_file: String,
    /// With a `rediss://` URL, the client certificate chain (PEM) for
    /// mutual TLS; empty for none. Needs [`Config::redis_tls_key_file`].
    pub redis_tls_cert_file: String,
    /// The private key (PEM) of [`Config::redis_tls_cert_file`].
    pub redis_tls_key_file: String,
    /// The Redis channels' prefix.
    pub redis_key_prefix: String,
    /// Milliseconds requests to the other nodes wait; see
    /// [`Config::redis_request_timeout`].
    pub redis_request_timeout_ms: u64,
    /// The adapter's protocol.
    pub redis_variant: RedisVariant,
    /// The sharded protocol's subscription mode.
    pub redis_subscription_mode: SubscriptionMode,
    /// Whether to start without Redis (serving alone until it is up)
    /// rather than exit.
    pub redis_wait_at_start: bool,
    /// The `redis-streams` adapter's stream.
    pub redis_stream_name: String,
    /// About how many entries the stream keeps (`XADD MAXLEN ~`).
    pub redis_stream_max_len: usize,
    /// Most stream entries read at once (`XREAD COUNT`).
    pub redis_stream_read_count: usize,
    /// Connection state recovery: a client whose transport blinked comes
    /// back as the same socket with what it missed.
    pub connection_state_recovery: bool,
    /// Milliseconds a disconnected socket stays recoverable; see
    /// [`Config::recovery_max_disconnection`].
    pub recovery_max_disconnection_ms: u64,
    /// Whether a recovered socket skips the connect middleware.
    pub recovery_skip_middlewares: bool,
    /// Most broadcast packets kept per namespace for recovery.
    pub recovery_max_packets: usize,
    /// Most bytes of broadcast packets kept per namespace for recovery.
    pub recovery_max_bytes: usize,
    /// socket.io's admin UI: its protocol on [`Config::admin_namespace`]
    /// and its page at [`Config::admin_ui_path`].
    pub admin_ui: bool,
    /// HTTP path of the admin UI's page; starts with `/`, not `/` alone.
    pub admin_ui_path: String,
    /// The admin UI's namespace.
    pub admin_namespace: String,
    /// Whether the admin UI asks for a username and password.
    pub admin_auth: bool,
    /// The admin UI's username.
    pub admin_username: String,
    /// bcrypt hash of the admin UI's password.
    pub admin_password_hash: String,
    /// Whether the admin UI may only look (no emit, join, leave, disconnect).
    pub admin_readonly: bool,
    /// What the admin UI is told.
    pub admin_mode: AdminMode,
    /// This node's name in the admin UI; empty: `hostname#pid`.
    pub admin_server_id: String,
    /// Whether Prometheus metrics are served, on [`Config::metrics_addr`].
    pub metrics: bool,
    /// Where on the metrics listener they are.
    pub metrics_path: String,
    /// The metrics listener's `host:port` (loopback by default).
    pub metrics_addr: String,
    /// The config file the settings were read from, if any; not a key.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

/// Why a [`Config`] could not be loaded. The `Display` text is a complete,
/// user-facing message naming the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The command line could not be parsed, or `--help` / `--version` was
    /// given. Print it and exit with clap's status by calling
    /// [`clap::Error::exit`].
    #[error("{0}")]
    Cli(#[from] clap::Error),

    /// The config file could not be read.
    #[error("config file {}: {error}", path.display())]
    Io {
        /// The file as it was named.
        path: PathBuf,
        /// The read error.
        error: std::io::Error,
    },

    /// The config file is not valid TOML.
    #[error("config file {}: {}", path.display(), error.to_string().trim_end())]
    Parse {
        /// The file as it was named.
        path: PathBuf,
        /// The TOML error, with line and column.
        error: toml::de::Error,
    },

    /// The config file sets a key that does not exist.
    #[error("config file {}: unknown key '{key}'{}", path.display(), did_you_mean(.nearest, "'"))]
    UnknownKey {
        /// The file as it was named.
        path: PathBuf,
        /// The unknown key, as written in the file.
        key: String,
        /// The known key nearest to it, if one is near.
        nearest: Option<String>,
    },

    /// `SWITCHYARD_*` environment variables that name no key.
    #[error(
        "unknown environment variable{} {}",
        if .names.len() == 1 { "" } else { "s" },
        .names.iter().map(|(name, nearest)| format!("{name}{}", did_you_mean(nearest, ""))).collect::<Vec<_>>().join(", ")
    )]
    UnknownEnv {
        /// Every unknown variable, sorted, with the known one nearest to it.
        names: Vec<(String, Option<String>)>,
    },

    /// A `SWITCHYARD_<KEY>` variable whose value is not UTF-8.
    #[error("environment variable {name}: value is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        name: String,
    },

    /// A value has the wrong type or is out of range for its key.
    #[error("config key '{key}': invalid value {value} (from {origin}): expected {expected}")]
    InvalidValue {
        /// The key being set.
        key: String,
        /// The offending value, quoted if it is text.
        value: String,
        /// Where it came from: `config file PATH`, `SWITCHYARD_<KEY>` or `--<key>`.
        origin: String,
        /// What the key accepts, e.g. `an integer 0..=65535`.
        expected: String,
    },

    /// The merged configuration breaks a rule for this key.
    #[error("config key '{key}': {message}{}", from_suffix(.origin))]
    Invalid {
        /// The key at fault.
        key: String,
        /// The rule it breaks, e.g. `must be greater than 0`.
        message: String,
        /// Where the value came from, unless it is the default or unknown.
        origin: Option<String>,
    },

    /// The merged values did not deserialize into [`Config`] for a reason
    /// other than an operator's bad value, e.g. a missing field or a bad
    /// default: `Config` and `config/default.toml` disagree, which is a bug.
    #[error("config: internal error: {0}")]
    Internal(String),
}

fn from_suffix(origin: &Option<String>) -> String {
    origin
        .as_ref()
        .map(|o| format!(" (from {o})"))
        .unwrap_or_default()
}

impl Default for Config {
    /// The embedded defaults from `config/default.toml`.
    fn default() -> Self {
        extract(&Figment::from(Layer::defaults(default_values())))
            .expect("embedded config/default.toml does not match Config")
    }
}

impl Config {
    /// Builds the configuration from the embedded defaults, the config file,
    /// the environment and the command line, in increasing precedence (see
    /// the [module docs](self)), then validates it.
    ///
    /// `args` is the full command line including the program name, as from
    /// [`std::env::args_os`]. `env` is the whole environment, as from
    /// [`std::env::vars_os`]: all of it is needed to report unknown
    /// `SWITCHYARD_*` variables; other variables are ignored.
    ///
    /// On `--help`, `--version` or a malformed command line this returns
    /// [`ConfigError::Cli`]; call `exit()` on the clap error to print it and
    /// exit with clap's status.
    ///
    /// ```
    /// use switchyard::config::{Config, Transport};
    ///
    /// let env = [("SWITCHYARD_HOST", "0.0.0.0"), ("SWITCHYARD_PORT", "4000"), ("HOME", "/root")];
    /// let config = Config::load(["switchyard", "--port", "8080", "--transports", "websocket"], env)?;
    /// assert_eq!(config.socket_addr(), "0.0.0.0:8080"); // the flag beats the environment
    /// assert!(config.allows_transport(Transport::Websocket));
    /// assert!(!config.allows_transport(Transport::Polling));
    /// assert_eq!(config.ping_interval().as_millis(), 25_000); // the default
    /// # Ok::<(), switchyard::config::ConfigError>(())
    /// ```
    pub fn load(
        args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
        env: impl IntoIterator<Item = (impl Into<OsString>, impl Into<OsString>)>,
    ) -> Result<Config, ConfigError> {
        let defaults = default_values();
        let matches = command(&defaults).try_get_matches_from(args)?;
        let env = EnvVars::read(env, &defaults)?;

        let path = matches
            .get_one::<PathBuf>(CONFIG_FLAG)
            .cloned()
            .or(env.config_file);
        let file = (path.clone())
            .map(|path| Layer::file(path, &defaults))
            .transpose()?;
        let flags = Layer::flags(&matches, &defaults);

        // Each layer is type-checked as it is added, so a bad value is
        // reported even when a higher layer overrides it: an operator who
        // typed it meant something, and it would bite once the override goes.
        let mut figment = Figment::from(Layer::defaults(defaults));
        let mut config = extract(&figment)?;
        for layer in file.into_iter().chain([env.layer, flags]) {
            figment = figment.merge(layer);
            config = extract(&figment)?;
        }

        config.file = path;
        config
            .check()
            .map_err(|(key, message)| ConfigError::Invalid {
                key: key.to_string(),
                message,
                origin: figment.find_metadata(key).and_then(|m| origin(m, key)),
            })?;
        Ok(config)
    }

    /// Checks the rules every key must meet. [`Config::load`] already does
    /// this; call it after changing a `Config` by hand.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check().map_err(|(key, message)| ConfigError::Invalid {
            key: key.to_string(),
            message,
            origin: None,
        })
    }

    /// The listen address as `host:port`, e.g. `127.0.0.1:3000`.
    pub fn socket_addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Whether clients may use `transport`.
    pub fn allows_transport(&self, transport: Transport) -> bool {
        self.transports.contains(&transport)
    }

    /// [`Config::ping_interval_ms`] as a [`Duration`].
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }

    /// [`Config::ping_timeout_ms`] as a [`Duration`].
    pub fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ping_timeout_ms)
    }

    /// [`Config::upgrade_timeout_ms`] as a [`Duration`].
    pub fn upgrade_timeout(&self) -> Duration {
        Duration::from_millis(self.upgrade_timeout_ms)
    }

    /// [`Config::connect_timeout_ms`] as a [`Duration`].
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// [`Config::recovery_max_disconnection_ms`] as a [`Duration`].
    pub fn recovery_max_disconnection(&self) -> Duration {
        Duration::from_millis(self.recovery_max_disconnection_ms)
    }

    /// [`Config::trusted_proxies`] as networks (an address is a network of one).
    pub fn trusted_proxy_networks(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|p| parse_network(p))
            .collect()
    }

    /// [`Config::redis_request_timeout_ms`] as a [`Duration`].
    pub fn redis_request_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_request_timeout_ms)
    }

    /// [`Config::shutdown_timeout_ms`] as a [`Duration`].
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }

    /// The first broken rule, as (key, problem).
    fn check(&self) -> Result<(), (&'static str, String)> {
        fn fail(
            key: &'static str,
            message: impl Into<String>,
        ) -> Result<(), (&'static str, String)> {
            Err((key, message.into()))
        }

        if self.host.is_empty() {
            return fail("host", "must not be empty");
        }
        if self.host.chars().any(char::is_whitespace) {
            return fail("host", "must not contain whitespace");
        }
        if !(self.path.starts_with('/') && self.path.ends_with('/')) {
            return fail("path", "must start and end with '/'");
        }
        if self.static_dir.as_os_str().is_empty() {
            return fail("static_dir", "must not be empty");
        }
        if self.redis_stream_name.is_empty() {
            return fail("redis_stream_name", "must not be empty");
        }
        for (key, value) in [
            ("ping_interval_ms", self.ping_interval_ms),
            ("ping_timeout_ms", self.ping_timeout_ms),
            ("upgrade_timeout_ms", self.upgrade_timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("max_payload", self.max_payload as u64),
            ("max_buffer_bytes", self.max_buffer_bytes as u64),
            ("vr_max_in_flight", self.vr_max_in_flight as u64),
            ("redis_request_timeout_ms", self.redis_request_timeout_ms),
            ("redis_stream_max_len", self.redis_stream_max_len as u64),
            (
                "redis_stream_read_count",
                self.redis_stream_read_count as u64,
            ),
        ] {
            if value == 0 {
                return fail(key, "must be greater than 0");
            }
        }
        if !(1..=switchyard_core::protocol::MAX_JSON_DEPTH).contains(&self.max_json_depth) {
            let max = switchyard_core::protocol::MAX_JSON_DEPTH;
            return fail("max_json_depth", format!("must be between 1 and {max}"));
        }
        if self.ping_interval_ms.saturating_add(self.ping_timeout_ms) > JS_TIMER_MAX_MS {
            return fail(
                "ping_timeout_ms",
                format!("ping_interval_ms + ping_timeout_ms must not exceed {JS_TIMER_MAX_MS}"),
            );
        }
        for origin in &self.cors_origins {
            if !valid_origin(origin) {
                return fail(
                    "cors_origins",
                    format!(
                        "invalid origin {origin:?} (expected \"*\" or scheme://host[:port], without a path)"
                    ),
                );
            }
        }
        if self.transports.is_empty() {
            return fail("transports", "must not be empty");
        }
        if !self.metrics_path.starts_with('/')
            || matches!(&*self.metrics_path, "/healthz" | "/readyz")
        {
            return fail(
                "metrics_path",
                "must start with '/' and not be /healthz or /readyz",
            );
        }
        let port = self
            .metrics_addr
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        if !matches!(port, Some((host, Ok(_))) if !host.is_empty() && !host.contains(char::is_whitespace))
        {
            return fail("metrics_addr", "must be host:port, e.g. 127.0.0.1:9464");
        }
        if self.redis_tls_cert_file.is_empty() != self.redis_tls_key_file.is_empty() {
            return fail(
                "redis_tls_key_file",
                "redis_tls_cert_file and redis_tls_key_file go together: set both or neither",
            );
        }
        let tls_files = [&self.redis_tls_ca_file, &self.redis_tls_cert_file];
        // The cluster's seeds replace the URL: they are what must say TLS.
        let (key, secure) = match self.redis_cluster.as_slice() {
            [] => ("redis_url", self.redis_url.starts_with("rediss://")),
            seeds => (
                "redis_cluster",
                seeds.iter().all(|s| s.starts_with("rediss://")),
            ),
        };
        if self.adapter != AdapterKind::Local && tls_files.iter().any(|f| !f.is_empty()) && !secure
        {
            return fail(
                key,
                "must start with rediss:// when redis_tls_ca_file or redis_tls_cert_file is set",
            );
        }
        let follows_rooms = self.adapter == AdapterKind::Redis
            && self.redis_variant == RedisVariant::Sharded
            && self.redis_subscription_mode != SubscriptionMode::Static;
        let classic =
            self.adapter == AdapterKind::Redis && self.redis_variant == RedisVariant::Classic;
        if classic && !self.redis_cluster.is_empty() {
            return fail(
                "redis_variant",
                "must be \"sharded\" with redis_cluster (or use adapter = \"redis-streams\"): \
                 the classic adapter does not run on a Redis Cluster",
            );
        }
        if let Some(bad) = (self.redis_cluster.iter())
            .find(|seed| !(seed.starts_with("redis://") || seed.starts_with("rediss://")))
        {
            return fail(
                "redis_cluster",
                format!("invalid seed {bad:?} (expected redis://host:port)"),
            );
        }
        if self.connection_state_recovery && follows_rooms {
            return fail(
                "redis_subscription_mode",
                "must be \"static\" with connection_state_recovery: the dynamic modes stop \
                 following a room when its last socket leaves, so what a disconnected socket \
                 missed there would go unseen",
            );
        }
        if self.admin_ui {
            let path = &self.admin_ui_path;
            if !path.starts_with('/') || path.trim_end_matches('/').is_empty() {
                return fail("admin_ui_path", "must start with '/' and not be '/' alone");
            }
            if !self.admin_namespace.starts_with('/') {
                return fail("admin_namespace", "must start with '/'");
            }
            if self.admin_auth && self.admin_password_hash.is_empty() {
                return fail(
                    "admin_password_hash",
                    "must be set (a bcrypt hash) when admin_auth is true, or set admin_auth = false",
                );
            }
            if self.admin_auth
                && switchyard_admin::AdminConfig::default()
                    .with_basic_auth(&self.admin_username, &self.admin_password_hash)
                    .validate()
                    .is_err()
            {
                return fail(
                    "admin_password_hash",
                    "must be a valid bcrypt hash ($2b$...)",
                );
            }
        }
        if let Some(bad) = (self.trusted_proxies.iter()).find(|p| parse_network(p).is_none()) {
            return fail(
                "trusted_proxies",
                format!(
                    "invalid address or network {bad:?} (expected e.g. 10.0.0.1 or 10.0.0.0/8)"
                ),
            );
        }
        Ok(())
    }
}

/// `10.0.0.0/8`, or one address.
fn parse_network(text: &str) -> Option<ipnet::IpNet> {
    text.parse().ok().or_else(|| {
        text.parse::<std::net::IpAddr>()
            .ok()
            .map(ipnet::IpNet::from)
    })
}

/// `"*"`, or `scheme://authority` with a non-empty authority and no path.
fn valid_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    match origin.split_once("://") {
        Some((scheme, authority)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !authority.is_empty()
                && !authority.contains('/')
                && !authority.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// Every environment variable [`Config::load`] reads, for error messages.
/// ` (did you mean 'X'?)` when there is a near name, else where the names are.
fn did_you_mean(nearest: &Option<String>, quote: &str) -> String {
    match nearest {
        Some(name) => format!(" (did you mean {quote}{name}{quote}?)"),
        None => " (`switchyard --help` lists every key and its variable)".into(),
    }
}

/// The name in `known` nearest to `name` (a typo's distance: at most a
/// third of its length, and at least 2 edits allowed), if any.
fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let most = (name.len() / 3).max(2);
    (known.into_iter())
        .map(|k| {
            (
                strsim::damerau_levenshtein(&name, &k.to_ascii_lowercase()),
                k,
            )
        })
        .filter(|(distance, _)| *distance <= most)
        .min()
        .map(|(_, k)| k.to_owned())
}

fn known_env_vars() -> Vec<String> {
    std::iter::once(CONFIG_ENV.to_owned())
        .chain(documented_keys().into_iter().map(|(key, _)| env_var(key)))
        .collect()
}

/// The parsed `config/default.toml`: every key with its default value.
fn default_values() -> Dict {
    toml::from_str(DEFAULT_TOML).expect("embedded config/default.toml is not valid TOML")
}

/// Each key of `config/default.toml` with its documentation (the comment
/// block right above it, joined into one line), in file order. This is where
/// flag help comes from, so the file stays the one place keys are explained;
/// a test checks it finds exactly the keys the TOML parser does.
fn documented_keys() -> Vec<(&'static str, String)> {
    let mut keys = Vec::new();
    let mut comment: Vec<&str> = Vec::new();
    for line in DEFAULT_TOML.lines() {
        if let Some(text) = line.strip_prefix('#') {
            comment.push(text.trim());
        } else if let Some((key, _)) = line.split_once('=') {
            keys.push((key.trim(), comment.join(" ")));
            comment.clear();
        } else {
            comment.clear();
        }
    }
    keys
}

/// Reads a value given as text (an environment variable or a flag) as the
/// type of the key's default: the defaults are the only per-key type
/// information outside [`Config`], and text that does not fit is kept as a
/// string so that serde reports it against the field's real type.
fn parse_text(default: &Value, raw: &str) -> Value {
    match default {
        Value::Array(..) => raw
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(Value::from)
            .collect::<Vec<_>>()
            .into(),
        Value::Num(..) => raw
            .trim()
            .parse::<u64>()
            .map_or_else(|_| raw.into(), Value::from),
        Value::Bool(..) => raw
            .trim()
            .parse::<bool>()
            .map_or_else(|_| raw.into(), Value::from),
        _ => raw.into(),
    }
}

/// A value as an operator would type it after a flag, for `--help`.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(_, s) => s.clone(),
        Value::Array(_, items) => items.iter().map(as_text).collect::<Vec<_>>().join(","),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// The command line: `--config` plus one flag per key, built from
/// `config/default.toml` so a key needs no flag declaration of its own.
/// Flags take text, read like environment values by [`parse_text`], so their
/// errors read the same.
fn command(defaults: &Dict) -> Command {
    let mut command = Command::new("switchyard")
        // The allocator is a build choice (cargo features): say which one this binary has.
        .version(format!(
            "{} (allocator: {})",
            env!("CARGO_PKG_VERSION"),
            crate::allocator::NAME
        ))
        .about("Socket.IO server")
        .after_help(
            "Precedence, lowest to highest: built-in defaults, config file, \
             SWITCHYARD_<KEY> environment variables, flags. Lists are comma-separated.",
        )
        .arg(
            Arg::new(CONFIG_FLAG)
                .long(CONFIG_FLAG)
                .value_name("PATH")
                .value_parser(value_parser!(PathBuf))
                .help(format!(
                    "TOML file whose keys override the built-in defaults [env: {CONFIG_ENV}]"
                )),
        );
    for (key, doc) in documented_keys() {
        let default = &defaults[key];
        let value_name = match default {
            Value::Num(..) => "N",
            Value::Bool(..) => "BOOL",
            Value::Array(..) => "LIST",
            _ => "TEXT",
        };
        let summary = doc
            .split(". ")
            .next()
            .unwrap_or_default()
            .trim_end_matches('.');
        let default_text = match as_text(default) {
            text if text.is_empty() => "\"\"".to_owned(),
            text => text,
        };
        let details = format!("[env: {}] [default: {default_text}]", env_var(key));
        command = command.arg(
            Arg::new(key)
                .long(key.replace('_', "-"))
                .value_name(value_name)
                .help(format!("{summary} {details}"))
                .long_help(format!("{doc}\n\n{details}")),
        );
    }
    command
}

/// What [`Config::load`] takes from the environment.
struct EnvVars {
    /// `SWITCHYARD_CONFIG`, unless unset or empty.
    config_file: Option<PathBuf>,
    /// The `SWITCHYARD_<KEY>` values.
    layer: Layer,
}

impl EnvVars {
    /// Picks the `SWITCHYARD_*` variables out of `env`. Every unknown one is
    /// an error, all named at once, so an operator fixes them in one go.
    fn read(
        env: impl IntoIterator<Item = (impl Into<OsString>, impl Into<OsString>)>,
        defaults: &Dict,
    ) -> Result<EnvVars, ConfigError> {
        let mut config_file = None;
        let mut values = Dict::new();
        let mut unknown = Vec::new();
        for (name, value) in env {
            let (name, value) = (name.into(), value.into());
            // A name that is not UTF-8 cannot be one of ours.
            let Some(name) = name.to_str().filter(|n| n.starts_with(ENV_PREFIX)) else {
                continue;
            };
            if name == CONFIG_ENV {
                config_file = Some(PathBuf::from(value)).filter(|p| !p.as_os_str().is_empty());
                continue;
            }
            let key = name[ENV_PREFIX.len()..].to_ascii_lowercase();
            // Exact spelling only: SWITCHYARD_Port is not SWITCHYARD_PORT.
            match defaults.get(&key).filter(|_| env_var(&key) == name) {
                Some(default) => {
                    let raw = value.into_string().map_err(|_| ConfigError::NotUnicode {
                        name: name.to_owned(),
                    })?;
                    values.insert(key, parse_text(default, &raw));
                }
                None => unknown.push(name.to_owned()),
            }
        }
        if !unknown.is_empty() {
            unknown.sort();
            // Compared without the common prefix, which says nothing.
            let known = known_env_vars();
            let key = |var: &str| var.strip_prefix(ENV_PREFIX).unwrap_or(var).to_owned();
            let keys: Vec<String> = known.iter().map(|var| key(var)).collect();
            let names = (unknown.into_iter())
                .map(|name| {
                    let near = nearest(&key(&name), keys.iter().map(String::as_str));
                    (name, near.map(|k| format!("{ENV_PREFIX}{k}")))
                })
                .collect();
            return Err(ConfigError::UnknownEnv { names });
        }
        Ok(EnvVars {
            config_file,
            layer: Layer {
                metadata: Metadata::named("environment")
                    .interpolater(|_: &Profile, keys: &[&str]| env_var(keys[0])),
                values,
            },
        })
    }
}

/// One source of values: a figment provider whose metadata says, for a key,
/// where its value came from (`config file PATH`, `SWITCHYARD_PORT`,
/// `--port`), which is how errors name their source.
struct Layer {
    metadata: Metadata,
    values: Dict,
}

/// Name of the defaults' metadata; values from there get no "(from ...)".
const DEFAULTS: &str = "defaults";

impl Layer {
    /// The defaults, as parsed by [`default_values`].
    fn defaults(values: Dict) -> Layer {
        Layer {
            metadata: Metadata::named(DEFAULTS),
            values,
        }
    }

    /// The config file at `path`; a key the defaults lack is an error.
    fn file(path: PathBuf, defaults: &Dict) -> Result<Layer, ConfigError> {
        let text = std::fs::read_to_string(&path).map_err(|error| ConfigError::Io {
            path: path.clone(),
            error,
        })?;
        let values: Dict = toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.clone(),
            error,
        })?;
        if let Some(key) = values.keys().find(|k| !defaults.contains_key(*k)) {
            return Err(ConfigError::UnknownKey {
                path,
                key: key.clone(),
                nearest: nearest(key, defaults.keys().map(String::as_str)),
            });
        }
        let origin = format!("config file {}", path.display());
        Ok(Layer {
            metadata: Metadata::named("config file")
                .source(Source::File(path))
                .interpolater(move |_: &Profile, _: &[&str]| origin.clone()),
            values,
        })
    }

    /// The per-key flags given on the command line.
    fn flags(matches: &ArgMatches, defaults: &Dict) -> Layer {
        let values = defaults
            .iter()
            .filter_map(|(key, default)| {
                let raw = matches.get_one::<String>(key)?;
                Some((key.clone(), parse_text(default, raw)))
            })
            .collect();
        Layer {
            metadata: Metadata::named("command line")
                .interpolater(|_: &Profile, keys: &[&str]| flag(keys[0])),
            values,
        }
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// Where the value of `key` came from, per its layer's metadata; `None` for
/// a default.
fn origin(metadata: &Metadata, key: &str) -> Option<String> {
    (metadata.name != DEFAULTS).then(|| metadata.interpolate(&Profile::Default, &[key]))
}

/// Deserializes the merged values, turning serde's complaint about a value
/// into an error naming the key, the value, its source and what was expected.
fn extract(figment: &Figment) -> Result<Config, ConfigError> {
    figment.extract().map_err(|error| {
        if let Kind::UnknownVariant(value, known) = &error.kind {
            return unknown_variant(&error, value, known);
        }
        let (Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected)) = &error.kind else {
            return ConfigError::Internal(error.to_string());
        };
        // The config is flat, so the first path element is the key; a
        // second one is the index of a bad list item.
        let Some(key) = error.path.first() else {
            return ConfigError::Internal(error.to_string());
        };
        let value = figment
            .find_value(key)
            .ok()
            .and_then(|v| serde_json::to_string(&v).ok())
            .unwrap_or_default();
        // A bad default is a bug in config/default.toml, not an operator's.
        let Some(origin) = error.metadata.as_ref().and_then(|m| origin(m, key)) else {
            return ConfigError::Internal(error.to_string());
        };
        ConfigError::InvalidValue {
            key: key.clone(),
            value,
            origin,
            expected: describe(expected, error.path.len() > 1),
        }
    })
}

/// A value that names none of an enum setting's choices: the key, the
/// value, its source and the choices.
fn unknown_variant(error: &figment::Error, value: &str, known: &[&str]) -> ConfigError {
    let Some(key) = error.path.first() else {
        return ConfigError::Internal(error.to_string());
    };
    let Some(origin) = error.metadata.as_ref().and_then(|m| origin(m, key)) else {
        return ConfigError::Internal(error.to_string());
    };
    ConfigError::Invalid {
        key: key.clone(),
        message: format!("unknown value {value:?} (expected {})", known.join(", ")),
        origin: Some(origin),
    }
}

/// Serde's name for an expected type, in words an operator reads. The
/// integer types are spelt out as ranges, which is what matters for a port
/// or a byte count; every list in [`Config`] is a list of strings.
fn describe(expected: &str, in_list: bool) -> String {
    match expected {
        _ if in_list => "an array of strings".to_owned(),
        "a sequence" => "an array of strings".to_owned(),
        "u16" => format!("an integer 0..={}", u16::MAX),
        "u64" => format!("an integer 0..={}", u64::MAX),
        "usize" => format!("an integer 0..={}", usize::MAX),
        "path string" => "a string".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests;
