//! The `switchyard` binary as an operator meets it: config errors name the
//! key and exit 1; a good config serves the socket endpoint and the static
//! directory, and SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn switchyard() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("SWITCHYARD_CONFIG");
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
        "config key 'port'",
    );
}

#[test]
fn unknown_key_in_file_is_named() {
    let path = std::env::temp_dir().join(format!("switchyard-cli-{}.toml", std::process::id()));
    std::fs::write(&path, "prot = 3000\n").unwrap();
    fails_with(
        switchyard().arg("--config").arg(&path),
        "unknown key 'prot'",
    );
    std::fs::remove_file(path).ok();
}

#[test]
fn bad_flag_value_names_the_key() {
    fails_with(
        switchyard().args(["--ping-interval-ms", "0"]),
        "config key 'ping_interval_ms'",
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
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
    let line = lines.next().expect("a line").unwrap();
    let addr = line
        .strip_prefix("listening on ")
        .expect("announces its address")
        .to_string();

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
