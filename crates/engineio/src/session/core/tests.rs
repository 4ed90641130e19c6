//! The session state machine through its transitions, races included.
//! Time is whatever instant a test passes in: nothing here sleeps.

use std::time::{Duration, Instant};

use super::*;
use crate::packet::encode_payload;

const INTERVAL: Duration = Duration::from_millis(300);
const TIMEOUT: Duration = Duration::from_millis(200);
const UPGRADE: Duration = Duration::from_millis(1000);
const PROBE: ConnId = 7;

fn limits() -> Limits {
    Limits {
        ping_interval: INTERVAL,
        ping_timeout: TIMEOUT,
        upgrade_timeout: UPGRADE,
        max_buffer_bytes: 100,
    }
}

fn polling(t0: Instant) -> SessionState {
    SessionState::new(t0, ProtocolVersion::V4, limits(), false)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn out(text: &str) -> Outgoing {
    Outgoing::new(vec![
        Packet::Message(text.into()).encode(ProtocolVersion::V4),
    ])
}

/// A payload as a v4 client would read it (v3 sessions print the same way).
fn body(frames: &[(Frame, bool)]) -> String {
    let frames: Vec<Frame> = frames.iter().map(|(f, _)| f.clone()).collect();
    encode_payload(&frames, ProtocolVersion::V4)
}

/// Every pending action, summarised for comparison.
fn actions(s: &mut SessionState) -> Vec<String> {
    std::iter::from_fn(|| s.poll_action())
        .map(|a| match a {
            Action::AnswerGet(frames) => format!("get {}", body(&frames)),
            Action::RefuseGet => "refuse get".into(),
            Action::WsWrite { conn, frames } => format!("ws{conn} {}", body(&frames)),
            Action::WsPong { conn, frame } => format!("ws{conn} pong {}", body(&[(frame, false)])),
            Action::WsOutgoing { conn, out } => {
                format!(
                    "ws{conn} out {}",
                    body(&[(out.frames.frames()[0].clone(), false)])
                )
            }
            Action::WsClose { conn } => format!("ws{conn} close"),
            Action::Attach { conn } => format!("attach ws{conn}"),
            Action::Detach => "detach".into(),
            Action::Finish => "finish".into(),
        })
        .collect()
}

fn ready(outcome: Result<GetOutcome, TransportMismatch>) -> String {
    match outcome {
        Ok(GetOutcome::Ready(frames)) => body(&frames),
        other => panic!("expected a ready GET, got {other:?}"),
    }
}

fn waits(outcome: Result<GetOutcome, TransportMismatch>) {
    assert!(
        matches!(outcome, Ok(GetOutcome::Wait)),
        "expected a waiting GET, got {outcome:?}"
    );
}

/// A polling session with a probe that has answered `2probe`.
fn probing(t0: Instant) -> SessionState {
    let mut s = polling(t0);
    assert!(s.ws_opened(t0, PROBE, true));
    s.ws_packet(t0, PROBE, Packet::Ping("probe".into()));
    assert_eq!(actions(&mut s), vec!["ws7 3probe"]);
    s
}

// ----- heartbeat -----------------------------------------------------------

#[test]
fn first_ping_is_due_one_interval_after_the_handshake() {
    let t0 = Instant::now();
    let s = polling(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL));
}

#[test]
fn an_unrequested_pong_does_nothing_at_all() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    for i in 0..100_000 {
        assert_eq!(
            s.on_packet(t0 + ms(i % 250), Packet::Pong(String::new())),
            None
        );
    }
    // No timer work: the deadline did not move, nothing to carry out.
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL));
    assert!(actions(&mut s).is_empty());
    assert!(!s.is_closing());
}

