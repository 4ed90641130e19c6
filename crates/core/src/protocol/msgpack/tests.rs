//! The msgpack codec against bytes written by Node (`socket.io-msgpack-parser`
//! 3.0.2 with its notepack.io 2.2.0, and notepack.io 3 for timestamps), its
//! bounds and malformed input.
use super::*;
use crate::protocol::{Decoder, Parser};
use serde_json::json;

fn hex(s: &str) -> Bytes {
    let digits: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    Bytes::from(digits)
}

fn decode10(bytes: &Bytes) -> Result<Packet, ParseError> {
    decode(bytes, 10, 32)
}

fn with_binary(packet: Packet, attachments: &[&[u8]]) -> Packet {
    packet.with_attachments(
        attachments
            .iter()
            .map(|b| Bytes::copy_from_slice(b))
            .collect(),
    )
}

// `new Encoder().encode(packet)` in Node, for packets whose keys come in the
// order Switchyard writes them (type, nsp, data, id): decoded, and encoded
// back to the same bytes.
#[test]
fn node_packets_decode_and_encode_to_the_same_bytes() {
    let cases = [
        (
            // {type: 0, nsp: "/admin", data: {token: "123"}}
            "83a47479706500a36e7370a62f61646d696ea46461746181a5746f6b656ea3313233",
            Packet::connect("/admin", Some(json!({"token": "123"}))),
        ),
        (
            "82a47479706501a36e7370a52f63686174",
            Packet::disconnect("/chat"),
        ),
        (
            // ["hello", 1, -1, -200, 70000, 1.5, true, null, {a: [1, {b: "c"}]}]
            "83a47479706502a36e7370a12fa46461746199a568656c6c6f01ffd1ff38ce00011170cb3ff8000000000000c3c081a161920181a162a163",
            Packet::event(
                "/",
                json!(["hello", 1, -1, -200, 70000, 1.5, true, null, {"a": [1, {"b": "c"}]}]),
            ),
        ),
        (
            "84a47479706502a36e7370a12fa46461746192a361736ba178a269642a",
            Packet::event("/", json!(["ask", "x"])).with_id(42),
        ),
        (
            // ["up", Buffer [1, 2, 3], {nested: Buffer [4]}]
            "83a47479706502a36e7370a12fa46461746193a27570c40301020381a66e6573746564c40104",
            with_binary(
                Packet::event(
                    "/",
                    json!(["up", Packet::placeholder(0), {"nested": Packet::placeholder(1)}]),
                ),
                &[&[1, 2, 3], &[4]],
            ),
        ),
        (
            "84a47479706503a36e7370a52f63686174a46461746191c4020908a2696407",
            with_binary(
                Packet::ack("/chat", 7, json!([Packet::placeholder(0)])),
                &[&[9, 8]],
            ),
        ),
        (
            // a 300-byte string: str 16
            &format!(
                "83a47479706502a36e7370a12fa46461746192a173da012c{}",
                "78".repeat(300)
            ),
            Packet::event("/", json!(["s", "x".repeat(300)])),
        ),
    ];
    for (wire, packet) in cases {
        let bytes = hex(wire);
        assert_eq!(decode10(&bytes).as_ref(), Ok(&packet), "{wire}");
        assert_eq!(encode(&packet), bytes, "{packet:?}");
    }
}

#[test]
fn node_packets_in_other_key_orders_decode() {
    // {type: 4, nsp: "/", data: {message: "not authorized", data: {code: 401}}}
    let bytes = hex(
        "83a47479706504a36e7370a12fa46461746182a76d657373616765ae6e6f7420617574686f72697a6564a46461746181a4636f6465cd0191",
    );
    let packet = decode10(&bytes).unwrap();
    assert_eq!(packet.kind, PacketKind::ConnectError);
    assert_eq!(
        packet.data,
        Some(json!({"message": "not authorized", "data": {"code": 401}}))
    );
    assert_eq!(decode10(&encode(&packet)), Ok(packet));
    // The server's CONNECT answer, {sid, pid}.
    let bytes = hex("83a47479706500a36e7370a12fa46461746182a3736964a3616263a3706964a378797a");
    let packet = Packet::connect("/", Some(json!({"sid": "abc", "pid": "xyz"})));
    assert_eq!(decode10(&bytes), Ok(packet.clone()));
    assert_eq!(decode10(&encode(&packet)), Ok(packet));
}

