//! Connection state recovery's sessions in Redis, where every node finds
//! them, for every dialect that orders broadcasts (streams, pub/sub
//! classic and sharded static), as `@socket.io/redis-streams-adapter`
//! keeps them: `SET
//! sio:session:<pid> <base64 of msgpack {sid, pid, rooms, data}> PX
//! <window>`, taken once with `MULTI; GET; DEL; EXEC`. So a client recovers
//! on a Switchyard node or a Node node alike.
//!
//! One task runs the commands, in the order they were asked for: a session
//! kept by this node and taken back by it right after is found. Its queue
//! is bounded; what does not fit is dropped and counted (the client then
//! starts afresh, never with a hole). The encoding is pure ([`encode`],
//! [`decode`]) and unit-tested.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::future::{BoxFuture, FutureExt};
use rmpv::Value as Mp;
use tokio::sync::{mpsc, oneshot};

use crate::link::Stats;
use crate::target::Conn;
use crate::wire;
use switchyard_core::RecoverySession;

/// Node's `sessionKeyPrefix`.
const KEY_PREFIX: &str = "sio:session:";
/// Session commands waiting for Redis.
const QUEUE: usize = 1024;

enum Op {
    Persist {
        key: String,
        value: String,
        ttl: Duration,
    },
    Take {
        key: String,
        reply: oneshot::Sender<Option<String>>,
    },
}

/// The node's way to the sessions kept in Redis.
pub(crate) struct Sessions {
    ops: mpsc::Sender<Op>,
    stats: Arc<Stats>,
}

impl Sessions {
    /// Starts the task in `arbiter`, on `conn` (without one, every
    /// command fails: counted, and no session is found).
    pub fn new(conn: Option<Conn>, arbiter: &actix::ArbiterHandle, stats: Arc<Stats>) -> Sessions {
        let (ops, queue) = mpsc::channel(QUEUE);
        if let Some(conn) = conn {
            arbiter.spawn(run(conn, queue, stats.clone()));
        }
        Sessions { ops, stats }
    }

    /// Keeps `session` for `ttl`; `false` if the queue was full (counted).
    pub fn persist(&self, session: &RecoverySession, ttl: Duration) -> bool {
        let op = Op::Persist {
            key: format!("{KEY_PREFIX}{}", session.pid),
            value: encode(session),
            ttl,
        };
        let queued = self.ops.try_send(op).is_ok();
        if !queued {
            self.stats.dropped.fetch_add(1, Relaxed);
        }
        queued
    }

    /// Takes the session `pid`, once; `None` if there is none (or Redis
    /// could not be asked).
    pub fn take(&self, pid: &str) -> BoxFuture<'static, Option<RecoverySession>> {
        let (reply, answer) = oneshot::channel();
        let key = format!("{KEY_PREFIX}{pid}");
        if self.ops.try_send(Op::Take { key, reply }).is_err() {
            self.stats.dropped.fetch_add(1, Relaxed);
            return std::future::ready(None).boxed();
        }
        async move { decode(&answer.await.ok()??) }.boxed()
    }
}

async fn run(mut conn: Conn, mut queue: mpsc::Receiver<Op>, stats: Arc<Stats>) {
    while let Some(op) = queue.recv().await {
        let result = match op {
            Op::Persist { key, value, ttl } => {
                let ms = ttl.as_millis() as u64;
                let mut set = redis::cmd("SET");
                set.arg(key).arg(value).arg("PX").arg(ms);
                set.exec_async(&mut conn).await
            }
            Op::Take { key, reply } => {
                let got = take(&mut conn, &key).await;
                let (value, result) = match got {
                    Ok(value) => (value, Ok(())),
                    Err(e) => (None, Err(e)),
                };
                let _ = reply.send(value);
                result
            }
        };
        if let Err(e) = result {
            log::debug!("redis streams adapter: session command failed: {e}");
            stats.errors.fetch_add(1, Relaxed);
        }
    }
}

/// Gets and deletes `key` in one step, as Node does (`MULTI; GET; DEL;
/// EXEC`); a transaction of one key is one slot, so on a cluster too.
async fn take(conn: &mut Conn, key: &str) -> redis::RedisResult<Option<String>> {
    let mut take = redis::pipe();
    take.atomic().get(key).del(key).ignore();
    let (value,): (Option<String>,) = take.query_async(conn).await?;
    Ok(value)
}

/// A session as Node writes it: base64 of msgpack `{sid, pid, rooms, data}`.
pub(crate) fn encode(session: &RecoverySession) -> String {
    let rooms = wire::strings(&session.rooms);
    let value = wire::map([
        ("sid", Some(Mp::from(session.sid.as_str()))),
        ("pid", Some(Mp::from(session.pid.as_str()))),
        ("rooms", Some(rooms)),
        ("data", Some(wire::json_to_mp(&session.data, &[]))),
    ]);
    BASE64.encode(wire::encode(&value))
}

/// A session in an answer to a hand-over: [`encode`]d, or nil for none.
pub(crate) fn encoded(session: Option<&RecoverySession>) -> Mp {
    session.map_or(Mp::Nil, |session| Mp::from(encode(session)))
}

/// What [`encode`] (or Node) wrote; `None` if it is not a session.
pub(crate) fn decode(text: &str) -> Option<RecoverySession> {
    let value = wire::decode_msgpack(&BASE64.decode(text).ok()?)?;
    let rooms = wire::room_list(wire::get(&value, "rooms"));
    let data = wire::get(&value, "data").cloned().unwrap_or(Mp::Nil);
    Some(RecoverySession {
        sid: wire::get_str(&value, "sid")?.to_string(),
        pid: wire::get_str(&value, "pid")?.to_string(),
        rooms,
        data: wire::mp_to_json(data, &mut Vec::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Captured from a Node node (socket.io 4.8.4, redis-streams-adapter
    /// 0.2.3): `docs/redis-streams-wire.md`, section 4.
    #[test]
    fn a_session_is_written_as_node_writes_it() {
        let session = RecoverySession {
            sid: "C7ezLHuDywgraSz0AAAA".into(),
            pid: "wN9sHodVF4mmbhH2AAAB".into(),
            rooms: vec!["C7ezLHuDywgraSz0AAAA".into(), "room1".into()],
            data: json!({}),
        };
        let text = encode(&session);
        assert!(
            text.starts_with("hKNzaWS0QzdlekxIdUR5d2dyYVN6MEFBQUGjcGlk"),
            "{text}"
        );
        assert_eq!(decode(&text), Some(session));
    }

    #[test]
    fn data_survives_and_garbage_is_no_session() {
        let session = RecoverySession {
            sid: "s".into(),
            pid: "p".into(),
            rooms: vec![],
            data: json!({"nick": "ann", "n": [1, 2.5, null, true]}),
        };
        assert_eq!(decode(&encode(&session)), Some(session));
        assert_eq!(decode("not base64!"), None);
        assert_eq!(decode(&BASE64.encode([0x93, 1, 2, 3])), None);
    }
}
