//! Load generator for the Socket.IO benchmark (see ../README.md): raw Engine.IO v4 / Socket.IO
//! frames over WebSocket (tokio-tungstenite) and HTTP long-polling (hyper), no socket.io
//! client library, one tokio runtime, loopback only. Every loop is bounded in count and time.
//!
//! `loadgen run --port P --server-pid PID [--scenarios connect,echo,echo-ack,fanout,polling]`
//! prints progress lines on stderr and one JSON object with every figure on stdout.
//! `loadgen report NAME=FILE...` turns such objects into the Markdown table of BENCHMARKS.md.
//! `loadgen cluster-report NAME=FILE...` turns fan-out results into the table of `cluster.sh`.
//! `loadgen free-port` prints a free loopback TCP port.
//! `loadgen burst --port P --server-pid PID [--clients C --events N]` measures the resident memory
//! a burst of polling messages leaves behind (see `burst.rs`); one JSON object on stdout.
//! `loadgen soak --port P [--clients N --minutes M]` churns clients against a server that answers
//! `GET /stats` (see `soak.rs`); exit status 1 when its end conditions fail.

mod burst;
mod connect;
mod echo;
mod fanout;
mod polling;
mod procfs;
mod proto;
mod report;
mod soak;
mod util;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value, json};

#[derive(Parser)]
#[command(
    version,
    about = "Socket.IO benchmark load generator (raw Engine.IO v4 frames)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs scenarios against one server; one JSON line on stdout.
    Run(Box<RunArgs>),
    /// Markdown table (and targets) from `NAME=FILE.json` results; the first is Switchyard.
    Report {
        /// `name=path` pairs; the first is the subject, the others its peers.
        results: Vec<String>,
    },
    /// The fan-out table of `cluster.sh` from `NAME=FILE.json` results, one row per window.
    ClusterReport {
        /// `name=path` pairs, one per setup, in the order shown.
        results: Vec<String>,
    },
    /// The scaling table of `cluster.sh --scale` from `NAME=FILE.json` results, one row per
    /// window, with each node's CPU per delivery.
    ScaleReport {
        /// `name=path` pairs, one per node count, in the order shown.
        results: Vec<String>,
    },
    /// Prints a free TCP port on 127.0.0.1.
    FreePort,
    /// Churn and soak: clients connect, join, message, leave and disconnect (some without a
    /// goodbye) for M minutes; then the server must be idle with its memory back.
    Soak(Box<SoakArgs>),
    /// Memory after a burst: C polling clients each POST payloads of N `echo` events, close,
    /// and the server's VmRSS is read before, at the peak and once idle again; one JSON line.
    Burst(BurstArgs),
}

