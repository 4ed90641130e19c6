#![deny(missing_docs)]
//! A cluster over Redis, wire-compatible with Node's adapters: over pub/sub
//! as `@socket.io/redis-adapter` 8.x, both its classic adapter
//! (`createAdapter`) and its sharded one (`createShardedAdapter`, Redis 7
//! sharded pub/sub), or over one Redis stream as
//! `@socket.io/redis-streams-adapter` 0.2 ([`Variant::Streams`]): the same
//! keys, the same messages and request types, so Switchyard nodes and Node
//! socket.io 4 nodes using those packages share one cluster.
//! `docs/redis-adapter-wire.md` and `docs/redis-streams-wire.md` are the
//! references.
//!
//! [`RedisAdapter`] is the node's link to Redis (two connections on a
//! thread of their own: over pub/sub made and lost together, over a stream
//! one appending and one reading); each namespace gets a `Node` from it
//! with its own uid, as in Node. A namespace's requests go out from the operators; what other nodes
//! send is applied, in arrival order per namespace, to this node's sockets
//! only, through [`LocalNamespace`].
//!
//! With connection state recovery on the namespace (switchyard-socketio's
//! `RecoveryConfig`), a client recovers on any node: sessions are kept in
//! Redis as `@socket.io/redis-streams-adapter` keeps them, and every node
//! delivers the namespace's broadcasts in one order under the same offset
//! (the stream's order and entry ids; on pub/sub, classic or sharded
//! static, the order Redis ran the publishes in, and names the sender
//! gives). Node nodes share such a cluster unchanged.
//!
//! On a Redis Cluster ([`RedisConfig::cluster`], seed nodes), the sharded
//! adapter and the streams adapter run unchanged, recovery's sessions
//! too: each channel, stream and session key lives on its slot's master,
//! and the links follow a failover to the replica that takes over.
//!
//! Written by hand rather than with a crate: no Rust crate speaks these
//! wire formats (socketioxide's Redis adapter has its own).
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
//!
//! Over TLS, a `rediss://` URL trusts the system's roots; a private CA, and
//! a client certificate for mutual TLS, go in [`RedisConfig::tls`] (PEM):
//!
//! ```no_run
//! use switchyard_redis::{ClientTlsConfig, RedisAdapter, RedisConfig, TlsCertificates};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = RedisConfig {
//!     tls: Some(TlsCertificates {
//!         root_cert: Some(std::fs::read("ca.pem")?),
//!         client_tls: Some(ClientTlsConfig {
//!             client_cert: std::fs::read("client.pem")?,
//!             client_key: std::fs::read("client.key")?,
//!         }),
//!     }),
//!     ..RedisConfig::new("rediss://redis.internal:6380")
//! };
//! let redis = RedisAdapter::connect(config).await?;
//! # Ok(()) }
//! ```

mod acks;
mod classic;
mod cluster;
mod link;
mod node;
mod sessions;
mod sharded;
mod streams;
mod target;
mod tls;
mod wire;

pub use redis::{ClientTlsConfig, TlsCertificates};
pub use sharded::SubscriptionMode;

use std::sync::Arc;
use std::time::Duration;

use link::Link;
use node::Bus;
use sessions::Sessions;
use streams::link::{StreamLink, StreamOptions};
use switchyard_core::{Adapter, AdapterFactory, LocalNamespace};
use target::Target;

/// How to reach Redis, and how long to wait for the other nodes.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://host:port/db`, `rediss://host:port/db` over TLS (the
    /// server's certificate must name `host`), or `redis+unix:///path`;
    /// not used when [`cluster`](Self::cluster) names seed nodes.
    pub url: String,
    /// A Redis Cluster's seed nodes (`redis://host:port`, or `rediss://`
    /// over TLS; a few of its nodes, the others are found from them), or
    /// empty for the one server at `url`. On a cluster,
    /// [`Variant::Sharded`] and [`Variant::Streams`] work (and recovery
    /// with them); [`Variant::Classic`] is refused.
    pub cluster: Vec<String>,
    /// With a `rediss://` URL (or seeds), certificates in PEM: `root_cert`,
    /// the CA to trust instead of the system's roots; `client_tls`, the
    /// certificate and key this node presents (mutual TLS). `None`: the
    /// system's roots, no client certificate.
    pub tls: Option<TlsCertificates>,
    /// The channels' prefix (Node's `key` option; not used by
    /// [`Variant::Streams`], which names its stream).
    pub key_prefix: String,
    /// How long `fetchSockets` and `serverSideEmitWithAck` wait for the
    /// other nodes (Node's `requestsTimeout`).
    pub request_timeout: Duration,
    /// Which wire protocol; every node of a cluster must use the same
    /// (and the same subscription mode, or the same stream).
    pub variant: Variant,
}

