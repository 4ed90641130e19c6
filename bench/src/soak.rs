//! `loadgen soak`: churn and soak against one server that answers `GET /stats` (Switchyard's
//! `examples/bench_server.rs`).
//!
//! N client slots, for a duration, each one session after another: connect (WebSocket, polling,
//! or polling upgraded to WebSocket), a few actions with think times between them (`echo` with
//! and without ack, `join`, `leave`, `fanout` to one of its small rooms), then an ending: a
//! goodbye (`41` then the transport's close, or the transport's close alone) or, for some, none
//! at all (WebSocket: TCP FIN, TCP RST, or silence with the TCP connection kept open until the
//! server's heartbeat closes it; polling: the polls simply stop). A session that drops first sends
//! one request whose answer it never reads.
//!
//! Before the load, a warm-up round (every slot connects, joins a room, echoes, then all say
//! goodbye) gives the idle baseline of the server's resident memory. After the load, once every
//! client is gone, it waits (bounded) for the server to be idle and checks the end conditions:
//! zero Engine.IO sessions, zero sockets, zero room entries, VmRSS within the tolerance of the
//! warm-up baseline. The exit status says whether they held.
//!
//! Every loop is bounded in count and in time; all traffic stays on loopback.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::Method;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message;

use crate::polling::{self, Conn};
use crate::procfs::CpuMark;
use crate::proto::{ack_id, echo_frame, fanout_frame, first_numbers, join_frame, leave_frame};
use crate::proto::{now_ns, pad, sid};
use crate::util::{Target, Ws, round1};

pub struct SoakOpts {
    pub clients: usize,
    pub duration: Duration,
    /// Percent of sessions on long-polling only, and upgraded from polling to WebSocket; the
    /// rest open a WebSocket directly.
    pub polling_pct: u32,
    pub upgrade_pct: u32,
    /// Percent of sessions that end without a goodbye.
    pub drop_pct: u32,
    /// Mean think time between two actions (uniform in 0..2×).
    pub think: Duration,
    /// Actions per session: uniform in 1..=max_actions.
    pub max_actions: u32,
    /// Rooms `soak-r0`.. the clients join (each session joins at most 3).
    pub rooms: usize,
    /// Handshakes in flight at once.
    pub connect_concurrency: usize,
    /// Longest wait for one answer (connect, ack, echo, HTTP request).
    pub timeout: Duration,
    /// Longest wait for the server to become idle after the clients are gone; by default its
    /// ping interval + ping timeout (from `/stats`) + 30 s.
    pub drain: Option<Duration>,
    /// Idle time before the server's memory is read (warm-up and end).
    pub settle: Duration,
    pub rss_tolerance_pct: f64,
    /// Compare VmRSS as it is, not after the server's `malloc_trim`.
    pub raw_rss: bool,
    /// Fail the run when more errors than this were counted (by default errors are reported
    /// but do not fail it).
    pub max_errors: Option<u64>,
    pub progress: Duration,
    pub pad: usize,
    /// Warm-up rounds before the load (0: none; the memory baseline is then the server's
    /// before the load).
    pub warmup_rounds: u32,
    /// Before the warm-up rounds: this long of the soak's own churn (zero: none).
    pub warmup_churn: Duration,
    pub json_out: Option<std::path::PathBuf>,
}

/// The spare file descriptors left for everything but the clients' connections.
const FD_SPARE: u64 = 512;
/// A POST connection idle this long is replaced before use (the server closes at 5 s).
const POST_IDLE: Duration = Duration::from_secs(4);
/// hyper's error for a request the server closed the connection under before answering.
const UNSENT: &str = "connection closed before message completed";
/// Upper bound on sessions one client slot opens (the run's end comes much earlier).
const MAX_SESSIONS_PER_CLIENT: usize = 1_000_000;
/// Upper bound on packets read in one wait (pings, deliveries, the awaited answer).
const MAX_PACKETS_PER_WAIT: usize = 100_000;

/// xorshift64*: cheap, deterministic per client slot.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn pct(&mut self) -> u32 {
        self.below(100) as u32
    }
    /// Uniform in 0..2×mean.
    fn around(&mut self, mean: Duration) -> Duration {
        let ms = mean.as_millis() as u64;
        Duration::from_millis(self.below(2 * ms + 1))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    WebSocket,
    Polling,
    Upgrade,
}

impl Transport {
    const ALL: [Transport; 3] = [Transport::WebSocket, Transport::Polling, Transport::Upgrade];
    fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::Polling => "polling",
            Transport::Upgrade => "upgrade",
        }
    }
    /// File descriptors a session holds at most (an upgrade: the polling one and the WebSocket).
    fn fds(self) -> u32 {
        match self {
            Transport::WebSocket => 1,
            Transport::Polling | Transport::Upgrade => 2,
        }
    }
    fn pick(rng: &mut Rng, o: &SoakOpts) -> Transport {
        let r = rng.pct();
        if r < o.polling_pct {
            Transport::Polling
        } else if r < o.polling_pct + o.upgrade_pct {
            Transport::Upgrade
        } else {
            Transport::WebSocket
        }
    }
}

/// How a session ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// `41` (leave the namespace), then the transport's close.
    Leave,
    /// The transport's close only (WebSocket close frame, or polling's `1`).
    Close,
    /// WebSocket: TCP FIN, no close frame.
    Fin,
    /// WebSocket: TCP RST (SO_LINGER 0).
    Rst,
    /// WebSocket: the TCP connection stays open, nothing is read or answered, until the
    /// server's heartbeat gives up and closes it.
    Silent,
    /// Polling: the polls stop and the connections close, no `1`.
    StopPolling,
}

impl End {
    const ALL: [End; 6] = [
        End::Leave,
        End::Close,
        End::Fin,
        End::Rst,
        End::Silent,
        End::StopPolling,
    ];
    fn name(self) -> &'static str {
        match self {
            End::Leave => "goodbye: 41 + close",
            End::Close => "goodbye: close only",
            End::Fin => "dropped: websocket TCP FIN, no close frame",
            End::Rst => "dropped: websocket TCP RST",
            End::Silent => "dropped: websocket silent (heartbeat must reap)",
            End::StopPolling => "dropped: polling stopped (heartbeat must reap)",
        }
    }
    fn index(self) -> usize {
        End::ALL.iter().position(|e| *e == self).unwrap_or(0)
    }
    fn dropped(self) -> bool {
        !matches!(self, End::Leave | End::Close)
    }
}

