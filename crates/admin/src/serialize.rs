//! Sockets and dates as the admin UI reads them: Node's `serialize(socket,
//! nsp)` (id, clientId, transport, nsp, data without `_admin`, handshake
//! without `auth`, rooms) and `new Date()` in JSON (ISO 8601, UTC, ms).
//!
//! Owns: those shapes. Must not touch: where the sockets come from.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use switchyard_core::js_date::iso_string;
use switchyard_socketio::socket::{FetchedSocket, SocketRef};

/// A socket of this node, as `serialize` writes it.
pub(crate) fn local(socket: &SocketRef, rooms: Vec<String>) -> Value {
    let conn = socket.conn();
    let handshake = serde_json::to_value(socket.handshake()).unwrap_or_default();
    shape(
        socket.id(),
        Some(client_id(conn.id())),
        Some(conn.transport()),
        socket.nsp(),
        socket.data(),
        handshake,
        rooms,
    )
}

/// A socket `fetch_sockets` found, here or on another node. Another node's
/// socket carries its client id and transport in `data._admin` when that
/// node is a Node one (its admin UI puts them there).
pub(crate) fn fetched(socket: &FetchedSocket, nsp: &str) -> Value {
    if let Some(local) = socket.as_local() {
        return self::local(local, socket.rooms().to_vec());
    }
    let admin = socket.data().get("_admin");
    let field = |name: &str| admin.and_then(|a| a.get(name)).and_then(Value::as_str);
    shape(
        socket.id(),
        field("clientId").map(str::to_string),
        field("transport"),
        nsp,
        socket.data().clone(),
        socket.handshake().clone(),
        socket.rooms().to_vec(),
    )
}

/// `socket.client.id.substring(0, 12)`, as Node's admin UI keeps it.
pub(crate) fn client_id(conn_id: &str) -> String {
    conn_id.chars().take(12).collect()
}

fn shape(
    id: &str,
    client_id: Option<String>,
    transport: Option<&str>,
    nsp: &str,
    data: Value,
    handshake: Value,
    rooms: Vec<String>,
) -> Value {
    let header = |name: &str| handshake.get("headers").and_then(|h| h.get(name)).cloned();
    // Behind a proxy, the client's address is in its headers (as Node reads it).
    let address = header("cf-connecting-ip")
        .or_else(|| header("x-forwarded-for"))
        .or_else(|| handshake.get("address").cloned())
        .unwrap_or(Value::Null);
    let pick = |name: &str| handshake.get(name).cloned().unwrap_or(Value::Null);
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    if let Some(client_id) = client_id {
        out.insert("clientId".into(), json!(client_id));
    }
    if let Some(transport) = transport {
        out.insert("transport".into(), json!(transport));
    }
    out.insert("nsp".into(), json!(nsp));
    out.insert("data".into(), without_admin(data));
    out.insert(
        "handshake".into(),
        json!({
            "address": address,
            "headers": pick("headers"),
            "query": pick("query"),
            "issued": pick("issued"),
            "secure": pick("secure"),
            "time": pick("time"),
            "url": pick("url"),
            "xdomain": pick("xdomain"),
        }),
    );
    out.insert("rooms".into(), json!(rooms));
    Value::Object(out)
}

/// `serializeData`: the socket's data without the admin UI's own `_admin`.
pub(crate) fn without_admin(data: Value) -> Value {
    match data {
        Value::Object(mut map) => {
            map.remove("_admin");
            Value::Object(map)
        }
        other => other,
    }
}

/// `new Date()` as JSON writes it: `2026-12-05T03:22:01.123Z`.
pub(crate) fn iso_date(at: SystemTime) -> String {
    let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    iso_string(ms as i128).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_written_as_javascript_does() {
        let at = |ms| UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(iso_date(at(0)), "1970-01-01T00:00:00.000Z");
        // new Date(1700000000123).toISOString()
        assert_eq!(iso_date(at(1_700_000_000_123)), "2023-11-14T22:13:20.123Z");
        // new Date(951782400000).toISOString(): a leap day
        assert_eq!(iso_date(at(951_782_400_000)), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn a_remote_socket_takes_its_address_from_proxy_headers_and_loses_admin_data() {
        let handshake = json!({
            "headers": {"x-forwarded-for": "10.0.0.1"},
            "address": "127.0.0.1",
            "query": {"EIO": "4"},
            "auth": {"token": "secret"},
            "issued": 1, "secure": false, "time": "t", "url": "/socket.io/", "xdomain": false,
        });
        let data = json!({"_admin": {"clientId": "abc", "transport": "websocket"}, "user": "x"});
        let v = shape(
            "id1",
            Some("abc".into()),
            Some("websocket"),
            "/",
            data,
            handshake,
            vec!["id1".into()],
        );
        assert_eq!(v["handshake"]["address"], "10.0.0.1");
        assert!(v["handshake"].get("auth").is_none(), "auth is never shown");
        assert_eq!(v["data"], json!({"user": "x"}));
        assert_eq!(v["rooms"], json!(["id1"]));
        assert_eq!(v["clientId"], "abc");
    }
}
