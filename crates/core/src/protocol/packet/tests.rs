use super::*;
use serde_json::json;

fn decode_one(text: &str) -> Result<Option<Packet>, ParseError> {
    Decoder::new(10).feed_text(text)
}

/// Decodes `text` followed by `buffers`, expecting the packet to
/// complete exactly with the last buffer.
fn decode_all(text: &str, buffers: &[Bytes]) -> Result<Packet, ParseError> {
    let mut decoder = Decoder::new(10);
    let mut done = decoder.feed_text(text)?;
    for (i, buffer) in buffers.iter().enumerate() {
        assert!(done.is_none(), "{text}: completed before buffer {i}");
        done = decoder.feed_binary(buffer.clone())?;
    }
    Ok(done.unwrap_or_else(|| panic!("{text}: incomplete")))
}

fn err(text: &str) -> ParseError {
    match decode_one(text) {
        Err(e) => e,
        Ok(p) => panic!("{text:?} decoded to {p:?}"),
    }
}

fn buf(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

/// Encodes, checks the text, decodes it back and checks the result.
fn round_trip(packet: &Packet, wire: &str, expected: &Packet) {
    let (text, attachments) = packet.encode();
    assert_eq!(text, wire);
    assert_eq!(attachments, expected.attachments);
    assert_eq!(packet.validate(), Ok(()), "{packet:?}");
    let decoded = decode_all(&text, &attachments).unwrap();
    assert_eq!(&decoded, expected);
}

// --- examples from the protocol README -------------------------------

#[test]
fn readme_examples_decode_and_reencode() {
    let cases: Vec<(&str, Vec<Bytes>, Packet)> = vec![
        ("0", vec![], Packet::connect("/", None)),
        (
            "0/admin,{\"token\":\"123\"}",
            vec![],
            Packet::connect("/admin", Some(json!({"token": "123"}))),
        ),
        (
            "0{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}",
            vec![],
            Packet::connect("/", Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"}))),
        ),
        ("1/admin,", vec![], Packet::disconnect("/admin")),
        (
            "2[\"hello\",1]",
            vec![],
            Packet::event("/", json!(["hello", 1])),
        ),
        (
            "2/admin,456[\"project:delete\",123]",
            vec![],
            Packet::event("/admin", json!(["project:delete", 123])).with_id(456),
        ),
        (
            "3/admin,456[]",
            vec![],
            Packet::ack("/admin", 456, json!([])),
        ),
        (
            "4{\"message\":\"Not authorized\"}",
            vec![],
            Packet::connect_error("/", "Not authorized"),
        ),
        (
            "4/admin,{\"message\":\"Not authorized\"}",
            vec![],
            Packet::connect_error("/admin", "Not authorized"),
        ),
        (
            "51-[\"hello\",{\"_placeholder\":true,\"num\":0}]",
            vec![buf(&[1, 2, 3])],
            Packet::event("/", json!(["hello", Packet::placeholder(0)]))
                .with_attachments(vec![buf(&[1, 2, 3])]),
        ),
        (
            "61-/admin,456[{\"_placeholder\":true,\"num\":0}]",
            vec![buf(&[3, 2, 1])],
            Packet::ack("/admin", 456, json!([Packet::placeholder(0)]))
                .with_attachments(vec![buf(&[3, 2, 1])]),
        ),
    ];
    for (wire, buffers, expected) in cases {
        let decoded = decode_all(wire, &buffers).unwrap();
        assert_eq!(decoded, expected, "{wire}");
        let (text, attachments) = decoded.encode();
        assert_eq!(text, wire, "{wire}");
        assert_eq!(attachments, buffers);
    }
}

#[test]
fn disconnect_without_trailing_comma_and_namespace_at_end() {
    assert_eq!(
        decode_one("1/admin"),
        Ok(Some(Packet::disconnect("/admin")))
    );
    assert_eq!(
        decode_one("0/admin"),
        Ok(Some(Packet::connect("/admin", None)))
    );
    assert_eq!(decode_one("1"), Ok(Some(Packet::disconnect("/"))));
    // An explicit root namespace is the root namespace.
    assert_eq!(decode_one("1/,"), Ok(Some(Packet::disconnect("/"))));
}

// --- round trips ------------------------------------------------------

#[test]
fn round_trip_each_type() {
    let cases = [
        (Packet::connect("/", None), "0"),
        (Packet::connect("/", Some(json!({}))), "0{}"),
        (
            Packet::connect("/chat", Some(json!({"a": [1, 2]}))),
            "0/chat,{\"a\":[1,2]}",
        ),
        (Packet::disconnect("/"), "1"),
        (Packet::disconnect("/chat"), "1/chat,"),
        (Packet::event("/", json!(["e"])), "2[\"e\"]"),
        (Packet::event("/", json!([7, "x"])), "2[7,\"x\"]"),
        (
            Packet::event("/chat", json!(["e", {"k": null}])),
            "2/chat,[\"e\",{\"k\":null}]",
        ),
        (Packet::ack("/", 0, json!([])), "30[]"),
        (
            Packet::ack("/chat", 12, json!([null, true])),
            "3/chat,12[null,true]",
        ),
        (
            Packet::connect_error("/", "nope"),
            "4{\"message\":\"nope\"}",
        ),
        (
            Packet {
                data: Some(json!("plain string")),
                ..Packet::new(PacketKind::ConnectError, "/x")
            },
            "4/x,\"plain string\"",
        ),
    ];
    for (packet, wire) in cases {
        round_trip(&packet, wire, &packet);
    }
}

#[test]
fn round_trip_namespaces() {
    for nsp in [
        "/",
        "/a",
        "/admin",
        "/a/b/c",
        "/with space",
        "/ñandú/中文/😀",
        "/-",
        "/123",
    ] {
        let packet = Packet::event(nsp, json!(["e", 1])).with_id(5);
        let (text, _) = packet.encode();
        let expected_wire = if nsp == "/" {
            "25[\"e\",1]".to_owned()
        } else {
            format!("2{nsp},5[\"e\",1]")
        };
        round_trip(&packet, &expected_wire, &packet);
        assert_eq!(text, expected_wire);
    }
}

#[test]
fn empty_namespace_is_written_as_root() {
    let packet = Packet::event("", json!(["e"]));
    assert_eq!(packet.encode().0, "2[\"e\"]");
    assert_eq!(decode_one("2[\"e\"]").unwrap().unwrap().nsp, "/");
}

#[test]
fn round_trip_ack_ids() {
    for id in [0, 1, 9, 10, 456, u32::MAX as u64, u64::MAX] {
        let event = Packet::event("/", json!(["e"])).with_id(id);
        round_trip(&event, &format!("2{id}[\"e\"]"), &event);
        let ack = Packet::ack("/n", id, json!([1]));
        round_trip(&ack, &format!("3/n,{id}[1]"), &ack);
    }
}

#[test]
fn ack_id_with_leading_zeros_decodes() {
    let p = decode_one("3007[]").unwrap().unwrap();
    assert_eq!(p.id, Some(7));
}

#[test]
fn round_trip_binary_one_attachment() {
    let att = buf(b"\x00\xffbinary");
    let packet = Packet::event("/", json!(["upload", Packet::placeholder(0)]))
        .with_attachments(vec![att.clone()]);
    let wire = "51-[\"upload\",{\"_placeholder\":true,\"num\":0}]";
    round_trip(&packet, wire, &packet);
}

#[test]
fn round_trip_binary_several_attachments() {
    let atts = vec![
        buf(b"a"),
        Bytes::new(),
        buf(&[0u8; 1000]),
        buf("é".as_bytes()),
    ];
    let data = json!([
        "files",
        {"first": Packet::placeholder(0), "nested": [Packet::placeholder(1), {"deep": Packet::placeholder(2)}]},
        Packet::placeholder(3)
    ]);
    let event = Packet::event("/up", data.clone())
        .with_id(42)
        .with_attachments(atts.clone());
    let (text, attachments) = event.encode();
    assert!(text.starts_with("54-/up,42["), "{text}");
    assert_eq!(attachments, atts);
    assert_eq!(decode_all(&text, &attachments).unwrap(), event);

    let ack = Packet::ack(
        "/",
        3,
        json!([Packet::placeholder(1), Packet::placeholder(0)]),
    )
    .with_attachments(vec![buf(b"x"), buf(b"y")]);
    let (text, attachments) = ack.encode();
    assert!(text.starts_with("62-3["), "{text}");
    assert_eq!(decode_all(&text, &attachments).unwrap(), ack);
}

#[test]
fn binary_kind_is_normalised_on_decode_and_encode() {
    // A packet built with the binary kind encodes the same as one built
    // with the plain kind, and decodes to the plain kind.
    let binary = Packet {
        kind: PacketKind::BinaryEvent,
        ..Packet::event("/", json!(["e", Packet::placeholder(0)])).with_attachments(vec![buf(b"z")])
    };
    let plain = Packet {
        kind: PacketKind::Event,
        ..binary.clone()
    };
    assert_eq!(binary.encode(), plain.encode());
    let (text, atts) = binary.encode();
    assert_eq!(decode_all(&text, &atts).unwrap(), plain);

    let binary_ack = Packet {
        kind: PacketKind::BinaryAck,
        ..Packet::ack("/", 1, json!([Packet::placeholder(0)])).with_attachments(vec![buf(b"z")])
    };
    let (text, atts) = binary_ack.encode();
    assert!(text.starts_with("61-1["));
    assert_eq!(decode_all(&text, &atts).unwrap().kind, PacketKind::Ack);
}

#[test]
fn binary_kind_without_attachments_encodes_as_plain() {
    let p = Packet {
        kind: PacketKind::BinaryEvent,
        ..Packet::event("/", json!(["e"]))
    };
    assert_eq!(p.encode(), ("2[\"e\"]".to_owned(), vec![]));
    let p = Packet {
        kind: PacketKind::BinaryAck,
        ..Packet::ack("/", 4, json!([]))
    };
    assert_eq!(p.encode(), ("34[]".to_owned(), vec![]));
}

#[test]
fn attachments_on_other_kinds_are_not_sent() {
    let p = Packet::connect("/", Some(json!({}))).with_attachments(vec![buf(b"x")]);
    assert_eq!(p.encode(), ("0{}".to_owned(), vec![]));
    assert_eq!(p.validate(), Err(ParseError::Attachments));
}

#[test]
fn null_data_is_omitted() {
    let p = Packet {
        data: Some(Value::Null),
        ..Packet::new(PacketKind::Connect, "/a")
    };
    assert_eq!(p.encode().0, "0/a,");
    assert_eq!(p.validate(), Ok(()));
    assert_eq!(err("0null"), ParseError::InvalidPayload);
}

#[test]
fn unicode_data_round_trips() {
    let packet = Packet::event(
        "/ü",
        json!(["héllo wörld ✓ 😀 𝄞", {"ключ": "值", "emoji": "👩‍👩‍👧"}, "\u{0}\n\t\"\\"]),
    )
    .with_id(1);
    let (text, _) = packet.encode();
    assert_eq!(decode_all(&text, &[]).unwrap(), packet);
    // Escaped forms decode to the same strings.
    let p = decode_one("2[\"\\u00e9\\ud83d\\ude00\"]").unwrap().unwrap();
    assert_eq!(p.data, Some(json!(["é😀"])));
}

/// Found by the `socketio` fuzz target: serde_json's default float parser
/// read `5e24` one unit in the last place low, so a number changed each
/// time a packet was decoded and encoded again (a relayed emit). Parsing
/// is exact now (its `float_roundtrip` feature), as `JSON.parse` is.
#[test]
fn json_numbers_survive_decode_and_encode() {
    let p = decode_one("2[\"n\",4999999999999999999999999,5e24,0.1,1.7976931348623157e308]")
        .unwrap()
        .unwrap();
    let (text, _) = p.encode();
    assert_eq!(decode_one(&text).unwrap().unwrap(), p);
    let data = p.data.unwrap();
    assert_eq!(data[1].as_f64(), Some(5e24));
    assert_eq!(data[2].as_f64(), Some(5e24));
}

#[test]
fn whitespace_around_json_is_accepted() {
    let p = decode_one("2 [\"e\" , 1 ] ").unwrap().unwrap();
    assert_eq!(p.data, Some(json!(["e", 1])));
    assert_eq!(p.id, None);
}

// --- payload validation -----------------------------------------------

#[test]
fn invalid_payloads_from_reference_tests() {
    for text in [
        "0/admin,\"invalid\"",
        "0[]",
        "1/admin,{}",
        "2/admin,{}",
        "2[{\"toString\":\"foo\"}]",
        "2[true,\"foo\"]",
        "2[null,\"bar\"]",
        "2[\"connect\"]",
        "2[\"disconnect\",\"123\"]",
    ] {
        assert_eq!(err(text), ParseError::InvalidPayload, "{text}");
    }
    // Invalid JSON is a JSON error here (the reference says "invalid
    // payload" for both).
    assert_eq!(err("442[\"some\",\"data\""), ParseError::Json);
    assert_eq!(err("2/admin,\"invalid"), ParseError::Json);
}

#[test]
fn payload_rules_per_type() {
    let invalid = [
        "0\"s\"",
        "0true",
        "1[]",
        "1\"x\"",
        "2",
        "2/admin,",
        "2123",
        "2[]",
        "2{}",
        "2\"e\"",
        "2[[\"e\"]]",
        "2[{}]",
        "2[\"connect_error\"]",
        "2[\"disconnecting\"]",
        "2[\"newListener\"]",
        "2[\"removeListener\"]",
        "3",
        "3/a,1",
        "3{}",
        "3\"x\"",
        "4",
        "4[]",
        "4true",
        "4null",
        "51-",
        "51-{}",
        "51-[]",
        "51-[\"disconnect\"]",
        "61-",
        "61-{}",
    ];
    for text in invalid {
        assert_eq!(err(text), ParseError::InvalidPayload, "{text}");
    }
    let valid = [
        "0{}",
        "2[\"Connect\"]",
        "2[\"connected\"]",
        "2[0]",
        "2[-1.5,\"x\"]",
        "2[\"\"]",
        "3[]",
        "4\"\"",
        "4{}",
    ];
    for text in valid {
        assert!(decode_one(text).unwrap().is_some(), "{text}");
    }
    for text in ["51-[\"e\"]", "51-[1]", "61-[]", "61-7[1]"] {
        assert_eq!(decode_one(text), Ok(None), "{text}");
    }
}

#[test]
fn validate_mirrors_decoder_rules() {
    assert_eq!(Packet::connect("/", None).validate(), Ok(()));
    assert_eq!(
        Packet::connect("/", Some(json!([]))).validate(),
        Err(ParseError::InvalidPayload)
    );
    assert_eq!(
        Packet::event("/", json!(["connect"])).validate(),
        Err(ParseError::InvalidPayload)
    );
    assert_eq!(
        Packet::event("/", json!([])).validate(),
        Err(ParseError::InvalidPayload)
    );
    assert_eq!(
        Packet::new(PacketKind::Ack, "/").validate(),
        Err(ParseError::InvalidPayload)
    );
    for nsp in ["/a,b", "admin", ""] {
        assert_eq!(
            Packet::event(nsp, json!(["e"])).validate(),
            Err(ParseError::Namespace),
            "{nsp:?}"
        );
    }
    assert_eq!(
        Packet::event("/", json!(["e", Packet::placeholder(1)]))
            .with_attachments(vec![buf(b"x")])
            .validate(),
        Err(ParseError::Attachments)
    );
}

// --- header errors ------------------------------------------------------

#[test]
fn empty_and_unknown_type() {
    assert_eq!(err(""), ParseError::Empty);
    for text in [
        "7",
        "8[]",
        "9",
        "999",
        "a",
        " 2[\"e\"]",
        "-1",
        "é",
        "😀[]",
        "\u{0}",
    ] {
        assert_eq!(err(text), ParseError::UnknownType, "{text:?}");
    }
}

#[test]
fn illegal_attachment_counts() {
    for text in [
        "5",
        "51",
        "50-",
        "50-[\"e\"]",
        "500-[\"e\"]",
        "5a-",
        "51.23-",
        "5-[\"e\"]",
        "5+1-[\"e\"]",
        "5 1-[\"e\"]",
        "6",
        "6-[]",
        "5[\"a-b\"]",
        "5/admin,1-[\"e\"]",
    ] {
        assert_eq!(err(text), ParseError::Attachments, "{text}");
    }
}

#[test]
fn too_many_attachments() {
    let mut decoder = Decoder::new(2);
    let text = "53-[\"hello\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":2}]";
    assert_eq!(
        decoder.feed_text(text),
        Err(ParseError::TooManyAttachments(2))
    );
    assert_eq!(decoder.feed_text("52-[\"e\"]"), Ok(None));

    let mut decoder = Decoder::new(10);
    for text in [
        "511-[\"e\"]",
        "699999999999999999999999999999-[]",
        "518446744073709551616-[\"e\"]",
    ] {
        assert_eq!(
            decoder.feed_text(text),
            Err(ParseError::TooManyAttachments(10)),
            "{text}"
        );
    }
    // The count is checked before the payload, as in the reference.
    assert_eq!(
        decoder.feed_text("511-{"),
        Err(ParseError::TooManyAttachments(10))
    );

    let mut decoder = Decoder::new(0);
    assert_eq!(
        decoder.feed_text("51-[\"e\"]"),
        Err(ParseError::TooManyAttachments(0))
    );
    assert_eq!(
        decoder.feed_text("2[\"e\"]").unwrap().unwrap().kind,
        PacketKind::Event
    );
}

