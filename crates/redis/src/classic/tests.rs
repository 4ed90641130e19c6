//! The classic dialect against bytes captured from real Node nodes
//! (`docs/redis-adapter-wire.md`, section 3 and appendix A).

use super::*;
use crate::wire::tests::hex;
use serde_json::json;
use switchyard_core::Payload;

/// `io.emit("hello", "world", 1, Buffer.from([1, 2, 3]))` from uid `KTtYMg`.
const HELLO: &str = "93a64b5474594d6783a47479706502a46461746194a568656c6c6fa5776f726c6401c403010203\
                     a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380";

/// `io.to("room1").except("room2").volatile.compress(false).emit("ev", {a: 1.5})`.
const ROOM_FLAGS: &str = "93a64b5474594d6783a47479706502a46461746192a2657681a161cb3ff8000000000000\
                          a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707491a5726f6f6d32a5666c61677382\
                          a8766f6c6174696c65c3a8636f6d7072657373c2";

/// `io.timeout(2000).emitWithAck("ask", 42)`: the BROADCAST request.
const ASK: &str = "85a3756964a64b5474594d67a9726571756573744964a66b4579707a78a47479706507\
                   a67061636b657483a47479706502a46461746192a361736b2aa36e7370a12f\
                   a46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd07d0";

fn node() -> Classic {
    Classic::new("socket.io", "/", "KTtYMg")
}

fn broadcast(event: &str, payload: Payload, opts: BroadcastOptions) -> Request {
    let event = event.into();
    Request::Broadcast(Broadcast {
        event,
        payload,
        opts,
        offset: None,
    })
}

#[test]
fn a_broadcast_is_byte_for_byte_what_node_sends() {
    let payload = Payload::new(vec![json!("world"), json!(1)]).with_binary(vec![1u8, 2, 3]);
    let opts = BroadcastOptions {
        compress: true,
        ..Default::default()
    };
    let (channel, bytes) = node().request(&broadcast("hello", payload, opts)).unwrap();
    assert_eq!(channel, "socket.io#/#");
    assert_eq!(bytes, hex(HELLO));

    let opts = BroadcastOptions {
        rooms: vec!["room1".into()],
        except: vec!["room2".into()],
        volatile: true,
        compress: false,
        ..Default::default()
    };
    let payload = Payload::new(vec![json!({"a": 1.5})]);
    let (channel, bytes) = node().request(&broadcast("ev", payload, opts)).unwrap();
    assert_eq!(channel, "socket.io#/#room1#");
    assert_eq!(bytes, hex(ROOM_FLAGS));
}

#[test]
fn a_broadcast_from_node_decodes_with_its_binary() {
    let other = Classic::new("socket.io", "/", "other");
    let Some(Incoming::Request { uid, request }) = other.decode("socket.io#/#", &hex(HELLO)) else {
        panic!("not decoded");
    };
    assert_eq!(uid, "KTtYMg");
    let Request::Broadcast(Broadcast {
        event,
        payload,
        opts,
        offset: None,
    }) = request
    else {
        panic!("not a broadcast: {request:?}");
    };
    assert_eq!(event, "hello");
    assert_eq!(payload.args[..2], [json!("world"), json!(1)]);
    assert_eq!(payload.binary(2).unwrap().as_ref(), &[1, 2, 3]);
    assert!(opts.rooms.is_empty() && opts.compress && !opts.volatile);

    let decoded = other.decode("socket.io#/#room1#", &hex(ROOM_FLAGS));
    let Some(Incoming::Request {
        request: Request::Broadcast(Broadcast { opts, payload, .. }),
        ..
    }) = decoded
    else {
        panic!("not decoded");
    };
    assert_eq!(
        (opts.rooms, opts.except),
        (vec!["room1".into()], vec!["room2".into()])
    );
    assert!(opts.volatile && !opts.compress);
    assert_eq!(payload.args, [json!({"a": 1.5})]);
}

