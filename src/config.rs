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
//!    `SWITCHYARD_PING_INTERVAL_MS`);
//! 4. command-line flags `--<key>` with `_` written as `-` (e.g.
//!    `--ping-interval-ms`).
//!
//! In environment variables and flags, list values (`cors_origins`,
//! `transports`) are comma-separated; blank items are dropped, so an empty
//! value means the empty list. Every value is type-checked where it is read,
//! even one a higher layer later overrides; the merged result is then
//! validated as a whole. Each error names the offending key, or the file.
//!
//! This module must not touch server code: it opens no sockets, starts no
//! actors and serves nothing. It only reads its inputs (arguments, the
//! environment through a caller-supplied function, and the config file) and
//! hands back a validated [`Config`] or a [`ConfigError`].

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;
use toml::{Table, Value};

/// The embedded defaults; see `config/default.toml`.
const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Prefix of the environment variable for each key: `SWITCHYARD_<KEY>`.
pub const ENV_PREFIX: &str = "SWITCHYARD_";

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "SWITCHYARD_CONFIG";

/// Transport names accepted in [`Config::transports`].
pub const KNOWN_TRANSPORTS: [&str; 2] = ["polling", "websocket"];

/// Largest delay a JavaScript timer can hold; clients arm one timer for
/// `ping_interval_ms + ping_timeout_ms`.
const JS_TIMER_MAX_MS: u64 = i32::MAX as u64;

/// The server's settings, after all sources are merged and validated.
///
/// Every key is documented, with its default, in `config/default.toml`.
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
    pub max_payload: u64,
    /// Bound, in bytes, of one client's queue of undelivered outgoing packets.
    pub max_buffer_bytes: u64,
    /// Largest number of binary attachments in one Socket.IO packet.
    pub max_attachments: usize,
    /// Allowed cross-origin request origins; `["*"]` allows any origin and
    /// `[]` none. See [`Config::allows_origin`].
    pub cors_origins: Vec<String>,
    /// Enabled transports, a non-empty subset of [`KNOWN_TRANSPORTS`].
    pub transports: Vec<String>,
    /// Milliseconds to wait on shutdown for connections to close; see
    /// [`Config::shutdown_timeout`].
    pub shutdown_timeout_ms: u64,
    pub per_message_deflate: bool,
    pub http_compression_threshold: usize,
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
    #[error("config file {}: unknown key '{key}'", path.display())]
    UnknownKey {
        /// The file as it was named.
        path: PathBuf,
        /// The unknown key, as written in the file.
        key: String,
    },

    /// A value has the wrong type or is out of range for its key.
    #[error("config key '{key}': invalid value {value} (from {origin}): {expected}")]
    InvalidValue {
        /// The key being set.
        key: &'static str,
        /// The offending value, quoted if it is text.
        value: String,
        /// Where it came from: `config file PATH`, `SWITCHYARD_<KEY>` or `--<key>`.
        origin: String,
        /// What the key accepts, e.g. `expected an integer 0..=65535`.
        expected: String,
    },

    /// The merged configuration breaks a rule for this key.
    #[error("config key '{key}': {message}{}", from_suffix(.origin))]
    Invalid {
        /// The key at fault.
        key: &'static str,
        /// The rule it breaks, e.g. `must be greater than 0`.
        message: String,
        /// Where the value came from, unless it is the default or unknown.
        origin: Option<String>,
    },

    /// The merged table did not deserialize into [`Config`]. Values are
    /// type-checked before merging, so this means the key table in this
    /// module and the `Config` struct disagree: a bug.
    #[error("config: internal error: {}", .0.to_string().trim_end())]
    Internal(toml::de::Error),
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
        Value::Table(default_table())
            .try_into()
            .expect("embedded config/default.toml does not match Config")
    }
}

