use super::*;
use ProtocolVersion::{V3, V4};

fn text(s: &str) -> Frame {
    Frame::Text(s.into())
}

fn all_packets() -> Vec<Packet> {
    let handshake = serde_json::json!({
        "sid": "lv_VI97HAXpY6yYWAAAC",
        "upgrades": ["websocket"],
        "pingInterval": 25000,
        "pingTimeout": 5000,
        "maxPayload": 1000000
    });
    vec![
        Packet::Open(handshake.to_string()),
        Packet::Close,
        Packet::Ping(String::new()),
        Packet::Ping("probe".into()),
        Packet::Pong(String::new()),
        Packet::Pong("probe".into()),
        Packet::Message(String::new()),
        Packet::Message("hello".into()),
        Packet::Message("héllo wörld ✓ 😀 𝄞".into()),
        Packet::Message("42[\"event\",{\"a\":1}]".into()),
        Packet::Binary(Bytes::new()),
        Packet::Binary((0..=255u8).collect::<Vec<_>>().into()),
        Packet::Upgrade,
        Packet::Noop,
    ]
}

fn decode_frame(frame: Frame, version: ProtocolVersion) -> Result<Packet, DecodeError> {
    match frame {
        Frame::Text(s) => Packet::decode_text(&s),
        Frame::Binary(b) => Packet::decode_binary(b, version),
    }
}

#[test]
fn encodes_text_packets_with_type_digit() {
    let cases = [
        (Packet::Open("{}".into()), "0{}"),
        (Packet::Close, "1"),
        (Packet::Ping("probe".into()), "2probe"),
        (Packet::Ping(String::new()), "2"),
        (Packet::Pong("probe".into()), "3probe"),
        (Packet::Message("hi".into()), "4hi"),
        (Packet::Message(String::new()), "4"),
        (Packet::Upgrade, "5"),
        (Packet::Noop, "6"),
    ];
    for (packet, wire) in cases {
        assert_eq!(packet.encode(V4), text(wire));
        assert_eq!(packet.encode(V3), text(wire));
    }
}

#[test]
fn encodes_binary_raw_in_v4_and_prefixed_in_v3() {
    let packet = Packet::Binary(Bytes::from_static(&[1, 2, 3]));
    assert_eq!(
        packet.encode(V4),
        Frame::Binary(Bytes::from_static(&[1, 2, 3]))
    );
    assert_eq!(
        packet.encode(V3),
        Frame::Binary(Bytes::from_static(&[4, 1, 2, 3]))
    );
}

#[test]
fn every_packet_round_trips_as_a_frame() {
    for version in [V3, V4] {
        for packet in all_packets() {
            let frame = packet.encode(version);
            assert_eq!(decode_frame(frame, version), Ok(packet), "{version:?}");
        }
    }
}

#[test]
fn decodes_text_like_engine_io_parser() {
    let decode = Packet::decode_text;
    assert_eq!(decode("2probe"), Ok(Packet::Ping("probe".into())));
    assert_eq!(decode("3"), Ok(Packet::Pong(String::new())));
    assert_eq!(decode("4"), Ok(Packet::Message(String::new())));
    assert_eq!(decode("4€😀"), Ok(Packet::Message("€😀".into())));
    assert_eq!(decode("1trailing"), Ok(Packet::Close));
    assert_eq!(decode("5x"), Ok(Packet::Upgrade));
    assert_eq!(decode("6x"), Ok(Packet::Noop));
    assert_eq!(
        decode("bAQIDBA=="),
        Ok(Packet::Binary(vec![1, 2, 3, 4].into()))
    );
    assert_eq!(
        decode("bAQIDBA"),
        Ok(Packet::Binary(vec![1, 2, 3, 4].into()))
    );
    assert_eq!(decode("b"), Ok(Packet::Binary(Bytes::new())));
}

