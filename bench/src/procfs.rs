//! What the load generator reads of a process from /proc: resident memory and CPU time.

/// Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux).
const CLK_TCK: f64 = 100.0;

fn path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

/// VmRSS in KiB (`None` when the process is gone or no pid was given).
pub fn rss_kib(pid: Option<u32>) -> Option<u64> {
    pid?;
    let status = std::fs::read_to_string(path(pid, "status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// utime + stime in seconds of `pid` (`None` for this process).
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let stat = std::fs::read_to_string(path(pid, "stat")).ok()?;
    // Fields after the `(comm)`, which may hold spaces: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLK_TCK)
}

/// CPU seconds of the server (if its pid is known) and of this process, at one instant.
#[derive(Clone, Copy)]
pub struct CpuMark {
    pub server: Option<f64>,
    pub me: f64,
    pub at: std::time::Instant,
}

impl CpuMark {
    pub fn now(server: Option<u32>) -> CpuMark {
        CpuMark {
            server: server.and_then(|p| cpu_seconds(Some(p))),
            me: cpu_seconds(None).unwrap_or(0.0),
            at: std::time::Instant::now(),
        }
    }

    /// (server CPU s, load generator CPU s, wall s) since `self`.
    pub fn since(&self, server: Option<u32>) -> (Option<f64>, f64, f64) {
        let end = CpuMark::now(server);
        (
            match (self.server, end.server) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            },
            end.me - self.me,
            end.at.duration_since(self.at).as_secs_f64(),
        )
    }
}