/// The adapters' wire protocols.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Variant {
    /// `createAdapter` of `@socket.io/redis-adapter`: ordinary pub/sub.
    #[default]
    Classic,
    /// `createShardedAdapter` of `@socket.io/redis-adapter`: sharded
    /// pub/sub (Redis 7 or later).
    Sharded(SubscriptionMode),
    /// `createAdapter` of `@socket.io/redis-streams-adapter`: one Redis
    /// stream (Redis 5 or later) that every node appends to and reads; nodes
    /// count each other by heartbeats. Nothing is lost while Redis is away:
    /// the node goes on reading where it stopped, and what it sends waits
    /// (bounded) until Redis is back. Node's defaults are
    /// [`Variant::streams`].
    Streams {
        /// The stream's key (Node's `streamName`, `socket.io`).
        stream_name: String,
        /// About how many entries the stream keeps (`XADD MAXLEN ~`;
        /// Node's `maxLen`, 10,000).
        max_len: usize,
        /// Most entries read at once (`XREAD COUNT`; Node's `readCount`,
        /// 100).
        read_count: usize,
    },
}

impl Variant {
    /// [`Variant::Streams`] with Node's defaults: stream `socket.io`,
    /// `maxLen` 10,000, `readCount` 100.
    pub fn streams() -> Variant {
        Variant::Streams {
            stream_name: "socket.io".into(),
            max_len: 10_000,
            read_count: 100,
        }
    }
}

impl RedisConfig {
    /// Node's defaults: prefix `socket.io`, 5 s for requests.
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            cluster: Vec::new(),
            tls: None,
            key_prefix: "socket.io".into(),
            request_timeout: Duration::from_secs(5),
            variant: Variant::Classic,
        }
    }

    /// A Redis Cluster reached through `seeds` (a few of its nodes), with
    /// the sharded adapter in Node's default mode; set
    /// [`variant`](Self::variant) to [`Variant::streams`] for the streams
    /// adapter.
    ///
    /// ```no_run
    /// use switchyard_redis::{RedisAdapter, RedisConfig, SubscriptionMode, Variant};
    ///
    /// # async fn run() -> Result<(), switchyard_redis::RedisAdapterError> {
    /// let seeds = ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"];
    /// let mut config = RedisConfig::cluster(seeds);
    /// config.variant = Variant::Sharded(SubscriptionMode::Static);
    /// let redis = RedisAdapter::connect(config).await?;
    /// # Ok(()) }
    /// ```
    pub fn cluster<S: Into<String>>(seeds: impl IntoIterator<Item = S>) -> RedisConfig {
        RedisConfig {
            cluster: seeds.into_iter().map(Into::into).collect(),
            variant: Variant::Sharded(SubscriptionMode::default()),
            ..RedisConfig::new("")
        }
    }

    /// Where Redis is, as errors and logs show it: the URL, or the
    /// cluster's seeds, passwords as `***`.
    pub fn location(&self) -> String {
        match self.cluster.as_slice() {
            [] => self.display_url(),
            seeds => {
                let seeds: Vec<_> = seeds.iter().map(|seed| redact_password(seed)).collect();
                format!("the redis cluster of {}", seeds.join(", "))
            }
        }
    }

    /// The URL as errors and logs show it: its password, if any, as `***`.
    pub fn display_url(&self) -> String {
        redact_password(&self.url)
    }
}

/// `url` with the password of its `user:password@` part as `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    let Some((user, _password)) = userinfo.split_once(':') else {
        return url.to_string();
    };
    let path = &rest[authority.len()..];
    format!("{scheme}://{user}:***@{host}{path}")
}

/// Why the adapter could not start.
#[derive(Debug, thiserror::Error)]
pub enum RedisAdapterError {
    /// The URL is not a Redis URL.
    #[error("invalid redis url {url:?}: {source}")]
    Url {
        /// The URL given, its password hidden.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
    /// The TLS certificates cannot be used: not PEM, a key that does not
    /// fit, or a URL that is not `rediss://`.
    #[error("cannot use the TLS certificates for redis at {url}: {source}")]
    Tls {
        /// The URL given, its password hidden.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
    /// Classic pub/sub was asked for on a Redis Cluster.
    #[error(
        "the classic redis adapter does not run on a redis cluster ({location}): use the sharded or the streams adapter"
    )]
    ClassicOnCluster {
        /// The cluster's seeds.
        location: String,
    },
    /// Redis did not answer.
    #[error("cannot reach redis at {url}: {source}")]
    Unreachable {
        /// The URL given, its password hidden.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
}

/// The node's Redis link; an [`AdapterFactory`] for
/// [`SocketIoBuilder::adapter`](https://docs.rs/switchyard-socketio/latest/switchyard_socketio/io/struct.SocketIoBuilder.html#method.adapter).
#[derive(Clone)]
pub struct RedisAdapter {
    transport: Transport,
    config: Arc<RedisConfig>,
    arbiter: actix::ArbiterHandle,
}

/// What carries the node's messages.
#[derive(Clone)]
enum Transport {
    PubSub(Arc<Link>, Arc<Sessions>),
    Stream(Arc<StreamLink>),
}

impl RedisAdapter {
    /// Connects to Redis; fails if it cannot be reached now.
    pub async fn connect(config: RedisConfig) -> Result<RedisAdapter, RedisAdapterError> {
        let (adapter, result) = Self::start(config).await?;
        result.map_err(|source| RedisAdapterError::Unreachable {
            url: adapter.config.location(),
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
                adapter.config.location()
            );
        }
        Ok(adapter)
    }