#[test]
fn ack_id_overflow() {
    assert_eq!(err("218446744073709551616[\"e\"]"), ParseError::AckId);
    assert_eq!(err("3/a,99999999999999999999999[]"), ParseError::AckId);
    assert_eq!(
        decode_one("218446744073709551615[\"e\"]")
            .unwrap()
            .unwrap()
            .id,
        Some(u64::MAX)
    );
}

#[test]
fn invalid_json() {
    for text in [
        "2[\"e\"",
        "2{bad",
        "2[\"e\"]]",
        "2[\"e\"] x",
        "2[\"e\",]",
        "2abc",
        "21.5[\"e\"]",
        "2/a,x[\"e\"]",
        "2[\"\\ud800\"]",
        "0{\"a\":1,}",
        "2[\"e\"][\"f\"]",
        "1 ",
    ] {
        assert_eq!(err(text), ParseError::Json, "{text}");
    }
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let deep = format!("2[\"e\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(err(&deep), ParseError::TooDeep(MAX_JSON_DEPTH));
}

// --- decoder state machine ----------------------------------------------

#[test]
fn binary_then_text_is_pending_error_and_resets() {
    let mut decoder = Decoder::new(10);
    assert_eq!(
        decoder.feed_text("52-[\"e\",{\"_placeholder\":true,\"num\":0}]"),
        Ok(None)
    );
    assert_eq!(decoder.feed_binary(buf(b"1")), Ok(None));
    assert_eq!(
        decoder.feed_text("2[\"x\"]"),
        Err(ParseError::PendingAttachments)
    );
    // The partial packet is gone: a stray buffer is now unexpected…
    assert_eq!(
        decoder.feed_binary(buf(b"2")),
        Err(ParseError::UnexpectedBinary)
    );
    // …and text decodes normally.
    assert_eq!(
        decoder.feed_text("2[\"x\"]"),
        Ok(Some(Packet::event("/", json!(["x"]))))
    );
}

#[test]
fn unexpected_binary() {
    let mut decoder = Decoder::new(10);
    assert_eq!(
        decoder.feed_binary(buf(b"x")),
        Err(ParseError::UnexpectedBinary)
    );
    assert_eq!(decoder.feed_text("2[\"e\"]").unwrap().unwrap().nsp, "/");
    assert_eq!(
        decoder.feed_binary(Bytes::new()),
        Err(ParseError::UnexpectedBinary)
    );
}

#[test]
fn extra_binary_after_completion_is_unexpected() {
    let mut decoder = Decoder::new(10);
    assert_eq!(
        decoder.feed_text("51-[\"e\",{\"_placeholder\":true,\"num\":0}]"),
        Ok(None)
    );
    assert!(decoder.feed_binary(buf(b"a")).unwrap().is_some());
    assert_eq!(
        decoder.feed_binary(buf(b"b")),
        Err(ParseError::UnexpectedBinary)
    );
}

#[test]
fn consecutive_binary_packets() {
    let mut decoder = Decoder::new(10);
    for round in 0..3u8 {
        assert_eq!(
            decoder.feed_text(
                "62-/n,9[{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":0}]"
            ),
            Ok(None)
        );
        assert_eq!(decoder.feed_binary(buf(&[round])), Ok(None));
        let p = decoder.feed_binary(buf(&[round, round])).unwrap().unwrap();
        assert_eq!(p.kind, PacketKind::Ack);
        assert_eq!(p.nsp, "/n");
        assert_eq!(p.id, Some(9));
        assert_eq!(p.attachments, vec![buf(&[round]), buf(&[round, round])]);
        // Placeholders stay in the data.
        assert_eq!(
            p.data,
            Some(json!([Packet::placeholder(1), Packet::placeholder(0)]))
        );
        assert_eq!(
            decoder.feed_text("2[\"between\"]").unwrap().unwrap().id,
            None
        );
    }
}