#[derive(Default)]
struct Counts {
    opened: [AtomicU64; 3],
    connect_failed: AtomicU64,
    live: AtomicU64,
    ends: [AtomicU64; 6],
    silent_reaped: AtomicU64,
    sent: AtomicU64,
    /// Echo replies and acks.
    answered: AtomicU64,
    /// `fanout` deliveries received.
    delivered: AtomicU64,
    errors_total: AtomicU64,
    /// Warm-up clients that connected and got their answers (or failed).
    warm_ready: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Counts {
    fn error(&self, kind: String) {
        self.errors_total.fetch_add(1, Relaxed);
        let mut map = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        // A bounded number of kinds: odd messages past 50 kinds share one entry.
        let kind = if map.len() < 50 || map.contains_key(&kind) {
            kind
        } else {
            "other".to_string()
        };
        *map.entry(kind).or_default() += 1;
    }
    fn opened_total(&self) -> u64 {
        self.opened.iter().map(|c| c.load(Relaxed)).sum()
    }
    fn traffic(&self) -> (u64, u64) {
        (
            self.sent.load(Relaxed),
            self.answered.load(Relaxed) + self.delivered.load(Relaxed),
        )
    }
}

/// An error message made into a kind: its first three `: `-separated parts (sids and ports are
/// not in these messages), at most 100 characters.
fn kind(what: &str, e: &str) -> String {
    let short: Vec<&str> = e.splitn(4, ": ").take(3).collect();
    let mut k = format!("{what}: {}", short.join(": "));
    if k.len() > 100 {
        let mut cut = 100;
        while !k.is_char_boundary(cut) {
            cut -= 1;
        }
        k.truncate(cut);
    }
    k
}

struct Ctx {
    target: Arc<Target>,
    counts: Arc<Counts>,
    fds: Arc<Semaphore>,
    connects: Arc<Semaphore>,
    timeout: Duration,
    pad: Arc<str>,
    rooms: usize,
    /// The server's ping interval + timeout: how long a silent client may take to be reaped.
    heartbeat: Duration,
    /// Nothing of the run goes on past this.
    hard_end: Instant,
}

/// A polling session's POST connection and the packets its poller read.
struct PollLink {
    post: Conn,
    /// When the POST connection last finished a request.
    post_used: Instant,
    q: String,
    rx: mpsc::UnboundedReceiver<Result<String, String>>,
    poller: JoinHandle<()>,
}

impl Drop for PollLink {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

enum Link {
    Ws(Box<Ws>),
    Poll(PollLink),
}

/// Long-polls until an error, the session's close, `until`, or its abort (the session dropped).
async fn poller(
    mut get: Conn,
    target: Arc<Target>,
    q: String,
    tx: mpsc::UnboundedSender<Result<String, String>>,
    until: Instant,
) {
    for _ in 0..MAX_SESSIONS_PER_CLIENT {
        let body = match timeout_at(
            until,
            polling::request(&mut get, &target, Method::GET, &q, Bytes::new()),
        )
        .await
        {
            Err(_) => return,
            Ok(Err(e)) => {
                let _ = tx.send(Err(e));
                return;
            }
            Ok(Ok(body)) => body,
        };
        let body = String::from_utf8_lossy(&body);
        let mut closed = false;
        for p in body.split('\x1e') {
            closed |= p == "1";
            if tx.send(Ok(p.to_string())).is_err() {
                return;
            }
        }
        if closed {
            return;
        }
    }
}

impl Link {
    async fn send(&mut self, ctx: &Ctx, pkt: String) -> Result<(), String> {
        let sent = match self {
            Link::Ws(ws) => timeout(ctx.timeout, ws.send(Message::text(pkt)))
                .await
                .map_err(|_| "send: timeout".to_string())?
                .map_err(|e| format!("send: {e}")),
            Link::Poll(p) => {
                let body = Bytes::from(pkt);
                timeout(ctx.timeout, async {
                    // The server closes a keep-alive connection idle for 5 s (actix's default);
                    // a browser then opens another one, and so does this client, already past
                    // 4 s so as not to race the server's close. If a request still met the
                    // close before the server read it, it is sent once more on a new one.
                    if p.post.is_closed() || p.post_used.elapsed() >= POST_IDLE {
                        p.post = polling::conn(&ctx.target).await?;
                    }
                    let q = &p.q;
                    let r = match polling::request(
                        &mut p.post,
                        &ctx.target,
                        Method::POST,
                        q,
                        body.clone(),
                    )
                    .await
                    {
                        Err(e) if e.starts_with("not ready") || e.contains(UNSENT) => {
                            p.post = polling::conn(&ctx.target).await?;
                            polling::request(&mut p.post, &ctx.target, Method::POST, q, body).await
                        }
                        r => r,
                    };
                    p.post_used = Instant::now();
                    r
                })
                .await
                .map_err(|_| "POST: timeout".to_string())?
                .map(drop)
                .map_err(|e| format!("POST: {e}"))
            }
        };
        if sent.is_ok() {
            ctx.counts.sent.fetch_add(1, Relaxed);
        }
        sent
    }

    /// The next packet other than a ping (answered here) or a noop; `None` at `until`.
    async fn recv(&mut self, ctx: &Ctx, until: Instant) -> Result<Option<String>, String> {
        for _ in 0..MAX_PACKETS_PER_WAIT {
            let pkt = match self {
                Link::Ws(ws) => match timeout_at(until, ws.next()).await {
                    Err(_) => return Ok(None),
                    Ok(Some(Ok(Message::Text(t)))) => t.as_str().to_string(),
                    Ok(Some(Ok(Message::Close(_)))) | Ok(None) => {
                        return Err("closed by the server".into());
                    }
                    Ok(Some(Ok(_))) => continue,
                    Ok(Some(Err(e))) => return Err(format!("ws: {e}")),
                },
                Link::Poll(p) => match timeout_at(until, p.rx.recv()).await {
                    Err(_) => return Ok(None),
                    Ok(None) => return Err("poller ended".into()),
                    Ok(Some(Err(e))) => return Err(format!("GET: {e}")),
                    Ok(Some(Ok(p))) => p,
                },
            };
            match pkt.as_str() {
                "2" => self.send(ctx, "3".into()).await?,
                "6" | "" => {}
                "1" => return Err("closed by the server".into()),
                _ => return Ok(Some(pkt)),
            }
        }
        Ok(None)
    }

