//! Small things every helper needs: a per-test folder, finding external programs (never skipping
//! silently when one is missing), free loopback ports, log tails, polling with a deadline,
//! thread counts from /proc and the fake-microphone WAV files.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// What to run when a system package is missing.
pub const APT_HINT: &str = "run scripts/install-deps.sh (apt packages)";
/// What to run when the npm packages of tests/browser are missing.
pub const NPM_HINT: &str = "run scripts/install-browser-deps.sh (npm ci in tests/browser)";

/// The folder of the running test: `target/tmp/dialbridge-it/<test binary>/<test fn>`, emptied
/// first. Named after the test thread (libtest names it after the test fn), so reruns overwrite
/// and a failing test's logs are easy to find.
pub fn test_dir() -> PathBuf {
    let thread = thread::current();
    let name = thread.name().unwrap_or("main").replace("::", "-");
    let binary = std::env::args()
        .next()
        .and_then(|a| {
            Path::new(&a)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .map(|s| {
            s.rsplit_once('-')
                .map(|(head, _hash)| head.to_string())
                .unwrap_or(s)
        })
        .unwrap_or_else(|| "tests".into());
    fresh_dir(&["dialbridge-it", &binary, &name])
}

/// `target/tmp/browser_e2e/<test>`, emptied first: for tests re-run in a network namespace,
/// which name their folder themselves.
pub fn named_test_dir(test: &str) -> PathBuf {
    fresh_dir(&["browser_e2e", test])
}

/// `target/tmp/<parts...>`, emptied and created.
fn fresh_dir(parts: &[&str]) -> PathBuf {
    let dir = parts
        .iter()
        .fold(PathBuf::from(env!("CARGO_TARGET_TMPDIR")), |d, p| d.join(p));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create test folder {}: {e}", dir.display()));
    dir
}

/// `target/e2e/`, where artefacts meant for people (the screenshot) go.
pub fn artefact_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = tmp.parent().expect("CARGO_TARGET_TMPDIR is target/tmp");
    let dir = target.join("e2e");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// The absolute path of `prog` (on PATH, or given absolute), or a panic saying how to install
/// it. Tests never skip because a tool is missing: a silently skipped test looks like a passing
/// one.
pub fn require_tool(prog: &str, install_hint: &str) -> PathBuf {
    find_on_path(prog).unwrap_or_else(|| panic!("{prog} not found: {install_hint}"))
}

pub fn find_on_path(prog: &str) -> Option<PathBuf> {
    let candidate = Path::new(prog);
    if candidate.is_absolute() {
        return candidate.is_file().then(|| candidate.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    // kamailio lives in /usr/sbin, which is not on every user's PATH.
    let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
    std::env::split_paths(&path)
        .chain(extra)
        .map(|dir| dir.join(prog))
        .find(|p| p.is_file())
}

/// A loopback port that was free for both UDP and TCP a moment ago. Only for programs that
/// cannot bind port 0 and tell us the port (kamailio); there is a small race by nature.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp =
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a UDP port on loopback");
        let port = udp
            .local_addr()
            .expect("a bound socket has an address")
            .port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP after 50 tries");
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// The last `lines` lines of a text file, or a note why there are none.
pub fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Polls `check` every `every` until it returns `Some`, or panics after `timeout` with `what`
/// and the last state `describe` gives.
pub fn poll<T>(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!(
                "timed out after {timeout:?} waiting for {what}; last state: {}",
                describe()
            );
        }
        thread::sleep(every);
    }
}

/// Locks `m`, also after a thread panicked holding it: the tests' shared data stays valid.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A 10 s, 48 kHz mono 16-bit sine at `freq` Hz (half scale; `None`: silence) made by sox:
/// Chromium's fake microphone loops it. 10 s holds a whole number of periods for whole-Hz
/// tones, so the loop has no click.
pub fn fake_mic_wav(dir: &Path, freq: Option<u32>) -> PathBuf {
    let sox = require_tool("sox", APT_HINT);
    let (name, hz, vol) = match freq {
        Some(f) => (format!("sine-{f}.wav"), f, "0.5"),
        None => ("silence.wav".to_string(), 440, "0"),
    };
    let path = dir.join(name);
    let status = Command::new(sox)
        .args(["-n", "-r", "48000", "-c", "1", "-b", "16"])
        .arg(&path)
        .args(["synth", "10", "sine", &hz.to_string(), "vol", vol])
        .status()
        .expect("starting sox");
    assert!(
        status.success(),
        "sox could not write {}: {status}",
        path.display()
    );
    path
}

/// Threads of process `pid` (from /proc/PID/status).
pub fn threads_of(pid: u32) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Threads of this test process now, for leak checks.
pub fn own_threads() -> usize {
    threads_of(std::process::id()).expect("/proc/self/status has a Threads line")
}

/// Thread names of process `pid` with how many carry each (from /proc/PID/task/*/comm).
pub fn thread_census(pid: u32) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            *names.entry(comm.trim().to_string()).or_default() += 1;
        }
    }
    names
}

/// Thread names of process `pid` with their counts, for messages.
pub fn thread_names_of(pid: u32) -> String {
    thread_census(pid)
        .iter()
        .map(|(n, c)| format!("{n}×{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines() {
        let dir = test_dir();
        let f = dir.join("x.log");
        std::fs::write(&f, "a\nb\nc\n").unwrap();
        assert_eq!(tail(&f, 2), "b\nc");
        assert!(tail(&dir.join("missing"), 2).contains("cannot read"));
    }

    #[test]
    fn free_port_is_bindable() {
        let p = free_port();
        UdpSocket::bind((Ipv4Addr::LOCALHOST, p)).expect("the port should still be free");
    }
}