#[test]
fn placeholders_must_point_at_an_attachment() {
    let bad = [
        "{\"_placeholder\":true,\"num\":2}",
        "{\"_placeholder\":true,\"num\":-1}",
        "{\"_placeholder\":true,\"num\":0.5}",
        "{\"_placeholder\":true,\"num\":\"0\"}",
        "{\"_placeholder\":true}",
        "{\"_placeholder\":true,\"num\":null}",
        "{\"x\":[{\"_placeholder\":true,\"num\":99}]}",
    ];
    for placeholder in bad {
        let mut decoder = Decoder::new(10);
        let text = format!("52-[\"e\",{placeholder}]");
        assert_eq!(decoder.feed_text(&text), Ok(None), "{text}");
        assert_eq!(decoder.feed_binary(buf(b"a")), Ok(None));
        assert_eq!(
            decoder.feed_binary(buf(b"b")),
            Err(ParseError::Attachments),
            "{text}"
        );
        // Reusable afterwards.
        assert_eq!(
            decoder.feed_binary(buf(b"c")),
            Err(ParseError::UnexpectedBinary)
        );
        assert!(decoder.feed_text("2[\"e\"]").unwrap().is_some());
    }
    // Not placeholders, so not checked; unused attachments are fine too.
    for data in [
        "{\"_placeholder\":false,\"num\":7}",
        "{\"_placeholder\":\"true\",\"num\":7}",
        "{\"num\":7}",
        "{\"_placeholder\":true,\"num\":1.0}",
    ] {
        let text = format!("52-[\"e\",{data}]");
        let p = decode_all(&text, &[buf(b"a"), buf(b"b")]).unwrap();
        assert_eq!(p.attachments.len(), 2, "{text}");
    }
}

