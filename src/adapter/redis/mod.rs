//! A cluster over Redis pub/sub, wire-compatible with Node's
//! `@socket.io/redis-adapter` 8.x (`createAdapter`, the classic adapter):
//! the same channels, the same msgpack messages and request types, so
//! Switchyard nodes and Node socket.io 4 nodes using that package share one
//! cluster. `docs/redis-adapter-wire.md` is the reference.
//!
//! [`RedisAdapter`] is the node's link to Redis (two connections, its own
//! thread); each namespace gets a `Node` from it with its own uid, as in
//! Node. A namespace's requests go out from the operators; what other nodes
//! send is applied, in arrival order per namespace, to this node's sockets
//! only, through [`LocalNamespace`].
//!
//! Written by hand rather than with a crate: no Rust crate speaks this wire
//! format (socketioxide's Redis adapter has its own).
//!
//! ```no_run
//! use switchyard::adapter::redis::{RedisAdapter, RedisConfig};
//! use switchyard::io::{SocketIo, SocketIoConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisAdapter::connect(RedisConfig::new("redis://127.0.0.1:6379")).await?;
//! let io = SocketIo::builder(SocketIoConfig::default()).adapter(redis).build();
//! # Ok(()) }
//! ```

mod link;
mod node;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use crate::socket::{Adapter, AdapterFactory, LocalNamespace};
use link::Link;

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
}

impl RedisConfig {
    /// Node's defaults: prefix `socket.io`, 5 s for requests.
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            key_prefix: "socket.io".into(),
            request_timeout: Duration::from_secs(5),
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
/// [`SocketIoBuilder::adapter`](crate::io::SocketIoBuilder::adapter).
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
        node::Node::start(nsp, local, self)
    }
}
