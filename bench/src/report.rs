//! The Markdown table of BENCHMARKS.md from `loadgen run` results: one column per server,
//! then the ratio subject/peer for each peer, then the targets checked.

use serde_json::Value;

#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
    /// A count that should be zero; no ratio.
    Zero,
    /// Informational; no ratio.
    Info,
}

struct Row {
    label: String,
    path: String,
    better: Better,
}

fn row(label: impl Into<String>, path: impl Into<String>, better: Better) -> Row {
    Row {
        label: label.into(),
        path: path.into(),
        better,
    }
}

fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn num(v: &Value, path: &str) -> Option<f64> {
    get(v, path).and_then(Value::as_f64)
}

fn fmt(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.abs() >= 1000.0 {
        let s = format!("{:.0}", x);
        // thousands separators
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn rows(first: &Value) -> Vec<Row> {
    use Better::*;
    let mut r = vec![
        row("connect: sessions opened (of N)", "connect.ok", Info),
        row(
            "connect: failed + dropped while held",
            "connect.failed",
            Zero,
        ),
        row("connect: sessions/s ↑", "connect.sessions_per_s", Higher),
        row(
            "connect: server CPU µs/session ↓",
            "connect.server_cpu_us_per_session",
            Lower,
        ),
        row(
            "idle WS session: server RSS KiB/session ↓",
            "connect.rss_per_session_kib",
            Lower,
        ),
    ];
    for (key, name) in [("echo", "echo"), ("echo_ack", "echo+ack")] {
        if first.get(key).is_none() {
            continue;
        }
        r.extend([
            row(
                format!("{name}: achieved msg/s"),
                format!("{key}.achieved_rate"),
                Info,
            ),
            row(
                format!("{name}: p50 µs ↓"),
                format!("{key}.latency.p50_us"),
                Lower,
            ),
            row(
                format!("{name}: p90 µs ↓"),
                format!("{key}.latency.p90_us"),
                Lower,
            ),
            row(
                format!("{name}: p99 µs ↓"),
                format!("{key}.latency.p99_us"),
                Lower,
            ),
            row(
                format!("{name}: max µs ↓"),
                format!("{key}.latency.max_us"),
                Lower,
            ),
            row(
                format!("{name}: server CPU % ↓"),
                format!("{key}.server_cpu_pct"),
                Lower,
            ),
            row(
                format!("{name}: server CPU µs/msg ↓"),
                format!("{key}.server_cpu_us_per_msg"),
                Lower,
            ),
            row(format!("{name}: lost"), format!("{key}.lost"), Zero),
            row(
                format!("{name}: load generator CPU %"),
                format!("{key}.loadgen_cpu_pct"),
                Info,
            ),
        ]);
    }
    let mut fans: Vec<&String> = first
        .as_object()
        .map(|o| o.keys().filter(|k| k.starts_with("fanout_w")).collect())
        .unwrap_or_default();
    fans.sort_by_key(|k| k["fanout_w".len()..].parse::<u64>().unwrap_or(0));
    for key in fans {
        let name = format!("fan-out W={}", &key["fanout_w".len()..]);
        r.extend([
            row(
                format!("{name}: broadcasts acked/s ↑"),
                format!("{key}.broadcasts_per_s"),
                Higher,
            ),
            row(
                format!("{name}: delivered msgs/s ↑"),
                format!("{key}.delivered_per_s"),
                Higher,
            ),
            row(
                format!("{name}: latency p50 µs ↓"),
                format!("{key}.latency.p50_us"),
                Lower,
            ),
            row(
                format!("{name}: latency p99 µs ↓"),
                format!("{key}.latency.p99_us"),
                Lower,
            ),
            row(
                format!("{name}: server CPU ns/delivery ↓"),
                format!("{key}.server_cpu_ns_per_delivery"),
                Lower,
            ),
            row(
                format!("{name}: server CPU %"),
                format!("{key}.server_cpu_pct"),
                Info,
            ),
            row(
                format!("{name}: lost (expected − delivered)"),
                format!("{key}.lost"),
                Zero,
            ),
            row(
                format!("{name}: out of order"),
                format!("{key}.out_of_order"),
                Zero,
            ),
            row(
                format!("{name}: load generator CPU %"),
                format!("{key}.loadgen_cpu_pct"),
                Info,
            ),
        ]);
    }
    if first.get("polling").is_some() {
        r.extend([
            row("polling: achieved msg/s", "polling.achieved_rate", Info),
            row("polling: p50 µs ↓", "polling.latency.p50_us", Lower),
            row("polling: p99 µs ↓", "polling.latency.p99_us", Lower),
            row("polling: max µs ↓", "polling.latency.max_us", Lower),
            row(
                "polling: server CPU µs/msg ↓",
                "polling.server_cpu_us_per_msg",
                Lower,
            ),
            row("polling: lost", "polling.lost", Zero),
            row("polling: errors", "polling.errors", Zero),
        ]);
    }
    r
}

/// Every numeric leaf of `runs` combined: the median (`worst` false) or the maximum.
fn combine(runs: &[Value], worst: bool) -> Value {
    let first = &runs[0];
    match first {
        Value::Object(map) => Value::Object(
            map.keys()
                .map(|k| {
                    let parts: Vec<Value> = runs.iter().filter_map(|r| r.get(k).cloned()).collect();
                    (k.clone(), combine(&parts, worst))
                })
                .collect(),
        ),
        Value::Number(_) => {
            let mut xs: Vec<f64> = runs.iter().filter_map(Value::as_f64).collect();
            xs.sort_by(|a, b| a.total_cmp(b));
            let x = if worst {
                xs[xs.len() - 1]
            } else if xs.len() % 2 == 1 {
                xs[xs.len() / 2]
            } else {
                (xs[xs.len() / 2 - 1] + xs[xs.len() / 2]) / 2.0
            };
            serde_json::json!(x)
        }
        other => other.clone(),
    }
}

fn load(path: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    match text.lines().rev().find(|l| l.trim_start().starts_with('{')) {
        Some(l) => serde_json::from_str(l).map_err(|e| format!("{path}: {e}")),
        None => Ok(Value::Null),
    }
}

/// `args`: `name=FILE[,FILE...]`, the first being the subject; several files (rounds) are
/// combined: the median of each figure, the worst (maximum) for counts that should be zero.
pub fn render(args: &[String]) -> Result<String, String> {
    // (name, median, worst)
    let mut all: Vec<(String, Value, Value)> = Vec::new();
    let mut rounds = 0;
    for a in args {
        let (name, paths) = a
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=FILE[,FILE...], got {a:?}"))?;
        let runs = paths.split(',').map(load).collect::<Result<Vec<_>, _>>()?;
        let runs: Vec<Value> = runs.into_iter().filter(|v| v.is_object()).collect();
        if runs.is_empty() {
            all.push((name.to_string(), Value::Null, Value::Null));
            continue;
        }
        rounds = rounds.max(runs.len());
        all.push((
            name.to_string(),
            combine(&runs, false),
            combine(&runs, true),
        ));
    }
    if all.is_empty() {
        return Err("no results".into());
    }
    let servers: Vec<(String, Value)> =
        all.iter().map(|(n, m, _)| (n.clone(), m.clone())).collect();
    let worst: Vec<&Value> = all.iter().map(|(_, _, w)| w).collect();
    let subject = &servers[0];
    let peers = &servers[1..];
    let mut md = String::new();
    if rounds > 1 {
        md.push_str(&format!(
            "Each figure is the median of {rounds} rounds; counts that should be zero (lost, \
             failed, out of order, errors) show the worst round.\n\n"
        ));
    }
    md.push_str("| figure |");
    for (n, _) in &servers {
        md.push_str(&format!(" {n} |"));
    }
    for (n, _) in peers {
        md.push_str(&format!(" {}/{n} |", subject.0));
    }
    md.push('\n');
    md.push_str(&"|---".repeat(1 + servers.len() + peers.len()));
    md.push_str("|\n");
    for r in rows(&subject.1) {
        md.push_str(&format!("| {} |", r.label));
        for (i, (_, v)) in servers.iter().enumerate() {
            let v = if r.better == Better::Zero {
                worst[i]
            } else {
                v
            };
            let cell = match r.path.as_str() {
                "connect.failed" => match (
                    num(v, "connect.failed"),
                    num(v, "connect.dropped_while_held"),
                ) {
                    (Some(a), Some(b)) => fmt(a + b),
                    _ => "–".into(),
                },
                "connect.ok" => match (num(v, "connect.ok"), num(v, "connect.n")) {
                    (Some(a), Some(b)) => format!("{} / {}", fmt(a), fmt(b)),
                    _ => "–".into(),
                },
                p => num(v, p).map(fmt).unwrap_or_else(|| "–".into()),
            };
            md.push_str(&format!(" {cell} |"));
        }
        for (_, pv) in peers {
            let cell = match r.better {
                Better::Higher | Better::Lower => {
                    match (num(&subject.1, &r.path), num(pv, &r.path)) {
                        (Some(a), Some(b)) if b != 0.0 => format!("{:.2}×", a / b),
                        _ => "–".into(),
                    }
                }
                _ => String::new(),
            };
            md.push_str(&format!(" {cell} |"));
        }
        md.push('\n');
    }
    md.push('\n');
    md.push_str(&targets(subject, worst[0], peers));
    md.push_str(&floor_targets(subject, peers));
    Ok(md)
}

/// A target's "met" cell.
fn met_cell(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "not measured",
    }
}

/// Issue 21's targets against the floor, the peer named `raw-ws` (nothing when it did not run).
fn floor_targets(subject: &(String, Value), peers: &[(String, Value)]) -> String {
    let Some((_, raw)) = peers.iter().find(|(n, _)| n == "raw-ws") else {
        return String::new();
    };
    let s = &subject.1;
    let ratio = |path: &str| -> Option<f64> {
        let (a, b) = (num(s, path)?, num(raw, path)?);
        (b != 0.0).then_some(a / b)
    };
    let mut out =
        String::from("\n| target (issue 21, against raw-ws) | measured | met |\n|---|---|---|\n");
    // (what, figure, met by the ratio Switchyard / raw-ws)
    type Check = (&'static str, &'static str, fn(f64) -> bool);
    let checks: [Check; 4] = [
        (
            "echo: server CPU per message ≤ 1.5× raw-ws",
            "echo.server_cpu_us_per_msg",
            |r| r <= 1.5,
        ),
        (
            "fan-out W=64: delivered msgs/s ≥ 0.9× raw-ws",
            "fanout_w64.delivered_per_s",
            |r| r >= 0.9,
        ),
        (
            "fan-out W=64: server CPU per delivery ≤ 1.3× raw-ws",
            "fanout_w64.server_cpu_ns_per_delivery",
            |r| r <= 1.3,
        ),
        (
            "connect: sessions/s ≥ 1.0× raw-ws",
            "connect.sessions_per_s",
            |r| r >= 1.0,
        ),
    ];
    for (what, path, met) in checks {
        let r = ratio(path);
        let measured = r.map(|r| format!("{r:.2}×")).unwrap_or_else(|| "–".into());
        out.push_str(&format!(
            "| {what} | {measured} | {} |\n",
            met_cell(r.map(met))
        ));
    }
    out
}

/// Issue 4's targets, against the peer named like `socketioxide`.
fn targets(subject: &(String, Value), worst: &Value, peers: &[(String, Value)]) -> String {
    let s = &subject.1;
    let sio = peers
        .iter()
        .find(|(n, _)| n.contains("socketioxide"))
        .map(|(_, v)| v);
    let ratio = |path: &str| -> Option<f64> {
        let (a, b) = (num(s, path)?, num(sio?, path)?);
        (b != 0.0).then_some(a / b)
    };
    let mut out = String::from("| target (issue 4) | measured | met |\n|---|---|---|\n");
    let mut line = |what: String, measured: String, met: Option<bool>| {
        out.push_str(&format!("| {what} | {measured} | {} |\n", met_cell(met)));
    };
    let show = |r: Option<f64>| r.map(|r| format!("{r:.2}×")).unwrap_or_else(|| "–".into());
    let mut fans: Vec<String> = s
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| k.starts_with("fanout_w"))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    fans.sort_by_key(|k| k["fanout_w".len()..].parse::<u64>().unwrap_or(0));
    for key in &fans {
        let w = &key["fanout_w".len()..];
        let n = num(s, &format!("{key}.receivers")).unwrap_or(0.0);
        let r = ratio(&format!("{key}.server_cpu_ns_per_delivery"));
        line(
            format!(
                "fan-out {} receivers, W={w}: server CPU per delivery ≤ 0.6× socketioxide",
                fmt(n)
            ),
            show(r),
            r.map(|r| r <= 0.6),
        );
        let r = ratio(&format!("{key}.delivered_per_s"));
        line(
            format!(
                "fan-out {} receivers, W={w}: delivered msgs/s ≥ 1.3× socketioxide",
                fmt(n)
            ),
            show(r),
            r.map(|r| r >= 1.3),
        );
    }
    let m = num(s, "connect.rss_per_session_kib");
    line(
        "memory per idle WebSocket session ≤ 10 KB".into(),
        m.map(|m| format!("{} KiB", fmt(m)))
            .unwrap_or_else(|| "–".into()),
        m.map(|m| m * 1024.0 <= 10_000.0),
    );
    let rate = num(s, "echo.target_rate").unwrap_or(0.0);
    let r = ratio("echo.latency.p99_us");
    line(
        format!("echo at {} msg/s: p99 ≤ 0.5× socketioxide", fmt(rate)),
        show(r),
        r.map(|r| r <= 0.5),
    );
    let r = ratio("echo.server_cpu_us_per_msg");
    line(
        format!(
            "echo at {} msg/s: server CPU ≤ 0.6× socketioxide",
            fmt(rate)
        ),
        show(r),
        r.map(|r| r <= 0.6),
    );
    let r = ratio("connect.sessions_per_s");
    line(
        "connect: sessions/s ≥ 1.5× socketioxide".into(),
        show(r),
        r.map(|r| r >= 1.5),
    );
    let mut lost = 0.0;
    let mut parts = Vec::new();
    for key in ["echo", "echo_ack", "polling"]
        .iter()
        .map(|k| k.to_string())
        .chain(fans.iter().cloned())
    {
        if let Some(l) = num(worst, &format!("{key}.lost")) {
            lost += l;
            if l > 0.0 {
                parts.push(format!("{key}: {}", fmt(l)));
            }
        }
    }
    line(
        "zero lost deliveries (all scenarios)".into(),
        if parts.is_empty() {
            format!("{} lost", fmt(lost))
        } else {
            parts.join(", ")
        },
        Some(lost == 0.0),
    );
    let held = num(s, "connect.ok").unwrap_or(0.0)
        - num(worst, "connect.dropped_while_held").unwrap_or(0.0);
    line(
        "50,000 concurrent sessions held by one node".into(),
        format!("{} held", fmt(held)),
        (held >= 50_000.0).then_some(true),
    );
    out
}