#[test]
fn reset_drops_partial_packet() {
    let mut decoder = Decoder::new(10);
    assert_eq!(decoder.feed_text("51-[\"hello\"]"), Ok(None));
    decoder.reset();
    assert_eq!(
        decoder.feed_text("2[\"hello\"]"),
        Ok(Some(Packet::event("/", json!(["hello"]))))
    );
}

#[test]
fn header_error_during_binary_keeps_nothing_pending() {
    let mut decoder = Decoder::new(10);
    assert_eq!(decoder.feed_text("51-[\"e\""), Err(ParseError::Json));
    assert_eq!(
        decoder.feed_binary(buf(b"x")),
        Err(ParseError::UnexpectedBinary)
    );
}

// --- garbage in -----------------------------------------------------------

/// Knuth's MMIX LCG; deterministic so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const FRAGMENTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "9",
    "-",
    "/",
    ",",
    "[",
    "]",
    "{",
    "}",
    "\"",
    ":",
    ".",
    "e",
    "+",
    " ",
    "\\",
    "\\u",
    "d800",
    "_placeholder",
    "true",
    "false",
    "null",
    "num",
    "\"_placeholder\":true",
    "\"num\":",
    "/admin",
    "\"hello\"",
    "\"connect\"",
    "é",
    "😀",
    "\u{0}",
    "\n",
    "18446744073709551616",
    "99999999999999999999",
    "1.5",
    "-0",
    "1e400",
];

