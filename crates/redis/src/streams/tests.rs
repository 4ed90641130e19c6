//! The streams dialect against entries captured from real Node nodes
//! (`docs/redis-streams-wire.md`): what they wrote decodes, and what we
//! write for the same operation is the same bytes.

use super::link::{entries_of, landed_prefix, next_id, xread_entries};
use super::*;
use crate::wire::{Operation, Request};
use redis::Value;
use serde_json::json;
use switchyard_core::{BroadcastOptions, Payload};

const A: &str = "ebd8e53144e7a699";
const B: &str = "c7e64f0fb823064d";

fn node(uid: &str) -> Streams {
    Streams::new("socket.io", "/", uid)
}

/// An entry's packed fields, as the link hands them over.
fn entry(uid: &str, kind: &str, data: Option<&str>) -> Vec<u8> {
    let mut fields = vec![
        ("uid", uid.to_string()),
        ("nsp", "/".to_string()),
        ("type", kind.to_string()),
    ];
    fields.extend(data.map(|d| ("data", d.to_string())));
    pack(&fields)
}

fn fields(bytes: &[u8]) -> Vec<(String, String)> {
    unpack(bytes).unwrap()
}

fn opts(rooms: &[&str]) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        compress: true,
        ..Default::default()
    }
}

/// Node A's entry decodes as `request`, and B writing `request` gives
/// Node's bytes (B's uid in place of A's).
fn same_as_node(kind: &str, data: &str, request: Request) {
    let got = node(B).decode("1-0", &entry(A, kind, Some(data)));
    // A broadcast is kept under its entry's id.
    let mut named = request.clone();
    if let Request::Broadcast(Broadcast { offset, .. }) = &mut named {
        *offset = Some("1-0".into());
    }
    let expected = Incoming::Request {
        uid: A.into(),
        request: named,
    };
    assert_eq!(got, Some(expected), "{data}");
    let (stream, ours) = node(B).request(&request).unwrap();
    assert_eq!(stream, "socket.io");
    assert_eq!(fields(&ours), fields(&entry(B, kind, Some(data))));
}

