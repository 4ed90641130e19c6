//! The sharded dialect against messages captured from real Node nodes
//! (`docs/redis-adapter-wire.md`, section 4).

use super::*;
use crate::wire::tests::hex;
use crate::wire::{Broadcast, Operation};
use serde_json::json;
use switchyard_core::Payload;

fn node(mode: SubscriptionMode) -> Sharded {
    Sharded::new("socket.io", "/", "a41b2800ac014e89", mode)
}

fn opts(rooms: &[&str]) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        compress: true,
        ..Default::default()
    }
}

fn request(json: &str) -> Request {
    let me = node(SubscriptionMode::Dynamic);
    match me.decode("socket.io#/#", json.as_bytes()) {
        Some(Incoming::Request { uid, request }) => {
            assert_eq!(uid, "b4a0b6f1e9324a8e");
            request
        }
        other => panic!("not a request: {other:?}"),
    }
}

#[test]
fn node_messages_decode() {
    assert_eq!(
        request(
            r#"{"type":3,"data":{"packet":{"type":2,"data":["ev",{"a":1.5}]},"opts":{"rooms":["room1"],"except":["room2"],"flags":{"volatile":true,"compress":false}}},"uid":"b4a0b6f1e9324a8e","nsp":"/"}"#
        ),
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
        })
    );
    assert_eq!(
        request(
            r#"{"type":3,"data":{"packet":{"type":2,"data":["ask",42]},"requestId":"07095c3594f95204","opts":{"rooms":[],"except":[],"flags":{"timeout":2000}}},"uid":"b4a0b6f1e9324a8e","nsp":"/"}"#
        ),
        Request::Operation(Operation::BroadcastWithAck {
            id: "07095c3594f95204".into(),
            event: "ask".into(),
            payload: Payload::new(vec![json!(42)]),
            opts: opts(&[]),
            timeout_ms: Some(2000),
        })
    );
    assert_eq!(
        request(
            r#"{"type":7,"data":{"opts":{"rooms":["room1"],"except":[],"flags":{}},"requestId":"e57bb55392d038d1"},"uid":"b4a0b6f1e9324a8e","nsp":"/"}"#
        ),
        Request::Operation(Operation::Fetch {
            id: "e57bb55392d038d1".into(),
            opts: opts(&["room1"])
        })
    );
    assert_eq!(
        request(
            r#"{"type":5,"data":{"opts":{"rooms":["room3"],"except":[],"flags":{}},"rooms":["room3"]},"uid":"b4a0b6f1e9324a8e","nsp":"/"}"#
        ),
        Request::Operation(Operation::Rooms {
            opts: opts(&["room3"]),
            rooms: vec!["room3".into()],
            join: false
        })
    );
    assert_eq!(
        request(
            r#"{"type":9,"data":{"requestId":"9559a1ffa8676185","packet":["sse2",1]},"uid":"b4a0b6f1e9324a8e","nsp":"/"}"#
        ),
        Request::Operation(Operation::ServerSide {
            id: Some("9559a1ffa8676185".into()),
            event: "sse2".into(),
            payload: Payload::new(vec![json!(1)]),
        })
    );
    assert_eq!(
        request(
            r#"{"type":6,"data":{"opts":{"rooms":["nobody"],"except":[],"flags":{}},"close":true},"uid":"b4a0b6f1e9324a8e","nsp":"/"}"#
        ),
        Request::Operation(Operation::Disconnect {
            opts: opts(&["nobody"]),
            close: true
        })
    );
}

#[test]
fn the_captured_binary_broadcast_decodes() {
    let bytes = hex(
        "84a47479706503a46461746182a67061636b657482a47479706502a46461746194a568656c6c6f\
         a5776f726c6401c403010203a46f70747383a5726f6f6d7390a665786365707490a5666c61677380\
         a3756964b062346130623666316539333234613865a36e7370a12f",
    );
    let me = node(SubscriptionMode::Dynamic);
    let Some(Incoming::Request {
        request: Request::Broadcast(Broadcast { event, payload, .. }),
        ..
    }) = me.decode("socket.io#/#", &bytes)
    else {
        panic!("not decoded");
    };
    assert_eq!(event, "hello");
    assert_eq!(payload.binary(2).unwrap().as_ref(), &[1, 2, 3]);
}

#[test]
fn messages_of_other_namespaces_or_without_one_are_ignored() {
    let me = node(SubscriptionMode::Dynamic);
    let admin = r#"{"type":3,"data":{"packet":{"type":2,"data":["adm",true]},"opts":{"rooms":[],"except":[],"flags":{}}},"uid":"6436cae840a6298a","nsp":"/admin"}"#;
    assert_eq!(me.decode("socket.io#/#", admin.as_bytes()), None);
    let bare = r#"{"type":3,"data":{"packet":{"type":2,"data":["x"]},"opts":{}},"uid":"u"}"#;
    assert_eq!(me.decode("socket.io#/#", bare.as_bytes()), None);
}

