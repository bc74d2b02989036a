//! Small shared things: the per-test folder, finding external programs (a missing one fails the
//! test with the install script to run; nothing is skipped silently), polling with a deadline,
//! and the fake-microphone WAV files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// What to run when a system package is missing.
pub const APT_HINT: &str = "run scripts/install-deps.sh (apt packages)";
/// What to run when the npm packages of tests/browser are missing.
pub const NPM_HINT: &str = "run scripts/install-browser-deps.sh (npm ci in tests/browser)";

/// `target/tmp/browser_e2e/<test>`, emptied first; logs and generated files go here.
pub fn test_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser_e2e")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
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

/// The path of `prog` (on PATH or an absolute path), or a panic naming the install script.
pub fn require_program(prog: &str, hint: &str) -> PathBuf {
    let candidate = Path::new(prog);
    if candidate.is_absolute() {
        assert!(candidate.is_file(), "{prog} not found: {hint}");
        return candidate.to_path_buf();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(prog))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{prog} not found: {hint}"))
}

/// Polls `check` every `every` until it gives `Some`, or panics after `timeout` naming `what`
/// and the last state from `describe`.
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

/// A 10 s, 48 kHz mono 16-bit sine at `freq` Hz (half scale; `None`: silence) made by sox:
/// Chromium's fake microphone loops it. 10 s holds a whole number of periods for whole-Hz
/// tones, so the loop has no click.
pub fn fake_mic_wav(dir: &Path, freq: Option<u32>) -> PathBuf {
    let sox = require_program("sox", APT_HINT);
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

/// Thread names of process `pid` with how many carry each (from /proc/PID/task/*/comm).
pub fn thread_census(pid: u32) -> std::collections::BTreeMap<String, usize> {
    let mut names = std::collections::BTreeMap::new();
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

/// The last `lines` lines of a text file.
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
