//! The admin UI's settings, as `instrument(io, opts)` takes them in
//! `@socket.io/admin-ui`: namespace, authentication, read-only, mode,
//! server id, and the `server_stats` period.
//!
//! Owns: the settings and their checks. Must not touch: what they switch.

use std::time::Duration;

/// Who may connect to the admin namespace (`auth` in Node).
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Anyone (`auth: false`): only for a namespace nobody else can reach.
    None,
    /// `{type: "basic", username, password}`: the UI sends the username and
    /// password in its CONNECT; `password_hash` is their bcrypt hash
    /// (`$2a$`/`$2b$`/`$2y$`), never the password itself.
    Basic {
        /// The username the UI must send.
        username: String,
        /// The bcrypt hash of the password.
        password_hash: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            // The hash stays out of logs.
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .finish_non_exhaustive(),
        }
    }
}

/// `mode` in Node: what the admin namespace is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Everything: the sockets (`all_sockets`, `socket_connected`, ...),
    /// rooms and every event received and sent (`event_received`,
    /// `event_sent`). Node's default (`NODE_ENV` unset).
    Development,
    /// Only `server_stats` and the UI's commands: no per-socket feed, which
    /// costs a message per event.
    Production,
}

impl std::str::FromStr for Mode {
    type Err = AdminError;
    fn from_str(s: &str) -> Result<Mode, AdminError> {
        match s {
            "development" => Ok(Mode::Development),
            "production" => Ok(Mode::Production),
            other => Err(AdminError::Mode(other.to_string())),
        }
    }
}

/// The admin UI's settings.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// The admin namespace (`namespaceName`, `/admin`).
    pub namespace: String,
    /// Who may connect.
    pub auth: Auth,
    /// Refuse the UI's commands (emit, join, leave, disconnect).
    pub readonly: bool,
    /// What the namespace is told.
    pub mode: Mode,
    /// This node's name in the UI (`serverId`); `None`: `hostname#pid`, so
    /// that two nodes on one machine show up as two servers.
    pub server_id: Option<String>,
    /// How often `server_stats` is emitted (Node: every 2 s).
    pub stats_interval: Duration,
}

impl Default for AdminConfig {
    /// Node's defaults, but with authentication required: `auth` has no
    /// default there either (it must be given or set to `false`).
    fn default() -> Self {
        AdminConfig {
            namespace: "/admin".into(),
            auth: Auth::None,
            readonly: false,
            mode: Mode::Development,
            server_id: None,
            stats_interval: Duration::from_secs(2),
        }
    }
}

impl AdminConfig {
    /// Checks the settings: a namespace that starts with `/`, a valid
    /// bcrypt hash (as Node's `getRounds` does), a period above zero.
    pub fn validate(&self) -> Result<(), AdminError> {
        if !self.namespace.starts_with('/') {
            return Err(AdminError::Namespace(self.namespace.clone()));
        }
        if let Auth::Basic { password_hash, .. } = &self.auth {
            password_hash
                .parse::<bcrypt::HashParts>()
                .map_err(|_| AdminError::Hash)?;
        }
        if self.stats_interval.is_zero() {
            return Err(AdminError::Interval);
        }
        Ok(())
    }

    /// The same settings with basic authentication: `username` and the
    /// bcrypt hash of the password (checked by [`Self::validate`]).
    pub fn with_basic_auth(self, username: &str, password_hash: &str) -> Self {
        AdminConfig {
            auth: Auth::Basic {
                username: username.to_string(),
                password_hash: password_hash.to_string(),
            },
            ..self
        }
    }

    /// The server id the UI shows: the configured one, else `hostname#pid`.
    pub fn server_id(&self) -> String {
        self.server_id
            .clone()
            .unwrap_or_else(|| format!("{}#{}", hostname(), std::process::id()))
    }
}

/// This machine's name, as Node's `os.hostname()`.
pub(crate) fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Why the admin UI's settings were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdminError {
    /// `auth` is basic and its password is not a bcrypt hash.
    #[error("the admin UI's password must be a valid bcrypt hash")]
    Hash,
    /// The namespace does not start with `/`.
    #[error("the admin UI's namespace must start with '/': {0:?}")]
    Namespace(String),
    /// The mode is neither `development` nor `production`.
    #[error("the admin UI's mode must be \"development\" or \"production\", not {0:?}")]
    Mode(String),
    /// The `server_stats` period is zero.
    #[error("the admin UI's stats interval must be above zero")]
    Interval,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_must_be_a_bcrypt_hash() {
        let basic = |hash: &str| AdminConfig {
            auth: Auth::Basic {
                username: "admin".into(),
                password_hash: hash.into(),
            },
            ..AdminConfig::default()
        };
        assert_eq!(basic("changeit").validate(), Err(AdminError::Hash));
        let hash = bcrypt::hash("changeit", 4).unwrap();
        assert_eq!(basic(&hash).validate(), Ok(()));
        let bad_ns = AdminConfig {
            namespace: "admin".into(),
            ..AdminConfig::default()
        };
        assert!(matches!(bad_ns.validate(), Err(AdminError::Namespace(_))));
        assert_eq!("production".parse::<Mode>(), Ok(Mode::Production));
        assert!("prod".parse::<Mode>().is_err());
    }

    #[test]
    fn the_default_server_id_tells_nodes_on_one_machine_apart() {
        let id = AdminConfig::default().server_id();
        assert!(id.ends_with(&format!("#{}", std::process::id())), "{id}");
        let named = AdminConfig {
            server_id: Some("node-a".into()),
            ..AdminConfig::default()
        };
        assert_eq!(named.server_id(), "node-a");
    }
}