#[test]
fn a_pong_answering_the_ping_clears_the_timeout_and_schedules_the_next_ping() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_timeout(t0 + INTERVAL);
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL + TIMEOUT));
    let pong_at = t0 + INTERVAL + ms(50);
    s.on_packet(pong_at, Packet::Pong(String::new()));
    assert_eq!(s.poll_timeout(), Some(pong_at + INTERVAL));
    // A second pong for the same ping is unrequested: nothing moves.
    s.on_packet(pong_at + ms(10), Packet::Pong(String::new()));
    assert_eq!(s.poll_timeout(), Some(pong_at + INTERVAL));
    // The ping waits in the queue for the next GET.
    assert_eq!(ready(s.poll_get(pong_at)), "2");
}

#[test]
fn no_pong_closes_with_ping_timeout_at_interval_plus_timeout() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_timeout(t0 + INTERVAL);
    // A timer that fires early changes nothing.
    s.handle_timeout(t0 + INTERVAL + TIMEOUT - ms(1));
    assert!(!s.is_closing());
    s.handle_timeout(t0 + INTERVAL + TIMEOUT);
    assert_eq!(s.take_closed(), Some(CloseReason::PingTimeout));
    assert_eq!(actions(&mut s), vec!["detach", "finish"]);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn ping_timeout_while_a_get_waits_answers_it_with_close() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    s.handle_timeout(t0 + INTERVAL);
    assert_eq!(actions(&mut s), vec!["get 2"]);
    // The client polls again but never answers the ping.
    waits(s.poll_get(t0 + INTERVAL + ms(1)));
    s.handle_timeout(t0 + INTERVAL + TIMEOUT);
    assert_eq!(s.take_closed(), Some(CloseReason::PingTimeout));
    assert_eq!(actions(&mut s), vec!["detach", "get 1", "finish"]);
}

/// The race of engine.io's "closes the session upon ping timeout": a GET
/// sent `interval + timeout` after the handshake, with no pong. Whether the
/// shell's timer has fired for the ping, for the pong's deadline, late, or
/// not at all, the GET finds the session closed: the times decide.
#[test]
fn a_get_after_the_pong_deadline_finds_the_session_closed_whatever_timer_fired() {
    let t0 = Instant::now();
    let late = t0 + INTERVAL + TIMEOUT;
    let cases: [&[Instant]; 5] = [
        &[],
        &[t0 + INTERVAL],
        &[t0 + INTERVAL, late],
        &[t0 + INTERVAL + ms(150)],
        &[t0 + INTERVAL + TIMEOUT + ms(500)],
    ];
    for timers in cases {
        let mut s = polling(t0);
        for &t in timers {
            s.handle_timeout(t);
        }
        let get_at = timers.last().copied().unwrap_or(late).max(late);
        assert!(
            matches!(s.poll_get(get_at), Err(TransportMismatch)),
            "timers {timers:?}"
        );
        assert_eq!(s.take_closed(), Some(CloseReason::PingTimeout));
    }
}

/// The pong's deadline is counted from when the ping was due, not from
/// when a late timer sent it.
#[test]
fn a_late_ping_keeps_its_pong_deadline() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.handle_timeout(t0 + INTERVAL + ms(40));
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL + TIMEOUT));
    // A GET before the deadline is served: it takes the ping.
    assert_eq!(ready(s.poll_get(t0 + INTERVAL + TIMEOUT - ms(1))), "2");
}

/// A POST or a WebSocket packet that comes after a deadline is handled as
/// if the timer had fired first: the session is closed and the packet
/// (here a late pong) changes nothing.
#[test]
fn a_request_after_a_deadline_sees_the_deadline_first() {
    let t0 = Instant::now();
    let late = t0 + INTERVAL + TIMEOUT + ms(1);
    let mut s = polling(t0);
    s.handle_timeout(t0 + INTERVAL);
    assert_eq!(s.post_started(late), Err(TransportMismatch));
    assert_eq!(s.take_closed(), Some(CloseReason::PingTimeout));
}

// ----- polling -------------------------------------------------------------

#[test]
fn a_get_waits_for_data_and_takes_everything_queued() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    assert_eq!(s.push(out("a"), 0), Admit::Send);
    assert_eq!(actions(&mut s), vec!["get 4a"]);
    s.push(out("b"), 0);
    s.push(out("c"), 0);
    assert!(actions(&mut s).is_empty());
    assert_eq!(ready(s.poll_get(t0)), "4b\x1e4c");
}