#[test]
fn what_socket_io_client_sends_decodes() {
    // socket.emit("msg", Uint8Array [5, 6], ack): data before nsp, an
    // `options` key, and the typed array as notepack's ext 0.
    let bytes = hex(
        "85a47479706502a46461746192a36d7367c702000506a76f7074696f6e7381a8636f6d7072657373c3a36e7370a12fa2696403",
    );
    let expected = with_binary(
        Packet::event("/", json!(["msg", Packet::placeholder(0)])).with_id(3),
        &[&[5, 6]],
    );
    assert_eq!(decode10(&bytes), Ok(expected));
}

#[test]
fn dates_are_their_iso_strings() {
    let iso = json!([
        "d",
        "1970-01-01T00:00:00.000Z",
        "2023-11-14T22:13:20.123Z",
        "1969-12-31T23:59:59.999Z"
    ]);
    // notepack 2.2 (the parser's): fixext 8 of type 0, the ms.
    let v2 = hex(
        "83a47479706502a36e7370a12fa46461746194a164d7000000000000000000d7000000018bcfe5687bd700ffffffffffffffff",
    );
    assert_eq!(decode10(&v2).unwrap().data, Some(iso.clone()));
    // notepack 3: msgpack timestamps 32, 64 and 96.
    let v3 = hex(&format!(
        "83a47479706502a36e7370a12fa46461746194a164{}",
        "d6ff00000000d7ff1d5353006553f100c70cff3b8b87c0ffffffffffffffff"
    ));
    assert_eq!(decode10(&v3).unwrap().data, Some(iso));
}

#[test]
fn values_json_lacks_are_read_as_json_stringify_writes_them() {
    // [ "n", 2^32, -2^31 - 1, NaN ] from Node; undefined (fixext 1 of type
    // 0) in an array; an integer map key; another ext type.
    let bytes = hex(
        "83a47479706502a36e7370a12fa46461746194a16ecf0000000100000000d3ffffffff7fffffffcb7ff8000000000000",
    );
    assert_eq!(
        decode10(&bytes).unwrap().data,
        Some(json!(["n", 4_294_967_296u64, -2_147_483_649i64, null]))
    );
    // ["x", undefined, {7: true}]: undefined is fixext 1 of type 0.
    let bytes = hex("83a47479706502a36e7370a12fa46461746193a178d400008107c3");
    assert_eq!(
        decode10(&bytes).unwrap().data,
        Some(json!(["x", null, {"7": true}]))
    );
    // {type: 0, nsp: "/", data: undefined}, as socket.io-client 4 sends a
    // CONNECT without auth; {a: undefined, b: 1} in an event.
    let bytes = hex("83a47479706500a36e7370a12fa464617461d40000");
    assert_eq!(decode10(&bytes), Ok(Packet::connect("/", None)));
    let bytes = hex("83a47479706502a36e7370a12fa46461746192a17882a161d40000a16201");
    assert_eq!(decode10(&bytes).unwrap().data, Some(json!(["x", {"b": 1}])));
    // ["x", ext 5 [1, 2]] is notepack's [type, bytes].
    let bytes = hex("83a47479706502a36e7370a12fa46461746192a178d5050102");
    let packet = decode10(&bytes).unwrap();
    assert_eq!(packet.data, Some(json!(["x", [5, Packet::placeholder(0)]])));
    assert_eq!(packet.attachments, vec![Bytes::from_static(&[1, 2])]);
}

/// `{type: 2, nsp: "/", data: <data>}` around raw msgpack `data`.
fn event_with(data: &str) -> Bytes {
    hex(&format!("83a47479706502a36e7370a12fa464617461{data}"))
}

fn err(bytes: &Bytes) -> ParseError {
    match decode10(bytes) {
        Err(e) => e,
        Ok(p) => panic!("{bytes:x?} decoded to {p:?}"),
    }
}