    /// Reads until a packet `want` accepts (true) or `until` (false); `fanout` deliveries on
    /// the way are counted, a namespace disconnect is an error.
    async fn wait(
        &mut self,
        ctx: &Ctx,
        until: Instant,
        want: impl Fn(&str) -> bool,
    ) -> Result<bool, String> {
        for _ in 0..MAX_PACKETS_PER_WAIT {
            let Some(p) = self.recv(ctx, until).await? else {
                return Ok(false);
            };
            if p.starts_with("42[\"fanout\"") {
                ctx.counts.delivered.fetch_add(1, Relaxed);
            } else if p.starts_with("41") || p.starts_with("44") {
                return Err(format!("namespace closed by the server ({})", &p[..2]));
            } else if want(&p) {
                ctx.counts.answered.fetch_add(1, Relaxed);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sends `pkt` and waits for the answer `want` accepts, within the timeout.
    async fn ask(
        &mut self,
        ctx: &Ctx,
        pkt: String,
        want: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        self.send(ctx, pkt).await?;
        let until = Instant::now() + ctx.timeout;
        if self.wait(ctx, until, want).await? {
            Ok(())
        } else {
            Err(format!("no answer in {:?}", ctx.timeout))
        }
    }

    /// The goodbye of the transport: a WebSocket close frame (and the server's answer), or
    /// polling's `1`.
    async fn close(self, ctx: &Ctx) -> Result<(), String> {
        match self {
            Link::Ws(mut ws) => {
                timeout(ctx.timeout, ws.close(None))
                    .await
                    .map_err(|_| "close: timeout".to_string())?
                    .map_err(|e| format!("close: {e}"))?;
                // The server's close frame, then EOF; bounded.
                let _ = timeout(Duration::from_secs(5), async {
                    for _ in 0..1000 {
                        if ws.next().await.is_none() {
                            break;
                        }
                    }
                })
                .await;
                Ok(())
            }
            mut link @ Link::Poll(_) => link
                .send(ctx, "1".into())
                .await
                .map_err(|e| format!("close: {e}")),
        }
    }
}

/// Polling handshake and `40` on one connection, then the upgrade to WebSocket
/// (`2probe` / `3probe` / `5`); the polling connection is closed after.
async fn upgrade(target: &Target) -> Result<Ws, String> {
    let mut c = polling::conn(target).await?;
    let open = polling::request(&mut c, target, Method::GET, "", Bytes::new()).await?;
    let open = String::from_utf8_lossy(&open).to_string();
    let sid = sid(&open).ok_or_else(|| "no sid in the open packet".to_string())?;
    let q = format!("&sid={sid}");
    polling::request(&mut c, target, Method::POST, &q, Bytes::from_static(b"40")).await?;
    let mut connected = false;
    for _ in 0..4 {
        let body = polling::request(&mut c, target, Method::GET, &q, Bytes::new()).await?;
        for p in String::from_utf8_lossy(&body).split('\x1e') {
            if p.starts_with("44") {
                return Err("connect_error".into());
            }
            connected |= p.starts_with("40");
        }
        if connected {
            break;
        }
    }
    if !connected {
        return Err("no CONNECT answer".into());
    }
    let mut ws = target.ws(&q).await?;
    ws.send(Message::text("2probe"))
        .await
        .map_err(|e| format!("probe: {e}"))?;
    let mut probed = false;
    for _ in 0..16 {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str() == "3probe" => {
                probed = true;
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("probe: {e}")),
            None => return Err("probe: eof".into()),
        }
    }
    if !probed {
        return Err("no 3probe".into());
    }
    ws.send(Message::text("5"))
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    drop(c);
    Ok(ws)
}

async fn open(ctx: &Ctx, transport: Transport) -> Result<Link, String> {
    let t = ctx.timeout;
    let timed_out = |_| "timeout".to_string();
    match transport {
        Transport::WebSocket => Ok(Link::Ws(Box::new(ctx.target.socketio_ws(t).await?))),
        Transport::Upgrade => Ok(Link::Ws(Box::new(
            timeout(t, upgrade(&ctx.target))
                .await
                .map_err(timed_out)??,
        ))),
        Transport::Polling => {
            let s = timeout(t, polling::open(&ctx.target))
                .await
                .map_err(timed_out)??;
            let q = format!("&sid={}", s.sid);
            let (tx, rx) = mpsc::unbounded_channel();
            for p in s.early {
                let _ = tx.send(Ok(p));
            }
            let poller = tokio::spawn(poller(
                s.get,
                ctx.target.clone(),
                q.clone(),
                tx,
                ctx.hard_end,
            ));
            Ok(Link::Poll(PollLink {
                post: s.post,
                post_used: Instant::now(),
                q,
                rx,
                poller,
            }))
        }
    }
}

/// What a session does between its connect and its ending.
struct Activity {
    joined: Vec<String>,
    next_id: u64,
    seq: u64,
}

impl Activity {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

fn is_ack(id: u64) -> impl Fn(&str) -> bool {
    move |p: &str| ack_id(p) == Some(id)
}

/// One action, its answer awaited.
async fn act(link: &mut Link, ctx: &Ctx, rng: &mut Rng, a: &mut Activity) -> Result<(), String> {
    let r = rng.pct();
    let join = (55..70).contains(&r) || (r >= 80 && a.joined.is_empty());
    if r < 30 {
        let t = now_ns();
        let want = move |p: &str| {
            let mut n = [0u64; 1];
            p.starts_with("42[\"echo\"") && first_numbers(p, &mut n) == 1 && n[0] == t
        };
        link.ask(ctx, echo_frame(None, t, &ctx.pad), want)
            .await
            .map_err(|e| kind("echo", &e))
    } else if r < 55 {
        let id = a.id();
        link.ask(ctx, echo_frame(Some(id), now_ns(), &ctx.pad), is_ack(id))
            .await
            .map_err(|e| kind("echo with ack", &e))
    } else if join {
        if a.joined.len() >= 3 {
            return Ok(());
        }
        let room = format!("soak-r{}", rng.below(ctx.rooms as u64));
        let id = a.id();
        link.ask(ctx, join_frame(id, &room), is_ack(id))
            .await
            .map_err(|e| kind("join", &e))?;
        if !a.joined.contains(&room) {
            a.joined.push(room);
        }
        Ok(())
    } else if r < 80 {
        if a.joined.is_empty() {
            return Ok(());
        }
        let room = a
            .joined
            .swap_remove(rng.below(a.joined.len() as u64) as usize);
        let id = a.id();
        link.ask(ctx, leave_frame(id, &room), is_ack(id))
            .await
            .map_err(|e| kind("leave", &e))
    } else {
        let room = a.joined[rng.below(a.joined.len() as u64) as usize].clone();
        let id = a.id();
        a.seq += 1;
        let frame = fanout_frame(id, &room, a.seq, now_ns(), &ctx.pad);
        link.ask(ctx, frame, is_ack(id))
            .await
            .map_err(|e| kind("fanout", &e))
    }
}

/// SO_LINGER 0, so that dropping the socket sends a RST.
fn reset_on_drop(ws: &Ws) {
    let _ = ws.get_ref().set_zero_linger();
}

/// Holds a silent WebSocket (reads, never answers) until the server closes it, bounded.
async fn silent(mut ws: Box<Ws>, ctx: Arc<Ctx>, permit: OwnedSemaphorePermit) {
    let bound = ctx.heartbeat + Duration::from_secs(15);
    let closed = timeout(bound, async {
        for _ in 0..MAX_PACKETS_PER_WAIT {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return true,
                Some(Ok(_)) => {}
            }
        }
        false
    })
    .await;
    if closed == Ok(true) {
        ctx.counts.silent_reaped.fetch_add(1, Relaxed);
    } else {
        ctx.counts.error(format!(
            "silent websocket: not closed by the server within {bound:?}"
        ));
    }
    drop(permit);
}

/// Ends a session as planned (a dropping session first sends one request it never reads the
/// answer of).
async fn finish(
    mut link: Link,
    ctx: &Arc<Ctx>,
    end: End,
    a: &mut Activity,
    permit: OwnedSemaphorePermit,
) {
    if end.dropped() {
        let id = a.id();
        let frame = match a.joined.first() {
            Some(room) => fanout_frame(id, room, a.seq + 1, now_ns(), &ctx.pad),
            None => echo_frame(Some(id), now_ns(), &ctx.pad),
        };
        // Only the write matters; the session is abandoned either way.
        let _ = link.send(ctx, frame).await;
    }
    ctx.counts.ends[end.index()].fetch_add(1, Relaxed);
    match (end, link) {
        (End::Leave, mut link) => {
            let r = match link.send(ctx, "41".into()).await {
                Ok(()) => link.close(ctx).await,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                ctx.counts.error(kind("goodbye", &e));
            }
        }
        (End::Close, link) => {
            if let Err(e) = link.close(ctx).await {
                ctx.counts.error(kind("goodbye", &e));
            }
        }
        (End::Rst, Link::Ws(ws)) => reset_on_drop(&ws),
        (End::Silent, Link::Ws(ws)) => {
            tokio::spawn(silent(ws, ctx.clone(), permit));
            return;
        }
        // FIN, or polling that stops: dropping the link closes its connections.
        (_, link) => drop(link),
    }
    drop(permit);
}

fn pick_end(rng: &mut Rng, drop_pct: u32, link: &Link) -> End {
    if rng.pct() < drop_pct {
        match link {
            Link::Poll(_) => End::StopPolling,
            Link::Ws(_) => [End::Fin, End::Rst, End::Silent][rng.below(3) as usize],
        }
    } else if rng.pct() < 50 {
        End::Leave
    } else {
        End::Close
    }
}

/// Connects with a transport picked at random, holding its file descriptors' permits.
async fn connect(
    ctx: &Ctx,
    rng: &mut Rng,
    o: &SoakOpts,
    until: Instant,
) -> Option<(Link, OwnedSemaphorePermit)> {
    let transport = Transport::pick(rng, o);
    let permit = timeout_at(until, ctx.fds.clone().acquire_many_owned(transport.fds()))
        .await
        .ok()?
        .ok()?;
    let slot = timeout_at(until, ctx.connects.acquire()).await.ok()?.ok()?;
    let link = open(ctx, transport).await;
    drop(slot);
    match link {
        Ok(link) => {
            let i = Transport::ALL.iter().position(|t| *t == transport)?;
            ctx.counts.opened[i].fetch_add(1, Relaxed);
            Some((link, permit))
        }
        Err(e) => {
            ctx.counts.connect_failed.fetch_add(1, Relaxed);
            ctx.counts
                .error(kind(&format!("connect {}", transport.name()), &e));
            None
        }
    }
}

/// One client slot of the soak: sessions one after another until `end`.
async fn client(i: usize, ctx: Arc<Ctx>, o: Arc<SoakOpts>, start: Instant, end: Instant) {
    let mut rng = Rng::new(i as u64 + 1);
    sleep_until(start).await;
    for _ in 0..MAX_SESSIONS_PER_CLIENT {
        if Instant::now() >= end {
            break;
        }
        let Some((mut link, permit)) = connect(&ctx, &mut rng, &o, end).await else {
            // Not in a hot loop after a failure.
            sleep(Duration::from_millis(200 + rng.below(800))).await;
            continue;
        };
        ctx.counts.live.fetch_add(1, Relaxed);
        let mut a = Activity {
            joined: Vec::new(),
            next_id: 0,
            seq: 0,
        };
        let actions = 1 + rng.below(o.max_actions.max(1) as u64);
        let mut failed = false;
        for _ in 0..actions {
            // The last think of the run lasts until its end (no burst of short sessions then).
            let think = (Instant::now() + rng.around(o.think)).min(end);
            if let Err(e) = link.wait(&ctx, think, |_| false).await {
                ctx.counts.error(kind("idle", &e));
                failed = true;
                break;
            }
            if think >= end {
                break;
            }
            if let Err(e) = act(&mut link, &ctx, &mut rng, &mut a).await {
                ctx.counts.error(e);
                failed = true;
                break;
            }
        }
        if failed {
            // The session is broken: let it go without a goodbye (not counted as an ending).
            drop(link);
            drop(permit);
        } else {
            let end = pick_end(&mut rng, o.drop_pct, &link);
            finish(link, &ctx, end, &mut a, permit).await;
        }
        ctx.counts.live.fetch_sub(1, Relaxed);
    }
}

/// A warm-up client: connects, joins a room, echoes with an ack, waits (answering pings) until
/// every warm-up client got that far, then says goodbye.
async fn warm_client(i: usize, ctx: Arc<Ctx>, o: Arc<SoakOpts>, mut go: watch::Receiver<bool>) {
    let mut rng = Rng::new(0xA11CE + i as u64);
    let until = Instant::now() + ctx.timeout * 4;
    let Some((mut link, permit)) = connect(&ctx, &mut rng, &o, until).await else {
        ctx.counts.warm_ready.fetch_add(1, Relaxed);
        return;
    };
    ctx.counts.live.fetch_add(1, Relaxed);
    let room = format!("soak-r{}", rng.below(ctx.rooms as u64));
    let mut result = async {
        link.ask(&ctx, join_frame(1, &room), is_ack(1)).await?;
        link.ask(&ctx, echo_frame(Some(2), now_ns(), &ctx.pad), is_ack(2))
            .await
    }
    .await;
    // Counted as ready either way, so that the round does not wait for a broken one.
    ctx.counts.warm_ready.fetch_add(1, Relaxed);
    let hold_until = ctx.hard_end.min(Instant::now() + ctx.timeout * 6);
    for _ in 0..MAX_PACKETS_PER_WAIT {
        if result.is_err() || *go.borrow() || Instant::now() >= hold_until {
            break;
        }
        let step = (Instant::now() + Duration::from_millis(250)).min(hold_until);
        tokio::select! {
            r = link.wait(&ctx, step, |_| false) => if let Err(e) = r {
                result = Err(e);
            },
            _ = go.changed() => {}
        }
    }
    match result {
        Ok(()) => {
            let bye = async {
                link.send(&ctx, "41".into()).await?;
                link.close(&ctx).await
            };
            if let Err(e) = bye.await {
                ctx.counts.error(kind("warm-up goodbye", &e));
            }
        }
        Err(e) => ctx.counts.error(kind("warm-up", &e)),
    }
    drop(permit);
    ctx.counts.live.fetch_sub(1, Relaxed);
}

/// `GET /stats` from the server, as JSON.
pub async fn server_stats(target: &Target) -> Result<Value, String> {
    server_stats_at(target, "/stats").await
}

/// `GET /stats?trim=1`: the server first gives its allocator's free memory back to the system.
async fn server_stats_trimmed(target: &Target) -> Result<Value, String> {
    server_stats_at(target, "/stats?trim=1").await
}

async fn server_stats_at(target: &Target, path: &str) -> Result<Value, String> {
    timeout(Duration::from_secs(5), async {
        let mut c = polling::conn(target).await?;
        let body = polling::send(&mut c, target, Method::GET, path, Bytes::new())
            .await
            .map_err(|e| format!("GET /stats: {e}"))?;
        serde_json::from_slice(&body).map_err(|e| format!("GET /stats: {e}"))
    })
    .await
    .map_err(|_| "GET /stats: timeout".to_string())?
}

fn field(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(u64::MAX)
}

fn is_idle(v: &Value) -> bool {
    field(v, "sessions") == 0 && field(v, "sockets") == 0 && field(v, "room_entries") == 0
}

fn live_line(v: &Value) -> String {
    format!(
        "sessions={} sockets={} rooms={} room_entries={} rss={}KiB",
        field(v, "sessions"),
        field(v, "sockets"),
        field(v, "rooms"),
        field(v, "room_entries"),
        field(v, "rss_kib"),
    )
}

/// Waits until the server reports nothing alive, at most `bound`; the last stats and how long
/// it took (None: not idle within the bound).
pub async fn wait_idle(target: &Target, bound: Duration, label: &str) -> (Value, Option<Duration>) {
    let start = Instant::now();
    let mut last = Value::Null;
    let mut next_line = start;
    for _ in 0..100_000 {
        if let Ok(v) = server_stats(target).await {
            if is_idle(&v) {
                return (v, Some(start.elapsed()));
            }
            if Instant::now() >= next_line {
                eprintln!(
                    "[{label}] waiting for the server to be idle, {:.0}s: {}",
                    start.elapsed().as_secs_f64(),
                    live_line(&v)
                );
                next_line += Duration::from_secs(5);
            }
            last = v;
        }
        if start.elapsed() >= bound {
            break;
        }
        sleep(Duration::from_millis(500)).await;
    }
    (last, None)
}

/// The server's idle memory: after `settle`, three VmRSS samples a second apart (the last one
/// counts), then one `/stats?trim=1` (VmRSS once the allocator gave its free memory back, and the
/// heap in use).
pub async fn idle_rss(target: &Target, settle: Duration) -> (Option<u64>, Vec<u64>, Value) {
    sleep(settle).await;
    let mut samples = Vec::new();
    for i in 0..3 {
        if i > 0 {
            sleep(Duration::from_secs(1)).await;
        }
        if let Ok(v) = server_stats(target).await
            && let Some(r) = v.get("rss_kib").and_then(Value::as_u64)
        {
            samples.push(r);
        }
    }
    let trimmed = server_stats_trimmed(target).await.unwrap_or(Value::Null);
    (samples.last().copied(), samples, trimmed)
}

/// VmRSS after `malloc_trim`, when the server did trim.
fn trimmed_rss(v: &Value) -> Option<u64> {
    (v.get("trimmed") == Some(&Value::Bool(true)))
        .then(|| v.get("rss_kib").and_then(Value::as_u64))
        .flatten()
}

/// The soft limit on this process's open files.
pub fn fd_soft_limit() -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return 1024;
    }
    rl.rlim_cur
}

/// The soft open-files limit of process `pid` (`Max open files` in /proc/PID/limits).
fn fd_limit_of(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Most client slots the file descriptor limits allow for this transport mix.
pub fn max_clients(o: &SoakOpts, server_pid: Option<u32>) -> (usize, u64, f64) {
    let mut limit = fd_soft_limit();
    if let Some(l) = server_pid.and_then(fd_limit_of) {
        limit = limit.min(l);
    }
    let two = (o.polling_pct + o.upgrade_pct).min(100) as f64 / 100.0;
    let per_client = 1.0 + two;
    let budget = limit.saturating_sub(FD_SPARE) as f64;
    ((budget / per_client) as usize, limit, per_client)
}

pub async fn run(target: Arc<Target>, o: SoakOpts) -> i32 {
    let o = Arc::new(o);
    let pid = target.server_pid;
    let mut failures: Vec<String> = Vec::new();
    let mut out = serde_json::Map::new();

    // Before the load.
    let before = match server_stats(&target).await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("soak: the server does not answer GET /stats: {e}");
            return 1;
        }
    };
    if !is_idle(&before) {
        eprintln!(
            "soak: the server is not idle before the run ({}); the end checks need a fresh one",
            live_line(&before)
        );
        return 1;
    }
    let ping_ms = |k: &str, d: u64| before.get(k).and_then(Value::as_u64).unwrap_or(d);
    let heartbeat = Duration::from_millis(
        ping_ms("ping_interval_ms", 25_000) + ping_ms("ping_timeout_ms", 20_000),
    );
    let drain = o.drain.unwrap_or(heartbeat + Duration::from_secs(30));
    let rss_before = before.get("rss_kib").and_then(Value::as_u64);
    let before_trimmed = server_stats_trimmed(&target).await.unwrap_or(Value::Null);
    eprintln!(
        "[soak] server idle, rss={}KiB, heartbeat (ping interval + timeout) {:?}, drain bound {:?}",
        field(&before, "rss_kib"),
        heartbeat,
        drain
    );
    let (_, fd_limit, _) = max_clients(&o, pid);
    let counts = Arc::new(Counts::default());
    let warm_bound = o.timeout * 8 + Duration::from_secs(30);
    let run_end_bound = warm_bound * o.warmup_rounds.max(1)
        + o.warmup_churn
        + drain * 2
        + o.settle * 2
        + o.duration
        + heartbeat
        + o.timeout * 4
        + Duration::from_secs(60);
    let ctx = Arc::new(Ctx {
        target: target.clone(),
        counts: counts.clone(),
        fds: Arc::new(Semaphore::new(fd_limit.saturating_sub(FD_SPARE) as usize)),
        connects: Arc::new(Semaphore::new(o.connect_concurrency.max(1))),
        timeout: o.timeout,
        pad: pad(o.pad).into(),
        rooms: o.rooms.max(1),
        heartbeat,
        hard_end: Instant::now() + run_end_bound,
    });

