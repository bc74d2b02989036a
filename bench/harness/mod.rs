//! The load bench: the real `dialbridge` binary in a self-made network namespace, N callers
//! (the test harness's SIP UA + RTP phone) in rooms of K, each typing its room `1000+i` + `#`,
//! and one WebRTC peer per room (see [`peer`]). Needs the test harness as the crate-root module `common` (the
//! including file declares it with `#[path]` when it is not a test).
#![allow(dead_code)]

pub mod calls;
pub mod chirp;
pub mod delay;
pub mod floor;
/// The C peer (issue 13): the same callers into Janus AudioBridge rooms.
pub mod janus;
mod janus_api;
mod janus_room;
pub mod peer;
pub use crate::common::procstat;
pub mod quality;
pub mod steps;

#[allow(unused_imports)] // used by benches/load.rs and bench_smoke, not by every includer
pub use steps::run_all;

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::common::bridge::{Bridge, Config};
use crate::common::netns;
use calls::Calls;

/// Least audio the codec floor transcodes, in seconds.
const FLOOR_MIN_AUDIO_S: f64 = 120.0;
/// The room of the two peers that measure WebRTC alone (no caller), for [`delay`].
const WEBRTC_ROOM: &str = "900";
/// The room of the warm-up call.
const WARM_UP_ROOM: usize = 901;
/// The room of the single calls that join while a step's calls are up.
const PROBE_ROOM: usize = 902;
/// How many such calls, one after another.
const PROBE_CALLS: usize = 3;
/// The callers' rooms are `FIRST_ROOM..FIRST_ROOM + calls`.
const FIRST_ROOM: usize = 1000;

/// How each step runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Callers per room (each room also has one WebRTC peer).
    pub room_size: usize,
    /// The steady window measured.
    pub window: Duration,
    /// Measure Janus AudioBridge with the same callers after the bridge ([`janus`]).
    pub with_janus: bool,
    /// Extra lines for the bridge's `[media]` section, e.g. `opus_complexity = 0`.
    pub media_toml: String,
}

/// Results of one step (N concurrent calls).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub calls: usize,
    /// Callers per room (each room also has one WebRTC peer).
    pub room_size: usize,
    /// Calls that got answered, into their room and heard by the peer.
    pub calls_ok: usize,
    pub window_s: f64,
    /// Bridge CPU in % of one core, idle and in the steady window.
    pub idle_cpu_pct: f64,
    pub cpu_pct: f64,
    /// `cpu_pct` as a share of the whole machine (all cores).
    pub cpu_machine_pct: f64,
    pub cpu_pct_per_call: f64,
    pub idle_rss_kb: u64,
    pub rss_kb: u64,
    pub rss_kb_per_call: f64,
    pub idle_threads: u64,
    pub threads: u64,
    pub idle_fds: u64,
    pub fds: u64,
    /// RSS, threads and fds once every call has ended (compare with `idle_*`).
    pub after_rss_kb: u64,
    pub after_threads: u64,
    pub after_fds: u64,
    /// The same calls again: how many got through, and the figures after they ended (compare
    /// with `after_*`: growth here is a leak, not memory kept for reuse).
    pub again_calls_ok: usize,
    pub after_again_rss_kb: u64,
    pub after_again_threads: u64,
    pub after_again_fds: u64,
    pub invite_200_p50_ms: f64,
    pub invite_200_p99_ms: f64,
    /// `#` to the caller's audio at its peer, for the step's calls, which all dial in within
    /// `calls` x 30 ms (a burst of joins).
    pub hash_to_audio_p50_ms: f64,
    pub hash_to_audio_p99_ms: f64,
    /// The same for single calls joining one after another while the step's calls are up
    /// (median of [`PROBE_CALLS`]).
    pub join_under_load_ms: f64,
    #[serde(flatten)]
    pub quality: quality::Quality,
    #[serde(flatten)]
    pub delays: delay::Delays,
    /// CPU of the GStreamer-only transcode of the same audio, in % of one core per call.
    pub floor_cpu_pct_per_call: f64,
    /// (cpu_pct - idle_cpu_pct) / (calls_ok * floor_cpu_pct_per_call).
    pub cost_over_floor: f64,
    /// CPU of the bench process itself (callers + peers) in the window, % of one core.
    pub harness_cpu_pct: f64,
    /// The C peer with the same callers, rooms and window, right after the bridge.
    pub janus: Option<janus::JanusStep>,
    /// `cpu_pct_per_call` over Janus's CPU per plain-RTP caller (0 without Janus).
    pub cost_over_janus: f64,
}