#[derive(Args)]
struct BurstArgs {
    /// Server address (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    #[arg(long, env = "PORT")]
    port: u16,
    /// The server's pid: its VmRSS is sampled for the peak.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Long-polling clients, all at once.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// POSTs per client, one after another.
    #[arg(long, default_value_t = 1)]
    posts: usize,
    /// `echo` events per POST (55,554 with `--pad 4`, 18 bytes each with the separator, fill
    /// maxPayload 1e6).
    #[arg(long, default_value_t = 55_554)]
    events: usize,
    /// Bytes of padding in each `echo`'s argument.
    #[arg(long, default_value_t = 0)]
    pad: usize,
    /// Long-poll the echoes of each POST back before the next one.
    #[arg(long)]
    read: bool,
    /// Longest wait for one answer, seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Longest wait for the server to be idle after the burst, seconds.
    #[arg(long, default_value_t = 120.0)]
    idle_bound: f64,
    /// Seconds between the server being idle and the memory read after the burst.
    #[arg(long, default_value_t = 10.0)]
    settle: f64,
    /// Tokio worker threads (0: current_thread).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

#[derive(Args)]
struct SoakArgs {
    /// Server address (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    #[arg(long, env = "PORT")]
    port: u16,
    /// The server's pid: its CPU time, its open-files limit, whether it is still alive.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Client slots, each one session after another (capped by the open-files limits).
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// How long the churn lasts.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Percent of sessions on HTTP long-polling only.
    #[arg(long, default_value_t = 35)]
    polling_pct: u32,
    /// Percent of sessions opened by polling and upgraded to WebSocket (the rest: WebSocket).
    #[arg(long, default_value_t = 15)]
    upgrade_pct: u32,
    /// Percent of sessions that end without a goodbye (WebSocket: FIN, RST or silence;
    /// polling: the polls stop).
    #[arg(long, default_value_t = 20)]
    drop_pct: u32,
    /// Mean think time between two actions of a session, in ms (uniform in 0..2×).
    #[arg(long, default_value_t = 3000)]
    think_ms: u64,
    /// Most actions per session (uniform in 1..=N).
    #[arg(long, default_value_t = 10)]
    max_actions: u32,
    /// Rooms the clients join (default: clients / 4, so rooms stay small).
    #[arg(long)]
    rooms: Option<usize>,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Longest wait for one answer, in seconds.
    #[arg(long, default_value_t = 20.0)]
    timeout: f64,
    /// Longest wait for the server to be idle after the clients are gone, in seconds
    /// (default: its ping interval + ping timeout + 30 s).
    #[arg(long)]
    drain: Option<f64>,
    /// Idle seconds before the server's memory is read.
    #[arg(long, default_value_t = 5.0)]
    settle: f64,
    /// Largest growth of the server's idle VmRSS over the warm-up's, in percent.
    #[arg(long, default_value_t = 10.0)]
    rss_tolerance_pct: f64,
    /// Compare the server's VmRSS as it is; by default, when the server can (`/stats?trim=1`,
    /// glibc), VmRSS after it gave its allocator's free memory back (both are printed).
    #[arg(long)]
    raw_rss: bool,
    /// Fail when more errors than this were counted (default: errors are only reported).
    #[arg(long)]
    max_errors: Option<u64>,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 10.0)]
    progress: f64,
    /// Padding characters in every echo / fan-out payload.
    #[arg(long, default_value_t = 32)]
    pad: usize,
    /// Warm-up rounds (every client connects, joins, echoes, then all leave) before the load;
    /// the server's idle memory after the last one is the baseline (0: before the load).
    #[arg(long, default_value_t = 1)]
    warmup_rounds: u32,
    /// Minutes of the soak's own churn before the warm-up rounds, so that the memory baseline
    /// comes after the server's allocator has met every pattern of the load (default 0).
    #[arg(long, default_value_t = 0.0)]
    warmup_minutes: f64,
    /// Loopback source addresses clients bind to, round robin; default past 2,000 clients:
    /// 127.0.0.2-127.0.0.5.
    #[arg(long, value_delimiter = ',')]
    source_ips: Vec<IpAddr>,
    /// Worker threads of the one tokio runtime (0: current_thread).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Also write every figure as one JSON object to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(Args)]