    // Warm-up round: every slot connects, joins, echoes; all say goodbye together.
    // Warm-up churn: the soak's own clients for a while, so that the baseline below comes after
    // the server's allocator has met every pattern of the load.
    if !o.warmup_churn.is_zero() {
        eprintln!(
            "[warm-up churn] {} clients for {:.1} min, as the soak below",
            o.clients,
            o.warmup_churn.as_secs_f64() / 60.0
        );
        let start = Instant::now();
        let end = start + o.warmup_churn;
        let ramp = (o.warmup_churn / 6).min(Duration::from_secs(10));
        let tasks: Vec<_> = (0..o.clients)
            .map(|i| {
                let at = start + ramp.mul_f64(i as f64 / o.clients.max(1) as f64);
                tokio::spawn(client(i + o.clients, ctx.clone(), o.clone(), at, end))
            })
            .collect();
        for t in tasks {
            let _ = timeout_at(ctx.hard_end, t).await;
        }
        let (v, idle) = wait_idle(&target, drain, "warm-up churn").await;
        eprintln!(
            "[warm-up churn] {} sessions, {} errors; server {} after {:.1}s",
            counts.opened_total(),
            counts.errors_total.load(Relaxed),
            if idle.is_some() { "idle" } else { "NOT idle" },
            idle.map_or(drain.as_secs_f64(), |d| d.as_secs_f64())
        );
        if idle.is_none() {
            failures.push(format!(
                "after the warm-up churn the server was not idle within {drain:?}: {}",
                live_line(&v)
            ));
        }
        out.insert(
            "warmup_churn".into(),
            json!({
                "opened": counts.opened_total(),
                "errors": counts.errors_total.load(Relaxed),
                "rss_idle_kib": v.get("rss_kib"),
            }),
        );
    }
    let mut rss_warm = None;
    let mut warm_trimmed = Value::Null;
    let mut warm_rounds = Vec::new();
    for round in 1..=o.warmup_rounds {
        eprintln!(
            "[warm-up {round}/{}] {} clients connect, join, echo, then leave",
            o.warmup_rounds, o.clients
        );
        counts.warm_ready.store(0, Relaxed);
        let opened_before = counts.opened_total();
        let (go_tx, go_rx) = watch::channel(false);
        let tasks: Vec<_> = (0..o.clients)
            .map(|i| tokio::spawn(warm_client(i, ctx.clone(), o.clone(), go_rx.clone())))
            .collect();
        let started = Instant::now();
        let wanted = o.clients as u64;
        let mut peak = Value::Null;
        for _ in 0..100_000 {
            let ready = counts.warm_ready.load(Relaxed);
            if ready >= wanted || started.elapsed() >= warm_bound {
                break;
            }
            sleep(Duration::from_millis(250)).await;
        }
        if let Ok(v) = server_stats(&target).await {
            peak = v;
        }
        eprintln!(
            "[warm-up {round}] {} of {} connected in {:.1}s (failed {}), server: {}",
            counts.opened_total() - opened_before,
            o.clients,
            started.elapsed().as_secs_f64(),
            counts.connect_failed.load(Relaxed),
            live_line(&peak)
        );
        let _ = go_tx.send(true);
        for t in tasks {
            let _ = timeout_at(ctx.hard_end, t).await;
        }
        let (v, idle) = wait_idle(&target, drain, "warm-up").await;
        match idle {
            Some(d) => eprintln!(
                "[warm-up {round}] server idle {:.1}s after the goodbyes",
                d.as_secs_f64()
            ),
            None => failures.push(format!(
                "after the warm-up (goodbyes only) the server was not idle within {drain:?}: {}",
                live_line(&v)
            )),
        }
        // The memory is read after every round, but only the last one settles first.
        let settle = if round == o.warmup_rounds {
            o.settle
        } else {
            Duration::ZERO
        };
        let (warm, rss_warm_samples, trimmed) = idle_rss(&target, settle).await;
        rss_warm = warm;
        eprintln!(
            "[warm-up {round}] after malloc_trim: rss={}KiB heap in use={}KiB",
            field(&trimmed, "rss_kib"),
            field(&trimmed, "heap_in_use_kib")
        );
        warm_trimmed = trimmed;
        eprintln!("[warm-up {round}] idle rss samples {rss_warm_samples:?} KiB");
        warm_rounds.push(json!({
            "opened": counts.opened_total() - opened_before,
            "connect_failed": counts.connect_failed.load(Relaxed),
            "errors": counts.errors_total.load(Relaxed),
            "server_at_peak": peak,
            "idle_after_s": idle.map(|d| round1(d.as_secs_f64())),
            "rss_idle_samples_kib": rss_warm_samples,
        }));
    }
    out.insert("warmup".into(), json!(warm_rounds));
    let warmup = o.warmup_rounds > 0;
    let warm_errors: BTreeMap<String, u64> =
        std::mem::take(&mut *counts.errors.lock().unwrap_or_else(|e| e.into_inner()));
    let warm_error_total = counts.errors_total.swap(0, Relaxed);
    for c in counts.opened.iter().chain(counts.ends.iter()) {
        c.store(0, Relaxed);
    }
    for c in [
        &counts.connect_failed,
        &counts.sent,
        &counts.answered,
        &counts.delivered,
        &counts.silent_reaped,
    ] {
        c.store(0, Relaxed);
    }
    let warm_stats = server_stats(&target).await.unwrap_or(Value::Null);