impl Config {
    /// Builds the configuration from the embedded defaults, the config file,
    /// the environment and the command line, in increasing precedence (see
    /// the [module docs](self)), then validates it.
    ///
    /// `args` is the full command line including the program name, as from
    /// [`std::env::args_os`]. `env` looks up an environment variable by name;
    /// pass `|k| std::env::var(k).ok()` for the process environment.
    ///
    /// On `--help`, `--version` or a malformed command line this returns
    /// [`ConfigError::Cli`]; call `exit()` on the clap error to print it and
    /// exit with clap's status.
    ///
    /// ```
    /// use switchyard::config::Config;
    ///
    /// let env = |name: &str| match name {
    ///     "SWITCHYARD_HOST" => Some("0.0.0.0".to_owned()),
    ///     "SWITCHYARD_PORT" => Some("4000".to_owned()),
    ///     _ => None,
    /// };
    /// let config = Config::load(["switchyard", "--port", "8080", "--transports", "websocket"], env)?;
    /// assert_eq!(config.socket_addr(), "0.0.0.0:8080"); // the flag beats the environment
    /// assert!(config.allows_transport("websocket"));
    /// assert!(!config.allows_transport("polling"));
    /// assert_eq!(config.ping_interval().as_millis(), 25_000); // the default
    /// # Ok::<(), switchyard::config::ConfigError>(())
    /// ```
    pub fn load(
        args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let cli = Cli::try_parse_from(args)?;
        let mut layers = Layers::new();

        let file = cli
            .config
            .clone()
            .or_else(|| env(CONFIG_ENV).filter(|p| !p.is_empty()).map(PathBuf::from));
        if let Some(path) = file {
            layers.apply_file(&path)?;
        }

        for &(key, kind) in KEYS {
            let var = env_var(key);
            if let Some(raw) = env(&var) {
                layers.apply_text(key, kind, &raw, var)?;
            }
        }

        for (key, raw) in cli.values() {
            if let Some(raw) = raw {
                layers.apply_text(key, kind_of(key), raw, flag(key))?;
            }
        }

        layers.finish()
    }

    /// Checks the rules every key must meet. [`Config::load`] already does
    /// this; call it after changing a `Config` by hand.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check().map_err(|(key, message)| ConfigError::Invalid {
            key,
            message,
            origin: None,
        })
    }

    /// The listen address as `host:port`, e.g. `127.0.0.1:3000`.
    pub fn socket_addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Whether the transport `name` (`"polling"` or `"websocket"`) is enabled.
    pub fn allows_transport(&self, name: &str) -> bool {
        self.transports.iter().any(|t| t == name)
    }

    /// Whether a cross-origin request from `origin` (an `Origin` header value,
    /// e.g. `https://app.example.com`) is allowed: true if `cors_origins`
    /// holds `"*"` or the origin itself (compared ignoring ASCII case).
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.cors_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
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
        for (key, value) in [
            ("ping_interval_ms", self.ping_interval_ms),
            ("ping_timeout_ms", self.ping_timeout_ms),
            ("upgrade_timeout_ms", self.upgrade_timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("max_payload", self.max_payload),
            ("max_buffer_bytes", self.max_buffer_bytes),
        ] {
            if value == 0 {
                return fail(key, "must be greater than 0");
            }
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
        for transport in &self.transports {
            if !KNOWN_TRANSPORTS.contains(&transport.as_str()) {
                return fail(
                    "transports",
                    format!(
                        "unknown transport {transport:?} (expected {})",
                        KNOWN_TRANSPORTS.join(", ")
                    ),
                );
            }
        }
        Ok(())
    }
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

/// The shape of a key's value, used to convert text from the environment and
/// the command line and to type-check config-file values before merging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    Str,
    U16,
    U64,
    Usize,
    List,
}

impl Kind {
    /// Largest value of an integer kind that TOML (i64) can hold.
    fn max(self) -> i64 {
        match self {
            Kind::U16 => i64::from(u16::MAX),
            Kind::Usize => i64::try_from(usize::MAX).unwrap_or(i64::MAX),
            Kind::U64 | Kind::Str | Kind::List | Kind::Bool => i64::MAX,
        }
    }

    fn expected(self) -> String {
        match self {
            Kind::Bool => "expected true or false".to_owned(),
            Kind::Str => "expected a string".to_owned(),
            Kind::List => "expected an array of strings".to_owned(),
            Kind::U16 | Kind::U64 | Kind::Usize => {
                format!("expected an integer 0..={}", self.max())
            }
        }
    }