#[test]
fn node_requests_decode_and_ours_are_the_same_bytes() {
    same_as_node(
        "3",
        r#"{"packet":{"type":2,"data":["ev",{"a":1.5}]},"opts":{"rooms":["room1"],"except":["room2"],"flags":{"volatile":true,"compress":false}}}"#,
        Request::Broadcast(Broadcast {
            event: "ev".into(),
            payload: Payload::new(vec![json!({"a": 1.5})]),
            opts: BroadcastOptions {
                except: vec!["room2".into()],
                volatile: true,
                compress: false,
                ..opts(&["room1"])
            },
            offset: None,
        }),
    );
    same_as_node(
        "3",
        r#"{"packet":{"type":2,"data":["ask",42]},"requestId":"faf8bcfdeff60b31","opts":{"rooms":[],"except":[],"flags":{"timeout":2000}}}"#,
        Request::Operation(Operation::BroadcastWithAck {
            id: "faf8bcfdeff60b31".into(),
            event: "ask".into(),
            payload: Payload::new(vec![json!(42)]),
            opts: opts(&[]),
            timeout_ms: Some(2000),
        }),
    );
    same_as_node(
        "7",
        r#"{"opts":{"rooms":["room1"],"except":[],"flags":{}},"requestId":"4fb9993613bd8145"}"#,
        Request::Operation(Operation::Fetch {
            id: "4fb9993613bd8145".into(),
            opts: opts(&["room1"]),
        }),
    );
    for (kind, join, rooms) in [("4", true, "[]"), ("5", false, r#"["room3"]"#)] {
        same_as_node(
            kind,
            &format!(
                r#"{{"opts":{{"rooms":{rooms},"except":[],"flags":{{}}}},"rooms":["room3"]}}"#
            ),
            Request::Operation(Operation::Rooms {
                opts: opts(if join { &[] } else { &["room3"] }),
                rooms: vec!["room3".into()],
                join,
            }),
        );
    }
    same_as_node(
        "6",
        r#"{"opts":{"rooms":["nobody"],"except":[],"flags":{}},"close":true}"#,
        Request::Operation(Operation::Disconnect {
            opts: opts(&["nobody"]),
            close: true,
        }),
    );
    same_as_node(
        "9",
        r#"{"packet":["sse","x",{"y":2}]}"#,
        Request::Operation(Operation::ServerSide {
            id: None,
            event: "sse".into(),
            payload: Payload::new(vec![json!("x"), json!({"y": 2})]),
        }),
    );
    same_as_node(
        "9",
        r#"{"requestId":"7349528f267005fe","packet":["sse2",1]}"#,
        Request::Operation(Operation::ServerSide {
            id: Some("7349528f267005fe".into()),
            event: "sse2".into(),
            payload: Payload::new(vec![json!(1)]),
        }),
    );
}

#[test]
fn binary_travels_as_base64_msgpack() {
    let data = "gqZwYWNrZXSCpHR5cGUCpGRhdGGUpWhlbGxvpXdvcmxkAcQDAQIDpG9wdHODpXJvb21zkKZleGNlcHSQpWZsYWdzgA==";
    let Some(Incoming::Request {
        request: request @ Request::Broadcast(Broadcast { .. }),
        ..
    }) = node(B).decode("1-0", &entry(A, "3", Some(data)))
    else {
        panic!("not a broadcast");
    };
    let Request::Broadcast(Broadcast { event, payload, .. }) = &request else {
        unreachable!()
    };
    assert_eq!(event, "hello");
    assert_eq!(payload.args[..2], [json!("world"), json!(1)]);
    assert_eq!(payload.binary(2).unwrap().as_ref(), &[1, 2, 3]);
    let (_, ours) = node(B).request(&request).unwrap();
    assert_eq!(fields(&ours), fields(&entry(B, "3", Some(data))));
}

#[test]
fn node_answers_decode_and_ours_are_the_same_bytes() {
    let cases = [
        (
            "11",
            r#"{"requestId":"r1","clientCount":1}"#,
            Response::ClientCount(1),
        ),
        (
            "12",
            r#"{"requestId":"r1","packet":{"ok":"c2"}}"#,
            Response::Ack(Some(Mp::Map(vec![(Mp::from("ok"), Mp::from("c2"))]))),
        ),
        (
            "10",
            r#"{"requestId":"r1","packet":"pong-B"}"#,
            Response::ServerSide(Some(Mp::from("pong-B"))),
        ),
        (
            "8",
            r#"{"requestId":"r1","sockets":[]}"#,
            Response::Sockets(Vec::new()),
        ),
    ];
    for (kind, data, response) in cases {
        let got = node(A).decode("1-0", &entry(B, kind, Some(data)));
        let id = "r1".to_string();
        assert_eq!(
            got,
            Some(Incoming::Response {
                id,
                response: response.clone()
            })
        );
        let (stream, ours) = node(B).response(A, "r1", &response).unwrap();
        assert_eq!(stream, "socket.io", "answers go on the stream too");
        assert_eq!(fields(&ours), fields(&entry(B, kind, Some(data))));
    }
}

#[test]
fn a_fetched_socket_decodes() {
    let data = r#"{"requestId":"4fb9993613bd8145","sockets":[{"id":"THkQDJ2-csAX3wILAAAB","handshake":{"headers":{"host":"127.0.0.1:46859"},"time":"Sat Dec 05 2026 00:29:05 GMT+0000 (Coordinated Universal Time)","address":"127.0.0.1","xdomain":false,"secure":false,"issued":1796430545433,"url":"/socket.io/?EIO=4&transport=websocket","query":{"EIO":"4","transport":"websocket"},"auth":{}},"rooms":["THkQDJ2-csAX3wILAAAB","room1"],"data":{"user":"B","n":7}}]}"#;
    let Some(Incoming::Response {
        response: Response::Sockets(sockets),
        ..
    }) = node(A).decode("1-0", &entry(B, "8", Some(data)))
    else {
        panic!("not a fetch answer");
    };
    assert_eq!(sockets[0].id, "THkQDJ2-csAX3wILAAAB");
    assert_eq!(sockets[0].rooms, ["THkQDJ2-csAX3wILAAAB", "room1"]);
    assert_eq!(sockets[0].data, json!({"user": "B", "n": 7}));
    assert_eq!(sockets[0].handshake["issued"], json!(1796430545433u64));
}

#[test]
fn heartbeats_and_closes_have_no_data() {
    let me = node(A);
    assert_eq!(
        fields(&me.heartbeat(true).unwrap().1),
        fields(&entry(A, "1", None))
    );
    assert_eq!(
        fields(&me.heartbeat(false).unwrap().1),
        fields(&entry(A, "2", None))
    );
    let heard = |kind, initial| {
        let uid = B.to_string();
        let got = me.decode("1-0", &entry(B, kind, None));
        assert_eq!(got, Some(Incoming::Heartbeat { uid, initial }));
    };
    heard("1", true);
    heard("2", false);
    let closed = me.decode("1-0", &entry(B, "13", None));
    assert_eq!(closed, Some(Incoming::Closed { uid: B.into() }));
    assert_eq!(me.count_channel(), None, "nodes count by heartbeats");
}

#[test]
fn other_namespaces_and_malformed_entries_are_ignored() {
    let me = node(A);
    let admin = pack(&[
        ("uid", B.to_string()),
        ("nsp", "/admin".to_string()),
        ("type", "2".to_string()),
    ]);
    assert_eq!(me.decode("1-0", &admin), None);
    assert_eq!(me.decode("1-0", &entry(B, "x", None)), None);
    assert_eq!(me.decode("1-0", &entry(B, "3", Some("not base64!"))), None);
    assert_eq!(me.decode("1-0", &entry(B, "3", Some("{not json"))), None);
    assert_eq!(me.decode("1-0", &entry(B, "99", None)), None);
    assert_eq!(me.decode("1-0", b"\xc0"), None);
}

#[test]
fn json_is_written_as_javascript_would() {
    let data = Mp::Map(vec![
        (Mp::from("z"), Mp::F64(2.0)),
        (Mp::from("a"), Mp::F64(0.5)),
        (Mp::from("q\""), Mp::from("line\nbreak")),
        (Mp::from("n"), Mp::F64(f64::NAN)),
        (Mp::from("i"), Mp::from(-3)),
    ]);
    assert_eq!(
        encode_data(&data),
        r#"{"z":2,"a":0.5,"q\"":"line\nbreak","n":null,"i":-3}"#
    );
}

#[test]
fn xread_replies_give_entries_in_order() {
    let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
    let entry = |id: &str, kv: &[&str]| {
        Value::Array(vec![
            bulk(id),
            Value::Array(kv.iter().map(|s| bulk(s)).collect()),
        ])
    };
    let reply = Value::Array(vec![Value::Array(vec![
        bulk("socket.io"),
        Value::Array(vec![
            entry("1-0", &["uid", A, "nsp", "/", "type", "1"]),
            entry("1-1", &["uid", B, "nsp", "/", "type", "2"]),
        ]),
    ])]);
    let got = xread_entries(reply);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "1-0");
    assert_eq!(got[1].1[0], ("uid".to_string(), B.to_string()));
    assert!(xread_entries(Value::Nil).is_empty(), "the block timed out");
    assert!(entries_of(Value::Array(Vec::new())).is_empty());
}