/// The bench's bridge: on the namespace's first address, calls from the second, rooms of its
/// own and `limits_toml`; `warn` logs unless RUST_LOG says otherwise, and the build in
/// DIALBRIDGE_BIN when set (an A/B run with the same harness).
pub fn bench_config(rooms: impl IntoIterator<Item = String>, limits_toml: String) -> Config {
    let rooms_toml = rooms
        .into_iter()
        .map(|id| format!("[[conference.builtin.rooms]]\nid = \"{id}\"\n\n"))
        .collect();
    let a = netns::ADDR_A.parse().expect("a literal address");
    let b = netns::ADDR_B.parse().expect("a literal address");
    Config {
        rooms_toml,
        extra_toml: limits_toml,
        rust_log: Some(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into())),
        bin: std::env::var_os("DIALBRIDGE_BIN").map(Into::into),
        ..Config::on(a, b)
    }
}

fn start_bridge(dir: &Path, calls: usize, rooms: usize, media: &str) -> Result<Bridge, String> {
    let fixed = [
        WEBRTC_ROOM.to_string(),
        WARM_UP_ROOM.to_string(),
        PROBE_ROOM.to_string(),
    ];
    let rooms = fixed
        .into_iter()
        .chain((0..rooms).map(|i| (FIRST_ROOM + i).to_string()));
    let limits = format!("[limits]\nmax_calls = {}\n", calls + 10);
    let mut config = bench_config(rooms, limits);
    config.media_toml.push_str(media);
    Bridge::try_start(dir, &format!("bench-{calls}"), &config)
}

