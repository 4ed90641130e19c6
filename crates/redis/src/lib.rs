#![deny(missing_docs)]
//! A cluster over Redis pub/sub, wire-compatible with Node's
//! `@socket.io/redis-adapter` 8.x, both its classic adapter
//! (`createAdapter`) and its sharded one (`createShardedAdapter`, Redis 7
//! sharded pub/sub): the same channels, the same messages and request
//! types, so Switchyard nodes and Node socket.io 4 nodes using that package
//! share one cluster. `docs/redis-adapter-wire.md` is the reference.
//!
//! [`RedisAdapter`] is the node's link to Redis (two connections, made and
//! lost together, on a thread of their own); each namespace gets a `Node`
//! from it with its own uid, as in Node. A namespace's requests go out from the operators; what other nodes
//! send is applied, in arrival order per namespace, to this node's sockets
//! only, through [`LocalNamespace`].
//!
//! Written by hand rather than with a crate: no Rust crate speaks this wire
//! format (socketioxide's Redis adapter has its own).
//!
//! ```no_run
//! use switchyard_redis::{RedisAdapter, RedisConfig};
//! use switchyard_socketio::io::{SocketIo, SocketIoConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisAdapter::connect(RedisConfig::new("redis://127.0.0.1:6379")).await?;
//! let io = SocketIo::builder(SocketIoConfig::default()).adapter(redis).build();
//! # Ok(()) }
//! ```

mod classic;
mod link;
mod node;
mod sharded;
mod wire;

pub use sharded::SubscriptionMode;

use std::sync::Arc;
use std::time::Duration;

use link::Link;
use switchyard_core::{Adapter, AdapterFactory, LocalNamespace};

/// How to reach Redis, and how long to wait for the other nodes.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port/db` (or `redis+unix:///path`).
    pub url: String,
    /// The channels' prefix (Node's `key` option).
    pub key_prefix: String,
    /// How long `fetchSockets` and `serverSideEmitWithAck` wait for the
    /// other nodes (Node's `requestsTimeout`).
    pub request_timeout: Duration,
    /// Which of the two wire protocols; every node of a cluster must use
    /// the same (and, when sharded, the same subscription mode).
    pub variant: Variant,
}

/// The adapter's two wire protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// `createAdapter`: ordinary pub/sub.
    #[default]
    Classic,
    /// `createShardedAdapter`: sharded pub/sub (Redis 7 or later).
    Sharded(SubscriptionMode),
}

impl RedisConfig {
    /// Node's defaults: prefix `socket.io`, 5 s for requests.
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            key_prefix: "socket.io".into(),
            request_timeout: Duration::from_secs(5),
            variant: Variant::Classic,
        }
    }
}

/// Why the adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedisAdapterError {
    /// The URL is not a Redis URL.
    #[error("invalid redis url {url:?}: {source}")]
    Url {
        /// The URL given.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
    /// Redis did not answer.
    #[error("cannot reach redis at {url}: {source}")]
    Unreachable {
        /// The URL given.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
}

/// The node's Redis link; an [`AdapterFactory`] for
/// [`SocketIoBuilder::adapter`](https://docs.rs/switchyard-socketio/latest/switchyard_socketio/io/struct.SocketIoBuilder.html#method.adapter).
#[derive(Clone)]
pub struct RedisAdapter {
    link: Arc<Link>,
    config: Arc<RedisConfig>,
    arbiter: actix::ArbiterHandle,
}

impl RedisAdapter {
    /// Connects to Redis; fails if it cannot be reached now.
    pub async fn connect(config: RedisConfig) -> Result<RedisAdapter, RedisAdapterError> {
        let (adapter, result) = Self::start(config).await?;
        result.map_err(|source| RedisAdapterError::Unreachable {
            url: adapter.config.url.clone(),
            source,
        })?;
        Ok(adapter)
    }

    /// Like [`connect`](Self::connect), but starts even if Redis is down:
    /// the node then works alone (logged, counted) until Redis comes up.
    pub async fn connect_or_wait(config: RedisConfig) -> Result<RedisAdapter, RedisAdapterError> {
        let (adapter, result) = Self::start(config).await?;
        if let Err(e) = result {
            log::warn!(
                "redis adapter: cannot reach {} ({e}); serving this node alone until it can",
                adapter.config.url
            );
        }
        Ok(adapter)
    }

    async fn start(
        config: RedisConfig,
    ) -> Result<(RedisAdapter, redis::RedisResult<()>), RedisAdapterError> {
        let client =
            redis::Client::open(config.url.as_str()).map_err(|source| RedisAdapterError::Url {
                url: config.url.clone(),
                source,
            })?;
        // The link's tasks get a thread of their own: Redis traffic never
        // waits behind a busy HTTP worker, nor the other way round.
        let arbiter = actix::Arbiter::new().handle();
        let (link, result) = Link::start(client, &arbiter).await;
        let adapter = RedisAdapter {
            link: Arc::new(link),
            config: Arc::new(config),
            arbiter,
        };
        Ok((adapter, result))
    }
}

impl AdapterFactory for RedisAdapter {
    fn create(&self, nsp: &str, local: LocalNamespace) -> Arc<dyn Adapter> {
        let uid = random_id();
        let prefix = &self.config.key_prefix;
        let dialect: Box<dyn wire::Dialect> = match self.config.variant {
            Variant::Classic => Box::new(classic::Classic::new(prefix, nsp, &uid)),
            Variant::Sharded(mode) => Box::new(sharded::Sharded::new(prefix, nsp, &uid, mode)),
        };
        let setup = node::Setup {
            uid,
            dialect,
            link: &self.link,
            arbiter: &self.arbiter,
            request_timeout: self.config.request_timeout,
        };
        node::Node::start(setup, local)
    }
}

/// A random id for this node's uid and its requests (hex, like Node's
/// `randomBytes(8).toString("hex")` but longer).
pub(crate) fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
