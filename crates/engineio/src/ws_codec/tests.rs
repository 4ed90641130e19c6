use super::*;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

// --- test-only client side -------------------------------------------

/// A masked client frame; `b0` is the first octet (FIN, RSV, opcode).
fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b0];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// Parses server frames (which must be unmasked): `(first octet, payload)`.
fn server_frames(mut buf: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !buf.is_empty() {
        assert_eq!(buf[1] & 0x80, 0, "server frames must not be masked");
        let (len, at) = match buf[1] & 0x7f {
            126 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&buf[2..10]);
                (u64::from_be_bytes(be) as usize, 10)
            }
            n => (usize::from(n), 2),
        };
        frames.push((buf[0], buf[at..at + len].to_vec()));
        buf = &buf[at + len..];
    }
    frames
}

/// What a client would send back for the server's frames: same frames, masked.
fn remask(server: &[u8]) -> Vec<u8> {
    server_frames(server)
        .into_iter()
        .flat_map(|(b0, payload)| client_frame(b0, &payload))
        .collect()
}

fn decode_all(decoder: &mut Decoder, bytes: &[u8]) -> Result<Vec<Message>, WsError> {
    let mut buf = BytesMut::from(bytes);
    let mut messages = Vec::new();
    while let Some(message) = decoder.decode(&mut buf)? {
        messages.push(message);
    }
    Ok(messages)
}

fn decode_one(bytes: &[u8]) -> Result<Option<Message>, WsError> {
    Decoder::new(1 << 20, None).decode(&mut BytesMut::from(bytes))
}

fn deflate_pair(header: &str, settings: &DeflateSettings) -> (Deflate, Deflate) {
    (
        negotiate(Some(header), settings).expect("server side"),
        negotiate(Some(header), settings).expect("peer side"),
    )
}

fn enabled() -> DeflateSettings {
    DeflateSettings {
        enabled: true,
        threshold: 0,
        ..DeflateSettings::default()
    }
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

// --- negotiation -----------------------------------------------------

fn response(header: Option<&str>, settings: &DeflateSettings) -> Option<String> {
    negotiate(header, settings).map(|d| d.response_header())
}

#[test]
fn settings_default() {
    let s = DeflateSettings::default();
    assert!(!s.enabled);
    assert_eq!(s.threshold, 1024);
    assert!(!s.server_no_context_takeover && !s.client_no_context_takeover);
    assert_eq!(s.server_max_window_bits, None);
}

#[test]
fn negotiation_declines_when_disabled_or_not_offered() {
    let on = enabled();
    let offer = Some("permessage-deflate; client_max_window_bits");
    assert_eq!(response(offer, &DeflateSettings::default()), None);
    assert_eq!(response(None, &on), None);
    assert_eq!(response(Some(""), &on), None);
    assert_eq!(response(Some("x-webkit-deflate-frame"), &on), None);
    assert_eq!(response(Some(" , ,"), &on), None);
}

#[test]
fn negotiation_chrome_and_ws_default_offer() {
    // Chrome, and npm `ws` as a client with default options, send exactly this.
    let deflate = negotiate(
        Some("permessage-deflate; client_max_window_bits"),
        &enabled(),
    )
    .expect("accepted");
    assert_eq!(deflate.response_header(), "permessage-deflate");
    assert_eq!(
        *deflate.params(),
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: None,
            threshold: 0,
        }
    );
}

#[test]
fn negotiation_firefox_safari_offers() {
    let on = enabled();
    // Firefox / Safari.
    assert_eq!(
        response(Some("permessage-deflate"), &on).as_deref(),
        Some("permessage-deflate")
    );
    // Old Safari offers the legacy extension first.
    assert_eq!(
        response(
            Some("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits"),
            &on
        )
        .as_deref(),
        Some("permessage-deflate")
    );
}