fn garbage(rng: &mut Lcg) -> String {
    let mut s = String::new();
    // Most inputs start like a packet so they get past the type check.
    if rng.below(4) != 0 {
        s.push(char::from(b'0' + rng.below(7) as u8));
    }
    for _ in 0..rng.below(24) {
        if rng.below(8) == 0 {
            // Any char, including multi-byte ones.
            let c = char::from_u32(rng.next() as u32 % 0x11_0000).unwrap_or('\u{fffd}');
            s.push(c);
        } else {
            s.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
        }
    }
    s
}

#[test]
fn garbage_never_panics_and_decoded_packets_round_trip() {
    let mut rng = Lcg(0x5eed);
    let mut decoder = Decoder::new(4);
    let (mut ok, mut errors) = (0usize, 0usize);
    for _ in 0..200_000 {
        let result = if rng.below(5) == 0 {
            let len = rng.below(8);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            decoder.feed_binary(bytes.into())
        } else {
            let text = garbage(&mut rng);
            decoder.feed_text(&text)
        };
        match result {
            Ok(Some(packet)) => {
                ok += 1;
                // Whatever decodes is valid, and survives a round trip.
                assert_eq!(packet.validate(), Ok(()), "{packet:?}");
                let (text, attachments) = packet.encode();
                let mut fresh = Decoder::new(4);
                let mut again = fresh.feed_text(&text).unwrap();
                for a in attachments {
                    assert!(again.is_none());
                    again = fresh.feed_binary(a).unwrap();
                }
                assert_eq!(again.as_ref(), Some(&packet), "{text}");
            }
            Ok(None) => {}
            Err(_) => errors += 1,
        }
    }
    // The generator must exercise both paths to mean anything.
    assert!(ok > 1_000, "only {ok} packets decoded");
    assert!(errors > 1_000, "only {errors} errors");
}