/// Waits (up to 10 s) until the bridge holds no more sockets and threads than `idle`, and
/// returns its figures then. /proc is all we can watch.
fn settle(pid: &str, idle: &procstat::Sample) -> Result<procstat::Sample, String> {
    let settled = |s: &procstat::Sample| s.fds <= idle.fds && s.threads <= idle.threads + 2;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = procstat::sample(pid).ok_or("bridge gone")?;
        if settled(&now) || Instant::now() >= deadline {
            return Ok(now);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs one step with `calls` concurrent calls as `plan` says.
pub fn run_step(
    rt: &tokio::runtime::Handle,
    dir: &Path,
    calls: usize,
    plan: &Plan,
) -> Result<Step, String> {
    let (room_size, window) = (plan.room_size.max(1), plan.window);
    let bridge = start_bridge(dir, calls, calls.div_ceil(room_size), &plan.media_toml)?;
    let pid = bridge.pid().to_string();
    // The same audio as the window carries, but at least 2 minutes (CPU time has 10 ms ticks).
    let floor_audio_s = (calls as f64 * window.as_secs_f64()).max(FLOOR_MIN_AUDIO_S);
    let floor_pct = floor::measure(floor_audio_s)? / floor_audio_s * 100.0;

    // A warm-up call first: what the first call of a process sets up once (GStreamer's clock
    // and thread pools, GLib's worker context) is then part of "idle", so what ended calls
    // leave behind can be told from it.
    let ws = format!("ws://{}/ws", bridge.signaling);
    let warm_up = Calls::connect(rt, bridge.sip, &ws, WARM_UP_ROOM, (1, 1), &[])?;
    if warm_up.hash_to_audio_ms().is_empty() {
        return Err("the warm-up call never reached its peer".into());
    }
    warm_up.hang_up();
    let (idle_cpu, idle_b) = procstat::idle(&pid, Duration::from_secs(1), Duration::from_secs(3))
        .ok_or("bridge gone")?;

    // The WebRTC-only pair: the second joins once the first is in, and offers to it.
    let webrtc_peer = || peer::Peer::start(rt, ws.clone(), WEBRTC_ROOM.into(), Vec::new(), 0.0);
    let webrtc_a = webrtc_peer()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !*webrtc_a.joined.borrow() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let webrtc_b = webrtc_peer()?;
    let round = Calls::connect(
        rt,
        bridge.sip,
        &ws,
        FIRST_ROOM,
        (calls, room_size),
        &[webrtc_a.clone(), webrtc_b.clone()],
    )?;
    std::thread::sleep(Duration::from_secs(2));
    let invites: Vec<f64> = round
        .callers
        .iter()
        .map(|c| c.invite_to_200.as_secs_f64() * 1e3)
        .collect();
    let hash_to_audio = round.hash_to_audio_ms();
    let calls_ok = hash_to_audio.len();

    let phones = || round.callers.iter().map(|c| c.phone.rtp.rx_stats());
    let peers = || round.peers.iter().map(|p| p.leg.inbound_stats());
    let (callers_before, peers_before): (Vec<_>, Vec<_>) = (phones().collect(), peers().collect());
    // For a profiler attached from outside (bench/profile.sh).
    eprintln!(
        "steady window: bridge pid {pid}, {} s",
        window.as_secs_f64()
    );
    let steady = procstat::window(&pid, window).ok_or("bridge gone")?;
    let (b, secs) = (steady.of.1, steady.secs);
    let (callers_after, peers_after): (Vec<_>, Vec<_>) = (phones().collect(), peers().collect());
    let quality = quality::between(
        (&callers_before, &callers_after),
        (&peers_before, &peers_after),
    );
    let delays = delay::run(&round.pairs(), (&webrtc_a, &webrtc_b));
    // Single callers joining while the others talk: `#` to audio as a caller meets it.
    let mut joins = Vec::new();
    for _ in 0..PROBE_CALLS {
        let probe = Calls::connect(rt, bridge.sip, &ws, PROBE_ROOM, (1, 1), &[])?;
        joins.extend(probe.hash_to_audio_ms());
        probe.hang_up();
    }
    round.hang_up();
    drop((webrtc_a, webrtc_b));
    let after = settle(&pid, &idle_b)?;

    // The same calls once more: memory the first round left behind must be reused, not grow.
    let again = Calls::connect(rt, bridge.sip, &ws, FIRST_ROOM, (calls, room_size), &[])?;
    let again_ok = again.hash_to_audio_ms().len();
    again.hang_up();
    let after_again = settle(&pid, &idle_b)?;
    drop(bridge);
    let janus = if plan.with_janus {
        Some(janus::measure(rt, dir, calls, room_size, window)?)
    } else {
        None
    };

    let cpu = steady.cpu();
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let per = |x: f64| {
        if calls_ok > 0 {
            x / calls_ok as f64
        } else {
            0.0
        }
    };
    let cpu_per_call = per(cpu - idle_cpu);
    Ok(Step {
        calls,
        room_size,
        calls_ok,
        window_s: secs,
        idle_cpu_pct: idle_cpu,
        cpu_pct: cpu,
        cpu_machine_pct: cpu / nproc,
        cpu_pct_per_call: cpu_per_call,
        idle_rss_kb: idle_b.rss_kb,
        rss_kb: b.rss_kb,
        rss_kb_per_call: per(b.rss_kb as f64 - idle_b.rss_kb as f64),
        idle_threads: idle_b.threads,
        threads: b.threads,
        idle_fds: idle_b.fds,
        fds: b.fds,
        after_rss_kb: after.rss_kb,
        after_threads: after.threads,
        after_fds: after.fds,
        again_calls_ok: again_ok,
        after_again_rss_kb: after_again.rss_kb,
        after_again_threads: after_again.threads,
        after_again_fds: after_again.fds,
        invite_200_p50_ms: procstat::percentile(&invites, 50.0),
        invite_200_p99_ms: procstat::percentile(&invites, 99.0),
        hash_to_audio_p50_ms: procstat::percentile(&hash_to_audio, 50.0),
        hash_to_audio_p99_ms: procstat::percentile(&hash_to_audio, 99.0),
        join_under_load_ms: procstat::percentile(&joins, 50.0),
        quality,
        delays,
        floor_cpu_pct_per_call: floor_pct,
        cost_over_floor: if floor_pct > 0.0 {
            cpu_per_call / floor_pct
        } else {
            0.0
        },
        harness_cpu_pct: steady.my_cpu(),
        cost_over_janus: janus
            .as_ref()
            .filter(|j| j.cpu_pct_per_call > 0.0)
            .map_or(0.0, |j| cpu_per_call / j.cpu_pct_per_call),
        janus,
    })
}

/// Machine facts for the report.
pub fn machine() -> serde_json::Value {
    serde_json::json!({
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu_model": procstat::cpu_model(),
    })
}