    /// Converts text from the environment or a flag; `None` if it does not fit.
    fn parse_text(self, raw: &str) -> Option<Value> {
        match self {
            Kind::Bool => raw.trim().parse::<bool>().ok().map(Value::Boolean),
            Kind::Str => Some(Value::String(raw.to_owned())),
            Kind::List => Some(Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::String(item.to_owned()))
                    .collect(),
            )),
            Kind::U16 | Kind::U64 | Kind::Usize => raw
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=self.max()).contains(n))
                .map(Value::Integer),
        }
    }

    /// Whether a config-file value has this shape.
    fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (Kind::Bool, Value::Boolean(_)) => true,
            (Kind::Str, Value::String(_)) => true,
            (Kind::List, Value::Array(items)) => items.iter().all(Value::is_str),
            (Kind::U16 | Kind::U64 | Kind::Usize, Value::Integer(n)) => {
                (0..=self.max()).contains(n)
            }
            _ => false,
        }
    }
}

/// Every key, in the order of `config/default.toml`, with its shape. Tests
/// check this against the defaults, the `Config` struct and the flags.
const KEYS: &[(&str, Kind)] = &[
    ("host", Kind::Str),
    ("port", Kind::U16),
    ("path", Kind::Str),
    ("static_dir", Kind::Str),
    ("ping_interval_ms", Kind::U64),
    ("ping_timeout_ms", Kind::U64),
    ("upgrade_timeout_ms", Kind::U64),
    ("connect_timeout_ms", Kind::U64),
    ("max_payload", Kind::U64),
    ("max_buffer_bytes", Kind::U64),
    ("max_attachments", Kind::Usize),
    ("cors_origins", Kind::List),
    ("transports", Kind::List),
    ("shutdown_timeout_ms", Kind::U64),
    ("per_message_deflate", Kind::Bool),
    ("http_compression_threshold", Kind::Usize),
];

fn kind_of(key: &str) -> Kind {
    KEYS.iter()
        .find(|(k, _)| *k == key)
        .map(|&(_, kind)| kind)
        .unwrap_or_else(|| panic!("config key {key:?} missing from KEYS"))
}

fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

fn flag(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

fn default_table() -> Table {
    DEFAULT_TOML
        .parse()
        .expect("embedded config/default.toml is not valid TOML")
}

/// The merged table being built, and which source last set each key.
struct Layers {
    table: Table,
    origins: HashMap<&'static str, String>,
}

impl Layers {
    fn new() -> Self {
        Layers {
            table: default_table(),
            origins: HashMap::new(),
        }
    }

    fn set(&mut self, key: &'static str, value: Value, origin: String) {
        self.table.insert(key.to_owned(), value);
        self.origins.insert(key, origin);
    }

    /// Overlays the keys the file sets, type-checking each.
    fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
            path: path.to_owned(),
            error,
        })?;
        let file: Table = text.parse().map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            error,
        })?;
        let origin = format!("config file {}", path.display());
        for (name, value) in file {
            let Some(&(key, kind)) = KEYS.iter().find(|(k, _)| *k == name) else {
                return Err(ConfigError::UnknownKey {
                    path: path.to_owned(),
                    key: name,
                });
            };
            if !kind.accepts(&value) {
                return Err(ConfigError::InvalidValue {
                    key,
                    value: value.to_string(),
                    origin,
                    expected: kind.expected(),
                });
            }
            self.set(key, value, origin.clone());
        }
        Ok(())
    }

    /// Overlays one value given as text (environment or flag).
    fn apply_text(
        &mut self,
        key: &'static str,
        kind: Kind,
        raw: &str,
        origin: String,
    ) -> Result<(), ConfigError> {
        match kind.parse_text(raw) {
            Some(value) => {
                self.set(key, value, origin);
                Ok(())
            }
            None => Err(ConfigError::InvalidValue {
                key,
                value: format!("{raw:?}"),
                origin,
                expected: kind.expected(),
            }),
        }
    }

    /// Deserializes the merged table and validates the result.
    fn finish(self) -> Result<Config, ConfigError> {
        let config: Config = Value::Table(self.table)
            .try_into()
            .map_err(ConfigError::Internal)?;
        config
            .check()
            .map_err(|(key, message)| ConfigError::Invalid {
                key,
                message,
                origin: self.origins.get(key).cloned(),
            })?;
        Ok(config)
    }
}