struct RunArgs {
    /// Server address (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    #[arg(long, env = "PORT")]
    port: u16,
    /// The server's pid, for VmRSS and CPU time from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Name put in the JSON.
    #[arg(long, default_value = "server")]
    name: String,
    /// Comma-separated: connect, echo, echo-ack, fanout, polling.
    #[arg(
        long,
        default_value = "connect,echo,echo-ack,fanout,polling",
        value_delimiter = ','
    )]
    scenarios: Vec<String>,
    /// Worker threads of the one tokio runtime (0: current_thread).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The Socket.IO parser the server speaks: `json`, or `msgpack` (socket.io-msgpack-parser;
    /// WebSocket scenarios only, `polling` is skipped).
    #[arg(long, default_value = "json", value_parser = ["json", "msgpack"])]
    parser: String,
    /// The server serves no HTTP long-polling (the raw WebSocket peer): `polling` is skipped.
    #[arg(long)]
    websocket_only: bool,
    /// Loopback source addresses clients bind to, round robin (e.g. 127.0.0.2,127.0.0.3):
    /// each gives its own ~28k ephemeral ports, for runs past ~25k sessions.
    #[arg(long, value_delimiter = ',')]
    source_ips: Vec<IpAddr>,
    /// Padding characters in every echo / fan-out payload.
    #[arg(long, default_value_t = 32)]
    pad: usize,
    /// Pause between scenarios, in ms.
    #[arg(long, default_value_t = 2000)]
    pause_ms: u64,

    /// Connect: sessions to open and hold.
    #[arg(long, default_value_t = 5000)]
    connect_n: usize,
    /// Connect: handshakes in flight at once.
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Connect: how long the sessions are held idle before VmRSS is read, in ms.
    #[arg(long, default_value_t = 2000)]
    connect_settle_ms: u64,

    /// Echo: clients.
    #[arg(long, default_value_t = 50)]
    echo_clients: usize,
    /// Echo: total messages per second over all clients.
    #[arg(long, default_value_t = 5000.0)]
    echo_rate: f64,
    /// Echo: seconds.
    #[arg(long, default_value_t = 10.0)]
    echo_duration: f64,

    /// Fan-out: receivers in the room.
    #[arg(long, default_value_t = 1000)]
    fanout_receivers: usize,
    /// Fan-out: in-flight windows, one run each.
    #[arg(long, default_value = "16,64", value_delimiter = ',')]
    fanout_windows: Vec<usize>,
    /// Fan-out: seconds per window.
    #[arg(long, default_value_t = 10.0)]
    fanout_duration: f64,
    /// Fan-out: longest wait for the last deliveries after the last ack, in seconds.
    #[arg(long, default_value_t = 10.0)]
    fanout_drain: f64,
    /// Fan-out: the wait for the last deliveries ends earlier when none came for this long, in
    /// ms. A receiver whose TCP window closed under a backlog gets the rest only at the sender's
    /// next zero-window probe, which backs off past a second: raise it when backlogs are large.
    #[arg(long, default_value_t = 1000)]
    fanout_drain_idle_ms: u64,
    /// Fan-out: the port of the node the sender connects to (another node of a cluster, same
    /// host); by default the receivers' node (`--port`).
    #[arg(long)]
    sender_port: Option<u16>,
    /// Fan-out: the pid of the sender's node, whose CPU time is then reported too
    /// (`sender_server_cpu_*`), apart from the receivers' node's (`server_cpu_*`).
    #[arg(long)]
    sender_server_pid: Option<u32>,
    /// Fan-out: further nodes of a cluster holding receivers, as `PORT:PID` (PID may be left
    /// out); the receivers are spread round robin over `--port`'s node and these, and each
    /// node's CPU time is reported against the deliveries to its own receivers (`nodes`).
    #[arg(long, value_delimiter = ',', value_parser = parse_node)]
    fanout_nodes: Vec<(u16, Option<u32>)>,
    /// Fan-out: the pids of Redis servers (one, or a Redis Cluster's), whose CPU time, summed,
    /// is reported too (`redis_cpu_*`).
    #[arg(long, value_delimiter = ',')]
    redis_pids: Vec<u32>,

    /// Polling: clients.
    #[arg(long, default_value_t = 20)]
    poll_clients: usize,
    /// Polling: total messages per second.
    #[arg(long, default_value_t = 500.0)]
    poll_rate: f64,
    /// Polling: seconds.
    #[arg(long, default_value_t = 10.0)]
    poll_duration: f64,
}

fn main() {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::FreePort => {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            println!("{}", l.local_addr().expect("addr").port());
        }
        Cmd::Report { results } => match report::render(&results) {
            Ok(md) => print!("{md}"),
            Err(e) => {
                eprintln!("report: {e}");
                std::process::exit(1);
            }
        },
        Cmd::ClusterReport { results } => match report::cluster(&results) {
            Ok(md) => print!("{md}"),
            Err(e) => {
                eprintln!("cluster-report: {e}");
                std::process::exit(1);
            }
        },
        Cmd::ScaleReport { results } => match report::scale(&results) {
            Ok(md) => print!("{md}"),
            Err(e) => {
                eprintln!("scale-report: {e}");
                std::process::exit(1);
            }
        },
        Cmd::Run(args) => {
            let rt = runtime(args.threads);
            let out = rt.block_on(run(*args));
            println!("{out}");
        }
        Cmd::Soak(args) => std::process::exit(soak_main(*args)),
        Cmd::Burst(a) => std::process::exit(burst_main(a)),
    }
}

fn runtime(threads: usize) -> tokio::runtime::Runtime {
    if threads == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    }
    .enable_all()
    .build()
    .expect("tokio runtime")
}