#[test]
fn frames_of_a_get_that_went_away_are_kept_in_order() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    s.push(out("a"), 0);
    let Some(Action::AnswerGet(frames)) = s.poll_action() else {
        panic!("expected an answer");
    };
    s.restore(frames);
    s.push(out("b"), 0);
    assert_eq!(ready(s.poll_get(t0)), "4a\x1e4b");
}

#[test]
fn a_second_concurrent_get_is_a_transport_error() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    assert_eq!(s.poll_get(t0).unwrap_err(), TransportMismatch);
    assert_eq!(s.take_closed(), Some(CloseReason::TransportError));
    assert_eq!(actions(&mut s), vec!["detach", "get 1", "finish"]);
}

#[test]
fn a_get_whose_client_left_does_not_count_as_waiting() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    s.get_gone();
    waits(s.poll_get(t0));
    assert!(!s.is_closing());
}

/// engine.io's "poll connection closed prematurely": the waiting GET's
/// connection closed (a closed tab), so the session ends with `transport
/// error` now, not at the ping timeout, and its handler hears it.
#[test]
fn a_get_whose_connection_closed_ends_the_session_at_once() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    s.get_gone();
    s.get_abandoned(t0 + ms(10));
    assert_eq!(s.take_closed(), Some(CloseReason::TransportError));
    assert_eq!(actions(&mut s), vec!["detach", "finish"]);
    assert!(matches!(s.poll_get(t0 + ms(20)), Err(TransportMismatch)));
}

/// The answer was taken for a GET whose connection then closed: it is lost
/// with the connection, so the session ends rather than carry on with a hole.
#[test]
fn a_get_answered_then_dropped_ends_the_session() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    s.push(out("a"), 0);
    assert_eq!(actions(&mut s), vec!["get 4a"]);
    s.get_abandoned(t0);
    assert_eq!(s.take_closed(), Some(CloseReason::TransportError));
}

/// The abandoned GET's news comes after a deadline: the deadline came
/// first, and its reason stands.
#[test]
fn a_get_abandoned_after_the_pong_deadline_keeps_ping_timeout() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    s.get_abandoned(t0 + INTERVAL + TIMEOUT);
    assert_eq!(s.take_closed(), Some(CloseReason::PingTimeout));
}

/// The GET of a session that has moved to WebSocket no longer matters.
#[test]
fn a_get_abandoned_after_the_upgrade_changes_nothing() {
    let t0 = Instant::now();
    let mut s = probing(t0);
    s.ws_packet(t0, PROBE, Packet::Upgrade);
    let _ = actions(&mut s);
    s.get_abandoned(t0);
    assert_eq!(s.take_closed(), None);
    assert!(!s.is_closing());
}

#[test]
fn a_second_concurrent_post_is_a_transport_error() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.post_started(t0).unwrap();
    assert_eq!(s.post_started(t0).unwrap_err(), TransportMismatch);
    assert_eq!(s.take_closed(), Some(CloseReason::TransportError));
}

#[test]
fn posts_one_after_another_are_fine() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    for _ in 0..3 {
        s.post_started(t0).unwrap();
        assert!(s.post_finished());
    }
    assert!(!s.is_closing());
}

#[test]
fn volatile_is_dropped_without_a_waiting_get_and_the_bound_is_kept() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.push(out("v").volatile(true), 0), Admit::DropVolatile);
    waits(s.poll_get(t0));
    assert_eq!(s.push(out("v").volatile(true), 0), Admit::Send);
    assert_eq!(actions(&mut s), vec!["get 4v"]);
    // 100 bytes of bound: the second 60-byte packet does not fit.
    let big = "x".repeat(59);
    assert_eq!(s.push(out(&big), 0), Admit::Send);
    assert_eq!(s.push(out(&big), 0), Admit::Overflow);
    assert_eq!(ready(s.poll_get(t0)), format!("4{big}"));
}