#[test]
fn negotiation_context_takeover_parameters() {
    let on = enabled();
    assert_eq!(
        response(
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            &on
        )
        .as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    let settings = DeflateSettings {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..enabled()
    };
    let deflate = negotiate(Some("permessage-deflate"), &settings).unwrap();
    assert_eq!(
        deflate.response_header(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    assert!(deflate.params().server_no_context_takeover);
    assert!(deflate.params().client_no_context_takeover);
}

#[test]
fn negotiation_window_bits() {
    let on = enabled();
    // We cannot compress with a smaller window: decline, and fall back
    // to the next offer.
    assert_eq!(
        response(Some("permessage-deflate; server_max_window_bits=10"), &on),
        None
    );
    assert_eq!(
        response(
            Some("permessage-deflate; server_max_window_bits=10, permessage-deflate"),
            &on
        )
        .as_deref(),
        Some("permessage-deflate")
    );
    assert_eq!(
        response(Some("permessage-deflate; server_max_window_bits=15"), &on).as_deref(),
        Some("permessage-deflate; server_max_window_bits=15")
    );
    assert_eq!(
        response(
            Some("permessage-deflate; server_max_window_bits=\"15\""),
            &on
        )
        .as_deref(),
        Some("permessage-deflate; server_max_window_bits=15")
    );
    // A value is mandatory for server_max_window_bits.
    assert_eq!(
        response(Some("permessage-deflate; server_max_window_bits"), &on),
        None
    );
    // client_max_window_bits with a value: a hint we need not answer.
    assert_eq!(
        response(Some("permessage-deflate; client_max_window_bits=10"), &on).as_deref(),
        Some("permessage-deflate")
    );
    assert_eq!(
        response(
            Some("permessage-deflate; client_max_window_bits=\"8\""),
            &on
        )
        .as_deref(),
        Some("permessage-deflate")
    );
    for bad in ["16", "7", "08", "", "1a", "\"\"", "+9"] {
        let header = format!("permessage-deflate; client_max_window_bits={bad}");
        assert_eq!(response(Some(&header), &on), None, "{header}");
    }
    // Our own setting.
    let fifteen = DeflateSettings {
        server_max_window_bits: Some(15),
        ..enabled()
    };
    assert_eq!(
        response(Some("permessage-deflate; client_max_window_bits"), &fifteen).as_deref(),
        Some("permessage-deflate; server_max_window_bits=15")
    );
    let ten = DeflateSettings {
        server_max_window_bits: Some(10),
        ..enabled()
    };
    assert_eq!(response(Some("permessage-deflate"), &ten), None);
}

#[test]
fn negotiation_skips_bad_offers() {
    let on = enabled();
    let cases = [
        "permessage-deflate; foo",
        "permessage-deflate; foo=1",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=\"x\"",
        "permessage-deflate;; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=\"10",
        "permessage-deflate; client_max_window_bits=\"1 0\"",
        "permessage deflate",
        "; client_max_window_bits",
    ];
    for header in cases {
        assert_eq!(response(Some(header), &on), None, "{header}");
        // ... but the next offer in the list is still considered.
        let with_fallback = format!("{header}, permessage-deflate; server_no_context_takeover");
        let expected = if header.contains("client_max_window_bits=\"10") {
            // The unterminated quote swallows the rest of the header.
            None
        } else {
            Some("permessage-deflate; server_no_context_takeover")
        };
        assert_eq!(
            response(Some(&with_fallback), &on).as_deref(),
            expected,
            "{with_fallback}"
        );
    }
}

#[test]
fn negotiation_tolerates_spacing_case_and_quotes() {
    let on = enabled();
    assert_eq!(
        response(
            Some("  Permessage-Deflate ;\tclient_max_window_bits = \"1\\5\" ;SERVER_NO_CONTEXT_TAKEOVER  "),
            &on
        )
        .as_deref(),
        Some("permessage-deflate; server_no_context_takeover")
    );
    // A comma inside a quoted value does not split the list.
    assert_eq!(
        parse_extension_list("a; p=\"x,y\", b"),
        vec![
            None,
            Some(ExtensionOffer {
                name: "b".into(),
                params: vec![]
            })
        ]
    );
    assert_eq!(
        parse_extension_list("a; p=\"xy\", b; q=7"),
        vec![
            Some(ExtensionOffer {
                name: "a".into(),
                params: vec![("p".into(), Some("xy".into()))],
            }),
            Some(ExtensionOffer {
                name: "b".into(),
                params: vec![("q".into(), Some("7".into()))],
            }),
        ]
    );
}

// --- frame headers ---------------------------------------------------

#[test]
fn header_length_forms() {
    assert_eq!(
        header(OpCode::Text, 0, false),
        ([0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0], 2)
    );
    assert_eq!(header(OpCode::Binary, 125, true).0[..2], [0xc2, 125]);
    let (h, n) = header(OpCode::Text, 126, false);
    assert_eq!(&h[..n], &[0x81, 126, 0, 126]);
    let (h, n) = header(OpCode::Text, 65535, false);
    assert_eq!(&h[..n], &[0x81, 126, 0xff, 0xff]);
    let (h, n) = header(OpCode::Ping, 65536, false);
    assert_eq!(&h[..n], &[0x89, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
}

#[test]
fn opcode_values() {
    for v in 0..16u8 {
        match OpCode::from_u8(v) {
            Some(op) => {
                assert_eq!(op.as_u8(), v);
                assert_eq!(op.is_control(), v >= 8);
            }
            None => assert!(matches!(v, 3..=7 | 0xb..=0xf)),
        }
    }
}

// --- round trips -----------------------------------------------------

#[test]
fn round_trip_all_message_kinds() {
    let mut encoder = Encoder::new(None);
    let mut out = BytesMut::new();
    encoder.encode_text("héllo".as_bytes(), true, &mut out);
    encoder.encode_binary(&[0, 1, 2, 255], true, &mut out);
    encoder.encode_text(b"", false, &mut out);
    encoder.encode_control(OpCode::Ping, b"p", &mut out);
    encoder.encode_control(OpCode::Pong, b"", &mut out);
    encoder.encode_close(1000, "bye", &mut out);
    encoder.encode_control(OpCode::Close, b"", &mut out);
    let frames = server_frames(&out);
    assert!(frames.iter().all(|(b0, _)| b0 & 0xf0 == 0x80), "FIN only");

    let mut decoder = Decoder::new(1024, None);
    assert_eq!(
        decode_all(&mut decoder, &remask(&out)).unwrap(),
        vec![
            Message::Text("héllo".into()),
            Message::Binary(Bytes::from_static(&[0, 1, 2, 255])),
            Message::Text(String::new()),
            Message::Ping(Bytes::from_static(b"p")),
            Message::Pong(Bytes::new()),
            Message::Close(Some((1000, "bye".into()))),
            Message::Close(None),
        ]
    );
}

#[test]
fn round_trip_16_and_64_bit_lengths() {
    let mut encoder = Encoder::new(None);
    for len in [125usize, 126, 65535, 65536, 70000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut out = BytesMut::new();
        encoder.encode_binary(&payload, false, &mut out);
        let expected_header = match len {
            0..=125 => 2,
            126..=65535 => 4,
            _ => 10,
        };
        assert_eq!(out.len(), expected_header + len);
        let mut decoder = Decoder::new(1 << 20, None);
        assert_eq!(
            decode_all(&mut decoder, &remask(&out)).unwrap(),
            vec![Message::Binary(Bytes::from(payload))]
        );
    }
}

#[test]
fn zero_copy_header_matches_encoder() {
    let mut encoder = Encoder::new(None);
    let payload = vec![b'x'; 300];
    let mut out = BytesMut::new();
    encoder.encode_text(&payload, true, &mut out);
    let (h, n) = header(OpCode::Text, payload.len(), false);
    let mut manual = h[..n].to_vec();
    manual.extend_from_slice(&payload);
    assert_eq!(&out[..], &manual[..]);
    assert!(!encoder.will_compress(payload.len(), true));
}

#[test]
fn control_payload_and_close_reason_are_truncated() {
    let encoder = Encoder::new(None);
    let mut out = BytesMut::new();
    encoder.encode_control(OpCode::Ping, &[7u8; 200], &mut out);
    // 'é' is two bytes: 61 of them plus "a" is 123 bytes, one more 'é'
    // would straddle the limit and must be dropped whole.
    let reason = format!("a{}", "é".repeat(70));
    encoder.encode_close(1001, &reason, &mut out);
    let frames = server_frames(&out);
    assert_eq!(frames[0].1.len(), 125);
    assert_eq!(frames[1].1.len(), 2 + 1 + 61 * 2);
    let messages = decode_all(&mut Decoder::new(0, None), &remask(&out)).unwrap();
    assert_eq!(
        messages[1],
        Message::Close(Some((1001, format!("a{}", "é".repeat(61)))))
    );
}

#[test]
#[should_panic(expected = "not a control opcode")]
fn encode_control_rejects_data_opcodes() {
    Encoder::new(None).encode_control(OpCode::Text, b"x", &mut BytesMut::new());
}

// --- fragmentation ---------------------------------------------------

#[test]
fn fragmented_message_with_interleaved_ping() {
    let mut bytes = client_frame(0x01, b"Hel"); // Text, no FIN
    bytes.extend(client_frame(0x89, b"ping")); // Ping in between
    bytes.extend(client_frame(0x00, b"lo, ")); // Continuation
    bytes.extend(client_frame(0x8a, b"")); // Pong in between
    bytes.extend(client_frame(0x80, "wörld".as_bytes())); // final Continuation
    bytes.extend(client_frame(0x02, &[1])); // Binary, no FIN
    bytes.extend(client_frame(0x80, &[2, 3]));
    let mut decoder = Decoder::new(1024, None);
    assert_eq!(
        decode_all(&mut decoder, &bytes).unwrap(),
        vec![
            Message::Ping(Bytes::from_static(b"ping")),
            Message::Pong(Bytes::new()),
            Message::Text("Hello, wörld".into()),
            Message::Binary(Bytes::from_static(&[1, 2, 3])),
        ]
    );
}

#[test]
fn partial_buffers_fed_byte_by_byte() {
    let mut bytes = client_frame(0x81, "héllo".as_bytes());
    bytes.extend(client_frame(0x02, &[9; 200])); // 16-bit length, fragmented
    bytes.extend(client_frame(0x89, b"p"));
    bytes.extend(client_frame(0x80, &[8; 70000])); // 64-bit length
    bytes.extend(client_frame(0x88, &[0x03, 0xe8]));
    let mut decoder = Decoder::new(1 << 20, None);
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    for &byte in &bytes {
        buf.extend_from_slice(&[byte]);
        while let Some(message) = decoder.decode(&mut buf).unwrap() {
            messages.push(message);
        }
    }
    assert!(buf.is_empty());
    let mut binary = vec![9u8; 200];
    binary.extend_from_slice(&[8; 70000]);
    assert_eq!(
        messages,
        vec![
            Message::Text("héllo".into()),
            Message::Ping(Bytes::from_static(b"p")),
            Message::Binary(Bytes::from(binary)),
            Message::Close(Some((1000, String::new()))),
        ]
    );
}

#[test]
fn incomplete_frame_stays_in_buffer() {
    let frame = client_frame(0x81, b"hello");
    let mut decoder = Decoder::new(1024, None);
    let mut buf = BytesMut::from(&frame[..frame.len() - 1]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), frame.len() - 1, "nothing consumed");
    buf.extend_from_slice(&frame[frame.len() - 1..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(Message::Text("hello".into())))
    );
    assert!(buf.is_empty());
}

// --- protocol violations ---------------------------------------------

#[test]
fn reserved_bits_and_opcodes() {
    assert_eq!(
        decode_one(&client_frame(0xa1, b"x")),
        Err(WsError::ReservedBits)
    );
    assert_eq!(
        decode_one(&client_frame(0x91, b"x")),
        Err(WsError::ReservedBits)
    );
    // RSV1 without permessage-deflate.
    assert_eq!(
        decode_one(&client_frame(0xc1, b"x")),
        Err(WsError::UnexpectedRsv1)
    );
    for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        assert_eq!(
            decode_one(&client_frame(0x80 | op, b"")),
            Err(WsError::ReservedOpcode(op))
        );
    }
}

#[test]
fn rsv1_rules_with_deflate() {
    let inflater = || {
        Some(
            negotiate(Some("permessage-deflate"), &enabled())
                .unwrap()
                .split()
                .0,
        )
    };
    // On a control frame.
    let mut decoder = Decoder::new(1024, inflater());
    assert_eq!(
        decode_all(&mut decoder, &client_frame(0xc9, b"")),
        Err(WsError::UnexpectedRsv1)
    );
    // On a continuation frame.
    let mut bytes = client_frame(0x41, &[0xf2, 0x48]);
    bytes.extend(client_frame(0xc0, &[0xcd, 0xc9, 0xc9, 0x07, 0x00]));
    let mut decoder = Decoder::new(1024, inflater());
    assert_eq!(
        decode_all(&mut decoder, &bytes),
        Err(WsError::UnexpectedRsv1)
    );
}

#[test]
fn unmasked_client_frame_is_rejected() {
    assert_eq!(
        decode_one(&[0x81, 0x02, b'h', b'i']),
        Err(WsError::Unmasked)
    );
    // Detected from the first two octets alone.
    assert_eq!(decode_one(&[0x81, 0x7f]), Err(WsError::Unmasked));
}

#[test]
fn control_frame_rules() {
    assert_eq!(
        decode_one(&client_frame(0x09, b"")),
        Err(WsError::FragmentedControl)
    );
    assert_eq!(
        decode_one(&client_frame(0x08, b"")),
        Err(WsError::FragmentedControl)
    );
    assert_eq!(
        decode_one(&client_frame(0x89, &[0; 126])),
        Err(WsError::ControlTooLong)
    );
    // 125 is fine.
    assert_eq!(
        decode_one(&client_frame(0x89, &[0; 125])),
        Ok(Some(Message::Ping(Bytes::from(vec![0; 125]))))
    );
    // Too long is known from the second octet.
    assert_eq!(decode_one(&[0x8a, 0xfe]), Err(WsError::ControlTooLong));
}

/// Found by the differential against tungstenite (fuzz/src/ws_diff.rs),
/// which reads these: a control frame whose short payload is written in the
/// 16- or 64-bit length form breaks RFC 6455 §5.2's minimal encoding.
#[test]
fn control_frame_in_a_long_length_form_is_refused() {
    let mut sixteen = vec![0x89, 0x80 | 126, 0x00, 0x02];
    sixteen.extend_from_slice(&MASK);
    sixteen.extend_from_slice(&[b'h' ^ MASK[0], b'i' ^ MASK[1]]);
    assert_eq!(decode_one(&sixteen), Err(WsError::ControlTooLong));
    let mut sixty_four = vec![0x88, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0x00];
    sixty_four.extend_from_slice(&MASK);
    assert_eq!(decode_one(&sixty_four), Err(WsError::ControlTooLong));
}

#[test]
fn close_payload_rules() {
    assert_eq!(
        decode_one(&client_frame(0x88, &[0x03])),
        Err(WsError::InvalidClosePayload)
    );
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let payload = code.to_be_bytes();
        assert_eq!(
            decode_one(&client_frame(0x88, &payload)),
            Err(WsError::InvalidCloseCode(code)),
            "{code}"
        );
    }
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(b"why");
        assert_eq!(
            decode_one(&client_frame(0x88, &payload)),
            Ok(Some(Message::Close(Some((code, "why".into()))))),
            "{code}"
        );
    }
    assert_eq!(
        decode_one(&client_frame(0x88, &[0x03, 0xe8, 0xff, 0xfe])),
        Err(WsError::InvalidUtf8)
    );
}

#[test]
fn continuation_rules() {
    assert_eq!(
        decode_one(&client_frame(0x80, b"x")),
        Err(WsError::UnexpectedContinuation)
    );
    assert_eq!(
        decode_one(&client_frame(0x00, b"x")),
        Err(WsError::UnexpectedContinuation)
    );
    for second in [0x81u8, 0x01, 0x82, 0x02] {
        let mut bytes = client_frame(0x01, b"a");
        bytes.extend(client_frame(second, b"b"));
        assert_eq!(
            decode_all(&mut Decoder::new(1024, None), &bytes),
            Err(WsError::ExpectedContinuation)
        );
    }
    // After a completed fragmented message a continuation is unexpected again.
    let mut bytes = client_frame(0x01, b"a");
    bytes.extend(client_frame(0x80, b"b"));
    bytes.extend(client_frame(0x80, b"c"));
    let mut decoder = Decoder::new(1024, None);
    let mut buf = BytesMut::from(&bytes[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(Message::Text("ab".into())))
    );
    assert_eq!(
        decoder.decode(&mut buf),
        Err(WsError::UnexpectedContinuation)
    );
}

#[test]
fn sixty_four_bit_length_with_top_bit_set() {
    let mut bytes = vec![0x82, 0xff];
    bytes.extend_from_slice(&(1u64 << 63).to_be_bytes());
    assert_eq!(decode_one(&bytes), Err(WsError::InvalidLength));
}

#[test]
fn invalid_utf8() {
    assert_eq!(
        decode_one(&client_frame(0x81, &[0xff])),
        Err(WsError::InvalidUtf8)
    );
    assert_eq!(
        decode_one(&client_frame(0x81, &[b'a', 0xe2, 0x82])), // truncated sequence
        Err(WsError::InvalidUtf8)
    );
    // Fails fast on the first fragment, before the message is complete.
    let mut decoder = Decoder::new(1024, None);
    assert_eq!(
        decode_all(&mut decoder, &client_frame(0x01, &[b'o', b'k', 0xc0, 0xaf])),
        Err(WsError::InvalidUtf8)
    );
    // A code point split across fragments is fine...
    let euro = "€".as_bytes();
    let mut bytes = client_frame(0x01, &euro[..1]);
    bytes.extend(client_frame(0x00, &euro[1..2]));
    bytes.extend(client_frame(0x80, &euro[2..]));
    assert_eq!(
        decode_all(&mut Decoder::new(1024, None), &bytes),
        Ok(vec![Message::Text("€".into())])
    );
    // ... but one left unfinished at the end is not.
    let mut bytes = client_frame(0x01, b"a");
    bytes.extend(client_frame(0x80, &euro[..2]));
    assert_eq!(
        decode_all(&mut Decoder::new(1024, None), &bytes),
        Err(WsError::InvalidUtf8)
    );
    // Binary messages are not checked.
    assert_eq!(
        decode_one(&client_frame(0x82, &[0xff])),
        Ok(Some(Message::Binary(Bytes::from_static(&[0xff]))))
    );
}

// --- size limits -----------------------------------------------------

#[test]
fn max_message_enforced_per_frame_and_per_message() {
    let mut decoder = Decoder::new(10, None);
    assert_eq!(
        decode_all(&mut decoder, &client_frame(0x82, &[0; 10])),
        Ok(vec![Message::Binary(Bytes::from(vec![0; 10]))])
    );
    assert_eq!(
        decode_all(&mut Decoder::new(10, None), &client_frame(0x82, &[0; 11])),
        Err(WsError::TooLarge)
    );
    // Fragments adding up past the limit.
    let mut bytes = client_frame(0x02, &[0; 6]);
    bytes.extend(client_frame(0x80, &[0; 5]));
    assert_eq!(
        decode_all(&mut Decoder::new(10, None), &bytes),
        Err(WsError::TooLarge)
    );
    // Control frames are bounded by 125 only.
    assert_eq!(
        decode_all(&mut Decoder::new(0, None), &client_frame(0x89, &[1; 100])),
        Ok(vec![Message::Ping(Bytes::from(vec![1; 100]))])
    );
}

#[test]
fn declared_length_rejected_before_payload_arrives() {
    // A 64-bit length of 4 GiB: only the 10 header octets are there.
    let mut buf = BytesMut::from(&[0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0][..]);
    assert_eq!(
        Decoder::new(1 << 20, None).decode(&mut buf),
        Err(WsError::TooLarge)
    );
    // 16-bit form, even without the mask key yet.
    let mut buf = BytesMut::from(&[0x81, 0xfe, 0x10, 0x00][..]);
    assert_eq!(
        Decoder::new(1000, None).decode(&mut buf),
        Err(WsError::TooLarge)
    );
    // u64::MAX >> 1 with max_message = usize::MAX must not overflow.
    let mut bytes = vec![0x82, 0xff];
    bytes.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    bytes.extend_from_slice(&MASK);
    let mut buf = BytesMut::from(&bytes[..]);
    let result = Decoder::new(usize::MAX, None).decode(&mut buf);
    assert!(
        matches!(result, Ok(None) | Err(WsError::TooLarge)),
        "{result:?}"
    );
}

// --- permessage-deflate ----------------------------------------------

#[test]
fn rfc7692_hello_vectors() {
    let (mut server, _) = deflate_pair("permessage-deflate", &enabled());
    // §7.2.3.1: a single unfragmented message.
    let hello = hex("f2 48 cd c9 c9 07 00");
    assert_eq!(server.decompress(&hello, 100).unwrap(), b"Hello");
    // §7.2.3.2: the same message again, referring to the first one.
    assert_eq!(
        server.decompress(&hex("f2 00 11 00 00"), 100).unwrap(),
        b"Hello"
    );
    // §7.2.3.3: no compression (a stored block).
    assert_eq!(
        server
            .decompress(&hex("00 05 00 fa ff 48 65 6c 6c 6f 00"), 100)
            .unwrap(),
        b"Hello"
    );
    // §7.2.3.5: two DEFLATE blocks in one message.
    assert_eq!(
        server
            .decompress(&hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"), 100)
            .unwrap(),
        b"Hello"
    );
    // §7.2.3.4: a block with BFINAL set; the context starts over after it.
    let (mut fresh, _) = deflate_pair("permessage-deflate", &enabled());
    assert_eq!(
        fresh.decompress(&hex("f3 48 cd c9 c9 07 00"), 100).unwrap(),
        b"Hello"
    );
    assert_eq!(fresh.decompress(&hello, 100).unwrap(), b"Hello");
    // §7.2.3.6: an empty message.
    assert_eq!(fresh.decompress(&hex("00"), 100).unwrap(), b"");
}

#[test]
fn rfc7692_hello_compresses_to_the_rfc_bytes() {
    let (mut server, _) = deflate_pair("permessage-deflate", &enabled());
    assert_eq!(server.compress(b"Hello"), hex("f2 48 cd c9 c9 07 00"));
}

#[test]
fn rfc7692_frames_through_the_decoder() {
    let inflater = negotiate(Some("permessage-deflate"), &enabled())
        .unwrap()
        .split()
        .0;
    let mut decoder = Decoder::new(1024, Some(inflater));
    // §7.2.3.1 frame `c1 07 f2 48 cd c9 c9 07 00`, then its fragmented form
    // `41 03 f2 48 cd` + `80 04 c9 c9 07 00`, with a ping in between;
    // context takeover makes the third "Hello" refer to the earlier ones.
    let mut bytes = client_frame(0xc1, &hex("f2 48 cd c9 c9 07 00"));
    bytes.extend(client_frame(0x41, &hex("f2 48 cd")));
    bytes.extend(client_frame(0x89, b""));
    bytes.extend(client_frame(0x80, &hex("c9 c9 07 00")));
    bytes.extend(client_frame(0xc1, &hex("f2 00 11 00 00")));
    bytes.extend(client_frame(0x81, b"plain"));
    assert_eq!(
        decode_all(&mut decoder, &bytes).unwrap(),
        vec![
            Message::Text("Hello".into()),
            Message::Ping(Bytes::new()),
            Message::Text("Hello".into()),
            Message::Text("Hello".into()),
            Message::Text("plain".into()),
        ]
    );
}

fn sample_messages() -> Vec<Vec<u8>> {
    (0..8)
        .map(|i| {
            format!(
                "42[\"event\",{{\"id\":{i},\"payload\":\"{}\",\"list\":[1,2,3,{i}]}}]",
                "socket.io ".repeat(30 + i)
            )
            .into_bytes()
        })
        .collect()
}

fn round_trip_compressed(settings: &DeflateSettings, header: &str) -> Vec<usize> {
    let (mut server, mut client) = deflate_pair(header, settings);
    let mut sizes = Vec::new();
    for message in sample_messages() {
        let compressed = server.compress(&message);
        assert!(!compressed.ends_with(&DEFLATE_TAIL));
        sizes.push(compressed.len());
        assert_eq!(client.decompress(&compressed, 1 << 20).unwrap(), message);
    }
    sizes
}

#[test]
fn deflate_round_trip_with_context_takeover() {
    let sizes = round_trip_compressed(&enabled(), "permessage-deflate");
    // Later messages refer back to earlier ones and shrink a lot.
    assert!(sizes[3] * 2 < sizes[0], "{sizes:?}");
}

#[test]
fn deflate_round_trip_without_context_takeover() {
    let settings = DeflateSettings {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..enabled()
    };
    let sizes = round_trip_compressed(&settings, "permessage-deflate");
    // Each message stands alone: no shrinking from history.
    assert!(sizes[3] >= sizes[0], "{sizes:?}");
    // Requested by the client instead of configured.
    round_trip_compressed(
        &enabled(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
    // Each message decompresses on its own with a fresh inflater.
    let (mut server, _) = deflate_pair("permessage-deflate", &settings);
    for message in sample_messages() {
        let compressed = server.compress(&message);
        let (_, mut fresh) = deflate_pair("permessage-deflate", &settings);
        assert_eq!(fresh.decompress(&compressed, 1 << 20).unwrap(), message);
    }
}

#[test]
fn encoder_compresses_above_threshold_and_decoder_inflates() {
    let settings = DeflateSettings {
        threshold: 100,
        ..enabled()
    };
    let (server, peer) = deflate_pair("permessage-deflate", &settings);
    let mut encoder = Encoder::new(Some(server.split().1));
    let mut decoder = Decoder::new(1 << 20, Some(peer.split().0));
    let big = "x".repeat(5000);
    let mut out = BytesMut::new();
    encoder.encode_text(b"small", true, &mut out);
    encoder.encode_text(big.as_bytes(), true, &mut out);
    encoder.encode_text(big.as_bytes(), false, &mut out);
    encoder.encode_binary(&[0u8; 4096], true, &mut out);
    encoder.encode_binary(&[], true, &mut out);
    encoder.encode_control(OpCode::Ping, b"x", &mut out);
    let frames = server_frames(&out);
    let rsv1: Vec<bool> = frames.iter().map(|(b0, _)| b0 & 0x40 != 0).collect();
    assert_eq!(rsv1, [false, true, false, true, false, false]);
    assert!(frames[1].1.len() < 100);
    assert!(encoder.will_compress(100, true));
    assert!(!encoder.will_compress(99, true));
    assert!(!encoder.will_compress(5000, false));
    assert_eq!(
        decode_all(&mut decoder, &remask(&out)).unwrap(),
        vec![
            Message::Text("small".into()),
            Message::Text(big.clone()),
            Message::Text(big),
            Message::Binary(Bytes::from(vec![0u8; 4096])),
            Message::Binary(Bytes::new()),
            Message::Ping(Bytes::from_static(b"x")),
        ]
    );
}

#[test]
fn compressed_empty_message() {
    let (mut server, mut client) = deflate_pair("permessage-deflate", &enabled());
    let compressed = server.compress(b"");
    assert_eq!(client.decompress(&compressed, 0).unwrap(), b"");
    let compressed = server.compress(b"after");
    assert_eq!(client.decompress(&compressed, 5).unwrap(), b"after");
}

#[test]
fn stored_block_fallback_is_valid_deflate() {
    let (mut server, _) = deflate_pair("permessage-deflate", &enabled());
    let big: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 256) as u8).collect();
    for payload in [&b""[..], b"Hello", &big] {
        assert_eq!(
            server.decompress(&stored_blocks(payload), 1 << 20).unwrap(),
            payload
        );
    }
    assert_eq!(
        stored_blocks(b"Hello"),
        hex("00 05 00 fa ff 48 65 6c 6c 6f 00")
    );
    assert_eq!(stored_blocks(b""), hex("00"));
}

#[test]
fn zip_bomb_is_cut_at_the_bound() {
    let (mut client, _) = deflate_pair("permessage-deflate", &enabled());
    let bomb = client.compress(&vec![0u8; 16 << 20]);
    assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
    let max = 256 * 1024;
    let mut inflater = Inflater::new(false);
    let mut out = Vec::new();
    assert_eq!(
        inflater.decompress_into(&bomb, max, &mut out),
        Err(WsError::TooLarge)
    );
    assert!(out.capacity() <= max, "allocated {} bytes", out.capacity());

    // Exactly at the bound is fine; one byte over is not.
    let (mut client, _) = deflate_pair("permessage-deflate", &enabled());
    let exact = client.compress(&[b'a'; 1000]);
    assert_eq!(
        Inflater::new(false).decompress(&exact, 1000).unwrap().len(),
        1000
    );
    assert_eq!(
        Inflater::new(false).decompress(&exact, 999),
        Err(WsError::TooLarge)
    );

    // Through the decoder: the compressed frame is small, the message is not.
    let mut decoder = Decoder::new(max, Some(Inflater::new(false)));
    assert_eq!(
        decode_all(&mut decoder, &client_frame(0xc2, &bomb)),
        Err(WsError::TooLarge)
    );
}

#[test]
fn corrupt_deflate_data() {
    let mut decoder = Decoder::new(1024, Some(Inflater::new(false)));
    // BTYPE = 11 is reserved.
    let result = decode_all(&mut decoder, &client_frame(0xc1, &[0xff, 0xff, 0xff]));
    assert!(matches!(result, Err(WsError::Decompress(_))), "{result:?}");
    assert_eq!(result.unwrap_err().close_code(), 1007);
    // Valid DEFLATE, invalid UTF-8 inside.
    let (mut client, _) = deflate_pair("permessage-deflate", &enabled());
    let compressed = client.compress(&[0xc3, 0x28]);
    let mut decoder = Decoder::new(1024, Some(Inflater::new(false)));
    assert_eq!(
        decode_all(&mut decoder, &client_frame(0xc1, &compressed)),
        Err(WsError::InvalidUtf8)
    );
}

#[test]
fn close_codes() {
    assert_eq!(WsError::TooLarge.close_code(), 1009);
    assert_eq!(WsError::InvalidUtf8.close_code(), 1007);
    assert_eq!(WsError::Decompress("x".into()).close_code(), 1007);
    for e in [
        WsError::ReservedBits,
        WsError::UnexpectedRsv1,
        WsError::ReservedOpcode(3),
        WsError::Unmasked,
        WsError::FragmentedControl,
        WsError::ControlTooLong,
        WsError::UnexpectedContinuation,
        WsError::ExpectedContinuation,
        WsError::InvalidLength,
        WsError::InvalidClosePayload,
        WsError::InvalidCloseCode(1005),
    ] {
        assert_eq!(e.close_code(), 1002, "{e}");
    }
}

// --- robustness ------------------------------------------------------

/// Deterministic pseudo-random bytes (Knuth's MMIX LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u8
    }

    fn below(&mut self, n: usize) -> usize {
        (u32::from_be_bytes([self.next(), self.next(), self.next(), self.next()]) as usize) % n
    }
}

