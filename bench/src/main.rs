//! Load generator for the Socket.IO benchmark (see ../README.md): raw Engine.IO v4 / Socket.IO
//! frames over WebSocket (tokio-tungstenite) and HTTP long-polling (hyper), no socket.io
//! client library, one tokio runtime, loopback only. Every loop is bounded in count and time.
//!
//! `loadgen run --port P --server-pid PID [--scenarios connect,echo,echo-ack,fanout,polling]`
//! prints progress lines on stderr and one JSON object with every figure on stdout.
//! `loadgen report NAME=FILE...` turns such objects into the Markdown table of BENCHMARKS.md.
//! `loadgen cluster-report NAME=FILE...` turns fan-out results into the table of `cluster.sh`.
//! `loadgen free-port` prints a free loopback TCP port.

mod connect;
mod echo;
mod fanout;
mod polling;
mod procfs;
mod proto;
mod report;
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
    /// Prints a free TCP port on 127.0.0.1.
    FreePort,
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
        Cmd::Run(args) => {
            let rt = if args.threads == 0 {
                tokio::runtime::Builder::new_current_thread()
            } else {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(args.threads);
                b
            }
            .enable_all()
            .build()
            .expect("tokio runtime");
            let out = rt.block_on(run(*args));
            println!("{out}");
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
    let mut out = Map::new();
    out.insert("server".into(), json!(a.name));
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
                    };
                    let key = format!("fanout_w{w}");
                    let label = leaked(&key);
                    out.insert(key.clone(), fanout::run(target.clone(), &o, label).await);
                }
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
