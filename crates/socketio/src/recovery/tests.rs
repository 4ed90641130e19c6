use super::*;

fn config() -> RecoveryConfig {
    RecoveryConfig {
        max_disconnection_duration: Duration::from_secs(120),
        max_packets: 5,
        max_bytes: 1000,
        max_sessions: 3,
        max_replay_bytes: 100,
        ..RecoveryConfig::default()
    }
}

fn log() -> RecoveryLog<&'static str> {
    RecoveryLog::new(config(), "t".into(), Arc::default())
}

fn to(rooms: &[&str]) -> BroadcastOptions {
    BroadcastOptions {
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        ..BroadcastOptions::default()
    }
}

fn session(pid: &str, rooms: &[&str]) -> Session {
    Session {
        sid: format!("sid-{pid}"),
        pid: pid.into(),
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        data: serde_json::json!({"n": 1}),
    }
}

/// Pushes `item` to `rooms` and returns its offset.
fn push(
    log: &mut RecoveryLog<&'static str>,
    item: &'static str,
    rooms: &[&str],
    now: Instant,
) -> String {
    let offset = log.next_offset();
    log.push(&to(rooms), None, item, 10, now);
    offset
}

fn missed(log: &RecoveryLog<&'static str>, claimed: &Claimed) -> Vec<&'static str> {
    let rooms = &claimed.session.rooms;
    log.missed(claimed.after, rooms)
        .unwrap()
        .map(|(i, _)| *i)
        .collect()
}

#[test]
fn a_session_recovers_once_with_what_its_rooms_missed_in_order() {
    let t0 = Instant::now();
    let mut log = log();
    let seen = push(&mut log, "a", &[], t0);
    log.persist(session("p", &["sid-p", "blue"]), t0);
    push(&mut log, "b", &["blue"], t0);
    push(&mut log, "c", &["red"], t0);
    push(&mut log, "d", &[], t0);
    let claimed = log.claim("p", &seen, t0).unwrap();
    assert_eq!(claimed.session, session("p", &["sid-p", "blue"]));
    assert_eq!(missed(&log, &claimed), ["b", "d"]);
    // Once: the session is gone now.
    assert_eq!(log.claim("p", &seen, t0), Err(NotRecovered::UnknownSession));
    let counters = log.stats.snapshot();
    assert_eq!((counters.recovered, counters.unknown_session), (1, 1));
}

#[test]
fn an_excluded_room_or_the_sender_s_own_id_is_not_replayed() {
    let t0 = Instant::now();
    let mut log = log();
    let seen = push(&mut log, "a", &[], t0);
    log.persist(session("p", &["sid-p", "blue"]), t0);
    let except_blue = BroadcastOptions {
        except: vec!["blue".into()],
        ..BroadcastOptions::default()
    };
    log.push(&except_blue, None, "not for blue", 10, t0);
    let from_p = BroadcastOptions {
        except_id: Some("sid-p".into()),
        ..BroadcastOptions::default()
    };
    log.push(&from_p, None, "p's own broadcast", 10, t0);
    push(&mut log, "for all", &[], t0);
    let claimed = log.claim("p", &seen, t0).unwrap();
    assert_eq!(missed(&log, &claimed), ["for all"]);
}

#[test]
fn the_window_expires_sessions_and_packets() {
    let t0 = Instant::now();
    let window = config().max_disconnection_duration;
    let mut log = log();
    let seen = push(&mut log, "a", &[], t0);
    log.persist(session("p", &[]), t0);
    let late = t0 + window + Duration::from_millis(1);
    assert_eq!(log.claim("p", &seen, late), Err(NotRecovered::Expired));
    // Expired by the clock alone, without a claim: counted too.
    log.persist(session("q", &[]), late);
    log.expire(late + window + Duration::from_millis(1));
    assert_eq!(
        log.claim("q", &seen, late),
        Err(NotRecovered::UnknownSession)
    );
    assert_eq!(log.stats.snapshot().expired, 2);
}

#[test]
fn at_the_edge_of_the_window_the_session_still_recovers() {
    let t0 = Instant::now();
    let mut log = log();
    let seen = push(&mut log, "a", &[], t0);
    log.persist(session("p", &[]), t0);
    let edge = t0 + config().max_disconnection_duration;
    assert!(log.claim("p", &seen, edge).is_ok());
}

#[test]
fn an_offset_whose_successors_were_dropped_starts_afresh_never_with_a_hole() {
    let t0 = Instant::now();
    let mut log = log();
    let seen = push(&mut log, "a", &[], t0);
    log.persist(session("p", &[]), t0);
    // Six more push "a" and then "b" out of the log (at most 5 kept).
    for item in ["b", "c", "d", "e", "f", "g"] {
        push(&mut log, item, &[], t0);
    }
    assert_eq!(log.claim("p", &seen, t0), Err(NotRecovered::OffsetNotKept));
}

#[test]
fn the_last_offset_seen_recovers_even_when_its_own_packet_has_aged_out() {
    let t0 = Instant::now();
    let window = config().max_disconnection_duration;
    let mut log = log();
    let seen = push(&mut log, "a", &[], t0);
    // Much later: "a" aged out, but nothing after it was lost.
    let later = t0 + window + Duration::from_secs(1);
    log.persist(session("p", &[]), later);
    log.expire(later);
    let claimed = log.claim("p", &seen, later).unwrap();
    assert!(missed(&log, &claimed).is_empty());
}

#[test]
fn offsets_not_given_out_by_this_log_are_unknown() {
    let t0 = Instant::now();
    let mut log = log();
    push(&mut log, "a", &[], t0);
    for offset in ["t-1", "x-0", "t-", "t0", "", "t--1"] {
        log.persist(session("p", &[]), t0);
        assert_eq!(
            log.claim("p", offset, t0),
            Err(NotRecovered::UnknownOffset),
            "{offset}"
        );
    }
}

#[test]
fn bytes_bound_the_log_and_the_replay() {
    let t0 = Instant::now();
    let mut log = RecoveryLog::new(config(), "t".into(), Arc::default());
    let seen = log.next_offset();
    log.push(&to(&[]), None, "a", 10, t0);
    log.push(&to(&[]), None, "big", 600, t0);
    log.push(&to(&[]), None, "bigger", 600, t0);
    // 1210 > 1000 bytes: "a" and "big" went.
    assert!(log.missed(0, &[]).is_err());
    assert_eq!(log.missed(1, &[]).unwrap().count(), 1);
    // A replay past 100 bytes is refused.
    let mut log = RecoveryLog::new(config(), "t".into(), Arc::default());
    log.push(&to(&[]), None, "a", 10, t0);
    log.persist(session("p", &[]), t0);
    log.push(&to(&[]), None, "b", 60, t0);
    log.push(&to(&[]), None, "c", 60, t0);
    assert_eq!(log.claim("p", &seen, t0), Err(NotRecovered::TooMuchMissed));
}

#[test]
fn sessions_are_bounded_oldest_first() {
    let t0 = Instant::now();
    let mut log = log();
    let seen = push(&mut log, "a", &[], t0);
    for (i, pid) in ["p1", "p2", "p3", "p4"].into_iter().enumerate() {
        log.persist(session(pid, &[]), t0 + Duration::from_millis(i as u64));
    }
    let now = t0 + Duration::from_secs(1);
    assert_eq!(
        log.claim("p1", &seen, now),
        Err(NotRecovered::UnknownSession)
    );
    for pid in ["p2", "p3", "p4"] {
        assert!(log.claim(pid, &seen, now).is_ok(), "{pid}");
    }
}

#[test]
fn a_session_persisted_again_keeps_its_new_age() {
    let t0 = Instant::now();
    let window = config().max_disconnection_duration;
    let mut log = log();
    let seen = push(&mut log, "a", &[], t0);
    log.persist(session("p", &[]), t0);
    let claimed = log.claim("p", &seen, t0).unwrap();
    // Recovered, then cut again a minute later.
    let t1 = t0 + Duration::from_secs(60);
    log.persist(claimed.session, t1);
    // Past the first window, inside the second: still there.
    let t2 = t0 + window + Duration::from_secs(1);
    log.expire(t2);
    assert!(log.claim("p", &seen, t2).is_ok());
}

#[test]
fn a_replay_checked_after_the_claim_reports_a_hole_if_packets_went_meanwhile() {
    let t0 = Instant::now();
    let mut log = log();
    let seen = push(&mut log, "a", &[], t0);
    log.persist(session("p", &[]), t0);
    let claimed = log.claim("p", &seen, t0).unwrap();
    for item in ["b", "c", "d", "e", "f", "g"] {
        push(&mut log, item, &[], t0);
    }
    assert!(log.missed(claimed.after, &claimed.session.rooms).is_err());
}

#[test]
fn offsets_the_cluster_gave_are_found_while_kept() {
    let t0 = Instant::now();
    let mut log = log();
    log.push(&to(&[]), Some("1700000000000-0"), "a", 10, t0);
    log.push(&to(&[]), Some("1700000000000-1"), "b", 10, t0);
    log.push(&to(&[]), Some("1700000000001-0"), "c", 10, t0);
    let claimed = log
        .claim_kept(session("p", &[]), "1700000000000-1")
        .unwrap();
    assert_eq!(missed(&log, &claimed), ["c"]);
    // Dropped: unknown from then on.
    for item in ["d", "e", "f", "g", "h"] {
        log.push(&to(&[]), Some(item), item, 10, t0);
    }
    assert_eq!(
        log.claim_kept(session("p", &[]), "1700000000000-1"),
        Err(NotRecovered::UnknownOffset)
    );
    assert_eq!(log.stats.snapshot().recovered, 1);
}

#[test]
fn after_a_loss_nothing_kept_before_it_is_offered() {
    let t0 = Instant::now();
    let mut log = log();
    let seen = push(&mut log, "a", &[], t0);
    log.persist(session("p", &[]), t0);
    push(&mut log, "b", &[], t0);
    log.forget_kept();
    push(&mut log, "c", &[], t0);
    assert_eq!(log.claim("p", &seen, t0), Err(NotRecovered::OffsetNotKept));
    let counters = log.stats.snapshot();
    assert_eq!((counters.losses, counters.offset_not_kept), (1, 1));
}
