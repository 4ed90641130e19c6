//! Where Redis is: one server (`redis://…`), or a Redis Cluster reached
//! through seed nodes, and the connections the links make to it. It makes
//! connections and hands them out as one [`Conn`] type; what is sent on
//! them, and when they are made again, is the links' business.
//!
//! On a cluster, commands are routed by the redis crate's cluster client to
//! the master of their key's slot (a stream, a session key, a sharded
//! channel), and it follows `MOVED` redirections. Its own retries are kept
//! few and short: the links retry on their own schedule (node-redis'
//! backoff, at most 500 ms), and a request to a dead master must fail fast
//! rather than wait out the crate's default ten-minute backoff.

use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{
    Cmd, IntoConnectionInfo, Pipeline, ProtocolVersion, RedisFuture, RedisResult, TlsCertificates,
    Value,
};

use crate::{RedisAdapterError, RedisConfig, tls};

/// How many times the cluster client itself tries a command again (after
/// a `MOVED`, or a node gone) before the link sees the error.
const CLUSTER_RETRIES: u32 = 2;
/// The cluster client's wait between its own tries, in ms.
const CLUSTER_RETRY_MIN_MS: u64 = 50;
const CLUSTER_RETRY_MAX_MS: u64 = 500;

/// One Redis server, or a Redis Cluster.
#[derive(Clone)]
pub(crate) enum Target {
    Single(redis::Client),
    Cluster {
        /// The seed nodes (any of them is enough to find the others).
        seeds: Vec<redis::ConnectionInfo>,
        /// With `rediss://` seeds: the CA and client certificate, if any.
        certs: Option<TlsCertificates>,
    },
}

/// A connection to the [`Target`], whichever kind.
#[derive(Clone)]
pub(crate) enum Conn {
    /// One connection to one server (pub/sub links).
    Single(MultiplexedConnection),
    /// One server, reconnecting by itself (streams, sessions).
    Managed(ConnectionManager),
    /// Connections to every master of a cluster, reconnecting by
    /// themselves and routing each command by its key's slot.
    Cluster(ClusterConnection),
}

impl Target {
    /// `config`'s server, or its cluster when it names seeds; fails for a
    /// URL or TLS settings the redis crate refuses.
    pub fn open(config: &RedisConfig) -> Result<Target, RedisAdapterError> {
        if config.cluster.is_empty() {
            return tls::client(config).map(Target::Single);
        }
        let url = || config.location();
        let seeds = (config.cluster.iter())
            .map(|seed| seed.as_str().into_connection_info())
            .collect::<RedisResult<Vec<_>>>()
            .map_err(|source| RedisAdapterError::Url { url: url(), source })?;
        let tls_addr =
            |s: &redis::ConnectionInfo| matches!(s.addr(), redis::ConnectionAddr::TcpTls { .. });
        if seeds.iter().any(tls_addr) {
            tls::install_crypto_provider();
        }
        let certs = config.tls.clone();
        if let Some(certs) = &certs {
            tls::check(certs).map_err(|source| RedisAdapterError::Tls { url: url(), source })?;
        }
        // What the cluster client refuses fails here, at start, not on the link's first try.
        let timeout = Duration::from_secs(1);
        (cluster(&seeds, &certs, timeout, timeout).build()).map_err(|source| match certs {
            Some(_) => RedisAdapterError::Tls { url: url(), source },
            None => RedisAdapterError::Url { url: url(), source },
        })?;
        Ok(Target::Cluster { seeds, certs })
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Target::Cluster { .. })
    }

    /// A RESP3 connection, made now, whose pushes (messages, and a
    /// `Disconnection` when a connection is lost, even idle) go to `push`.
    pub async fn pushing(
        &self,
        connect: Duration,
        push: impl redis::aio::AsyncPushSender,
    ) -> RedisResult<Conn> {
        match self {
            Target::Single(client) => {
                let info = client.get_connection_info().clone();
                let resp3 = (info.redis_settings().clone()).set_protocol(ProtocolVersion::RESP3);
                let client = redis::Client::open(info.set_redis_settings(resp3))?;
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(connect))
                    .set_push_sender(push);
                let conn = client.get_multiplexed_async_connection_with_config(&config);
                Ok(Conn::Single(conn.await?))
            }
            Target::Cluster { seeds, certs } => {
                let client = cluster(seeds, certs, connect, connect)
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(push)
                    .build()?;
                Ok(Conn::Cluster(client.get_async_connection().await?))
            }
        }
    }

    /// A connection that makes itself again when lost, connected lazily:
    /// each command tries once, and fails after `response` without an
    /// answer.
    pub fn managed(&self, connect: Duration, response: Duration) -> RedisResult<Conn> {
        match self {
            Target::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_number_of_retries(0)
                    .set_connection_timeout(Some(connect))
                    .set_response_timeout(Some(response));
                let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
                Ok(Conn::Managed(conn))
            }
            Target::Cluster { seeds, certs } => {
                let client = cluster(seeds, certs, connect, response).build()?;
                let conn = client.get_pending_async_connection_with_config(ClusterConfig::new());
                Ok(Conn::Cluster(conn))
            }
        }
    }
}