    async fn start(
        config: RedisConfig,
    ) -> Result<(RedisAdapter, redis::RedisResult<()>), RedisAdapterError> {
        if !config.cluster.is_empty() && config.variant == Variant::Classic {
            let location = config.location();
            return Err(RedisAdapterError::ClassicOnCluster { location });
        }
        let target = Target::open(&config)?;
        // The link's tasks get a thread of their own: Redis traffic never
        // waits behind a busy HTTP worker, nor the other way round.
        let arbiter = actix::Arbiter::new().handle();
        let (transport, result) = match &config.variant {
            Variant::Streams {
                stream_name,
                max_len,
                read_count,
            } => {
                let options = StreamOptions {
                    name: stream_name.clone(),
                    max_len: *max_len,
                    read_count: *read_count,
                };
                let (link, result) = StreamLink::start(target, options, &arbiter).await;
                (Transport::Stream(Arc::new(link)), result)
            }
            Variant::Classic | Variant::Sharded(_) => {
                // Recovery's sessions: commands of their own, beside pub/sub.
                let timeout = Duration::from_secs(5);
                let conn = target.managed(timeout, timeout);
                let (link, result) = Link::start(target, &arbiter).await;
                let sessions = Sessions::new(conn.ok(), &arbiter, link.stats.clone());
                (
                    Transport::PubSub(Arc::new(link), Arc::new(sessions)),
                    result,
                )
            }
        };
        let adapter = RedisAdapter {
            transport,
            config: Arc::new(config),
            arbiter,
        };
        Ok((adapter, result))
    }

    /// With [`Variant::Streams`], the id of the last stream entry this node
    /// has read (`None` before the first, and with pub/sub): where the
    /// packets a reconnecting client missed start.
    pub fn stream_offset(&self) -> Option<String> {
        match &self.transport {
            Transport::Stream(link) => link.last_id(),
            Transport::PubSub(..) => None,
        }
    }
}

impl AdapterFactory for RedisAdapter {
    fn create(&self, nsp: &str, local: LocalNamespace) -> Arc<dyn Adapter> {
        let uid = random_id();
        let prefix = &self.config.key_prefix;
        let dialect: Box<dyn wire::Dialect> = match &self.config.variant {
            Variant::Classic => Box::new(classic::Classic::new(prefix, nsp, &uid)),
            Variant::Sharded(mode) => Box::new(sharded::Sharded::new(prefix, nsp, &uid, *mode)),
            Variant::Streams { stream_name, .. } => {
                Box::new(streams::Streams::new(stream_name, nsp, &uid))
            }
        };
        let (bus, link, sessions): (Arc<dyn Bus>, _, _) = match &self.transport {
            Transport::PubSub(link, sessions) => {
                (link.clone(), Some(link.clone()), Some(sessions.clone()))
            }
            Transport::Stream(link) => (link.clone(), None, Some(link.sessions.clone())),
        };
        let setup = node::Setup {
            uid,
            dialect,
            bus,
            link,
            arbiter: &self.arbiter,
            request_timeout: self.config.request_timeout,
            sessions,
        };
        node::Node::start(setup, local)
    }
}

/// A random id for this node's uid and its requests (hex, like Node's
/// `randomBytes(8).toString("hex")` but longer).
pub(crate) fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn a_urls_password_is_hidden_and_the_rest_kept() {
        let cases = [
            (
                "rediss://app:s3cret@redis:6380/2",
                "rediss://app:***@redis:6380/2",
            ),
            (
                "redis://:s3cret@127.0.0.1:6379",
                "redis://:***@127.0.0.1:6379",
            ),
            ("redis://:p@ss@h:1/0?x=y", "redis://:***@h:1/0?x=y"),
            ("redis://user@h:1", "redis://user@h:1"),
            ("redis://h:1/0", "redis://h:1/0"),
            (
                "redis+unix:///run/redis.sock",
                "redis+unix:///run/redis.sock",
            ),
            ("not a url", "not a url"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_password(url), shown, "{url}");
        }
    }
}