#[test]
fn malformed_or_foreign_broadcasts_are_refused() {
    let node = node();
    let mut long = hex(HELLO);
    long.push(0xc0);
    assert_eq!(node.decode("socket.io#/#", &long), None, "trailing bytes");
    assert_eq!(
        node.decode("socket.io#/#", br#"["a"]"#),
        None,
        "JSON is not a broadcast"
    );
    let admin = Classic::new("socket.io", "/admin", "u");
    assert_eq!(
        admin.decode("socket.io#/admin#", &hex(HELLO)),
        None,
        "another namespace"
    );
    assert_eq!(node.decode("elsewhere", &hex(HELLO)), None);
}

#[test]
fn a_broadcast_with_ack_is_byte_for_byte_what_node_sends() {
    let request = Request::Operation(Operation::BroadcastWithAck {
        id: "kEypzx".into(),
        event: "ask".into(),
        payload: Payload::new(vec![json!(42)]),
        opts: BroadcastOptions {
            compress: true,
            ..Default::default()
        },
        timeout_ms: Some(2000),
    });
    let (channel, bytes) = node().request(&request).unwrap();
    assert_eq!(channel, "socket.io-request#/#");
    assert_eq!(bytes, hex(ASK));
    let other = Classic::new("socket.io", "/", "other");
    let decoded = other.decode("socket.io-request#/#", &bytes).unwrap();
    assert_eq!(
        decoded,
        Incoming::Request {
            uid: "KTtYMg".into(),
            request
        }
    );
}

#[test]
fn node_requests_decode() {
    let other = Classic::new("socket.io", "/", "other");
    let decode = |json: &str| {
        other
            .decode("socket.io-request#/#", json.as_bytes())
            .unwrap()
    };
    let opts = |rooms: &[&str]| BroadcastOptions {
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        compress: true,
        ..Default::default()
    };
    let request = |request| Incoming::Request {
        uid: "KTtYMg".into(),
        request,
    };
    assert_eq!(
        decode(
            r#"{"uid":"KTtYMg","requestId":"rtursx","type":5,"opts":{"rooms":["room1"],"except":[]}}"#
        ),
        request(Request::Operation(Operation::Fetch {
            id: "rtursx".into(),
            opts: opts(&["room1"])
        }))
    );
    assert_eq!(
        decode(r#"{"uid":"KTtYMg","type":2,"opts":{"rooms":[],"except":[]},"rooms":["room3"]}"#),
        request(Request::Operation(Operation::Rooms {
            opts: opts(&[]),
            rooms: vec!["room3".into()],
            join: true
        }))
    );
    assert_eq!(
        decode(r#"{"uid":"KTtYMg","type":4,"opts":{"rooms":["nobody"],"except":[]},"close":true}"#),
        request(Request::Operation(Operation::Disconnect {
            opts: opts(&["nobody"]),
            close: true
        }))
    );
    assert_eq!(
        decode(r#"{"uid":"KTtYMg","requestId":"IqYT41","type":6,"data":["sse2",1]}"#),
        request(Request::Operation(Operation::ServerSide {
            id: Some("IqYT41".into()),
            event: "sse2".into(),
            payload: Payload::new(vec![json!(1)]),
        }))
    );
    assert_eq!(
        decode(r#"{"uid":"KTtYMg","requestId":"wEtkdh","type":1}"#),
        request(Request::Operation(Operation::AllRooms {
            id: "wEtkdh".into()
        }))
    );
    // 7.x's remoteJoin(id, room) has no opts: not handled.
    let legacy = r#"{"uid":"KTtYMg","requestId":"x","type":2,"sid":"s","room":"r"}"#;
    assert_eq!(
        other.decode("socket.io-request#/#", legacy.as_bytes()),
        None
    );
}

#[test]
fn answers_round_trip_and_node_answers_decode() {
    let node = node();
    let answers = [
        Response::ClientCount(3),
        Response::Ack(Some(Mp::from("ok"))),
        Response::ServerSide(None),
        Response::Sockets(Vec::new()),
        Response::Rooms(vec!["room1".into()]),
        Response::SocketIds(vec!["a".into()]),
    ];
    for answer in answers {
        let (channel, bytes) = node.response("asker", "id1", &answer).unwrap();
        assert_eq!(channel, "socket.io-response#/#");
        let id = "id1".to_string();
        assert_eq!(
            node.decode(&channel, &bytes),
            Some(Incoming::Response {
                id,
                response: answer
            })
        );
    }
    // Node's JSON count, and its msgpack ack {"type":9,"requestId":"kEypzx","packet":{"ok":"qhzJ"}}.
    let count = br#"{"type":8,"requestId":"kEypzx","clientCount":1}"#;
    let got = node.decode("socket.io-response#/#", count);
    assert_eq!(
        got,
        Some(Incoming::Response {
            id: "kEypzx".into(),
            response: Response::ClientCount(1)
        })
    );
    let ack =
        hex("83a47479706509a9726571756573744964a66b4579707a78a67061636b657481a26f6ba471687a4a");
    let Some(Incoming::Response {
        response: Response::Ack(Some(value)),
        ..
    }) = node.decode("socket.io-response#/#KTtYMg#", &ack)
    else {
        panic!("not an ack");
    };
    assert_eq!(
        wire::answer_payload(Some(value)).args,
        [json!({"ok": "qhzJ"})]
    );
}

#[test]
fn an_ordering_node_s_offset_follows_what_node_reads() {
    let us = Classic::new("socket.io", "/", "us");
    let request = Request::Broadcast(Broadcast {
        event: "e".into(),
        payload: Payload::new(vec![json!(1)]),
        opts: BroadcastOptions::default(),
        offset: Some("us.7".into()),
    });
    let (channel, bytes) = us.request(&request).unwrap();
    // `[uid, packet, opts, offset]`: Node destructures the first three.
    let value = wire::decode_msgpack(&bytes).unwrap();
    assert_eq!(value.as_array().unwrap().len(), 4);
    let other = Classic::new("socket.io", "/", "other");
    let Some(Incoming::Request { request: got, .. }) = other.decode(&channel, &bytes) else {
        panic!("not decoded");
    };
    assert_eq!(got, request);
}

#[test]
fn a_hand_over_and_its_answer_make_the_round_trip() {
    let us = Classic::new("socket.io", "/", "us");
    let other = Classic::new("socket.io", "/", "other");
    let ask = Request::Operation(Operation::HandOver {
        id: "r1".into(),
        pid: "p1".into(),
    });
    let (channel, bytes) = us.request(&ask).unwrap();
    assert_eq!(channel, "socket.io-request#/#");
    let Some(Incoming::Request { request, .. }) = other.decode(&channel, &bytes) else {
        panic!("not decoded");
    };
    assert_eq!(request, ask);
    for session in [
        None,
        Some(switchyard_core::RecoverySession {
            sid: "s".into(),
            pid: "p1".into(),
            rooms: vec!["s".into(), "news".into()],
            data: json!({"nick": "ann"}),
        }),
    ] {
        let answer = Response::Session(session);
        let (channel, bytes) = other.response("us", "r1", &answer).unwrap();
        let Some(Incoming::Response { id, response }) = us.decode(&channel, &bytes) else {
            panic!("not decoded");
        };
        assert_eq!((id.as_str(), response), ("r1", answer));
    }
}