#[test]
fn rejects_bad_text_packets() {
    let decode = Packet::decode_text;
    assert_eq!(decode(""), Err(DecodeError::Empty));
    assert_eq!(decode("7"), Err(DecodeError::UnknownType('7')));
    assert_eq!(decode("x4"), Err(DecodeError::UnknownType('x')));
    assert_eq!(decode("é"), Err(DecodeError::UnknownType('é')));
    assert_eq!(decode("\x1e4"), Err(DecodeError::UnknownType('\x1e')));
    assert_eq!(decode("b!!!!"), Err(DecodeError::Base64));
    assert_eq!(decode("bA"), Err(DecodeError::Base64));
    assert_eq!(decode("bAQIDBA=x"), Err(DecodeError::Base64));
}

#[test]
fn decodes_binary_frames_per_version() {
    let raw = Bytes::from_static(&[4, 9, 8]);
    assert_eq!(
        Packet::decode_binary(raw.clone(), V4),
        Ok(Packet::Binary(raw.clone()))
    );
    assert_eq!(
        Packet::decode_binary(raw, V3),
        Ok(Packet::Binary(Bytes::from_static(&[9, 8])))
    );
    assert_eq!(
        Packet::decode_binary(Bytes::from_static(&[4]), V3),
        Ok(Packet::Binary(Bytes::new()))
    );
    assert_eq!(
        Packet::decode_binary(Bytes::new(), V4),
        Ok(Packet::Binary(Bytes::new()))
    );
    for bad in [&[][..], &[0], &[2, 1], &[b'4', 1]] {
        assert_eq!(
            Packet::decode_binary(Bytes::copy_from_slice(bad), V3),
            Err(DecodeError::InvalidBinary)
        );
    }
}

#[test]
fn frame_len_counts_bytes() {
    assert_eq!(text("4é").len(), 3);
    assert!(Frame::Binary(Bytes::new()).is_empty());
    assert!(!Packet::Close.encode(V4).is_empty());
}

#[test]
fn v4_payload_matches_protocol_example() {
    let frames = [
        text("4hello"),
        Frame::Binary(Bytes::from_static(&[1, 2, 3, 4])),
    ];
    let body = encode_payload(&frames, V4);
    assert_eq!(body, "4hello\x1ebAQIDBA==");
    assert_eq!(
        decode_payload(&body, V4),
        Ok(vec![
            Packet::Message("hello".into()),
            Packet::Binary(vec![1, 2, 3, 4].into())
        ])
    );
    assert_eq!(encode_payload(&[text("2")], V4), "2");
    assert_eq!(encode_payload(&[], V4), "");
}

#[test]
fn v3_payload_counts_utf16_units() {
    let frames = [
        text("4hello"),
        text("4€"),
        text("4😀"),
        Packet::Binary(vec![1, 2, 3, 4].into()).encode(V3),
    ];
    let body = encode_payload(&frames, V3);
    assert_eq!(body, "6:4hello2:4€3:4😀10:b4AQIDBA==");
    assert_eq!(
        decode_payload(&body, V3),
        Ok(vec![
            Packet::Message("hello".into()),
            Packet::Message("€".into()),
            Packet::Message("😀".into()),
            Packet::Binary(vec![1, 2, 3, 4].into()),
        ])
    );
    assert_eq!(encode_payload(&[], V3), "0:");
    assert_eq!(decode_payload("0:", V3), Ok(vec![]));
    assert_eq!(
        decode_payload("1:20:1:6", V3),
        Ok(vec![Packet::Ping(String::new()), Packet::Noop])
    );
}

#[test]
fn v3_payload_frames_separators_inside_data() {
    let packets = vec![
        Packet::Message("a:b\x1ec".into()),
        Packet::Message("12:34".into()),
    ];
    let frames: Vec<_> = packets.iter().map(|p| p.encode(V3)).collect();
    assert_eq!(
        decode_payload(&encode_payload(&frames, V3), V3),
        Ok(packets)
    );
}

