//! `server_stats`, as Node's `initStatsEmitter` builds it, and the
//! aggregated events it carries (Node's `EventBuffer`): counts per
//! second, type and sub-type, cleared each time they are sent.
//!
//! Owns: the buffer (bounded) and the stats' shape. Must not touch: where
//! the counts come from.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Most distinct (second, type, sub-type) entries kept between two sends;
/// past it, counts are dropped (and counted).
pub(crate) const MAX_BUFFERED: usize = 4096;

/// Event counts by (second, type, sub-type), until the next `server_stats`.
#[derive(Default)]
pub(crate) struct EventBuffer {
    counts: BTreeMap<(u64, &'static str, Option<String>), u64>,
    /// Counts dropped because the buffer was at its bound.
    pub dropped: u64,
}

impl EventBuffer {
    /// Counts `count` events of `kind` (`sub`: a disconnection's reason) now.
    pub fn push(&mut self, kind: &'static str, sub: Option<String>, count: u64) {
        if count == 0 {
            return;
        }
        let second = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            * 1000;
        let key = (second, kind, sub);
        if let Some(n) = self.counts.get_mut(&key) {
            *n += count;
        } else if self.counts.len() < MAX_BUFFERED {
            self.counts.insert(key, count);
        } else {
            self.dropped += count;
        }
    }

    /// `getValuesAndClear`: `[{timestamp, type, subType?, count}]`.
    pub fn take(&mut self) -> Value {
        let values: Vec<Value> = std::mem::take(&mut self.counts)
            .into_iter()
            .map(|((timestamp, kind, sub), count)| {
                let mut v = json!({"timestamp": timestamp, "type": kind, "count": count});
                if let Some(sub) = sub {
                    v["subType"] = json!(sub);
                }
                v
            })
            .collect();
        Value::Array(values)
    }
}

/// What a node says about itself in every `server_stats`.
pub(crate) struct Base {
    pub server_id: String,
    pub hostname: String,
    pub pid: u32,
    pub started: Instant,
}

/// What changes between two `server_stats`.
pub(crate) struct Now {
    pub clients: usize,
    pub polling_clients: u64,
    pub aggregated: Value,
    /// `(name, sockets on this node)` of every namespace.
    pub namespaces: Vec<(String, usize)>,
}

/// The `server_stats` object.
pub(crate) fn server_stats(base: &Base, now: Now) -> Value {
    let namespaces: Vec<Value> = (now.namespaces.into_iter())
        .map(|(name, count)| json!({"name": name, "socketsCount": count}))
        .collect();
    json!({
        "serverId": base.server_id,
        "hostname": base.hostname,
        "pid": base.pid,
        "uptime": base.started.elapsed().as_secs_f64(),
        "clientsCount": now.clients,
        "pollingClientsCount": now.polling_clients,
        "aggregatedEvents": now.aggregated,
        "namespaces": namespaces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_adds_up_per_kind_and_is_emptied_when_taken() {
        let mut buffer = EventBuffer::default();
        buffer.push("rawConnection", None, 2);
        buffer.push("rawConnection", None, 1);
        buffer.push("rawDisconnection", Some("transport close".into()), 1);
        buffer.push("packetsIn", None, 0);
        let values = buffer.take();
        let values = values.as_array().unwrap();
        assert_eq!(values.len(), 2, "{values:?}");
        let raw = values
            .iter()
            .find(|v| v["type"] == "rawConnection")
            .unwrap();
        assert_eq!(raw["count"], 3);
        assert!(raw.get("subType").is_none());
        let gone = values
            .iter()
            .find(|v| v["type"] == "rawDisconnection")
            .unwrap();
        assert_eq!(gone["subType"], "transport close");
        assert_eq!(buffer.take(), json!([]));
    }

    #[test]
    fn the_buffer_is_bounded_and_counts_what_it_drops() {
        let mut buffer = EventBuffer::default();
        for i in 0..MAX_BUFFERED + 3 {
            buffer.push("rawDisconnection", Some(format!("r{i}")), 1);
        }
        assert_eq!(buffer.dropped, 3);
        assert_eq!(buffer.take().as_array().unwrap().len(), MAX_BUFFERED);
    }
}