/// A cluster client's settings: few, short retries of its own (see the
/// module's comment), and the TLS certificates if any.
fn cluster(
    seeds: &[redis::ConnectionInfo],
    certs: &Option<TlsCertificates>,
    connect: Duration,
    response: Duration,
) -> ClusterClientBuilder {
    let builder = ClusterClientBuilder::new(seeds.to_vec())
        .connection_timeout(connect)
        .response_timeout(response)
        .retries(CLUSTER_RETRIES)
        .min_retry_wait(CLUSTER_RETRY_MIN_MS)
        .max_retry_wait(CLUSTER_RETRY_MAX_MS);
    match certs {
        Some(certs) => builder.certs(certs.clone()),
        None => builder,
    }
}

impl Conn {
    /// `SSUBSCRIBE` (or `SUNSUBSCRIBE`) one sharded channel, answered by its
    /// one confirmation; on a cluster, on the master of its slot.
    pub async fn shard_subscription(&mut self, channel: &str, on: bool) -> RedisResult<()> {
        match self {
            Conn::Cluster(conn) if on => conn.ssubscribe(channel).await,
            Conn::Cluster(conn) => conn.sunsubscribe(channel).await,
            conn => {
                let verb = if on { "SSUBSCRIBE" } else { "SUNSUBSCRIBE" };
                redis::cmd(verb).arg(channel).exec_async(conn).await
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(conn) => conn.req_packed_command(cmd),
            Conn::Managed(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Managed(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(conn) => conn.get_db(),
            Conn::Managed(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Target;
    use crate::{RedisAdapterError, RedisConfig, TlsCertificates};

    #[test]
    fn seeds_make_a_cluster_and_bad_ones_fail_at_start() -> Result<(), RedisAdapterError> {
        let url = "redis://127.0.0.1:6379";
        assert!(!Target::open(&RedisConfig::new(url)).unwrap().is_cluster());
        let cluster = |seeds: [&str; 2]| Target::open(&RedisConfig::cluster(seeds));
        assert!(cluster(["redis://127.0.0.1:7000", "redis://10.0.0.2:7001"])?.is_cluster());
        let bad = Target::open(&RedisConfig::cluster(["not a url"]));
        assert!(matches!(bad, Err(RedisAdapterError::Url { .. })));
        // TLS for some seeds only: refused by the cluster client, at start.
        let mixed = cluster(["redis://127.0.0.1:7000", "rediss://10.0.0.2:7001"]);
        assert!(matches!(mixed, Err(RedisAdapterError::Url { .. })));
        let seeds = ["rediss://127.0.0.1:7000", "rediss://:pw@10.0.0.2:7001"];
        assert!(cluster(seeds)?.is_cluster());
        // A CA file without a certificate: refused before connecting, as for one server.
        let mut config = RedisConfig::cluster(seeds);
        config.tls = Some(TlsCertificates {
            client_tls: None,
            root_cert: Some(b"not a certificate".to_vec()),
        });
        let Err(e @ RedisAdapterError::Tls { .. }) = Target::open(&config) else {
            panic!("not refused as TLS");
        };
        assert!(e.to_string().contains("rediss://:***@10.0.0.2:7001"), "{e}");
        Ok(())
    }
}
