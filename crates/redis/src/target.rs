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
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, IntoConnectionInfo, Pipeline, ProtocolVersion, RedisFuture, RedisResult, Value};

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
    /// The seed nodes (any of them is enough to find the others).
    Cluster(Vec<redis::ConnectionInfo>),
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
    /// `url`, or the cluster of `seeds` when there are any; fails for a URL
    /// the redis crate refuses.
    pub fn open(url: &str, seeds: &[String]) -> RedisResult<Target> {
        if seeds.is_empty() {
            return redis::Client::open(url).map(Target::Single);
        }
        let seeds = (seeds.iter())
            .map(|seed| seed.as_str().into_connection_info())
            .collect::<RedisResult<Vec<_>>>()?;
        // Settings the cluster client refuses fail here, at start, not on the link's first try.
        ClusterClient::new(seeds.clone())?;
        Ok(Target::Cluster(seeds))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Target::Cluster(_))
    }

    fn cluster(
        seeds: &[redis::ConnectionInfo],
        connect: Duration,
        response: Duration,
    ) -> ClusterClientBuilder {
        ClusterClientBuilder::new(seeds.to_vec())
            .connection_timeout(connect)
            .response_timeout(response)
            .retries(CLUSTER_RETRIES)
            .min_retry_wait(CLUSTER_RETRY_MIN_MS)
            .max_retry_wait(CLUSTER_RETRY_MAX_MS)
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
            Target::Cluster(seeds) => {
                let client = Self::cluster(seeds, connect, connect)
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
            Target::Cluster(seeds) => {
                let client = Self::cluster(seeds, connect, response).build()?;
                let conn = client.get_pending_async_connection_with_config(ClusterConfig::new());
                Ok(Conn::Cluster(conn))
            }
        }
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

    #[test]
    fn seeds_make_a_cluster_and_bad_ones_fail_at_start() {
        let url = "redis://127.0.0.1:6379";
        assert!(!Target::open(url, &[]).unwrap().is_cluster());
        let seeds = [
            "redis://127.0.0.1:7000".to_string(),
            "redis://10.0.0.2:7001".into(),
        ];
        assert!(Target::open("", &seeds).unwrap().is_cluster());
        assert!(Target::open("", &["not a url".into()]).is_err());
    }
}