#[test]
fn every_packet_round_trips_in_a_payload() {
    for version in [V3, V4] {
        let packets = all_packets();
        let frames: Vec<_> = packets.iter().map(|p| p.encode(version)).collect();
        let body = encode_payload(&frames, version);
        assert_eq!(decode_payload(&body, version), Ok(packets), "{version:?}");
        for packet in all_packets() {
            let body = encode_payload(&[packet.encode(version)], version);
            assert_eq!(decode_payload(&body, version), Ok(vec![packet]));
        }
    }
}

#[test]
fn rejects_bad_v4_payloads() {
    assert_eq!(
        decode_payload("", V4),
        Err(DecodeError::Payload("empty payload"))
    );
    assert_eq!(decode_payload("4a\x1e", V4), Err(DecodeError::Empty));
    assert_eq!(
        decode_payload("4a\x1e9", V4),
        Err(DecodeError::UnknownType('9'))
    );
    assert_eq!(decode_payload("4a\x1eb*", V4), Err(DecodeError::Base64));
}

#[test]
fn rejects_bad_v3_payloads() {
    let cases: [(&str, DecodeError); 13] = [
        ("", DecodeError::Payload("empty payload")),
        ("4hello", DecodeError::Payload("missing length separator")),
        ("2:4a4b", DecodeError::Payload("missing length separator")),
        (":4a", DecodeError::Payload("invalid length")),
        ("+2:4a", DecodeError::Payload("invalid length")),
        ("x:4a", DecodeError::Payload("invalid length")),
        ("٣:4ab", DecodeError::Payload("invalid length")),
        (
            "99999999999999999999999:4",
            DecodeError::Payload("invalid length"),
        ),
        ("5:4a", DecodeError::Payload("length exceeds payload")),
        ("2:4😀", DecodeError::Payload("length splits a character")),
        ("2:9x", DecodeError::UnknownType('9')),
        ("2:b5", DecodeError::InvalidBinary),
        ("4:b4**", DecodeError::Base64),
    ];
    for (body, err) in cases {
        assert_eq!(decode_payload(body, V3), Err(err), "{body:?}");
    }
}

/// Deterministic pseudo-random source (Knuth's MMIX LCG), so failures reproduce.
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

    fn string(&mut self, alphabet: &[char], max_len: usize) -> String {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }

    fn bytes(&mut self, max_len: usize) -> Bytes {
        let len = self.below(max_len + 1);
        (0..len)
            .map(|_| self.next() as u8)
            .collect::<Vec<_>>()
            .into()
    }
}

const GARBAGE: &[char] = &[
    '0', '1', '2', '3', '4', '5', '6', '7', '9', ':', '\x1e', 'b', 'A', 'Q', '=', '+', '/', '-',
    ' ', '\0', 'é', '€', '😀', '𝄞', '٣', '\u{fffd}',
];

#[test]
fn garbage_never_panics() {
    let mut rng = Lcg(0x5eed);
    for _ in 0..20_000 {
        let s = rng.string(GARBAGE, 24);
        let _ = Packet::decode_text(&s);
        for version in [V3, V4] {
            let _ = decode_payload(&s, version);
            let _ = Packet::decode_binary(rng.bytes(8), version);
        }
    }
    // Mutations of valid bodies reach deeper than pure noise does.
    for version in [V3, V4] {
        let frames: Vec<_> = all_packets().iter().map(|p| p.encode(version)).collect();
        let body: Vec<char> = encode_payload(&frames, version).chars().collect();
        for _ in 0..5_000 {
            let mut mutated = body.clone();
            mutated.truncate(rng.below(body.len() + 1));
            let at = rng.below(mutated.len() + 1);
            mutated.insert(at, GARBAGE[rng.below(GARBAGE.len())]);
            let _ = decode_payload(&mutated.into_iter().collect::<String>(), version);
        }
    }
}