// ----- close ---------------------------------------------------------------

#[test]
fn the_client_close_packet_ends_a_waiting_get_with_a_noop() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    assert_eq!(s.on_packet(t0, Packet::Close), None);
    assert_eq!(s.take_closed(), Some(CloseReason::TransportClose));
    assert_eq!(actions(&mut s), vec!["detach", "get 6", "finish"]);
    // Exactly once.
    s.close(t0, CloseReason::ForcedClose);
    assert_eq!(s.take_closed(), None);
}

/// socket.io's official "should forcefully close the session": a GET and a
/// POST of `1` sent together, the POST read first. The GET still gets the
/// noop, and only the one after it finds the session gone.
#[test]
fn the_client_close_packet_before_its_get_leaves_the_noop_for_that_get() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert!(s.post_started(t0).is_ok());
    assert_eq!(s.on_packet(t0, Packet::Close), None);
    assert!(s.post_finished());
    assert_eq!(s.take_closed(), Some(CloseReason::TransportClose));
    assert_eq!(actions(&mut s), vec!["detach"]);
    assert_eq!(ready(s.poll_get(t0 + ms(5))), "6");
    assert_eq!(actions(&mut s), vec!["finish"]);
    assert!(matches!(s.poll_get(t0 + ms(6)), Err(TransportMismatch)));
}

/// No GET comes after the client's close: the session ends when the hold
/// is over, without a word to the handler again.
#[test]
fn the_client_close_packet_with_no_get_after_it_ends_after_the_hold() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert_eq!(s.on_packet(t0, Packet::Close), None);
    assert_eq!(s.take_closed(), Some(CloseReason::TransportClose));
    assert_eq!(actions(&mut s), vec!["detach"]);
    assert_eq!(s.poll_timeout(), Some(t0 + CLIENT_CLOSE_HOLD));
    s.handle_timeout(t0 + CLIENT_CLOSE_HOLD);
    assert_eq!(actions(&mut s), vec!["finish"]);
    assert_eq!(s.take_closed(), None);
}

#[test]
fn a_server_close_while_polling_keeps_queued_data_and_close_for_the_next_get() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.push(out("last"), 0);
    s.close(t0, CloseReason::ForcedClose);
    assert_eq!(s.take_closed(), Some(CloseReason::ForcedClose));
    assert_eq!(actions(&mut s), vec!["detach"]);
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL + TIMEOUT));
    // Sending is a no-op once closing.
    s.push(out("late"), 0);
    assert_eq!(ready(s.poll_get(t0 + ms(10))), "4last\x1e1");
    assert_eq!(actions(&mut s), vec!["finish"]);
    assert_eq!(s.poll_get(t0 + ms(20)).unwrap_err(), TransportMismatch);
}

#[test]
fn a_server_close_that_nobody_collects_ends_after_the_grace_period() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    s.close(t0, CloseReason::ServerShutdown);
    actions(&mut s);
    s.handle_timeout(t0 + INTERVAL);
    assert!(actions(&mut s).is_empty());
    s.handle_timeout(t0 + INTERVAL + TIMEOUT);
    assert_eq!(actions(&mut s), vec!["finish"]);
}

#[test]
fn a_server_close_answers_a_waiting_get_at_once() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    s.close(t0, CloseReason::ForcedClose);
    assert_eq!(actions(&mut s), vec!["detach", "get 1", "finish"]);
}

// ----- upgrade -------------------------------------------------------------

