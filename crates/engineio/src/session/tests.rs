//! The actor shell with a real (single-threaded) actix system: the bounded
//! mailbox, the slow-consumer policy for upcalls and the close request that
//! must get through a full mailbox.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::*;
use crate::SessionHandle;
use crate::handler::SendError;
use crate::packet::encode_payload;

#[derive(Default)]
struct Seen {
    handle: Option<SessionHandle<Recorder>>,
    messages: Vec<String>,
    upcalls: usize,
    closed: Vec<CloseReason>,
}

/// Records what the session tells its handler.
struct Recorder(Arc<Mutex<Seen>>);

impl EngineHandler for Recorder {
    type Upcall = ();
    fn on_open(&mut self, s: &mut SessionCtx<'_, Self>) {
        self.0.lock().unwrap().handle = Some(s.handle());
    }
    fn on_message(&mut self, message: Msg, s: &mut SessionCtx<'_, Self>) {
        let Msg::Text(text) = message else { return };
        // As the Socket.IO layer does when its socket's mailbox is full.
        if text == "close-me" {
            s.close(CloseReason::TransportError);
        }
        self.0.lock().unwrap().messages.push(text);
    }
    fn on_upcall(&mut self, _: (), _: &mut SessionCtx<'_, Self>) {
        self.0.lock().unwrap().upcalls += 1;
    }
    fn on_close(&mut self, reason: CloseReason, _: &mut SessionCtx<'_, Self>) {
        self.0.lock().unwrap().closed.push(reason);
    }
}

struct Started {
    addr: Addr<EngineSession<Recorder>>,
    seen: Arc<Mutex<Seen>>,
    stats: Arc<EngineStats>,
    unregistered: Arc<AtomicBool>,
    handle: SessionHandle<Recorder>,
}

async fn start() -> Started {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stats = Arc::new(EngineStats::default());
    let unregistered = Arc::new(AtomicBool::new(false));
    let flag = unregistered.clone();
    let session = EngineSession::new(SessionInit {
        sid: "sid".into(),
        version: ProtocolVersion::V4,
        request: Arc::new(RequestInfo {
            method: "GET".into(),
            headers: vec![],
            query: vec![],
            remote_addr: None,
            url: "/".into(),
            secure: false,
            issued: SystemTime::now(),
        }),
        config: Arc::new(EngineConfig::default()),
        stats: stats.clone(),
        unregister: Box::new(move || flag.store(true, SeqCst)),
        handler: Recorder(seen.clone()),
        websocket: false,
    });
    let addr = session.start();
    let handle = wait_for(&seen, |s| s.handle.clone()).await;
    Started {
        addr,
        seen,
        stats,
        unregistered,
        handle,
    }
}

/// Lets the session run until `f` finds what it waits for (bounded).
async fn wait_for<T>(seen: &Mutex<Seen>, f: impl Fn(&Seen) -> Option<T>) -> T {
    for _ in 0..2000 {
        if let Some(t) = f(&seen.lock().unwrap()) {
            return t;
        }
        actix::clock::sleep(Duration::from_millis(1)).await;
    }
    panic!("the session never got there");
}

#[test]
fn upcalls_past_a_full_mailbox_close_the_session_as_a_slow_consumer() {
    actix::System::new().block_on(async {
        let s = start().await;
        // Without yielding: the session cannot drain its mailbox meanwhile.
        for _ in 0..MAILBOX_CAPACITY + 100 {
            s.handle.upcall(());
        }
        let closed = wait_for(&s.seen, |seen| {
            (!seen.closed.is_empty()).then(|| seen.closed.clone())
        })
        .await;
        assert_eq!(closed, vec![CloseReason::TransportError]);
        let upcalls = s.seen.lock().unwrap().upcalls;
        assert!(
            upcalls < MAILBOX_CAPACITY + 100,
            "{upcalls} upcalls: the mailbox grew"
        );
        // Counted (and logged) once, however many upcalls found it full.
        assert_eq!(s.stats.snapshot().upcall_overflow_closed, 1);
        assert!(s.unregistered.load(SeqCst));
    });
}

#[test]
fn a_close_gets_through_a_full_mailbox_exactly_once() {
    actix::System::new().block_on(async {
        let s = start().await;
        let mut sent = 0;
        while s.handle.try_upcall(()) != Err(SendError::Full) {
            sent += 1;
            assert!(sent <= 2 * MAILBOX_CAPACITY, "the mailbox is not bounded");
        }
        for _ in 0..1000 {
            s.handle.close(CloseReason::ForcedClose);
        }
        let closed = wait_for(&s.seen, |seen| {
            (!seen.closed.is_empty()).then(|| seen.closed.clone())
        })
        .await;
        assert_eq!(closed, vec![CloseReason::ForcedClose]);
        assert_eq!(s.stats.snapshot().upcall_overflow_closed, 0);
        // A polling session closed server-side keeps its close packet for a
        // GET; the session is closing, its handler heard it once.
        actix::clock::sleep(Duration::from_millis(20)).await;
        assert_eq!(s.seen.lock().unwrap().closed.len(), 1);
    });
}

#[test]
fn a_close_from_a_handle_comes_after_what_it_sent_before() {
    actix::System::new().block_on(async {
        let s = start().await;
        let frame = Packet::Message("last".into()).encode(ProtocolVersion::V4);
        s.handle.try_send(Outgoing::new(vec![frame])).unwrap();
        s.handle.close(CloseReason::ForcedClose);
        // No GET waits: the message and the close packet wait for the next one.
        let _ = wait_for(&s.seen, |seen| (!seen.closed.is_empty()).then_some(())).await;
        let (reply, answer) = tokio::sync::oneshot::channel();
        s.addr.send(PollGet { reply }).await.unwrap();
        match answer.await {
            Ok(Ok(body)) => assert_eq!(
                encode_payload(&body.frames, ProtocolVersion::V4),
                "4last\x1e1"
            ),
            _ => panic!("expected the queued message and the close packet"),
        }
        // Collected: the session is gone.
        actix::clock::sleep(Duration::from_millis(20)).await;
        assert!(s.unregistered.load(SeqCst));
    });
}

#[test]
fn a_handle_tells_the_transport_and_the_ready_state() {
    actix::System::new().block_on(async {
        let s = start().await;
        assert_eq!(s.handle.transport(), "polling");
        assert_eq!(s.handle.ready_state(), "open");
        s.handle.close(CloseReason::ForcedClose);
        wait_for(&s.seen, |seen| (!seen.closed.is_empty()).then_some(())).await;
        assert_eq!(s.handle.ready_state(), "closed");
        assert_eq!(s.handle.request().method, "GET");
    });
}

/// A handler that closes the session on a message hears nothing more of
/// the same POST (a flood past its bound is refused once, not per packet).
#[test]
fn after_the_handler_closes_the_rest_of_a_payload_is_not_handed_over() {
    actix::System::new().block_on(async {
        let s = start().await;
        s.addr.send(PostStart).await.unwrap();
        let packets = ["a", "close-me", "b", "c"].map(|t| Packet::Message(t.into()));
        s.addr
            .send(PostDone(Ok(packets.to_vec())))
            .await
            .unwrap()
            .unwrap();
        wait_for(&s.seen, |seen| (!seen.closed.is_empty()).then_some(())).await;
        let seen = s.seen.lock().unwrap();
        assert_eq!(seen.messages, ["a", "close-me"]);
        assert_eq!(seen.closed, [CloseReason::TransportError]);
    });
}