    // The soak.
    eprintln!(
        "[soak] {} clients for {:.1} min: websocket {}%, polling {}%, upgrade {}%; {}% end without a goodbye; think {:?} (mean), 1..={} actions per session, {} rooms",
        o.clients,
        o.duration.as_secs_f64() / 60.0,
        100 - o.polling_pct - o.upgrade_pct,
        o.polling_pct,
        o.upgrade_pct,
        o.drop_pct,
        o.think,
        o.max_actions,
        ctx.rooms,
    );
    let cpu = CpuMark::now(pid);
    let start = Instant::now();
    let end = start + o.duration;
    let ramp = (o.duration / 6).min(Duration::from_secs(10));
    let tasks: Vec<_> = (0..o.clients)
        .map(|i| {
            let at = start + ramp.mul_f64(i as f64 / o.clients.max(1) as f64);
            tokio::spawn(client(i, ctx.clone(), o.clone(), at, end))
        })
        .collect();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    // The server's VmRSS at each progress line: a leak keeps climbing, a working set levels off.
    let rss_trend: Arc<Mutex<Vec<(u64, u64)>>> = Arc::default();
    let progress = {
        let (counts, target, every) = (counts.clone(), target.clone(), o.progress);
        let rss_trend = rss_trend.clone();
        tokio::spawn(async move {
            let mut last = (0u64, 0u64, 0u64);
            let mut tick = tokio::time::interval_at(start + every, every);
            for _ in 0..1_000_000 {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop_rx.changed() => return,
                }
                let opened = counts.opened_total();
                let (sent, received) = counts.traffic();
                let secs = every.as_secs_f64();
                let server = match server_stats(&target).await {
                    Ok(v) => {
                        if let Some(r) = v.get("rss_kib").and_then(Value::as_u64) {
                            let t = start.elapsed().as_secs();
                            rss_trend
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push((t, r));
                        }
                        live_line(&v)
                    }
                    Err(e) => e,
                };
                eprintln!(
                    "[soak] t={:>5.0}s live={} opened={} ({:.0}/s) failed={} sent={} ({:.0}/s) received={} ({:.0}/s) errors={} | server {}",
                    start.elapsed().as_secs_f64(),
                    counts.live.load(Relaxed),
                    opened,
                    (opened - last.0) as f64 / secs,
                    counts.connect_failed.load(Relaxed),
                    sent,
                    (sent - last.1) as f64 / secs,
                    received,
                    (received - last.2) as f64 / secs,
                    counts.errors_total.load(Relaxed),
                    server,
                );
                last = (opened, sent, received);
            }
        })
    };
    let mut unfinished = 0;
    for t in tasks {
        if timeout_at(ctx.hard_end, t).await.is_err() {
            unfinished += 1;
        }
    }
    let active = start.elapsed();
    let (server_cpu, my_cpu, wall) = cpu.since(pid);
    let _ = stop_tx.send(true);
    let _ = progress.await;
    eprintln!(
        "[soak] every client slot done after {:.1}s ({} still running at the bound); waiting for the server to be idle",
        active.as_secs_f64(),
        unfinished
    );
    if unfinished > 0 {
        failures.push(format!(
            "{unfinished} client slots did not finish within the run's bound"
        ));
    }

