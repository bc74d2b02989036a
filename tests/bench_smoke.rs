//! CI smoke test of the load bench (`benches/load.rs`): one tiny step (2 calls in one room, a
//! 3 s window) must complete and produce numbers. No timing assertions: CI machines vary.

mod common;
use common::netns;

#[path = "../bench/harness/mod.rs"]
mod harness;

use std::time::Duration;

#[test]
fn bench_smoke() {
    if !netns::reexec_in_netns("bench_smoke") {
        return;
    }
    let dir = common::tools::named_test_dir("bench_smoke");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let plan = harness::Plan {
        room_size: 2,
        window: Duration::from_secs(3),
        with_janus: true,
        media_toml: String::new(),
    };
    let step = harness::run_step(rt.handle(), &dir, 2, &plan)
        .unwrap_or_else(|e| panic!("the bench step failed: {e}"));
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&step).expect("plain data")
    );
    assert_eq!(step.calls, 2);
    assert_eq!(step.calls_ok, 2, "both callers should reach their peers");
    assert!(step.cpu_pct.is_finite() && step.rss_kb > 0 && step.threads > 0 && step.fds > 0);
    assert!(step.invite_200_p50_ms > 0.0 && step.hash_to_audio_p50_ms > 0.0);
    assert!(
        step.join_under_load_ms > 0.0,
        "single calls joined while the others talked"
    );
    assert!(step.floor_cpu_pct_per_call > 0.0);
    let q = &step.quality;
    assert!(q.loss_caller_pct.is_finite() && q.loss_peer_pct.is_finite());
    assert!(
        step.after_fds <= step.idle_fds && step.after_again_fds <= step.idle_fds,
        "the ended calls gave back their sockets: {} fds idle, {} after, {} after a second round",
        step.idle_fds,
        step.after_fds,
        step.after_again_fds
    );
    assert_eq!(step.again_calls_ok, 2, "the second round got through too");
    let janus = step.janus.as_ref().expect("the C peer ran beside the step");
    assert_eq!(
        (janus.calls_ok, janus.web_ok),
        (2, 1),
        "Janus's plain-RTP callers and its WebRTC participant hear their room"
    );
    assert!(janus.cpu_pct.is_finite() && janus.rss_kb > 0);
    let d = &step.delays;
    assert!(
        d.samples.iter().all(|&n| n > 0),
        "chirps heard in every direction: {d:?}"
    );
    assert!(d.up_p50_ms > 0.0 && d.down_p50_ms > 0.0 && d.webrtc_p50_ms > 0.0);
}

/// The full load bench, for when `cargo bench --bench load` is not available (no `[[bench]]`
/// entry): `BENCH_STEPS=2,10,25 cargo test --release --test bench_smoke bench_full`. Does
/// nothing without `BENCH_STEPS` (not `#[ignore]`: the namespace re-run would skip it).
#[test]
fn bench_full() {
    if std::env::var_os("BENCH_STEPS").is_none() || !netns::reexec_in_netns("bench_full") {
        return;
    }
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let steps: Vec<usize> = env("BENCH_STEPS", "")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let window = Duration::from_secs(env("BENCH_WINDOW_S", "10").parse().unwrap_or(10));
    let budget = Duration::from_secs(env("BENCH_BUDGET_S", "900").parse().unwrap_or(900));
    let out = env(
        "BENCH_OUT",
        concat!(env!("CARGO_MANIFEST_DIR"), "/bench/results.json"),
    );
    let plan = harness::Plan {
        room_size: env("BENCH_ROOM_SIZE", "1").parse().unwrap_or(1),
        window,
        with_janus: env("BENCH_JANUS", "1") == "1",
        media_toml: env("BENCH_MEDIA_TOML", ""),
    };
    harness::run_all(
        &steps,
        &plan,
        budget,
        &out,
        &common::tools::named_test_dir("bench_full"),
    );
}