#[test]
fn an_upgrade_flushes_the_queue_to_the_websocket_then_opens_the_direct_path() {
    let t0 = Instant::now();
    let mut s = probing(t0);
    // Sent while polling is paused for the upgrade.
    s.push(out("buffered"), 0);
    assert!(actions(&mut s).is_empty());
    s.ws_packet(t0, PROBE, Packet::Upgrade);
    assert_eq!(actions(&mut s), vec!["ws7 4buffered", "attach ws7"]);
    assert_eq!(s.ws_conn(), Some(PROBE));
    // From now on the layer above's frames go straight to the socket.
    s.push(out("x"), 0);
    assert_eq!(actions(&mut s), vec!["ws7 out 4x"]);
    // Packets on the new transport reach the handler.
    assert_eq!(
        s.ws_packet(t0, PROBE, Packet::Message("m".into())),
        Some(Message::Text("m".into()))
    );
}

#[test]
fn a_get_pending_when_the_probe_comes_is_ended_with_a_noop() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    waits(s.poll_get(t0));
    assert!(s.ws_opened(t0, PROBE, true));
    s.ws_packet(t0, PROBE, Packet::Ping("probe".into()));
    assert_eq!(actions(&mut s), vec!["ws7 3probe", "get 6"]);
}

#[test]
fn a_get_during_the_probe_is_held_then_answered_with_a_noop() {
    let t0 = Instant::now();
    let mut s = probing(t0);
    waits(s.poll_get(t0));
    assert_eq!(s.poll_timeout(), Some(t0 + PROBE_GET_HOLD));
    s.handle_timeout(t0 + PROBE_GET_HOLD);
    assert_eq!(actions(&mut s), vec!["get 6"]);
}

#[test]
fn a_get_racing_the_upgrade_packet_is_refused_whichever_arrives_first() {
    // The GET was read before the `5` that the client sent first.
    let t0 = Instant::now();
    let mut s = probing(t0);
    waits(s.poll_get(t0));
    s.ws_packet(t0, PROBE, Packet::Upgrade);
    assert_eq!(actions(&mut s), vec!["refuse get", "attach ws7"]);
    assert!(!s.is_closing());
    // And after the switch, a GET is refused at once; the session lives on.
    let mut s = probing(t0);
    s.ws_packet(t0, PROBE, Packet::Upgrade);
    actions(&mut s);
    assert_eq!(s.poll_get(t0).unwrap_err(), TransportMismatch);
    assert_eq!(s.post_started(t0).unwrap_err(), TransportMismatch);
    assert!(!s.is_closing());
}

/// engine.io's official "ignores HTTP requests with same sid after
/// upgrade": the client sends `2probe` and `5` on the WebSocket, then a GET;
/// the GET is read first, while the probe is open but not yet answered. It
/// is held, and the `5` refuses it.
#[test]
fn a_get_read_before_the_probe_and_upgrade_it_followed_is_refused() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert!(s.ws_opened(t0, PROBE, true));
    waits(s.poll_get(t0));
    assert_eq!(s.poll_timeout(), Some(t0 + PROBE_GET_HOLD));
    s.ws_packet(t0 + ms(1), PROBE, Packet::Ping("probe".into()));
    assert_eq!(actions(&mut s), vec!["ws7 3probe"]);
    s.ws_packet(t0 + ms(2), PROBE, Packet::Upgrade);
    assert_eq!(actions(&mut s), vec!["refuse get", "attach ws7"]);
    assert!(!s.is_closing());
}

/// The same GET, when no upgrade follows within the hold, ends with a noop
/// (the client pauses polling for its upgrade), or with the data that came
/// meanwhile, at the hold's end: not before, as the `5` may still come.
#[test]
fn a_get_held_for_an_unanswered_probe_ends_with_a_noop_or_with_data() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert!(s.ws_opened(t0, PROBE, true));
    waits(s.poll_get(t0));
    s.handle_timeout(t0 + PROBE_GET_HOLD);
    assert_eq!(actions(&mut s), vec!["get 6"]);
    let t1 = t0 + PROBE_GET_HOLD;
    waits(s.poll_get(t1));
    s.push(out("data"), 0);
    assert!(actions(&mut s).is_empty());
    s.handle_timeout(t1 + PROBE_GET_HOLD);
    assert_eq!(actions(&mut s), vec!["get 4data"]);
}