fn soak_main(a: SoakArgs) -> i32 {
    let mut sources = a.source_ips.clone();
    if sources.is_empty() && a.clients > 2000 {
        sources = (2..=5).map(|i| IpAddr::from([127, 0, 0, i])).collect();
    }
    for ip in std::iter::once(&a.host).chain(&sources) {
        if !ip.is_loopback() {
            eprintln!("refusing non-loopback address {ip}: the soak stays on 127.0.0.0/8");
            return 2;
        }
    }
    if a.polling_pct + a.upgrade_pct > 100 || a.drop_pct > 100 {
        eprintln!("--polling-pct + --upgrade-pct and --drop-pct are percentages (at most 100)");
        return 2;
    }
    if !(a.minutes > 0.0 && a.timeout > 0.0 && a.progress > 0.0 && a.settle >= 0.0) {
        eprintln!("--minutes, --timeout and --progress must be positive");
        return 2;
    }
    let mut o = soak::SoakOpts {
        clients: a.clients.max(1),
        duration: Duration::from_secs_f64(a.minutes * 60.0),
        polling_pct: a.polling_pct,
        upgrade_pct: a.upgrade_pct,
        drop_pct: a.drop_pct,
        think: Duration::from_millis(a.think_ms),
        max_actions: a.max_actions.max(1),
        rooms: a.rooms.unwrap_or(a.clients / 4).max(1),
        connect_concurrency: a.connect_concurrency,
        timeout: Duration::from_secs_f64(a.timeout),
        drain: a.drain.map(Duration::from_secs_f64),
        settle: Duration::from_secs_f64(a.settle),
        rss_tolerance_pct: a.rss_tolerance_pct,
        raw_rss: a.raw_rss,
        max_errors: a.max_errors,
        progress: Duration::from_secs_f64(a.progress),
        pad: a.pad,
        warmup_rounds: a.warmup_rounds,
        warmup_churn: Duration::from_secs_f64(a.warmup_minutes.max(0.0) * 60.0),
        json_out: a.json.clone(),
    };
    let (max, limit, per_client) = soak::max_clients(&o, a.server_pid);
    if o.clients > max {
        eprintln!(
            "soak: --clients {} capped to {max}: the open-files limit is {limit} (the lower of this \
             process's soft limit and the server's), and this transport mix needs about {per_client:.2} \
             descriptors per client plus a spare of 512; raise `ulimit -n` for more",
            o.clients
        );
        o.clients = max.max(1);
        if a.rooms.is_none() {
            o.rooms = (o.clients / 4).max(1);
        }
    }
    let target = Arc::new(util::Target::new(a.host, a.port, sources, a.server_pid));
    proto::init_clock();
    runtime(a.threads).block_on(soak::run(target, o))
}

/// `PORT` or `PORT:PID`.
fn parse_node(s: &str) -> Result<(u16, Option<u32>), String> {
    let (port, pid) = match s.split_once(':') {
        Some((port, pid)) => (port, Some(pid)),
        None => (s, None),
    };
    let port = port.parse().map_err(|e| format!("port {port:?}: {e}"))?;
    let pid = pid
        .map(|p| p.parse().map_err(|e| format!("pid {p:?}: {e}")))
        .transpose()?;
    Ok((port, pid))
}

fn burst_main(a: BurstArgs) -> i32 {
    if !a.host.is_loopback() {
        eprintln!(
            "refusing non-loopback address {}: the burst stays on 127.0.0.0/8",
            a.host
        );
        return 2;
    }
    if !(a.timeout > 0.0 && a.idle_bound > 0.0 && a.settle >= 0.0) {
        eprintln!("--timeout and --idle-bound must be positive, --settle at least 0");
        return 2;
    }
    let o = burst::BurstOpts {
        clients: a.clients.max(1),
        posts: a.posts.max(1),
        events: a.events.max(1),
        pad: a.pad,
        read: a.read,
        timeout: Duration::from_secs_f64(a.timeout),
        idle_bound: Duration::from_secs_f64(a.idle_bound),
        settle: Duration::from_secs_f64(a.settle),
    };
    let target = Arc::new(util::Target::new(a.host, a.port, Vec::new(), a.server_pid));
    match runtime(a.threads).block_on(burst::run(target, o)) {
        Ok(v) => {
            println!("{v}");
            0
        }
        Err(e) => {
            eprintln!("burst: {e}");
            1
        }
    }
}

