use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn limits(sessions: usize, rate: u32, burst: u32) -> Admission {
    Admission::new(AdmissionConfig {
        max_sessions_per_ip: sessions,
        handshakes_per_second: rate,
        handshake_burst: burst,
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
    })
}

#[test]
fn forwarded_headers_count_only_from_trusted_proxies() {
    let a = limits(0, 0, 0);
    let headers = |xff: &'static str| move |name: &str| (name == "x-forwarded-for").then_some(xff);
    // A client cannot pick its address.
    assert_eq!(
        a.client_ip(ip("203.0.113.9"), headers("1.2.3.4")),
        ip("203.0.113.9")
    );
    // Behind our proxy: the nearest hop that is not ours.
    let via = headers("6.6.6.6, 1.2.3.4, 10.1.1.1");
    assert_eq!(a.client_ip(ip("10.0.0.1"), via), ip("1.2.3.4"));
    // Garbage and an all-trusted chain leave the peer.
    assert_eq!(
        a.client_ip(ip("10.0.0.1"), headers("nonsense")),
        ip("10.0.0.1")
    );
    assert_eq!(
        a.client_ip(ip("10.0.0.1"), headers("10.2.2.2")),
        ip("10.0.0.1")
    );
    // IPv4-mapped peers match IPv4 networks.
    assert_eq!(
        a.client_ip(ip("::ffff:10.0.0.1"), headers("1.2.3.4")),
        ip("1.2.3.4")
    );
    // RFC 7239, ports and brackets.
    let fwd = |name: &str| {
        (name == "forwarded").then_some(r#"for=192.0.2.60;proto=http, for="[2001:db8::1]:4711""#)
    };
    assert_eq!(a.client_ip(ip("::1"), fwd), ip("2001:db8::1"));
    let port = headers("198.51.100.7:5555");
    assert_eq!(a.client_ip(ip("10.0.0.1"), port), ip("198.51.100.7"));
}

#[test]
fn live_sessions_per_address_are_capped_and_released() {
    let mut a = limits(2, 0, 0);
    let now = Instant::now();
    let (x, y) = (ip("1.1.1.1"), ip("2.2.2.2"));
    assert_eq!(a.admit(x, now), Ok(()));
    assert_eq!(a.admit(x, now), Ok(()));
    assert_eq!(a.admit(x, now), Err(Refusal::TooManySessions));
    assert_eq!(a.admit(y, now), Ok(()), "another address is not affected");
    a.release(x);
    assert_eq!(a.admit(x, now), Ok(()));
    assert_eq!(a.live(x), 2);
    // A release of an unknown address, or one too many, does no harm.
    a.release(ip("9.9.9.9"));
    a.release(y);
    a.release(y);
    assert_eq!(a.live(y), 0);
}

#[test]
fn handshakes_are_rate_limited_with_a_burst() {
    let mut a = limits(0, 2, 3);
    let start = Instant::now();
    let x = ip("1.1.1.1");
    for _ in 0..3 {
        assert_eq!(a.admit(x, start), Ok(()));
    }
    assert_eq!(a.admit(x, start), Err(Refusal::TooManyHandshakes));
    // Half a second later, one token at 2 per second.
    let later = start + Duration::from_millis(500);
    assert_eq!(a.admit(x, later), Ok(()));
    assert_eq!(a.admit(x, later), Err(Refusal::TooManyHandshakes));
    // Refused handshakes do not count as live sessions.
    assert_eq!(a.live(x), 4);
}

#[test]
fn the_table_forgets_idle_addresses() {
    let mut a = limits(0, 1000, 1);
    let start = Instant::now();
    for n in 0..5000u32 {
        let addr = IpAddr::from(n.to_be_bytes());
        a.admit(addr, start).unwrap();
        a.release(addr);
    }
    // Long after, those are prunable: 5,000 more addresses replace them
    // rather than add to them.
    let later = start + Duration::from_secs(5);
    for n in 5000..10_000u32 {
        a.admit(IpAddr::from(n.to_be_bytes()), later).unwrap();
    }
    assert!(a.slots.len() <= 6000, "{} slots", a.slots.len());
}

#[test]
fn no_limits_no_table() {
    let mut a = Admission::new(AdmissionConfig::unlimited());
    for _ in 0..10 {
        a.admit(ip("1.1.1.1"), Instant::now()).unwrap();
    }
    assert!(a.slots.is_empty());
}
