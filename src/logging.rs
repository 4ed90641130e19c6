//! The binary's log lines on standard error: env_logger's text lines, or one
//! JSON object per line ([`LogFormat::Json`]) for log shippers. It owns only
//! the line format; which lines are written is `RUST_LOG`'s business
//! (default `info`), and the start-up lines on standard output
//! ([`announce`](crate::service)) stay plain text in both formats.

use std::io::Write;

use serde::Deserialize;

/// How log lines are written ([`Config::log_format`](crate::config::Config::log_format)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// env_logger's lines: `[2026-12-05T03:20:00Z INFO  target] message`.
    Text,
    /// One JSON object per line with the text line's fields:
    /// `{"timestamp":"2026-12-05T03:20:00.123Z","level":"INFO","target":"...","message":"..."}`.
    Json,
}

/// Installs the global logger: `RUST_LOG` filters (default `info`), `format`
/// shapes the lines. Call once, before anything logs.
pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if format == LogFormat::Json {
        builder.format(|buf, record| {
            let line = json_line(
                &buf.timestamp_millis().to_string(),
                record.level(),
                record.target(),
                &record.args().to_string(),
            );
            writeln!(buf, "{line}")
        });
    }
    builder.init();
}

/// One log line as JSON: serde_json escapes what the message holds (quotes,
/// newlines, control characters), so every line is one valid object.
fn json_line(timestamp: &str, level: log::Level, target: &str, message: &str) -> String {
    serde_json::json!({
        "timestamp": timestamp,
        "level": level.as_str(),
        "target": target,
        "message": message,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_is_one_object_with_the_text_lines_fields() {
        let line = json_line(
            "2026-12-05T03:20:00.123Z",
            log::Level::Warn,
            "switchyard::service",
            "static_dir \"x\" is\nnot a directory",
        );
        assert!(!line.contains('\n'), "{line}");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "timestamp": "2026-12-05T03:20:00.123Z",
                "level": "WARN",
                "target": "switchyard::service",
                "message": "static_dir \"x\" is\nnot a directory",
            })
        );
    }
}
