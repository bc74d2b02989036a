//! A 30-second libFuzzer run of every target in `fuzz/`, so a parser change that panics on
//! network input fails `cargo test` and not a production bridge. It also replays the crash
//! reproducers in `fuzz/regressions/<target>/` (each must now pass).
//!
//! Needs cargo-fuzz (`scripts/install-deps.sh` installs it) and fails, never skips, without
//! it. Builds into `fuzz/target`, not the main target dir, so it holds no lock `cargo test`
//! needs; the first build compiles the whole dependency tree with sanitizer flags (minutes),
//! later ones are cached. See `fuzz/README.md` for the flags.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const TARGETS: [&str; 7] = [
    "sip_datagram",
    "sdp_offer",
    "rfc4733",
    "sip_info",
    "signaling_json",
    "janus_json",
    "rtp_packet",
];
/// Seconds of fuzzing per target.
const SECONDS: u32 = 30;
/// The build flags of `fuzz/README.md`: release, debug assertions and overflow checks,
/// AddressSanitizer (the default), 16 codegen units for a bearable build on two cores.
const BUILD_FLAGS: [&str; 4] = ["-O", "-a", "--codegen-units", "16"];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// `cargo fuzz <args>` in the repo root; RUSTC_BOOTSTRAP lets stable rustc take the
/// sanitizer/coverage `-Z` flags cargo-fuzz passes.
fn cargo_fuzz(args: &[&str]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("fuzz")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", fuzz_dir().join("target"));
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Files in `dir`, empty when it does not exist.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn every_fuzz_target_survives_30_seconds() {
    let version = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["fuzz", "--version"])
        .output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "cargo-fuzz is not installed: run scripts/install-deps.sh (or scripts/install-fuzz.sh)"
    );

    let started = Instant::now();
    let mut build = cargo_fuzz(&["build"]);
    build.args(BUILD_FLAGS);
    let out = run(build);
    assert!(
        out.status.success(),
        "cargo fuzz build failed:\n{}",
        tail(&out.stderr, 40)
    );
    eprintln!("fuzz build: {:.0?}", started.elapsed());

    let mut failures = Vec::new();
    for target in TARGETS {
        let corpus = fuzz_dir().join("corpus").join(target);
        let seeds = fuzz_dir().join("seeds").join(target);
        std::fs::create_dir_all(&corpus).expect("fuzz/ is writable");
        assert!(seeds.is_dir(), "no seed corpus {}", seeds.display());
        let artifacts = fuzz_dir().join("artifacts").join(target);
        let before = files(&artifacts);

        let t = Instant::now();
        let mut cmd = cargo_fuzz(&["run", target]);
        cmd.args(BUILD_FLAGS)
            .arg(&corpus)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={SECONDS}"));
        let out = run(cmd);
        let new: Vec<_> = files(&artifacts).difference(&before).cloned().collect();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let done = stderr.lines().rev().find(|l| l.contains("\tDONE "));
        eprintln!(
            "{target}: {:.0?} {}",
            t.elapsed(),
            done.unwrap_or("(no DONE line)")
        );
        if !out.status.success() || !new.is_empty() {
            failures.push(format!(
                "{target}: {}, new artifacts {new:?}\n{}",
                out.status,
                tail(&out.stderr, 30)
            ));
        }

        // Every past crash must pass now: libFuzzer runs each file once when given files.
        let regressions = files(&fuzz_dir().join("regressions").join(target));
        if !regressions.is_empty() {
            let mut cmd = cargo_fuzz(&["run", target]);
            cmd.args(BUILD_FLAGS).args(&regressions);
            let out = run(cmd);
            if !out.status.success() {
                failures.push(format!(
                    "{target}: a regression input fails again\n{}",
                    tail(&out.stderr, 30)
                ));
            }
        }
    }
    eprintln!("fuzz smoke total: {:.0?}", started.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