    // After: every client is gone (silent ones are closed by the server's heartbeat).
    let (after, idle) = wait_idle(&target, drain, "drain").await;
    let (rss_end, rss_end_samples, end_trimmed) = idle_rss(&target, o.settle).await;
    let after = server_stats(&target).await.unwrap_or(after);
    let server_alive = pid.is_none_or(|p| crate::procfs::rss_kib(Some(p)).is_some());
    if !server_alive {
        failures.push("the server process is gone".into());
    }
    if after.is_null() {
        failures.push("no /stats from the server after the run".into());
    }
    for k in ["sessions", "sockets", "room_entries"] {
        let v = field(&after, k);
        if v != 0 && !after.is_null() {
            failures.push(format!("{k} = {v} after the drain (expected 0)"));
        }
    }
    // What is compared: VmRSS after malloc_trim when the server could trim (what it holds, not
    // what its allocator keeps for later), else (or with --raw-rss) VmRSS as it is.
    let base_trimmed = trimmed_rss(if warmup {
        &warm_trimmed
    } else {
        &before_trimmed
    });
    let use_trimmed = !o.raw_rss && base_trimmed.is_some() && trimmed_rss(&end_trimmed).is_some();
    let (baseline, compared) = if use_trimmed {
        (base_trimmed, trimmed_rss(&end_trimmed))
    } else {
        (if warmup { rss_warm } else { rss_before }, rss_end)
    };
    let rss_change_pct = match (baseline, compared) {
        (Some(b), Some(e)) if b > 0 => Some((e as f64 - b as f64) * 100.0 / b as f64),
        _ => None,
    };
    match rss_change_pct {
        Some(p) if p > o.rss_tolerance_pct => failures.push(format!(
            "resident memory{} {:+.1}% over the idle baseline (limit {}%)",
            if use_trimmed {
                " after malloc_trim"
            } else {
                ""
            },
            p,
            o.rss_tolerance_pct
        )),
        None => failures.push("resident memory not measured".into()),
        _ => {}
    }
    let opened = counts.opened_total();
    if opened == 0 {
        failures.push("no session opened".into());
    }
    let errors_total = counts.errors_total.load(Relaxed);
    if let Some(max) = o.max_errors
        && errors_total > max
    {
        failures.push(format!("{errors_total} errors (at most {max} allowed)"));
    }
    let errors: BTreeMap<String, u64> = counts
        .errors
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();

