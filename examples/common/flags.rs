//! Command-line flags of the example servers: `--name value` pairs, nothing more.

/// The value of flag `name` (e.g. `--port`), or `default` when it is absent or does not parse.
pub fn flag<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|w| w[0] == name)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(default)
}
