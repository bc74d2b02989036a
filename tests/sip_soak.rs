//! Soak: many short calls from sipp (INVITE, ACK, half a second of prompt, BYE), many at once.
//! After the first round the bridge's memory, threads and open files are the reference; after
//! all the rest they must be back within 10 % of it, with no call or pipeline left.
//! Memory rises over the first few hundred calls to a plateau (the allocator and the maps of
//! ezk, tokio and GStreamer keep their high-water mark; heaptrack shows nothing leaked, see
//! docs/robustness.md), so the first round must reach it: CI runs 600 + 600 calls, 20 at a
//! time. The full soak: `DIALBRIDGE_SOAK_CALLS=10000 DIALBRIDGE_SOAK_AT_ONCE=50 cargo test
//! --release --test sip_soak -- --nocapture` (first round: a tenth of the calls, or
//! `DIALBRIDGE_SOAK_FIRST`).

mod common;

use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::metrics;
use common::sipp::{Offer, Sipp};
use common::tools;

fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn within_10_percent(name: &str, reference: u64, now: u64) {
    let limit = reference + reference / 10;
    assert!(
        now <= limit,
        "{name} grew from {reference} after the first round to {now} (more than 10 %)"
    );
}

fn round(dir: &std::path::Path, bridge: &Bridge, name: &str, calls: u32, at_once: u32) {
    let per_second = at_once; // each call lasts ~1 s: about `at_once` up at a time
    let outcome = Sipp::new(dir, "uac_short_call.xml", bridge.sip)
        .log_name(name)
        .offer(&Offer::with_dtmf(40_010, &[0]))
        .load(calls, at_once, per_second)
        .timeout(Duration::from_secs(u64::from(calls / per_second) * 4 + 60))
        .run();
    outcome.assert_success();
    metrics::wait_idle(bridge.signaling, Duration::from_secs(30));
}

#[test]
fn many_short_calls_give_back_memory_threads_and_files() {
    let total = env_or("DIALBRIDGE_SOAK_CALLS", 1200);
    let at_once = env_or("DIALBRIDGE_SOAK_AT_ONCE", 20);
    let first = env_or(
        "DIALBRIDGE_SOAK_FIRST",
        (total / 10).max(600).min(total / 2),
    );
    let dir = tools::test_dir();
    let mut config = Config::trunk();
    // sipp starts `at_once` calls a second from one trusted address: the overall rate must
    // allow it.
    config.extra_toml = format!(
        "[limits]\ninvite_rate = {}\ninvite_burst = {}\n",
        at_once * 4,
        at_once * 4
    );
    let mut bridge = Bridge::start(&dir, &config);

    round(&dir, &bridge, "first_round", first, at_once);
    let reference = bridge.held();
    round(&dir, &bridge, "second_round", total - first, at_once);
    let after = bridge.held();
    println!(
        "soak: {first} calls then {} more, {at_once} at a time: after the first round {reference:?}, at the end {after:?}",
        total - first
    );

    let m = metrics::scrape(bridge.signaling);
    assert_eq!(m.get("dialbridge_calls_total"), f64::from(total));
    assert_eq!(m.get("dialbridge_calls_active"), 0.0);
    assert_eq!(m.get("dialbridge_panics_total"), 0.0);
    within_10_percent("RSS (kB)", reference.rss_kb, after.rss_kb);
    within_10_percent("threads", reference.threads, after.threads);
    within_10_percent("open files", reference.fds, after.fds);
    bridge.assert_alive();
}