    // The summary.
    let secs = o.duration.as_secs_f64().max(0.001);
    let (sent, received) = counts.traffic();
    let ends: Vec<(String, u64)> = End::ALL
        .iter()
        .map(|e| (e.name().to_string(), counts.ends[e.index()].load(Relaxed)))
        .collect();
    let silent_total = counts.ends[End::Silent.index()].load(Relaxed);
    let pct = |v: Option<f64>| v.map_or("n/a".to_string(), |p| format!("{p:+.1}%"));
    let rel = |a: Option<u64>| match (a, rss_end) {
        (Some(a), Some(e)) if a > 0 => Some((e as f64 - a as f64) * 100.0 / a as f64),
        _ => None,
    };
    let kib = |v: Option<u64>| v.map_or("n/a".to_string(), |v| format!("{v} KiB"));
    let mut s = String::new();
    use std::fmt::Write;
    let _ = writeln!(s, "== soak summary");
    let _ = writeln!(
        s,
        "clients: {} for {:.1} min (fd soft limit {}); websocket {}%, polling {}%, upgrade {}%; {}% without a goodbye",
        o.clients,
        o.duration.as_secs_f64() / 60.0,
        fd_limit,
        100 - o.polling_pct - o.upgrade_pct,
        o.polling_pct,
        o.upgrade_pct,
        o.drop_pct
    );
    let _ = writeln!(
        s,
        "sessions opened: {} (websocket {}, polling {}, upgrade {}); connects failed: {}",
        opened,
        counts.opened[0].load(Relaxed),
        counts.opened[1].load(Relaxed),
        counts.opened[2].load(Relaxed),
        counts.connect_failed.load(Relaxed)
    );
    let _ = writeln!(
        s,
        "throughput: {:.1} connections/s; {:.1} messages/s sent, {:.1} messages/s received ({} answers: echoes and acks; {} fanout deliveries); {:.1} messages/s in all",
        opened as f64 / secs,
        sent as f64 / secs,
        received as f64 / secs,
        counts.answered.load(Relaxed),
        counts.delivered.load(Relaxed),
        (sent + received) as f64 / secs
    );
    let _ = writeln!(s, "endings:");
    for (name, n) in &ends {
        let _ = writeln!(s, "  {n:>9}  {name}");
    }
    let _ = writeln!(
        s,
        "silent websockets closed by the server's heartbeat: {} of {}",
        counts.silent_reaped.load(Relaxed),
        silent_total
    );
    let _ = writeln!(
        s,
        "cpu: server {} s ({}), load generator {:.1} s ({:.0}% of one core)",
        server_cpu.map_or("n/a".into(), |c| format!("{c:.1}")),
        server_cpu.map_or("n/a".into(), |c| format!(
            "{:.0}% of one core",
            c * 100.0 / wall
        )),
        my_cpu,
        my_cpu * 100.0 / wall
    );
    let trend = rss_trend.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if !trend.is_empty() {
        let picks: Vec<String> = [1, 2, 3, 4]
            .iter()
            .map(|q| trend[(trend.len() * q / 4).saturating_sub(1)])
            .map(|(t, r)| format!("{r} KiB at {t}s"))
            .collect();
        let _ = writeln!(s, "server rss during the load: {}", picks.join(", "));
    }
    let _ = writeln!(s, "errors: {errors_total}");
    for (k, n) in &errors {
        let _ = writeln!(s, "  {n:>9}  {k}");
    }
    if warm_error_total > 0 {
        let _ = writeln!(s, "warm-up errors: {warm_error_total}");
        for (k, n) in &warm_errors {
            let _ = writeln!(s, "  {n:>9}  {k}");
        }
    }
    let _ = writeln!(
        s,
        "server after the drain{}: sessions {}, sockets {}, rooms {}, room entries {}",
        match idle {
            Some(d) => format!(" (idle {:.1}s after the last client)", d.as_secs_f64()),
            None => format!(" (NOT idle within {drain:?})"),
        },
        field(&after, "sessions"),
        field(&after, "sockets"),
        field(&after, "rooms"),
        field(&after, "room_entries"),
    );
    let _ = writeln!(
        s,
        "server rss: before the load {}; idle after the warm-up {}; idle after the soak {} ({} vs warm-up, {} vs before; limit +{}% over {})",
        kib(rss_before),
        kib(rss_warm),
        kib(rss_end),
        pct(rel(rss_warm)),
        pct(rel(rss_before)),
        o.rss_tolerance_pct,
        if warmup {
            "the last warm-up"
        } else {
            "before the load"
        }
    );
    let _ = writeln!(
        s,
        "server after malloc_trim: rss before the load {}, after the warm-up {}, after the soak {} ({} vs warm-up); heap in use {} / {} / {}",
        kib(trimmed_rss(&before_trimmed)),
        kib(trimmed_rss(&warm_trimmed)),
        kib(trimmed_rss(&end_trimmed)),
        pct(
            match (trimmed_rss(&warm_trimmed), trimmed_rss(&end_trimmed)) {
                (Some(a), Some(e)) if a > 0 => Some((e as f64 - a as f64) * 100.0 / a as f64),
                _ => None,
            }
        ),
        kib(before_trimmed
            .get("heap_in_use_kib")
            .and_then(Value::as_u64)),
        kib(warm_trimmed.get("heap_in_use_kib").and_then(Value::as_u64)),
        kib(end_trimmed.get("heap_in_use_kib").and_then(Value::as_u64)),
    );
    let _ = writeln!(
        s,
        "memory check: {} ({} KiB vs {} KiB)",
        if use_trimmed {
            "VmRSS after malloc_trim"
        } else {
            "VmRSS as is"
        },
        baseline.map_or("n/a".into(), |v| v.to_string()),
        compared.map_or("n/a".into(), |v| v.to_string()),
    );
    let _ = writeln!(
        s,
        "server counters: engine {}; namespace {}",
        after.get("engine").unwrap_or(&Value::Null),
        after.get("namespace").unwrap_or(&Value::Null)
    );
    if failures.is_empty() {
        let _ = writeln!(s, "result: PASS");
    } else {
        let _ = writeln!(s, "result: FAIL");
        for f in &failures {
            let _ = writeln!(s, "  - {f}");
        }
    }
    print!("{s}");

