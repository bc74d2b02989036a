//! What the load bench reads about a process from /proc: CPU ticks, RSS, threads, open fds.

use std::time::{Duration, Instant};

/// Kernel clock ticks per second (USER_HZ); 100 on every Linux the bench runs on.
pub const CLK_TCK: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    pub rss_kb: u64,
    pub threads: u64,
    pub fds: u64,
}

/// Reads `/proc/<pid>` (`self` for this process). `None` when the process is gone.
pub fn sample(pid: &str) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    Some(Sample {
        cpu_ticks: utime + stime,
        rss_kb: field("VmRSS:"),
        threads: field("Threads:"),
        fds,
    })
}

/// CPU used between two samples over `seconds`, in percent of one core.
pub fn cpu_percent(a: &Sample, b: &Sample, seconds: f64) -> f64 {
    (b.cpu_ticks.saturating_sub(a.cpu_ticks)) as f64 / CLK_TCK / seconds * 100.0
}

/// `pid`'s CPU in % of one core over `span`, measured after `settle` (so that start-up work or
/// what ended calls leave behind fades first), and its reading at the end.
pub fn idle(pid: &str, settle: Duration, span: Duration) -> Option<(f64, Sample)> {
    std::thread::sleep(settle);
    let a = sample(pid)?;
    std::thread::sleep(span);
    let b = sample(pid)?;
    Some((cpu_percent(&a, &b, span.as_secs_f64()), b))
}

/// Readings of a process and of this one (the bench) at the start and end of a window.
pub struct Window {
    pub of: (Sample, Sample),
    pub me: (Sample, Sample),
    pub secs: f64,
}

impl Window {
    /// The process's CPU in the window, % of one core.
    pub fn cpu(&self) -> f64 {
        cpu_percent(&self.of.0, &self.of.1, self.secs)
    }

    /// This process's CPU in the window, % of one core.
    pub fn my_cpu(&self) -> f64 {
        cpu_percent(&self.me.0, &self.me.1, self.secs)
    }
}

/// Reads `pid` and this process, sleeps through `span`, reads both again.
pub fn window(pid: &str, span: Duration) -> Option<Window> {
    let me = sample("self")?;
    let of = sample(pid)?;
    let t0 = Instant::now();
    std::thread::sleep(span);
    let of = (of, sample(pid)?);
    let me = (me, sample("self")?);
    Some(Window {
        of,
        me,
        secs: t0.elapsed().as_secs_f64(),
    })
}

/// "model name" from /proc/cpuinfo.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Percentile `p` (0..=100) of `values` (nearest rank); 0 when empty.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_itself_and_ranks() {
        let s = sample("self").expect("this process exists");
        assert!(s.threads >= 1 && s.rss_kb > 0 && s.fds > 0);
        assert_eq!(percentile(&[3.0, 1.0, 2.0, 4.0], 50.0), 2.0);
        assert_eq!(percentile(&[3.0, 1.0, 2.0, 4.0], 99.0), 4.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        assert_eq!(percentile(&[2.0, 1.0], 150.0), 2.0);
    }
}