/// The official "ignores HTTP requests with same sid after upgrade" with a
/// packet queued (a ping fell due) when the GET is read: the GET is still
/// held, the `5` refuses it, and the packet goes out on the WebSocket.
#[test]
fn a_get_read_during_a_probe_with_packets_queued_is_held_and_refused_by_the_upgrade() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert!(s.ws_opened(t0, PROBE, true));
    s.push(out("queued"), 0);
    waits(s.poll_get(t0));
    s.ws_packet(t0 + ms(1), PROBE, Packet::Ping("probe".into()));
    assert_eq!(actions(&mut s), vec!["ws7 3probe"]);
    s.ws_packet(t0 + ms(2), PROBE, Packet::Upgrade);
    assert_eq!(
        actions(&mut s),
        vec!["refuse get", "ws7 4queued", "attach ws7"]
    );
}

/// A probe that goes away hands what was queued during the hold to the GET
/// it held.
#[test]
fn a_get_held_for_a_probe_that_closes_takes_what_was_queued() {
    let t0 = Instant::now();
    let mut s = polling(t0);
    assert!(s.ws_opened(t0, PROBE, true));
    waits(s.poll_get(t0));
    s.push(out("data"), 0);
    assert!(actions(&mut s).is_empty());
    s.ws_closed(t0 + ms(1), PROBE, CloseReason::TransportClose);
    assert_eq!(actions(&mut s), vec!["get 4data"]);
}

#[test]
fn a_probe_that_never_upgrades_times_out_and_polling_goes_on() {
    let t0 = Instant::now();
    // No ping falls due before the probe's timeout: this is about the probe.
    let quiet = Limits {
        ping_interval: UPGRADE * 10,
        ..limits()
    };
    let mut s = SessionState::new(t0, ProtocolVersion::V4, quiet, false);
    assert!(s.ws_opened(t0, PROBE, true));
    s.ws_packet(t0, PROBE, Packet::Ping("probe".into()));
    assert_eq!(actions(&mut s), vec!["ws7 3probe"]);
    waits(s.poll_get(t0));
    // The held GET ends; a new one waits during the probe too.
    s.handle_timeout(t0 + PROBE_GET_HOLD);
    actions(&mut s);
    waits(s.poll_get(t0 + PROBE_GET_HOLD));
    s.handle_timeout(t0 + UPGRADE);
    // The probe is closed; the GET held for it is an ordinary waiting GET
    // again, so what is sent next goes to it.
    assert_eq!(actions(&mut s), vec!["ws7 close"]);
    assert_eq!(s.ws_conn(), None);
    s.push(out("after"), 0);
    assert_eq!(actions(&mut s), vec!["get 4after"]);
}

#[test]
fn a_second_probe_and_a_websocket_after_the_upgrade_are_turned_away() {
    let t0 = Instant::now();
    let mut s = probing(t0);
    assert!(!s.ws_opened(t0, 8, true));
    s.ws_packet(t0, PROBE, Packet::Upgrade);
    assert!(!s.ws_opened(t0, 9, true));
    // Packets from a stranger connection are ignored.
    assert_eq!(s.ws_packet(t0, 9, Packet::Message("x".into())), None);
}

#[test]
fn closing_during_the_probe_closes_the_probe_too() {
    let t0 = Instant::now();
    let mut s = probing(t0);
    s.close(t0, CloseReason::TransportError);
    let got = actions(&mut s);
    assert_eq!(got[..2], ["detach".to_string(), "ws7 close".to_string()]);
}

#[test]
fn the_probe_closing_leaves_the_session_polling() {
    let t0 = Instant::now();
    let mut s = probing(t0);
    s.ws_closed(t0, PROBE, CloseReason::TransportClose);
    assert!(!s.is_closing());
    waits(s.poll_get(t0));
}

// ----- WebSocket sessions ---------------------------------------------------