#[test]
fn every_prefix_of_valid_packets_is_handled() {
    let packets = [
        "2/admin,456[\"project:delete\",123]",
        "51-/ü,7[\"hello\",{\"_placeholder\":true,\"num\":0}]",
        "0/admin,{\"token\":\"😀\"}",
    ];
    for wire in packets {
        for (end, _) in wire.char_indices().chain([(wire.len(), ' ')]) {
            let _ = Decoder::new(10).feed_text(&wire[..end]);
        }
    }
}

#[test]
fn nesting_past_the_bound_is_refused_before_parsing() {
    let nested = |depth: usize| {
        format!(
            "2[\"e\",{}1{}]",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    let mut decoder = Decoder::new(10).with_max_depth(4);
    assert!(decoder.feed_text(&nested(4)).unwrap().is_some());
    assert_eq!(decoder.feed_text(&nested(5)), Err(ParseError::TooDeep(4)));
    // Brackets inside strings, escaped quotes included, do not count.
    let text = r#"2["e","[[[[[[\"[[[[",{"a":{"b":"}}}}}}"}}]"#;
    assert!(decoder.feed_text(text).unwrap().is_some());
    // Many brackets side by side are wide, not deep.
    let wide = format!("2[\"e\",{}[]]", "[],".repeat(200));
    assert!(decoder.feed_text(&wide).unwrap().is_some());
    // A decoder can take a next packet after the refusal; the bound is capped at serde's.
    assert!(decoder.feed_text("2[\"e\"]").unwrap().is_some());
    let deep = Decoder::new(10).with_max_depth(1_000);
    assert_eq!(deep.max_depth, MAX_JSON_DEPTH);
    // 100,000 levels: refused in one pass, no recursion.
    let mut decoder = Decoder::new(10).with_max_depth(32);
    let huge = format!("2{}", "[".repeat(100_000));
    assert_eq!(decoder.feed_text(&huge), Err(ParseError::TooDeep(32)));
}