#[test]
fn node_answers_decode_and_ours_round_trip() {
    let me = Sharded::new(
        "socket.io",
        "/",
        "b4a0b6f1e9324a8e",
        SubscriptionMode::Dynamic,
    );
    let count = r#"{"type":11,"data":{"requestId":"07095c3594f95204","clientCount":1},"uid":"a41b2800ac014e89","nsp":"/"}"#;
    assert_eq!(
        me.decode("socket.io#/#b4a0b6f1e9324a8e#", count.as_bytes()),
        Some(Incoming::Response {
            id: "07095c3594f95204".into(),
            response: Response::ClientCount(1)
        })
    );
    let other = node(SubscriptionMode::Dynamic);
    for answer in [
        Response::ClientCount(2),
        Response::Ack(Some(Mp::from("c2-ack"))),
        Response::ServerSide(Some(Mp::from("pong-B"))),
        Response::Sockets(Vec::new()),
    ] {
        let (channel, bytes) = other.response("b4a0b6f1e9324a8e", "r1", &answer).unwrap();
        assert_eq!(channel, "socket.io#/#b4a0b6f1e9324a8e#");
        let id = "r1".to_string();
        let decoded = me.decode(&channel, &bytes);
        assert_eq!(
            decoded,
            Some(Incoming::Response {
                id,
                response: answer
            })
        );
    }
    assert_eq!(other.response("x", "r", &Response::Rooms(Vec::new())), None);
}

#[test]
fn one_room_broadcasts_take_the_room_channel_as_node_computes_it() {
    let broadcast = |rooms: &[&str]| {
        Request::Broadcast(Broadcast {
            event: "e".into(),
            payload: Payload::default(),
            opts: opts(rooms),
            offset: None,
        })
    };
    let sid = "Qx53EHKR8ptiA49GAAAA";
    let cases = [
        (
            SubscriptionMode::Dynamic,
            &["room1"][..],
            "socket.io#/#room1#",
        ),
        (SubscriptionMode::Dynamic, &[sid][..], "socket.io#/#"),
        (SubscriptionMode::Dynamic, &["a", "b"][..], "socket.io#/#"),
        (SubscriptionMode::Static, &["room1"][..], "socket.io#/#"),
        (
            SubscriptionMode::DynamicPrivate,
            &[sid][..],
            "socket.io#/#Qx53EHKR8ptiA49GAAAA#",
        ),
    ];
    for (mode, rooms, channel) in cases {
        let (got, _) = node(mode).request(&broadcast(rooms)).unwrap();
        assert_eq!(got, channel, "{mode:?} {rooms:?}");
    }
    // Acks always on the main channel: the node count is per main channel.
    let ack = Request::Operation(Operation::BroadcastWithAck {
        id: "r".into(),
        event: "e".into(),
        payload: Payload::default(),
        opts: opts(&["room1"]),
        timeout_ms: None,
    });
    let (got, _) = node(SubscriptionMode::Dynamic).request(&ack).unwrap();
    assert_eq!(got, "socket.io#/#");
}

#[test]
fn nodes_follow_the_rooms_the_mode_says() {
    let dynamic = node(SubscriptionMode::Dynamic);
    assert_eq!(
        dynamic.room_channel("room1", false).as_deref(),
        Some("socket.io#/#room1#")
    );
    assert_eq!(dynamic.room_channel("sid", true), None);
    assert!(!node(SubscriptionMode::Static).follows_rooms());
    let private = node(SubscriptionMode::DynamicPrivate);
    assert_eq!(
        private.room_channel("sid", true).as_deref(),
        Some("socket.io#/#sid#")
    );
    let (channel, _) = dynamic
        .request(&Request::Operation(Operation::SocketIds {
            id: "x".into(),
            rooms: Vec::new(),
        }))
        .map_or((String::new(), Vec::new()), |r| r);
    assert!(
        channel.is_empty(),
        "no SOCKETS request in the sharded protocol"
    );
}

#[test]
fn a_hand_over_and_its_answer_are_types_node_ignores() {
    let us = node(SubscriptionMode::Static);
    let ask = Request::Operation(Operation::HandOver {
        id: "r1".into(),
        pid: "p1".into(),
    });
    let (channel, bytes) = us.request(&ask).unwrap();
    // socket.io-adapter's ClusterAdapter drops a type it does not know.
    let envelope = crate::wire::decode(&bytes).unwrap();
    let kind = crate::wire::get(&envelope, "type").and_then(|t| t.as_u64());
    assert_eq!(kind, Some(1001));
    let Some(Incoming::Request { request, .. }) =
        node(SubscriptionMode::Static).decode(&channel, &bytes)
    else {
        panic!("not decoded");
    };
    assert_eq!(request, ask);
    let session = switchyard_core::RecoverySession {
        sid: "s".into(),
        pid: "p1".into(),
        rooms: vec!["s".into()],
        data: json!({}),
    };
    let answer = Response::Session(Some(session));
    let (channel, bytes) = us.response("other", "r1", &answer).unwrap();
    let Some(Incoming::Response { response, .. }) = us.decode(&channel, &bytes) else {
        panic!("not decoded");
    };
    assert_eq!(response, answer);
}
