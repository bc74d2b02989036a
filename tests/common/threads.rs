//! Did a call leave threads behind? Compares a process's threads (by name, from /proc) after a
//! call with those before it, allowing for the threads that are not per call.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::bridge::Bridge;
use super::tools;

/// Threads that are not per call: GStreamer's system clock (one per process, kept), GLib's
/// idle pool threads (`pool-*`, they exit after GLib's idle time) and tokio's (idle blocking
/// threads share the workers' name and exit after 10 s).
pub fn is_shared_thread(name: &str) -> bool {
    name == "GstSystemClock" || name.starts_with("pool-") || name == "tokio-rt-worker"
}

pub fn census_text(census: &BTreeMap<String, usize>) -> String {
    census
        .iter()
        .map(|(n, c)| format!("{n}×{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// After the call: its own threads (pipelines, webrtcbin, libnice) go at once (3 s), and the
/// total is back to the pre-call count within 15 s, GStreamer's clock thread aside. Prints
/// every change of the census on the way.
pub fn assert_back_to_baseline(bridge: &Bridge, baseline: &BTreeMap<String, usize>, name: &str) {
    let pid = bridge.pid();
    let base_total: usize = baseline.values().sum();
    let ended = Instant::now();
    let mut timeline: Vec<(u128, String)> = Vec::new();
    let observe = |timeline: &mut Vec<(u128, String)>| {
        let census = tools::thread_census(pid);
        let text = census_text(&census);
        if timeline.last().is_none_or(|(_, last)| *last != text) {
            timeline.push((ended.elapsed().as_millis(), text));
        }
        census
    };
    let per_call = |census: &BTreeMap<String, usize>| -> Vec<String> {
        census
            .iter()
            .filter(|(n, _)| !is_shared_thread(n))
            .filter(|(n, c)| **c > baseline.get(*n).copied().unwrap_or(0))
            .map(|(n, c)| format!("{n}×{}", c - baseline.get(n).copied().unwrap_or(0)))
            .collect()
    };
    let deadline = ended + Duration::from_secs(3);
    let left = loop {
        let left = per_call(&observe(&mut timeline));
        if left.is_empty() || Instant::now() >= deadline {
            break left;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let per_call_gone = ended.elapsed();
    let deadline = ended + Duration::from_secs(15);
    let total = loop {
        let census = observe(&mut timeline);
        let clock = census.get("GstSystemClock").copied().unwrap_or(0).min(1);
        let total: usize = census.values().sum();
        if total <= base_total + clock || Instant::now() >= deadline {
            break total.saturating_sub(clock);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    for (ms, names) in &timeline {
        eprintln!("RESULT {name} threads {ms} ms after the call ended: {names}");
    }
    assert!(
        left.is_empty(),
        "{name} still runs per-call threads 3 s after the call ended: {left:?}"
    );
    eprintln!(
        "TIMING {name}'s per-call threads gone {} ms after the call ended",
        per_call_gone.as_millis()
    );
    assert!(
        total <= base_total,
        "{name} has {total} threads (clock thread aside) 15 s after the call, {base_total} before it"
    );
    eprintln!(
        "TIMING {name} back to {total} threads (before the call: {base_total}) {} ms after the call ended",
        ended.elapsed().as_millis()
    );
}