#[test]
fn garbage_input_never_panics() {
    let mut rng = Lcg(0x5eed);
    let mut messages = 0usize;
    let mut errors = 0usize;
    for round in 0..3000 {
        // Half pure noise, half plausible frames with random bits, so that
        // the deeper paths (reassembly, inflate, close parsing) run too.
        let mut bytes = Vec::new();
        if round % 2 == 0 {
            for _ in 0..rng.below(400) {
                bytes.push(rng.next());
            }
        } else {
            for _ in 0..rng.below(6) + 1 {
                let b0 = [
                    0x01, 0x81, 0x02, 0x82, 0x00, 0x80, 0x89, 0x88, 0xc1, 0x41, 0xc2,
                ][rng.below(11)]
                    ^ if rng.below(20) == 0 { rng.next() } else { 0 };
                let limit = if rng.below(10) == 0 { 300 } else { 20 };
                let len = rng.below(limit);
                let payload: Vec<u8> = (0..len).map(|_| rng.next()).collect();
                bytes.extend(client_frame(b0, &payload));
            }
        }
        let inflater = (round % 3 != 0).then(|| Inflater::new(round % 4 == 0));
        let mut decoder = Decoder::new(rng.below(2000), inflater);
        let mut buf = BytesMut::new();
        let mut rest = &bytes[..];
        'feed: while !rest.is_empty() {
            let n = (rng.below(64) + 1).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(_)) => messages += 1,
                    Ok(None) => break,
                    Err(_) => {
                        errors += 1;
                        break 'feed;
                    }
                }
            }
        }
    }
    // Both outcomes must actually have been exercised.
    assert!(messages > 100 && errors > 100, "{messages} {errors}");
}

#[test]
fn garbage_deflate_payloads_never_panic() {
    let mut rng = Lcg(42);
    for _ in 0..2000 {
        let len = rng.below(64);
        let payload: Vec<u8> = (0..len).map(|_| rng.next()).collect();
        let mut inflater = Inflater::new(rng.below(2) == 0);
        let max = rng.below(4096);
        let mut out = Vec::new();
        let _ = inflater.decompress_into(&payload, max, &mut out);
        assert!(out.len() <= max);
    }
}
