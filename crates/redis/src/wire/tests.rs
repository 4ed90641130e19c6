//! The shared encodings: msgpack and JSON, payloads with binary, socket
//! details, Node's dates.

use super::*;
use serde_json::json;

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn messages_decode_from_json_or_msgpack_and_nothing_else() {
    let json = br#"{"uid":"KTtYMg","type":5,"opts":{"rooms":["room1"],"except":[]}}"#;
    let value = decode(json).unwrap();
    assert_eq!(get_str(&value, "uid"), Some("KTtYMg"));
    assert_eq!(parse_opts(get(&value, "opts")).rooms, ["room1"]);
    assert_eq!(decode(&encode(&value)), Some(value));
    assert_eq!(decode(b"{not json"), None);
    assert_eq!(decode(&[0xc0, 0xc0]), None, "trailing bytes");
    assert_eq!(decode(&hex("93a1")), None, "truncated");
    // Nesting deeper than the bound.
    let mut deep = vec![0x91; 10_000];
    deep.push(0xc0);
    assert_eq!(decode(&deep), None);
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
    assert_eq!(flags(&opts, None), Mp::Map(Vec::new()));
}

#[test]
fn numeric_rooms_match_as_text() {
    let wire = Mp::Map(vec![(
        Mp::from("rooms"),
        Mp::Array(vec![Mp::from(42), Mp::from("a")]),
    )]);
    assert_eq!(parse_opts(Some(&wire)).rooms, ["42", "a"]);
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
    let back = answer_payload(Some(first.clone()));
    assert_eq!(back.binary(0).unwrap().as_ref(), &[9]);
    assert_eq!(first_arg(&Payload::default()), None);
    assert!(answer_payload(None).args.is_empty());
}