#[test]
fn depth_is_bounded_as_for_json() {
    // ["a", [[...]]] nested n deep (the event array counts, as in JSON).
    let nested = |n: usize| {
        let mut data = String::from("92a161");
        data.push_str(&"91".repeat(n - 1));
        data.push_str("c0");
        event_with(&data)
    };
    assert!(decode(&nested(4), 10, 4).is_ok());
    assert_eq!(decode(&nested(5), 10, 4), Err(ParseError::TooDeep(4)));
    // Maps count too, and so do ignored keys' values.
    assert_eq!(
        decode(&event_with("92a16181a16281a16381a164c0"), 10, 3),
        Err(ParseError::TooDeep(3))
    );
    let ignored = hex("84a47479706502a36e7370a12fa46461746191a161a1789191919191c0");
    assert_eq!(decode(&ignored, 10, 4), Err(ParseError::TooDeep(4)));
    // A binary value is a placeholder object, a level as in JSON.
    assert!(decode(&event_with("92a16191c40101"), 10, 3).is_ok());
    assert_eq!(
        decode(&event_with("92a1619191c40101"), 10, 3),
        Err(ParseError::TooDeep(3))
    );
    // Far past any bound, without exhausting the stack.
    let deep = event_with(&format!("92a161{}c0", "91".repeat(100_000)));
    assert_eq!(decode(&deep, 10, 32), Err(ParseError::TooDeep(32)));
}

#[test]
fn binary_values_are_bounded_as_attachments() {
    let three = event_with("94a161c40101c40102c40103");
    assert_eq!(decode(&three, 3, 32).unwrap().attachments.len(), 3);
    assert_eq!(
        decode(&three, 2, 32),
        Err(ParseError::TooManyAttachments(2))
    );
    // Through the connection's decoder, with the JSON decoder's settings.
    let mut decoder = Decoder::new(2).with_parser(Parser::Msgpack);
    assert_eq!(
        decoder.feed_binary(three),
        Err(ParseError::TooManyAttachments(2))
    );
}

#[test]
fn lengths_past_the_message_are_refused_before_allocating() {
    for data in [
        "dd7fffffff",     // array 32 of 2^31 items
        "df7fffffff",     // map 32
        "dbffffffff61",   // str 32
        "c6ffffffff01",   // bin 32
        "c9ffffffff0001", // ext 32
        "92a161",         // an array missing its second item
        "cf0000",         // a truncated u64
    ] {
        assert_eq!(
            err(&event_with(data)),
            ParseError::Msgpack("truncated"),
            "{data}"
        );
    }
}

#[test]
fn malformed_packets_are_refused() {
    let cases = [
        ("", ParseError::Msgpack("truncated")),
        ("92a161a162", ParseError::Msgpack("a packet is a map")),
        ("c1", ParseError::Msgpack("reserved byte 0xc1")),
        // trailing byte after a DISCONNECT
        (
            "82a47479706501a36e7370a12f00",
            ParseError::Msgpack("trailing bytes"),
        ),
        // type 5 (BINARY_EVENT is not a type of this parser), type "2", no type
        ("82a47479706505a36e7370a12f", ParseError::UnknownType),
        ("82a4747970 65a132a36e7370a12f", ParseError::UnknownType),
        ("81a36e7370a12f", ParseError::UnknownType),
        // no namespace, or not a string
        (
            "81a47479706501",
            ParseError::Msgpack("the namespace is not a string"),
        ),
        (
            "82a47479706501a36e737001",
            ParseError::Msgpack("the namespace is not a string"),
        ),
        // duplicate type
        (
            "83a47479706501a47479706501a36e7370a12f",
            ParseError::Msgpack("duplicate key"),
        ),
        // a map key that is an array
        (
            "82a47479706501 9100 c0",
            ParseError::Msgpack("a map key is not a string"),
        ),
        // payloads: DISCONNECT with data, CONNECT with nil data, EVENT
        // without data, EVENT with a reserved name, ACK with a map
        (
            "83a47479706501a36e7370a12fa46461746190",
            ParseError::InvalidPayload,
        ),
        (
            "83a47479706500a36e7370a12fa464617461c0",
            ParseError::InvalidPayload,
        ),
        ("82a47479706502a36e7370a12f", ParseError::InvalidPayload),
        (
            "83a47479706502a36e7370a12fa46461746191a7636f6e6e656374",
            ParseError::InvalidPayload,
        ),
        (
            "83a47479706503a36e7370a12fa46461746180",
            ParseError::InvalidPayload,
        ),
        // ack ids: negative, nil, a string
        (
            "84a47479706503a36e7370a12fa46461746190a269 64ff",
            ParseError::AckId,
        ),
        (
            "84a47479706503a36e7370a12fa46461746190a26964c0",
            ParseError::AckId,
        ),
        (
            "84a47479706503a36e7370a12fa46461746190a26964a131",
            ParseError::AckId,
        ),
        // a placeholder pointing at no binary value
        (
            "83a47479706502a36e7370a12fa46461746192a16182ac5f706c616365686f6c646572c3a36e756d00",
            ParseError::Attachments,
        ),
        // a timestamp of a length no timestamp has
        (
            "83a47479706502a36e7370a12fa46461746192a161d5ff0000",
            ParseError::Msgpack("invalid timestamp"),
        ),
    ];
    for (wire, expected) in cases {
        let bytes = hex(&wire.replace(' ', ""));
        assert_eq!(err(&bytes), expected, "{wire}");
    }
}