#[test]
fn a_websocket_session_sends_its_open_packet_once_the_transport_registers() {
    let t0 = Instant::now();
    let mut s = SessionState::new(t0, ProtocolVersion::V4, limits(), true);
    s.enqueue_first(Packet::Open("{}".into()).encode(ProtocolVersion::V4));
    assert_eq!(s.poll_get(t0).unwrap_err(), TransportMismatch);
    assert!(s.ws_opened(t0, 1, false));
    assert_eq!(actions(&mut s), vec!["ws1 0{}", "attach ws1"]);
    // The heartbeat runs over it.
    s.handle_timeout(t0 + INTERVAL);
    assert_eq!(actions(&mut s), vec!["ws1 2"]);
    // The sink's bytes count against the bound.
    assert_eq!(s.push(out("x"), 99), Admit::Overflow);
    assert_eq!(
        s.push(out("x").volatile(true), 64 * 1024),
        Admit::DropVolatile
    );
    // A client-side end closes the session.
    s.ws_closed(t0, 1, CloseReason::TransportClose);
    assert_eq!(s.take_closed(), Some(CloseReason::TransportClose));
    assert_eq!(actions(&mut s), vec!["detach", "ws1 close", "finish"]);
}

// ----- Engine.IO v3: the client pings -----------------------------------

fn v3(t0: Instant, websocket: bool) -> SessionState {
    SessionState::new(t0, ProtocolVersion::V3, limits(), websocket)
}

fn ping() -> Packet {
    Packet::Ping(String::new())
}

#[test]
fn a_v3_session_never_pings_and_answers_the_client_s_ping() {
    let t0 = Instant::now();
    let mut s = v3(t0, false);
    // The first deadline is the client's: interval + timeout after the handshake.
    assert_eq!(s.poll_timeout(), Some(t0 + INTERVAL + TIMEOUT));
    s.handle_timeout(t0 + INTERVAL);
    assert!(actions(&mut s).is_empty());
    assert!(s.on_packet(t0 + ms(100), ping()).is_none());
    assert_eq!(ready(s.poll_get(t0 + ms(100))), "3");
    // Each ping moves the deadline, and so does any other packet.
    assert_eq!(s.poll_timeout(), Some(t0 + ms(100) + INTERVAL + TIMEOUT));
    s.on_packet(t0 + ms(200), Packet::Message("x".into()));
    assert_eq!(s.poll_timeout(), Some(t0 + ms(200) + INTERVAL + TIMEOUT));
}

#[test]
fn a_v3_session_without_pings_times_out() {
    let t0 = Instant::now();
    let mut s = v3(t0, false);
    waits(s.poll_get(t0));
    s.handle_timeout(t0 + INTERVAL + TIMEOUT - ms(1));
    assert!(!s.is_closing());
    s.handle_timeout(t0 + INTERVAL + TIMEOUT);
    assert_eq!(s.take_closed(), Some(CloseReason::PingTimeout));
    assert_eq!(actions(&mut s), vec!["detach", "get 1", "finish"]);
}

#[test]
fn a_ping_storm_leaves_one_pong() {
    let t0 = Instant::now();
    let mut s = v3(t0, false);
    for _ in 0..100_000 {
        s.on_packet(t0, ping());
    }
    assert_eq!(ready(s.poll_get(t0)), "3");
    // Over a WebSocket the sink keeps the one pong: the core asks each time.
    let mut s = v3(t0, true);
    assert!(s.ws_opened(t0, 1, false));
    actions(&mut s);
    s.ws_packet(t0, 1, ping());
    assert_eq!(actions(&mut s), vec!["ws1 pong 3"]);
}

#[test]
fn a_v3_pong_is_ignored_and_a_v4_ping_too() {
    let t0 = Instant::now();
    let mut s = v3(t0, false);
    s.on_packet(t0 + ms(100), Packet::Pong(String::new()));
    waits(s.poll_get(t0 + ms(100)));
    assert!(actions(&mut s).is_empty());
    let mut s = polling(t0);
    s.on_packet(t0, ping());
    waits(s.poll_get(t0));
    assert!(actions(&mut s).is_empty());
}
