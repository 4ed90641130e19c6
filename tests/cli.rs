//! The `switchyard` binary as an operator meets it: config errors name the
//! key and exit 1; a good config serves the socket endpoint and the static
//! directory, and SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The binary, without any SWITCHYARD_* variable of the test's own
/// environment: each is a config source, and an unknown one is an error.
fn switchyard() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SWITCHYARD_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn fails_with(cmd: &mut Command, needle: &str) {
    let out = cmd.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr:?}");
}

#[test]
fn missing_config_file_is_named() {
    fails_with(
        switchyard().args(["--config", "/nonexistent/switchyard.toml"]),
        "/nonexistent/switchyard.toml",
    );
}

#[test]
fn bad_env_value_names_the_key() {
    fails_with(
        switchyard().env("SWITCHYARD_PORT", "abc"),
        "config key 'port': invalid value \"abc\" (from SWITCHYARD_PORT): \
         expected an integer 0..=65535",
    );
}

#[test]
fn unknown_env_var_is_named() {
    fails_with(
        switchyard().env("SWITCHYARD_PORTT", "1"),
        "unknown environment variable SWITCHYARD_PORTT (did you mean SWITCHYARD_PORT?)",
    );
}

#[test]
fn unknown_key_and_bad_value_in_file_are_named() {
    let path = std::env::temp_dir().join(format!("switchyard-cli-{}.toml", std::process::id()));
    std::fs::write(&path, "prot = 3000\n").unwrap();
    fails_with(
        switchyard().arg("--config").arg(&path),
        "unknown key 'prot' (did you mean 'port'?)",
    );
    std::fs::write(&path, "port = \"abc\"\n").unwrap();
    fails_with(
        switchyard().env("SWITCHYARD_CONFIG", &path),
        &format!(
            "config key 'port': invalid value \"abc\" (from config file {}): \
             expected an integer 0..=65535",
            path.display()
        ),
    );
    std::fs::remove_file(path).ok();
}

#[test]
fn bad_flag_value_names_the_key() {
    fails_with(
        switchyard().args(["--ping-interval-ms", "0"]),
        "config key 'ping_interval_ms': must be greater than 0 (from --ping-interval-ms)",
    );
    fails_with(
        switchyard().args(["--port", "http"]),
        "config key 'port': invalid value \"http\" (from --port): expected an integer 0..=65535",
    );
}

#[test]
fn help_lists_every_source() {
    let out = switchyard().arg("--help").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--config <PATH>",
        "[env: SWITCHYARD_CONFIG]",
        "--ping-interval-ms <N>",
        "[env: SWITCHYARD_PING_INTERVAL_MS] [default: 25000]",
    ] {
        assert!(help.contains(needle), "{needle:?} not in {help}");
    }
}

/// `--version` names the allocator this binary was built with (a cargo feature).
#[test]
fn version_names_the_allocator() {
    let out = switchyard().arg("--version").output().expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let expected = if cfg!(feature = "jemalloc") {
        "jemalloc"
    } else if cfg!(feature = "mimalloc") {
        "mimalloc"
    } else {
        "system"
    };
    let version = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        version.trim(),
        format!(
            "switchyard {} (allocator: {expected})",
            env!("CARGO_PKG_VERSION")
        )
    );
}

/// With jemalloc, the running server has jemalloc's background thread, which gives freed memory
/// back to the system while the server is idle (src/allocator.rs).
#[cfg(all(feature = "jemalloc", target_os = "linux"))]
#[test]
fn the_server_runs_jemallocs_background_thread() {
    let (server, _stdout, _) = listening(switchyard().args(["--port", "0"]));
    let tasks = format!("/proc/{}/task", server.0.id());
    let names: Vec<String> = std::fs::read_dir(&tasks)
        .expect("the server's threads")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "jemalloc_bg_thd"),
        "no jemalloc background thread among {names:?}"
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The rest of a server's stdout, kept open to the end: a server printing
/// to a closed pipe would die of it.
type Stdout = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// Starts `cmd` with its stdout piped and reads it up to the `listening on`
/// line: the server, the rest of its stdout, and its address.
fn listening(cmd: &mut Command) -> (Server, Stdout, String) {
    let child = cmd.stdout(Stdio::piped()).spawn().expect("starts");
    let mut server = Server(child);
    let mut stdout = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let addr = (stdout.by_ref())
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("listening on ").map(str::to_string))
        .expect("announces its address");
    (server, stdout, addr)
}

