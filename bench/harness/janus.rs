//! The C peer of the load bench (issue 13): the same G.711 callers as dialbridge's steps,
//! joined straight into Janus AudioBridge rooms as plain-RTP participants (AudioBridge's `rtp`
//! join), with one WebRTC participant per room. Janus decodes G.711, mixes, and encodes G.711
//! back to each caller and Opus to the WebRTC participant, all in C. Measured like
//! [`super::run_step`] measures the bridge: CPU from /proc, idle first, then a steady window
//! once every caller hears the room; loss and jitter at the callers (RFC 3550).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialbridge::conference::janus::{JanusBackend, JanusOptions, JanusPlugin};
use serde::Serialize;

use super::calls::room_sizes;
use super::janus_api::JanusApi;
use super::janus_room::{PLUGIN, Room};
use super::{procstat, quality};
use crate::common::janus::server::{API_SECRET, Janus};
use crate::common::netns;

/// Janus drops a session idle this long; the bench's clients keep alive well inside it.
const SESSION_TIMEOUT_S: u32 = 60;
/// The bench's rooms are `FIRST_ROOM..` (the plugin config's own are 2345 and 5432).
const FIRST_ROOM: u64 = 7000;
/// How long Janus's idle CPU is sampled.
const IDLE: Duration = Duration::from_secs(3);
/// How long every caller and WebRTC participant may take to hear its room.
const AUDIO_TIMEOUT: Duration = Duration::from_secs(30);

/// Janus with `calls` plain-RTP callers: one step of the C peer.
#[derive(Debug, Clone, Serialize)]
pub struct JanusStep {
    /// Plain-RTP callers asked for.
    pub calls: usize,
    /// Callers that joined and hear their room's mix.
    pub calls_ok: usize,
    /// Callers per AudioBridge room.
    pub room_size: usize,
    /// AudioBridge rooms: `ceil(calls / room_size)`, each with one WebRTC participant.
    pub rooms: usize,
    /// WebRTC participants that hear their room's callers.
    pub web_ok: usize,
    /// Length of the steady window, in seconds.
    pub window_s: f64,
    /// Janus CPU in % of one core, started but without rooms.
    pub idle_cpu_pct: f64,
    /// Janus CPU in % of one core in the steady window.
    pub cpu_pct: f64,
    /// `cpu_pct` as a share of the whole machine (all cores).
    pub cpu_machine_pct: f64,
    /// (cpu_pct − idle_cpu_pct) / calls_ok: Janus's CPU per call.
    pub cpu_pct_per_call: f64,
    /// Janus's resident memory idle and in the window.
    pub idle_rss_kb: u64,
    pub rss_kb: u64,
    /// Janus's threads idle and in the window.
    pub idle_threads: u64,
    pub threads: u64,
    /// Loss and jitter in the window: at the callers from the RTP phone's receiver statistics
    /// (RFC 3550), at the WebRTC participants from webrtcbin's counters.
    #[serde(flatten)]
    pub quality: quality::Quality,
    /// CPU of the bench process itself (callers + WebRTC participants) in the window, % of one
    /// core.
    pub harness_cpu_pct: f64,
}

/// Starts Janus in the bench's namespace, measures its idle CPU, opens
/// `ceil(calls / room_size)` rooms with `room_size` callers each (the last room gets the rest)
/// and one WebRTC participant each, waits until everyone hears their room, measures `window`,
/// then hangs up and stops Janus. Janus's log is kept as `janus-<calls>.log` in `dir`.
pub fn measure(
    rt: &tokio::runtime::Handle,
    dir: &Path,
    calls: usize,
    room_size: usize,
    window: Duration,
) -> Result<JanusStep, String> {
    let room_size = room_size.max(1);
    let started = std::panic::catch_unwind(|| Janus::start(netns::IFACE_A, SESSION_TIMEOUT_S));
    let mut janus = started.map_err(|_| "Janus did not start (see the message above)")?;
    let result = run(rt, &janus, calls, room_size, window);
    janus.stop();
    let log = dir.join(format!("janus-{calls}.log"));
    let kept = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&log, janus.log_tail(usize::MAX)));
    if let Err(e) = kept {
        eprintln!("cannot keep Janus's log as {}: {e}", log.display());
    }
    result
}