    if let Some(path) = &o.json_out {
        out.insert("clients".into(), json!(o.clients));
        out.insert("duration_s".into(), json!(o.duration.as_secs_f64()));
        out.insert(
            "opened".into(),
            json!({
                "websocket": counts.opened[0].load(Relaxed),
                "polling": counts.opened[1].load(Relaxed),
                "upgrade": counts.opened[2].load(Relaxed),
            }),
        );
        out.insert(
            "connect_failed".into(),
            json!(counts.connect_failed.load(Relaxed)),
        );
        out.insert(
            "connections_per_s".into(),
            json!(round1(opened as f64 / secs)),
        );
        out.insert("sent".into(), json!(sent));
        out.insert("received".into(), json!(received));
        out.insert("delivered".into(), json!(counts.delivered.load(Relaxed)));
        out.insert("sent_per_s".into(), json!(round1(sent as f64 / secs)));
        out.insert(
            "received_per_s".into(),
            json!(round1(received as f64 / secs)),
        );
        out.insert("endings".into(), json!(ends));
        out.insert(
            "silent_reaped".into(),
            json!(counts.silent_reaped.load(Relaxed)),
        );
        out.insert("errors".into(), json!(errors));
        out.insert("warmup_errors".into(), json!(warm_errors));
        out.insert("server_before".into(), before);
        out.insert("server_after_warmup".into(), warm_stats);
        out.insert("server_after".into(), after);
        out.insert(
            "idle_after_s".into(),
            json!(idle.map(|d| round1(d.as_secs_f64()))),
        );
        out.insert("rss_before_kib".into(), json!(rss_before));
        out.insert("rss_warm_kib".into(), json!(rss_warm));
        out.insert("rss_end_kib".into(), json!(rss_end));
        out.insert("server_before_trimmed".into(), before_trimmed.clone());
        out.insert("server_warm_trimmed".into(), warm_trimmed.clone());
        out.insert("server_end_trimmed".into(), end_trimmed.clone());
        out.insert("memory_check_trimmed".into(), json!(use_trimmed));
        out.insert("rss_end_samples_kib".into(), json!(rss_end_samples));
        out.insert("rss_during_kib".into(), json!(trend));
        out.insert("server_cpu_s".into(), json!(server_cpu));
        out.insert("loadgen_cpu_s".into(), json!(round1(my_cpu)));
        out.insert("failures".into(), json!(failures));
        if let Err(e) = std::fs::write(path, Value::Object(out).to_string() + "\n") {
            eprintln!("soak: writing {}: {e}", path.display());
        }
    }
    if failures.is_empty() { 0 } else { 1 }
}
