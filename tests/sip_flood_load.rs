//! An INVITE flood at 10× the call cap from four source addresses (sipp, in the test's own
//! network namespace) while 20 established calls carry a 440 Hz tone into their rooms: those
//! calls keep their audio (the tone is what the room hears, loss < 1 % both ways), the flood
//! gets one 503 per source and then silence, and a new caller during the flood is answered and
//! joins. The legitimate callers come from a trusted address (as a PBX would), the flood from
//! addresses the per-source limits apply to. `DIALBRIDGE_FLOOD_CALLS` sets the established calls.

mod common;
use common::{goertzel, metrics, netns};

#[path = "../bench/harness/mod.rs"]
mod harness;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::bridge::{Bridge, Config};
use harness::calls::Calls;

/// The bridge's `limits.max_calls`; the flood sends ten times that many INVITEs a second.
const MAX_CALLS: usize = 30;
const FLOOD_SOURCES: [&str; 4] = ["10.99.0.11", "10.99.0.12", "10.99.0.13", "10.99.0.14"];
const FLOOD_SECONDS: usize = 20;
/// How long the established calls are measured while the flood runs.
const WINDOW: Duration = Duration::from_secs(5);
const FIRST_ROOM: usize = 1000;
const NEW_CALLER_ROOM: usize = 1100;

fn config(established: usize) -> Config {
    let rooms = (0..established)
        .map(|i| FIRST_ROOM + i)
        .chain([NEW_CALLER_ROOM])
        .map(|id| id.to_string());
    let limits = format!(
        "[limits]\nmax_calls = {MAX_CALLS}\nmax_calls_per_source = 2\n\
         trusted_sources = [\"{}\"]\n",
        netns::ADDR_B
    );
    harness::bench_config(rooms, limits).allow(&["10.99.0.0/24"])
}

/// One sipp per flooding address, each at a quarter of the flood rate.
fn start_flood(dir: &Path, bridge: std::net::SocketAddr) -> Vec<Child> {
    let sipp = common::tools::require_tool("sipp", "install sip-tester (scripts/install-deps.sh)");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/uac_flood.xml");
    let rate = MAX_CALLS * 10 / FLOOD_SOURCES.len();
    FLOOD_SOURCES
        .iter()
        .map(|ip| {
            let log = std::fs::File::create(dir.join(format!("flood-{ip}.log")))
                .expect("creating the flood log");
            Command::new(&sipp)
                .arg(bridge.to_string())
                .arg("-sf")
                .arg(&scenario)
                .args(["-i", ip, "-bind_local", "-mi", ip, "-t", "u1", "-nostdin"])
                .args(["-r", &rate.to_string(), "-l", "2000"])
                .args(["-m", &(rate * FLOOD_SECONDS).to_string()])
                .args(["-s", "1000", "-timeout", "120s"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("cloning a file handle"))
                .stderr(log)
                .spawn()
                .expect("starting sipp")
        })
        .collect()
}

fn refused(signaling: std::net::SocketAddr) -> f64 {
    let m = metrics::scrape(signaling);
    ["source_rate", "source_calls"]
        .iter()
        .map(|r| {
            m.get(&format!(
                "dialbridge_sip_invites_refused_total{{reason=\"{r}\"}}"
            ))
        })
        .sum()
}

#[test]
fn an_invite_flood_leaves_established_calls_and_new_callers_alone() {
    if !netns::reexec_in_netns("an_invite_flood_leaves_established_calls_and_new_callers_alone") {
        return;
    }
    let established: usize = std::env::var("DIALBRIDGE_FLOOD_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for ip in FLOOD_SOURCES {
        let status = Command::new("ip")
            .args(["addr", "add", &format!("{ip}/24"), "dev", netns::IFACE_B])
            .status()
            .expect("ip (iproute2) is installed");
        assert!(status.success(), "adding flood address {ip}");
    }
    let dir = common::tools::named_test_dir("sip_flood_load");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let bridge = Bridge::start(&dir, &config(established));
    let ws = format!("ws://{}/ws", bridge.signaling);
    let calls = Calls::connect(
        rt.handle(),
        bridge.sip,
        &ws,
        FIRST_ROOM,
        (established, 1),
        &[],
    )
    .unwrap_or_else(|e| panic!("the established calls: {e}"));
    assert_eq!(
        calls.hash_to_audio_ms().len(),
        established,
        "every established caller is heard in its room before the flood"
    );

    let mut flood = start_flood(&dir, bridge.sip);
    let started = Instant::now();
    while refused(bridge.signaling) == 0.0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the flood never reached the limits"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The established calls, measured over a window inside the flood.
    let phones = || {
        calls
            .callers
            .iter()
            .map(|c| c.phone.rtp.rx_stats())
            .collect::<Vec<_>>()
    };
    let peers = || {
        calls
            .peers
            .iter()
            .map(|p| p.leg.inbound_stats())
            .collect::<Vec<_>>()
    };
    let window_start = Instant::now();
    let (phones_before, peers_before) = (phones(), peers());
    calls.peers.iter().for_each(|p| p.record());
    // A new caller during the flood.
    let newcomer = Calls::connect(rt.handle(), bridge.sip, &ws, NEW_CALLER_ROOM, (1, 1), &[])
        .unwrap_or_else(|e| panic!("the caller during the flood: {e}"));
    assert_eq!(
        newcomer.hash_to_audio_ms().len(),
        1,
        "a caller during the flood is answered and heard in its room"
    );
    std::thread::sleep(WINDOW.saturating_sub(window_start.elapsed()));
    let (phones_after, peers_after) = (phones(), peers());
    let recordings: Vec<_> = calls.peers.iter().map(|p| p.take_recording()).collect();
    assert!(
        started.elapsed() < Duration::from_secs(FLOOD_SECONDS as u64),
        "the window ended after the flood; the machine is too slow for this test's timing"
    );

    let quality = harness::quality::between(
        (&phones_before, &phones_after),
        (&peers_before, &peers_after),
    );
    println!("during the flood: {quality:?}");
    assert!(quality.loss_caller_pct < 1.0, "{quality:?}");
    assert!(quality.loss_peer_pct < 1.0, "{quality:?}");
    // Each room has one caller, who sends the tone of a room's first caller.
    let tone = harness::calls::tone_hz(0);
    for (i, r) in recordings.iter().enumerate() {
        let hz = goertzel::dominant_frequency(&r.samples, 8000);
        assert!(
            (hz - tone).abs() < 20.0,
            "room {} heard {hz:.0} Hz during the flood, not its caller's {tone} Hz",
            FIRST_ROOM + i
        );
    }

    // sipp counts each INVITE the bridge stayed silent to as a failed call: that is the point,
    // so its exit status says nothing here; the bridge's counters below do.
    for mut sipp in flood.drain(..) {
        sipp.wait().expect("waiting for sipp");
    }
    let m = metrics::scrape(bridge.signaling);
    let sent = (MAX_CALLS * 10 * FLOOD_SECONDS) as f64;
    let turned_away = refused(bridge.signaling);
    println!("flood: {sent} INVITEs, {turned_away} refused before any work");
    assert!(
        turned_away > sent * 0.8,
        "most of the flood is refused at the door"
    );
    assert_eq!(m.get("dialbridge_panics_total"), 0.0);
    assert!(m.get("dialbridge_calls_active") <= MAX_CALLS as f64);
    newcomer.hang_up();
    calls.hang_up();
}