/// The table of `cluster.sh`: one row per setup and fan-out window. `args`: `name=FILE`, one
/// `loadgen run --scenarios fanout` result per setup, in the order they are to be shown.
/// The rows of a fan-out table from `NAME=FILE.json` results: `row(name, window, figures)` for
/// each window of each result, in the order given; a result without fan-out figures gets a
/// "no result" row of `columns` cells.
fn fanout_rows(
    args: &[String],
    columns: usize,
    mut row: impl FnMut(&str, &str, &Value) -> String,
) -> Result<String, String> {
    let mut md = String::new();
    let mut any = false;
    for a in args {
        let (name, path) = a
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=FILE, got {a:?}"))?;
        let v = load(path)?;
        let mut fans: Vec<&String> = v
            .as_object()
            .map(|o| o.keys().filter(|k| k.starts_with("fanout_w")).collect())
            .unwrap_or_default();
        fans.sort_by_key(|k| k["fanout_w".len()..].parse::<u64>().unwrap_or(0));
        if fans.is_empty() {
            md.push_str(&format!(
                "| {name} | no result ({path}) {}\n",
                "|".repeat(columns - 1)
            ));
            continue;
        }
        for key in fans {
            any = true;
            let f = &v[key.as_str()];
            let error = f.get("error").and_then(Value::as_str);
            let name = format!(
                "{name}{}",
                error.map(|e| format!(" (error: {e})")).unwrap_or_default()
            );
            md.push_str(&row(&name, &key["fanout_w".len()..], f));
        }
    }
    if !any {
        return Err("no fan-out results".into());
    }
    Ok(md)
}