fn http_get(addr: &str, path: &str) -> String {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// Sends `request` whole and reads the answer to the end (the server closes).
fn http(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serves_socket_endpoint_and_static_files_then_stops_on_sigterm() {
    let child = switchyard()
        .args(["--port", "0", "--ping-interval-ms", "1000"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut server = Server(child);
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let banner = lines.next().expect("a line").unwrap();
    assert!(
        banner.contains("the chat demo, config from the built-in defaults"),
        "{banner}"
    );
    let line = lines.next().expect("a line").unwrap();
    let addr = line
        .strip_prefix("listening on ")
        .expect("announces its address")
        .to_string();
    let open = lines.next().expect("a line").unwrap();
    assert!(
        open.starts_with(&format!("open http://{addr}/ (files from static")),
        "{open}"
    );

    let handshake = http_get(&addr, "/socket.io/?EIO=4&transport=polling");
    assert!(handshake.starts_with("HTTP/1.1 200"), "{handshake}");
    assert!(handshake.contains(r#""pingInterval":1000"#), "{handshake}");

    let index = http_get(&addr, "/");
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(index.contains("<html"), "{index}");

    let kill = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = server.0.wait().unwrap();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn a_busy_port_is_one_line_naming_the_address_and_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    fails_with(
        switchyard().args(["--port", &port]),
        &format!("switchyard: cannot listen on 127.0.0.1:{port}: "),
    );
    let out = switchyard().args(["--port", &port]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--host/--port, SWITCHYARD_HOST/SWITCHYARD_PORT"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn metrics_are_off_by_default_and_on_loopback_when_turned_on() {
    let (_server, mut stdout, addr) = listening(switchyard().args(["--port", "0"]));
    let health = http_get(&addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let open = stdout.next().expect("a line").unwrap();
    assert!(open.starts_with("open http://"), "{open}");
    assert!(
        TcpStream::connect("127.0.0.1:9464").is_err(),
        "no metrics listener unless asked"
    );
    let (_server, stdout, _) = listening(switchyard().args(["--port", "0", "--metrics", "true"]));
    let metrics = (stdout.map_while(Result::ok))
        .find_map(|l| l.strip_prefix("metrics at http://").map(str::to_string))
        .expect("says where the metrics are");
    // The default address: loopback, on 9464 (OpenTelemetry's Prometheus exporter port).
    assert!(metrics.starts_with("127.0.0.1:9464/metrics "), "{metrics}");
    let scraped = http_get("127.0.0.1:9464", "/metrics");
    assert!(scraped.starts_with("HTTP/1.1 200"), "{scraped}");
    let idle = r#"switchyard_engine_sessions{transport="websocket",protocol="4"} 0"#;
    assert!(scraped.contains(idle), "{scraped}");
}

#[test]
fn a_busy_metrics_port_names_the_key_and_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    fails_with(
        switchyard().args(["--port", "0", "--metrics", "true", "--metrics-addr", &addr]),
        &format!("metrics_addr {addr}: "),
    );
    fails_with(
        switchyard().args(["--port", "0", "--metrics", "true", "--metrics-addr", &addr]),
        "--metrics-addr or SWITCHYARD_METRICS_ADDR",
    );
}

#[test]
fn redis_down_at_start_is_an_error_naming_the_url() {
    // A port nobody listens on: taken, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    for adapter in ["redis", "redis-streams"] {
        fails_with(
            switchyard().args(["--port", "0", "--adapter", adapter, "--redis-url", &url]),
            &format!("switchyard: cannot reach redis at {url}: "),
        );
    }
}

#[test]
fn unusable_redis_tls_files_are_one_line_naming_the_key_or_the_url() {
    let url = "rediss://app:s3cret@127.0.0.1:1";
    let shown = "rediss://app:***@127.0.0.1:1";
    let tls = |ca: &str| {
        let mut cmd = switchyard();
        cmd.args(["--port", "0", "--adapter", "redis", "--redis-url", url])
            .args(["--redis-tls-ca-file", ca]);
        cmd
    };
    fails_with(
        &mut tls("/nonexistent/ca.pem"),
        "switchyard: config key 'redis_tls_ca_file': cannot read \"/nonexistent/ca.pem\": ",
    );
    let not_pem = std::env::temp_dir().join(format!("switchyard-cli-{}.pem", std::process::id()));
    std::fs::write(&not_pem, "not a certificate\n").unwrap();
    let out = tls(not_pem.to_str().unwrap()).output().expect("runs");
    let _ = std::fs::remove_file(&not_pem);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "switchyard: cannot use the TLS certificates for redis at {shown}: \
             the CA certificates hold no PEM certificate"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}

#[test]
fn a_missing_static_dir_is_one_warning_and_the_server_still_runs() {
    let (mut server, mut stdout, addr) = listening(
        switchyard()
            .args(["--port", "0", "--static-dir", "/nonexistent/static"])
            .env("RUST_LOG", "warn")
            .stderr(Stdio::piped()),
    );
    // No page to open: the second line says where Socket.IO is, and only that.
    let second = stdout.next().and_then(Result::ok).expect("a second line");
    assert_eq!(
        second,
        format!(
            "Socket.IO at http://{addr}/socket.io/, its browser client at /socket.io/socket.io.js (no files at /)"
        )
    );
    let handshake = http_get(&addr, "/socket.io/?EIO=4&transport=polling");
    assert!(handshake.starts_with("HTTP/1.1 200"), "{handshake}");
    let _ = server.0.kill();
    drop(stdout);
    let mut stderr = String::new();
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("static_dir /nonexistent/static is not a directory"),
        "{stderr}"
    );
}

#[test]
fn started_from_another_directory_it_finds_the_static_files_above_the_binary() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    if !std::path::Path::new(env!("CARGO_BIN_EXE_switchyard")).starts_with(manifest) {
        // Built outside the repository (CARGO_TARGET_DIR): nothing above it to find.
        eprintln!("skipped: the binary is not under {}", manifest.display());
        return;
    }
    let elsewhere = std::env::temp_dir();
    let (mut server, mut stdout, addr) = listening(
        switchyard()
            .current_dir(&elsewhere)
            .args(["--port", "0"])
            .env("RUST_LOG", "warn")
            .stderr(Stdio::null()),
    );
    let second = stdout.next().and_then(Result::ok).expect("a second line");
    // The repository's static/, found above target/debug/switchyard.
    let repo_static = manifest.join("static");
    let files = format!("(files from {}, ", repo_static.display());
    assert!(
        second.starts_with(&format!("open http://{addr}/ ")),
        "{second}"
    );
    assert!(second.contains(&files), "{second}");
    let page = http_get(&addr, "/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let _ = server.0.kill();
    drop(stdout);
}

/// A POST of `body`, answered in full (the connection closes).
fn http_post(addr: &str, path: &str, body: &str) -> String {
    let length = body.len();
    http(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n\
             Content-Length: {length}\r\nConnection: close\r\n\r\n{body}"
        ),
    )
}

/// Opens an Engine.IO session over polling and connects it to `/` (raw
/// HTTP): its sid, once the GET after the CONNECT has carried the answer.
fn connect_over_polling(addr: &str) -> String {
    let open = http_get(addr, "/socket.io/?EIO=4&transport=polling");
    let sid = open
        .split("\"sid\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a handshake with a sid")
        .to_string();
    let session = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let posted = http_post(addr, &session, "40");
    assert!(posted.starts_with("HTTP/1.1 200"), "{posted}");
    let answer = http_get(addr, &session);
    assert!(answer.contains("40{\"sid\":"), "{answer}");
    sid
}

/// Stops a server started with its stderr piped, and reads that whole.
fn stop_and_read_stderr(mut server: Server, stdout: Stdout) -> String {
    let _ = server.0.kill();
    let _ = server.0.wait();
    drop(stdout);
    let mut stderr = String::new();
    (server.0.stderr.take().unwrap())
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

#[test]
fn rust_log_trace_shows_every_message_both_ways() {
    let (server, stdout, addr) = listening(
        switchyard()
            .args(["--port", "0"])
            .env("RUST_LOG", "switchyard_engineio=trace")
            .stderr(Stdio::piped()),
    );
    let sid = connect_over_polling(&addr);
    // Its log read whole: both directions are in it.
    let stderr = stop_and_read_stderr(server, stdout);
    assert!(stderr.contains(&format!("sid={sid} in: 40")), "{stderr}");
    assert!(
        stderr.contains(&format!("sid={sid} out: 40{{\"sid\":")),
        "{stderr}"
    );
}

#[test]
fn log_format_json_writes_one_object_per_line_with_the_text_lines_fields() {
    let (server, stdout, addr) = listening(
        switchyard()
            .args(["--port", "0", "--log-format", "json"])
            .args(["--static-dir", "/nonexistent/static"])
            .env("RUST_LOG", "warn,switchyard_engineio=trace")
            .stderr(Stdio::piped()),
    );
    let sid = connect_over_polling(&addr);
    let stderr = stop_and_read_stderr(server, stdout);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    for line in &lines {
        let fields: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            fields,
            ["level", "message", "target", "timestamp"],
            "{line}"
        );
    }
    let warning = (lines.iter())
        .find(|l| l["level"] == "WARN")
        .expect("the static_dir warning");
    assert_eq!(warning["target"], "switchyard::service");
    let message = warning["message"].as_str().unwrap();
    assert!(message.starts_with("static_dir /nonexistent/static is not a directory"));
    // The trace of the CONNECT answer: a message with quotes in it, intact.
    assert!(
        (lines.iter()).any(|l| l["level"] == "TRACE"
            && l["message"]
                .as_str()
                .unwrap()
                .contains(&format!("sid={sid} out: 40{{\"sid\":"))),
        "{stderr}"
    );
}