#[test]
fn random_packets_round_trip_through_payloads() {
    // No record separator: v4 payloads cannot carry it inside text.
    let alphabet: Vec<char> = GARBAGE
        .iter()
        .copied()
        .filter(|&c| c != SEPARATOR)
        .collect();
    let mut rng = Lcg(42);
    for _ in 0..2_000 {
        let packets: Vec<Packet> = (0..1 + rng.below(5))
            .map(|_| {
                let data = rng.string(&alphabet, 12);
                match rng.below(8) {
                    0 => Packet::Open(data),
                    1 => Packet::Close,
                    2 => Packet::Ping(data),
                    3 => Packet::Pong(data),
                    4 => Packet::Message(data),
                    5 => Packet::Binary(rng.bytes(12)),
                    6 => Packet::Upgrade,
                    _ => Packet::Noop,
                }
            })
            .collect();
        for version in [V3, V4] {
            let frames: Vec<_> = packets.iter().map(|p| p.encode(version)).collect();
            let body = encode_payload(&frames, version);
            assert_eq!(
                decode_payload(&body, version).as_ref(),
                Ok(&packets),
                "{body:?}"
            );
        }
    }
}

// ----- v3 binary payloads (XHR2 clients) ------------------------------------

#[test]
fn v3_binary_payloads_are_what_engine_io_parser_2_writes() {
    let frames = vec![
        Packet::Message("é".into()).encode(V3),
        Packet::Binary(vec![1, 2, 3].into()).encode(V3),
    ];
    // 0 = string, length 3 in UTF-8 bytes ("4é"), 255; 1 = binary, 4 bytes with the type byte.
    let body = encode_binary_payload(&frames);
    assert_eq!(
        body,
        [&[0, 3, 255][..], "4é".as_bytes(), &[1, 4, 255, 4, 1, 2, 3]].concat()
    );
    assert_eq!(
        decode_binary_payload(&body),
        Ok(vec![
            Packet::Message("é".into()),
            Packet::Binary(vec![1, 2, 3].into())
        ])
    );
    // Lengths of several digits, one byte per digit.
    let long = Packet::Message("x".repeat(120)).encode(V3);
    let body = encode_binary_payload(std::slice::from_ref(&long));
    assert_eq!(&body[..5], &[0, 1, 2, 1, 255]);
}

#[test]
fn bad_v3_binary_payloads_are_refused() {
    for (bad, why) in [
        (&[][..], "empty"),
        (&[0, 1][..], "no length end"),
        (&[0, 255, b'6'][..], "no digits"),
        (&[0, 10, 255, b'6'][..], "a digit above 9"),
        (&[0, 5, 255, b'6'][..], "longer than the body"),
        (&[2, 1, 255, b'6'][..], "unknown record type"),
        (&[1, 1, 255, 3][..], "binary record that is not a message"),
        (&[0, 1, 255, 0xff][..], "invalid UTF-8"),
        (
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 255][..],
            "absurd length",
        ),
    ] {
        assert!(decode_binary_payload(bad).is_err(), "{why}");
    }
    assert_eq!(
        decode_binary_payload(&[0, 1, 255, b'6', 0, 1, 255, b'2']),
        Ok(vec![Packet::Noop, Packet::Ping(String::new())])
    );
}

#[test]
fn a_v3_text_frame_may_carry_base64_binary() {
    assert_eq!(
        Packet::decode_frame_text("b4BwD/".into(), V3),
        Ok(Packet::Binary(vec![7, 0, 255].into()))
    );
    assert_eq!(
        Packet::decode_frame_text("bAQI=".into(), V4),
        Ok(Packet::Binary(vec![1, 2].into()))
    );
    assert_eq!(
        Packet::decode_frame_text("4hi".into(), V3),
        Ok(Packet::Message("hi".into()))
    );
    // A v4 message keeps its text, whatever it holds; other kinds decode as ever.
    for (frame, packet) in [
        ("4hé", Packet::Message("hé".into())),
        ("4", Packet::Message(String::new())),
        ("2probe", Packet::Ping("probe".into())),
        ("6", Packet::Noop),
    ] {
        assert_eq!(Packet::decode_frame_text(frame.into(), V4), Ok(packet));
    }
}