/// `num` as a table cell ("–" when absent).
fn cell(v: &Value, path: &str) -> String {
    num(v, path).map(fmt).unwrap_or_else(|| "–".into())
}

pub fn cluster(args: &[String]) -> Result<String, String> {
    let rows = fanout_rows(args, 11, |name, window, f| {
        let sender_cpu = if f.get("sender_server_cpu_ns_per_delivery").is_some() {
            cell(f, "sender_server_cpu_ns_per_delivery")
        } else {
            "(same node)".into()
        };
        format!(
            "| {name} | {window} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} |\n",
            cell(f, "broadcasts_per_s"),
            cell(f, "delivered_per_s"),
            cell(f, "latency.p50_us"),
            cell(f, "latency.p99_us"),
            cell(f, "lost"),
            cell(f, "expected"),
            cell(f, "out_of_order"),
            cell(f, "server_cpu_ns_per_delivery"),
            sender_cpu,
            cell(f, "loadgen_cpu_pct"),
        )
    })?;
    Ok(format!(
        "| setup | W | broadcasts acked/s | delivered msgs/s ↑ | p50 µs | p99 µs | lost | \
         out of order | receivers' node CPU ns/delivery | sender's node CPU ns/delivery | \
         load generator CPU % |\n|---|---|---|---|---|---|---|---|---|---|---|\n{rows}"
    ))
}

