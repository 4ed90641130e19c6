//! The encodings checked against bytes captured from real Node nodes
//! (`docs/redis-adapter-wire.md`, appendix A and section 3).

use super::*;
use serde_json::json;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `io.emit("hello", "world", 1, Buffer.from([1, 2, 3]))` from uid `KTtYMg`.
const HELLO: &str = "93a64b5474594d6783a47479706502a46461746194a568656c6c6fa5776f726c6401c403010203\
                     a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380";

/// `io.to("room1").except("room2").volatile.compress(false).emit("ev", {a: 1.5})`.
const ROOM_FLAGS: &str = "93a64b5474594d6783a47479706502a46461746192a2657681a161cb3ff8000000000000\
                          a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707491a5726f6f6d32a5666c61677382\
                          a8766f6c6174696c65c3a8636f6d7072657373c2";

#[test]
fn a_broadcast_is_byte_for_byte_what_node_sends() {
    let payload = Payload::new(vec![json!("world"), json!(1)]).with_binary(vec![1u8, 2, 3]);
    let opts = BroadcastOptions {
        compress: true,
        ..Default::default()
    };
    assert_eq!(
        broadcast("KTtYMg", "/", "hello", &payload, &opts),
        hex(HELLO)
    );

    let opts = BroadcastOptions {
        rooms: vec!["room1".into()],
        except: vec!["room2".into()],
        volatile: true,
        compress: false,
        ..Default::default()
    };
    let payload = Payload::new(vec![json!({"a": 1.5})]);
    assert_eq!(
        broadcast("KTtYMg", "/", "ev", &payload, &opts),
        hex(ROOM_FLAGS)
    );
    let channels = Channels::new("socket.io", "/", "KTtYMg");
    assert_eq!(channels.broadcast_to(&opts), "socket.io#/#room1#");
}

#[test]
fn a_broadcast_from_node_decodes_with_its_binary() {
    let got = parse_broadcast(&hex(HELLO)).unwrap();
    assert_eq!(got.uid, "KTtYMg");
    assert_eq!(got.nsp, "/");
    assert_eq!(got.event, "hello");
    assert_eq!(got.payload.args[..2], [json!("world"), json!(1)]);
    assert_eq!(got.payload.binary(2).unwrap().as_ref(), &[1, 2, 3]);
    assert!(got.opts.rooms.is_empty() && got.opts.compress && !got.opts.volatile);

    let got = parse_broadcast(&hex(ROOM_FLAGS)).unwrap();
    assert_eq!(got.opts.rooms, ["room1"]);
    assert_eq!(got.opts.except, ["room2"]);
    assert!(got.opts.volatile && !got.opts.compress);
    assert_eq!(got.payload.args, [json!({"a": 1.5})]);
}

#[test]
fn malformed_broadcasts_are_refused() {
    let mut long = hex(HELLO);
    long.push(0xc0);
    assert_eq!(parse_broadcast(&long), None, "trailing bytes");
    assert_eq!(parse_broadcast(b"[\"a\"]"), None, "JSON is not a broadcast");
    assert_eq!(parse_broadcast(&hex(&HELLO[..40])), None, "truncated");
    // A packet that is not an EVENT.
    let ack = encode(&Mp::Array(vec![
        Mp::from("u"),
        map([("type", Some(Mp::from(3)))]),
        Mp::Map(vec![]),
    ]));
    assert_eq!(parse_broadcast(&ack), None);
    // Nesting deeper than the bound.
    let mut deep = vec![0x93, 0xa1, b'u'];
    deep.extend(std::iter::repeat_n(0x91, 10_000));
    deep.push(0xc0);
    assert_eq!(parse_broadcast(&deep), None);
}

