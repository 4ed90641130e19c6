//! The stable smoke run of every fuzz target (see `src/smoke.rs`):
//! `cargo test --manifest-path fuzz/Cargo.toml --no-default-features`.
//! `FUZZ_SMOKE_ITERATIONS` and `FUZZ_SMOKE_SECONDS` (per target) bound it;
//! the defaults keep the whole run to a few seconds.

use std::time::Duration;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn smoke(target: &str) {
    let (_, body) = switchyard_fuzz::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let iterations = env("FUZZ_SMOKE_ITERATIONS", 5_000) as usize;
    let budget = Duration::from_secs(env("FUZZ_SMOKE_SECONDS", 10));
    let start = std::time::Instant::now();
    let ran = switchyard_fuzz::smoke::run(target, *body, iterations, budget);
    println!("{target}: {ran} inputs in {:.1?}", start.elapsed());
}

#[test]
fn ws_codec() {
    smoke("ws_codec");
}

#[test]
fn engine() {
    smoke("engine");
}

#[test]
fn socketio() {
    smoke("socketio");
}

#[test]
fn msgpack() {
    smoke("msgpack");
}

#[test]
fn sails_request() {
    smoke("sails_request");
}

#[test]
fn config() {
    smoke("config");
}

#[test]
fn ws_diff() {
    smoke("ws_diff");
}