#[test]
fn the_next_id_is_the_next_sequence_number() {
    assert_eq!(next_id("1796430545109-0"), "1796430545109-1");
    assert_eq!(next_id("5-41"), "5-42");
    assert_eq!(next_id("odd"), "odd");
}

#[test]
fn what_of_an_unanswered_batch_is_in_the_stream_is_its_first_entries() {
    let f = |uid: &str, n: u32| unpack(&entry(uid, "3", Some(&format!("{{\"n\":{n}}}")))).unwrap();
    let batch = vec![f(A, 1), f(A, 2), f(A, 2), f(A, 3)];
    // Others' entries between ours; the same entry twice counts twice.
    let stream = vec![
        ("1-0".to_string(), f(B, 1)),
        ("1-1".to_string(), f(A, 1)),
        ("1-2".to_string(), f(A, 2)),
        ("1-3".to_string(), f(B, 2)),
        ("1-4".to_string(), f(A, 2)),
    ];
    assert_eq!(landed_prefix(&batch, stream), (3, Some("1-4".into())));
    assert_eq!(landed_prefix(&batch, Vec::new()), (0, None));
    let all = (batch.iter().cloned().enumerate())
        .map(|(i, fields)| (format!("2-{i}"), fields))
        .collect();
    assert_eq!(landed_prefix(&batch, all), (4, Some("2-3".into())));
}