/// Command-line flags: one per config key (taken as text and converted like
/// environment values, so errors read the same), plus `--config`.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Socket.IO server",
    after_help = "Precedence, lowest to highest: built-in defaults, config file, \
                  SWITCHYARD_<KEY> environment variables, flags. \
                  Lists are comma-separated."
)]
struct Cli {
    /// TOML file whose keys override the built-in defaults [env: SWITCHYARD_CONFIG]
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Address to listen on [env: SWITCHYARD_HOST]
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// TCP port to listen on; 0 picks a free port [env: SWITCHYARD_PORT]
    #[arg(long, value_name = "PORT")]
    port: Option<String>,
    /// HTTP path of the Socket.IO endpoint, starting and ending with '/' [env: SWITCHYARD_PATH]
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    /// Directory of static files [env: SWITCHYARD_STATIC_DIR]
    #[arg(long, value_name = "DIR")]
    static_dir: Option<String>,
    /// Milliseconds between heartbeat pings [env: SWITCHYARD_PING_INTERVAL_MS]
    #[arg(long, value_name = "MS")]
    ping_interval_ms: Option<String>,
    /// Milliseconds to wait for a pong [env: SWITCHYARD_PING_TIMEOUT_MS]
    #[arg(long, value_name = "MS")]
    ping_timeout_ms: Option<String>,
    /// Milliseconds allowed for a transport upgrade [env: SWITCHYARD_UPGRADE_TIMEOUT_MS]
    #[arg(long, value_name = "MS")]
    upgrade_timeout_ms: Option<String>,
    /// Milliseconds allowed to connect to a namespace [env: SWITCHYARD_CONNECT_TIMEOUT_MS]
    #[arg(long, value_name = "MS")]
    connect_timeout_ms: Option<String>,
    /// Largest accepted message or request body, in bytes [env: SWITCHYARD_MAX_PAYLOAD]
    #[arg(long, value_name = "BYTES")]
    max_payload: Option<String>,
    /// Bound of one client's outgoing queue, in bytes [env: SWITCHYARD_MAX_BUFFER_BYTES]
    #[arg(long, value_name = "BYTES")]
    max_buffer_bytes: Option<String>,
    /// Largest number of binary attachments per packet [env: SWITCHYARD_MAX_ATTACHMENTS]
    #[arg(long, value_name = "N")]
    max_attachments: Option<String>,
    /// Allowed CORS origins, comma-separated; '*' allows any [env: SWITCHYARD_CORS_ORIGINS]
    #[arg(long, value_name = "ORIGINS")]
    cors_origins: Option<String>,
    /// Enabled transports, comma-separated: polling, websocket [env: SWITCHYARD_TRANSPORTS]
    #[arg(long, value_name = "LIST")]
    transports: Option<String>,
    /// Milliseconds to wait for connections to close on shutdown [env: SWITCHYARD_SHUTDOWN_TIMEOUT_MS]
    #[arg(long, value_name = "MS")]
    shutdown_timeout_ms: Option<String>,
    /// Compress WebSocket messages (permessage-deflate) when the client offers it [env: SWITCHYARD_PER_MESSAGE_DEFLATE]
    #[arg(long, value_name = "BOOL")]
    per_message_deflate: Option<String>,
    /// Compress polling responses from this many bytes; 0 never [env: SWITCHYARD_HTTP_COMPRESSION_THRESHOLD]
    #[arg(long, value_name = "BYTES")]
    http_compression_threshold: Option<String>,
}

impl Cli {
    /// The per-key flags, in the order of [`KEYS`].
    fn values(&self) -> [(&'static str, Option<&str>); 16] {
        [
            ("host", self.host.as_deref()),
            ("port", self.port.as_deref()),
            ("path", self.path.as_deref()),
            ("static_dir", self.static_dir.as_deref()),
            ("ping_interval_ms", self.ping_interval_ms.as_deref()),
            ("ping_timeout_ms", self.ping_timeout_ms.as_deref()),
            ("upgrade_timeout_ms", self.upgrade_timeout_ms.as_deref()),
            ("connect_timeout_ms", self.connect_timeout_ms.as_deref()),
            ("max_payload", self.max_payload.as_deref()),
            ("max_buffer_bytes", self.max_buffer_bytes.as_deref()),
            ("max_attachments", self.max_attachments.as_deref()),
            ("cors_origins", self.cors_origins.as_deref()),
            ("transports", self.transports.as_deref()),
            ("shutdown_timeout_ms", self.shutdown_timeout_ms.as_deref()),
            ("per_message_deflate", self.per_message_deflate.as_deref()),
            (
                "http_compression_threshold",
                self.http_compression_threshold.as_deref(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests;
