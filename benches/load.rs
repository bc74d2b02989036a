//! Load bench (`harness = false`): steps N concurrent calls through the real `dialbridge`
//! binary inside its own network namespace and writes `bench/results.json`. Run it with
//! `bench/run.sh`; see BENCHMARKS.md. Options: `--steps 2,10,25` `--window 10` (seconds)
//! `--budget 900` (seconds) `--room-size 5` (callers per room) `--out bench/results.json`
//! `--no-janus` (skip the C peer beside each step) `--media 'opus_complexity = 0'` (lines for
//! the bridge's `[media]`; `\n` separates lines). `--janus-only` measures only the C peer,
//! Janus AudioBridge with the same callers (`harness::janus`), for each step, and prints its
//! JSON.
// The test harness brings unit tests whose imports are unused in a bench without libtest.
#![allow(unused_imports)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../bench/harness/mod.rs"]
mod harness;

use common::netns;

use std::time::Duration;

/// The name `netns::reexec_in_netns` checks inside the namespace.
const NETNS_NAME: &str = "load";

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn main() {
    if std::env::var_os(netns::MARKER).is_none() {
        // Re-run ourselves in a fresh network namespace (needs root or CAP_SYS_ADMIN).
        let exe = std::env::current_exe().expect("the bench knows its own path");
        let status = std::process::Command::new("unshare")
            .args(["-n", "--"])
            .arg(exe)
            .args(std::env::args().skip(1))
            .env(netns::MARKER, NETNS_NAME)
            .status()
            .expect("unshare (util-linux) is installed");
        std::process::exit(status.code().unwrap_or(1));
    }
    assert!(netns::reexec_in_netns(NETNS_NAME), "inside the namespace");
    let steps: Vec<usize> = arg("--steps", "2,10,25,50")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let room_size: usize = arg("--room-size", "1").parse().unwrap_or(1);
    let window = Duration::from_secs_f64(arg("--window", "10").parse().unwrap_or(10.0));
    let budget = Duration::from_secs(arg("--budget", "900").parse().unwrap_or(900));
    let out = arg(
        "--out",
        concat!(env!("CARGO_MANIFEST_DIR"), "/bench/results.json"),
    );
    let dir = std::env::temp_dir().join("dialbridge-bench");
    if flag("--janus-only") {
        std::process::exit(janus_only(&steps, room_size, window, &dir));
    }
    let plan = harness::Plan {
        room_size,
        window,
        with_janus: !flag("--no-janus"),
        media_toml: format!("{}\n", arg("--media", "").replace("\\n", "\n")),
    };
    harness::run_all(&steps, &plan, budget, &out, &dir);
}

/// Runs only the Janus peer for each step and prints its JSON; returns the exit code.
fn janus_only(steps: &[usize], room_size: usize, window: Duration, dir: &std::path::Path) -> i32 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut code = 0;
    for &calls in steps {
        eprintln!("== janus: {calls} calls, rooms of {room_size}");
        match harness::janus::measure(rt.handle(), dir, calls, room_size, window) {
            Ok(step) => println!(
                "{}",
                serde_json::to_string_pretty(&step).expect("plain data")
            ),
            Err(e) => {
                eprintln!("janus step {calls} failed: {e}");
                code = 1;
            }
        }
    }
    code
}