/// The scaling table of `cluster.sh --scale` from `NAME=FILE.json` results (one per node
/// count): one row per window, with each node's CPU per delivery to its own receivers.
pub fn scale(args: &[String]) -> Result<String, String> {
    let rows = fanout_rows(args, 11, |name, window, f| {
        // One node: its figure is the top-level one.
        let per_node: Vec<Option<f64>> = match f.get("nodes").and_then(Value::as_array) {
            Some(nodes) => nodes
                .iter()
                .map(|n| num(n, "cpu_ns_per_delivery"))
                .collect(),
            None => vec![num(f, "server_cpu_ns_per_delivery")],
        };
        let known: Vec<f64> = per_node.iter().flatten().copied().collect();
        let mean =
            (known.len() == per_node.len()).then(|| known.iter().sum::<f64>() / known.len() as f64);
        let each = per_node
            .iter()
            .map(|c| c.map(fmt).unwrap_or_else(|| "–".into()))
            .collect::<Vec<_>>()
            .join(" / ");
        format!(
            "| {name} | {} | {window} | {} | {} | {} | {} / {} | {each} | {} | {} | {} |\n",
            per_node.len(),
            cell(f, "delivered_per_s"),
            cell(f, "latency.p50_us"),
            cell(f, "latency.p99_us"),
            cell(f, "lost"),
            cell(f, "expected"),
            mean.map(fmt).unwrap_or_else(|| "–".into()),
            cell(f, "redis_cpu_pct"),
            cell(f, "loadgen_cpu_pct"),
        )
    })?;
    Ok(format!(
        "| setup | nodes | W | delivered msgs/s ↑ | p50 µs | p99 µs | lost | \
         CPU ns/delivery on each node | mean | Redis CPU % | load generator CPU % |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n{rows}"
    ))
}