#[test]
fn integral_floats_are_integers_as_in_javascript() {
    // type 2.0 and id 3.0, as float 64
    let bytes =
        hex("84a474797065cb4000000000000000a36e7370a12fa46461746191a161a26964cb4008000000000000");
    let packet = decode10(&bytes).unwrap();
    assert_eq!((packet.kind, packet.id), (PacketKind::Event, Some(3)));
    // In data, 2.0 is 2 and -0.0 is 0, as JavaScript has them.
    let packet = decode10(&event_with("93a161cb4000000000000000cb8000000000000000")).unwrap();
    assert_eq!(packet.data, Some(json!(["a", 2, 0])));
    // And are written as integers.
    let packet = Packet::event("/", json!(["n", 2.0, -3.0, 0.5]));
    let bytes = encode(&packet);
    assert!(
        bytes.ends_with(&hex("94a16e02fdcb3fe0000000000000")),
        "{bytes:x?}"
    );
}

#[test]
fn invalid_utf8_is_replaced_as_node_does() {
    let packet = decode10(&event_with("92a161a2c328")).unwrap();
    assert_eq!(packet.data, Some(json!(["a", "\u{fffd}("])));
}

#[test]
fn a_msgpack_decoder_refuses_text_and_takes_binary_packets_whole() {
    let mut decoder = Decoder::new(10).with_parser(Parser::Msgpack);
    assert_eq!(
        decoder.feed_text("2[\"hi\"]"),
        Err(ParseError::Msgpack("a text message"))
    );
    let packet = with_binary(
        Packet::event("/x", json!(["b", Packet::placeholder(0)])),
        &[&[1]],
    );
    assert_eq!(decoder.feed_binary(encode(&packet)), Ok(Some(packet)));
}

#[test]
fn encoding_maps_kinds_and_drops_what_the_parser_has_no_place_for() {
    // A BINARY_EVENT is an EVENT; a null payload is none; a placeholder
    // with no attachment stays an object.
    let mut packet = Packet::event("/", json!(["a", Packet::placeholder(3)]));
    packet.kind = PacketKind::BinaryEvent;
    let back = decode10(&encode(&packet));
    assert_eq!(back, Err(ParseError::Attachments));
    let packet = Packet {
        data: Some(Value::Null),
        ..Packet::disconnect("/")
    };
    assert_eq!(encode(&packet), hex("82a47479706501a36e7370a12f"));
    let mut ack = Packet::ack("/", 1, json!([Packet::placeholder(0)]));
    ack.kind = PacketKind::BinaryAck;
    let ack = ack.with_attachments(vec![Bytes::from_static(&[7])]);
    let back = decode10(&encode(&ack)).unwrap();
    assert_eq!(back.kind, PacketKind::Ack);
    assert_eq!(back.attachments, ack.attachments);
}