fn leaked(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

async fn run(a: RunArgs) -> Value {
    proto::init_clock();
    for ip in std::iter::once(&a.host).chain(&a.source_ips) {
        if !ip.is_loopback() {
            eprintln!("refusing non-loopback address {ip}: this benchmark stays on 127.0.0.0/8");
            std::process::exit(2);
        }
    }
    let target = Arc::new(util::Target::new(
        a.host,
        a.port,
        a.source_ips.clone(),
        a.server_pid,
    ));
    // The sender's node, when it is told apart from the receivers' one.
    let sender_target = (a.sender_port.is_some() || a.sender_server_pid.is_some()).then(|| {
        Arc::new(util::Target::new(
            a.host,
            a.sender_port.unwrap_or(a.port),
            a.source_ips.clone(),
            a.sender_server_pid,
        ))
    });
    let more_nodes: Vec<_> = a
        .fanout_nodes
        .iter()
        .map(|&(port, pid)| Arc::new(util::Target::new(a.host, port, a.source_ips.clone(), pid)))
        .collect();
    if a.parser == "msgpack" {
        proto::use_msgpack();
    }
    let mut out = Map::new();
    out.insert("server".into(), json!(a.name));
    out.insert("parser".into(), json!(a.parser));
    out.insert("loadgen_threads".into(), json!(a.threads));
    out.insert(
        "server_rss_start_kib".into(),
        json!(procfs::rss_kib(a.server_pid)),
    );
    if a.sender_server_pid.is_some() {
        out.insert(
            "sender_server_rss_start_kib".into(),
            json!(procfs::rss_kib(a.sender_server_pid)),
        );
    }
    let pause = Duration::from_millis(a.pause_ms);
    let drain = Duration::from_secs(5);
    let mut first = true;
    for scenario in &a.scenarios {
        if !first {
            tokio::time::sleep(pause).await;
        }
        first = false;
        eprintln!("== {} : {scenario}", a.name);
        match scenario.as_str() {
            "connect" => {
                let o = connect::ConnectOpts {
                    n: a.connect_n,
                    concurrency: a.connect_concurrency,
                    settle: Duration::from_millis(a.connect_settle_ms),
                    timeout: Duration::from_secs(20),
                };
                out.insert("connect".into(), connect::run(target.clone(), &o).await);
            }
            "echo" | "echo-ack" => {
                let ack = scenario == "echo-ack";
                let o = echo::EchoOpts {
                    clients: a.echo_clients,
                    rate: a.echo_rate,
                    duration: Duration::from_secs_f64(a.echo_duration),
                    ack,
                    pad: a.pad,
                    drain,
                };
                let key = if ack { "echo_ack" } else { "echo" };
                out.insert(
                    key.into(),
                    echo::run(target.clone(), &o, leaked(scenario)).await,
                );
            }
            "fanout" => {
                for (i, &w) in a.fanout_windows.iter().enumerate() {
                    if i > 0 {
                        tokio::time::sleep(pause).await;
                    }
                    let o = fanout::FanoutOpts {
                        receivers: a.fanout_receivers,
                        window: w.max(1),
                        duration: Duration::from_secs_f64(a.fanout_duration),
                        pad: a.pad,
                        drain: Duration::from_secs_f64(a.fanout_drain),
                        drain_idle: Duration::from_millis(a.fanout_drain_idle_ms),
                        room: format!("bench-w{w}"),
                        sender: sender_target.clone(),
                        more_nodes: more_nodes.clone(),
                        redis_pids: a.redis_pids.clone(),
                    };
                    let key = format!("fanout_w{w}");
                    let label = leaked(&key);
                    out.insert(key.clone(), fanout::run(target.clone(), &o, label).await);
                }
            }
            "polling" if proto::msgpack() => {
                eprintln!("polling skipped: the load generator speaks msgpack over WebSocket only");
            }
            "polling" if a.websocket_only => {
                eprintln!("polling skipped: the server serves WebSocket only");
            }
            "polling" => {
                let o = polling::PollingOpts {
                    clients: a.poll_clients,
                    rate: a.poll_rate,
                    duration: Duration::from_secs_f64(a.poll_duration),
                    pad: a.pad,
                    drain,
                };
                out.insert("polling".into(), polling::run(target.clone(), &o).await);
            }
            other => {
                eprintln!("unknown scenario {other:?} (connect, echo, echo-ack, fanout, polling)");
                std::process::exit(2);
            }
        }
        if let Some(pid) = a.server_pid
            && procfs::rss_kib(Some(pid)).is_none()
        {
            eprintln!("server pid {pid} is gone after {scenario}");
            out.insert("server_died_after".into(), json!(scenario));
            break;
        }
        if let Some(pid) = a.sender_server_pid
            && procfs::rss_kib(Some(pid)).is_none()
        {
            eprintln!("sender's server pid {pid} is gone after {scenario}");
            out.insert("sender_server_died_after".into(), json!(scenario));
            break;
        }
    }
    out.insert(
        "server_rss_end_kib".into(),
        json!(procfs::rss_kib(a.server_pid)),
    );
    if a.sender_server_pid.is_some() {
        out.insert(
            "sender_server_rss_end_kib".into(),
            json!(procfs::rss_kib(a.sender_server_pid)),
        );
    }
    out.insert(
        "loadgen_cpu_s".into(),
        json!(util::round3(procfs::cpu_seconds(None).unwrap_or(0.0))),
    );
    Value::Object(out)
}