fn run(
    rt: &tokio::runtime::Handle,
    janus: &Janus,
    calls: usize,
    room_size: usize,
    window: Duration,
) -> Result<JanusStep, String> {
    let pid = janus.pid().ok_or("Janus is not running")?.to_string();
    // Start-up work (plugin init, the config's rooms) fades first, as the bridge's warm-up.
    let (idle_cpu, idle_b) =
        procstat::idle(&pid, Duration::from_secs(1), IDLE).ok_or("Janus is gone")?;

    let api = rt.block_on(JanusApi::connect(&janus.url(), API_SECRET))?;
    let admin = rt.block_on(api.attach(PLUGIN))?;
    let options =
        JanusOptions::new(janus.url(), JanusPlugin::AudioBridge).with_credentials(API_SECRET, "");
    let backend = Arc::new(JanusBackend::new(options));
    let sizes = room_sizes(calls, room_size);
    let mut rooms = Vec::new();
    let opened = rt.block_on(async {
        for (n, &size) in sizes.iter().enumerate() {
            let id = FIRST_ROOM + n as u64;
            rooms.push(Room::open(&api, admin, &backend, id, size).await?);
        }
        Ok::<(), String>(())
    });
    let measured = opened.and_then(|()| steady_window(&pid, &rooms, window));
    rt.block_on(async {
        for room in rooms {
            room.close(&api, admin).await;
        }
        api.close().await;
    });
    let window = measured?;

    let calls_ok = window.calls_ok;
    let cpu = window.proc.cpu();
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    Ok(JanusStep {
        calls,
        calls_ok,
        room_size,
        rooms: sizes.len(),
        web_ok: window.web_ok,
        window_s: window.proc.secs,
        idle_cpu_pct: idle_cpu,
        cpu_pct: cpu,
        cpu_machine_pct: cpu / nproc,
        cpu_pct_per_call: if calls_ok > 0 {
            (cpu - idle_cpu) / calls_ok as f64
        } else {
            0.0
        },
        idle_rss_kb: idle_b.rss_kb,
        rss_kb: window.proc.of.1.rss_kb,
        idle_threads: idle_b.threads,
        threads: window.proc.of.1.threads,
        quality: window.quality,
        harness_cpu_pct: window.proc.my_cpu(),
    })
}

/// What the steady window saw.
struct Window {
    calls_ok: usize,
    web_ok: usize,
    /// Janus, and the bench process, at the window's start and end.
    proc: procstat::Window,
    quality: quality::Quality,
}

/// Waits (up to [`AUDIO_TIMEOUT`]) until every caller and WebRTC participant hears its room,
/// then samples Janus, the bench and the receivers' counters over `window`.
fn steady_window(pid: &str, rooms: &[Room], window: Duration) -> Result<Window, String> {
    let calls_ok = || rooms.iter().map(Room::callers_hearing).sum::<usize>();
    let web_ok = || rooms.iter().filter(|r| r.web_hears()).count();
    let callers = rooms.iter().map(|r| r.callers.len()).sum::<usize>();
    let webs_joined = rooms.iter().filter(|r| r.web.is_some()).count();
    let deadline = Instant::now() + AUDIO_TIMEOUT;
    while (calls_ok() < callers || web_ok() < webs_joined) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let phones = || rooms.iter().flat_map(|r| &r.callers).map(|c| c.rx_stats());
    let webs = || {
        let webs = rooms.iter().filter_map(|r| r.web.as_ref());
        webs.map(|w| w.leg.inbound_stats())
    };
    let (callers_before, webs_before): (Vec<_>, Vec<_>) = (phones().collect(), webs().collect());
    let proc = procstat::window(pid, window).ok_or("Janus is gone")?;
    let (callers_after, webs_after): (Vec<_>, Vec<_>) = (phones().collect(), webs().collect());
    Ok(Window {
        // Counted at the end: a caller whose audio stopped in the window does not count.
        calls_ok: calls_ok(),
        web_ok: web_ok(),
        proc,
        quality: quality::between(
            (&callers_before, &callers_after),
            (&webs_before, &webs_after),
        ),
    })
}