#[test]
fn requests_decode_from_json_or_msgpack() {
    let json =
        br#"{"uid":"KTtYMg","requestId":"rtursx","type":5,"opts":{"rooms":["room1"],"except":[]}}"#;
    let request = decode(json).unwrap();
    assert_eq!(get_str(&request, "uid"), Some("KTtYMg"));
    assert_eq!(
        get(&request, "type").and_then(Mp::as_u64),
        Some(kind::REMOTE_FETCH)
    );
    assert_eq!(parse_opts(get(&request, "opts")).rooms, ["room1"]);

    // The captured BROADCAST (with ack) request, msgpack.
    let bytes = hex(
        "85a3756964a64b5474594d67a9726571756573744964a66b4579707a78a474797065 07\
         a67061636b657483a47479706502a46461746192a361736b2aa36e7370a12f\
         a46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd07d0",
    );
    let request = decode(&bytes).unwrap();
    assert_eq!(
        get(&request, "type").and_then(Mp::as_u64),
        Some(kind::BROADCAST)
    );
    assert_eq!(timeout_flag(get(&request, "opts")), Some(2000));
    let (nsp, event, payload) = parse_packet(get(&request, "packet").unwrap()).unwrap();
    assert_eq!((nsp.as_str(), event.as_str()), ("/", "ask"));
    assert_eq!(payload.args, [json!(42)]);
    assert_eq!(decode(b"{not json"), None);
    assert_eq!(decode(&[0xc0, 0xc0]), None, "trailing bytes");
}

#[test]
fn optional_fields_are_left_out_not_nil() {
    let request = map([("uid", Some(Mp::from("u"))), ("requestId", None)]);
    assert_eq!(encode(&request), hex("81a3756964a175"));
    let opts = BroadcastOptions {
        except_id: Some("sid".into()),
        compress: true,
        ..Default::default()
    };
    let wire = self::opts(&opts, None);
    assert_eq!(room_list(get(&wire, "except")), ["sid"]);
    assert!(get(&wire, "flags").is_none());
}

#[test]
fn socket_details_round_trip() {
    let socket = SocketDetails {
        id: "qhzJegc1a9MA--8YAAAB".into(),
        handshake: json!({"headers": {"host": "x"}, "issued": 1796096905156u64, "auth": {}}),
        rooms: vec!["qhzJegc1a9MA--8YAAAB".into(), "room1".into()],
        data: json!({"user": "B-user", "n": 7}),
    };
    let back = parse_details(&decode(&encode(&details(&socket))).unwrap()).unwrap();
    assert_eq!(back, socket);
}

#[test]
fn node_dates_become_iso_strings() {
    let mut binary = Vec::new();
    // 32-bit form: seconds only.
    let v = Mp::Ext(-1, 1_796_096_905u32.to_be_bytes().to_vec());
    assert_eq!(
        mp_to_json(v, &mut binary),
        json!("2026-12-01T03:48:25.000Z")
    );
    // 64-bit form: 156 ms in nanoseconds above 34 bits of seconds.
    let packed = (156_000_000u64 << 34) | 1_796_096_905;
    let v = Mp::Ext(-1, packed.to_be_bytes().to_vec());
    assert_eq!(
        mp_to_json(v, &mut binary),
        json!("2026-12-01T03:48:25.156Z")
    );
    // Before 1970, 96-bit form.
    let mut data = 0u32.to_be_bytes().to_vec();
    data.extend((-86_400i64).to_be_bytes());
    assert_eq!(
        mp_to_json(Mp::Ext(-1, data), &mut binary),
        json!("1969-12-31T00:00:00.000Z")
    );
    assert!(binary.is_empty());
}

#[test]
fn answers_carry_their_first_argument_with_binary() {
    let payload = Payload::new(vec![]).with_binary(vec![9u8]);
    let first = first_arg(&payload).unwrap();
    assert_eq!(first, Mp::Binary(vec![9]));
    let back = answer_payload(Some(&first));
    assert_eq!(back.binary(0).unwrap().as_ref(), &[9]);
    assert_eq!(first_arg(&Payload::default()), None);
    assert!(answer_payload(None).args.is_empty());
}
