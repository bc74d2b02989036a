//! Floods and garbage from the open internet: a flooding source must not make the bridge deaf
//! to other callers, random mutations must not panic it or fill its log, and every call slot a
//! flood takes comes back. Small scale here; `DIALBRIDGE_FLOOD_SECONDS=60` runs the mutation
//! flood at the full minute of docs/robustness.md.

mod common;
mod flood;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::dialog::RawDialog;
use common::metrics::{self, Metrics};
use common::sipraw::{self, Request, Response};
use common::tools;
use flood::mutate::Mutator;
use flood::pump::{Tally, pump};

/// The longest an unACKed 200 OK may hold its call slot: 64 × T1 (RFC 3261 timer H; ezk's
/// acceptor gives up sooner, after ~9 s of retransmissions).
const TIMER_H: Duration = Duration::from_secs(32);

/// Trunk mode open to all of loopback, with the per-source limits applied to it (by default the
/// allow list is trusted, as a provider's trunk would be).
fn open_bridge_config() -> Config {
    let mut config = Config::trunk().allow(&["127.0.0.0/8"]);
    config.extra_toml = "[limits]\ntrusted_sources = []\n".into();
    config
}

/// A call from `source` (another loopback address than the flood's): INVITE, 200, ACK, BYE.
/// Returns how long the first answer (100 Trying or the 200) took.
fn call_from(source: Ipv4Addr, bridge: SocketAddr) -> Duration {
    let mut call = RawDialog::invite_udp(bridge, source.into(), 40_000);
    call.answer(Duration::from_secs(10));
    call.send_request("BYE", None);
    call.wait(Duration::from_secs(5), |r| {
        r.status == 200 && r.method() == "BYE"
    })
    .expect("the BYE of the caller beside the flood was not answered");
    call.first_answer
        .expect("a 200 was seen, so something came first")
}

/// Lines the bridge wrote about refused or malformed input (the rate-limited ones).
fn limited_lines(bridge: &Bridge) -> usize {
    let log = std::fs::read_to_string(&bridge.log).unwrap_or_default();
    log.lines().filter(|l| l.contains("left_out=")).count()
}

fn assert_no_panic(bridge: &Bridge, m: &Metrics) {
    let log = std::fs::read_to_string(&bridge.log).unwrap_or_default();
    assert!(
        !log.contains("panicked"),
        "the bridge panicked; see {}",
        bridge.log.display()
    );
    assert_eq!(m.get("dialbridge_panics_total"), 0.0);
}

fn refused(m: &Metrics, reason: &str) -> f64 {
    m.get(&format!(
        "dialbridge_sip_invites_refused_total{{reason=\"{reason}\"}}"
    ))
}

fn malformed(m: &Metrics, reason: &str) -> f64 {
    m.get(&format!(
        "dialbridge_sip_malformed_total{{reason=\"{reason}\"}}"
    ))
}

#[test]
fn an_unparsable_via_is_dropped_without_a_panic() {
    let dir = tools::test_dir();
    let mut bridge = Bridge::start(&dir, &Config::trunk());
    let udp = sipraw::Udp::new(bridge.sip);
    // ezk decodes these Via values to an empty list; before the vendored fix the endpoint
    // indexed it and panicked once per datagram.
    for via in ["SIP/2.0/UDP", "garbage", ";;;", "SIP/2.0/UDP :"] {
        for method in ["INVITE", "OPTIONS"] {
            let text = Request::new(method, bridge.sip, udp.local(), "UDP").build();
            let broken: Vec<String> = text
                .split("\r\n")
                .map(|l| {
                    if l.starts_with("Via:") {
                        format!("Via: {via}")
                    } else {
                        l.to_string()
                    }
                })
                .collect();
            udp.send(broken.join("\r\n").as_bytes());
            let answers = udp.collect(Duration::from_millis(300), Duration::from_secs(2));
            assert!(
                answers.is_empty(),
                "no answer can be routed without a Via, got {answers:?}"
            );
        }
    }
    bridge.assert_alive();
    let options = Request::new("OPTIONS", bridge.sip, udp.local(), "UDP");
    udp.send(options.build().as_bytes());
    let answers = udp.collect(Duration::from_millis(300), Duration::from_secs(5));
    assert!(
        answers
            .iter()
            .filter_map(|a| Response::parse(a))
            .any(|r| r.status == 200),
        "OPTIONS after the bad Vias should get 200"
    );
    let m = metrics::scrape(bridge.signaling);
    assert_no_panic(&bridge, &m);
    assert_eq!(malformed(&m, "base_headers"), 8.0);
}

#[test]
fn one_flooding_source_leaves_the_bridge_to_others() {
    let dir = tools::test_dir();
    let mut bridge = Bridge::start(&dir, &open_bridge_config());
    let target = bridge.sip;
    let flood = std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP port on loopback");
        let local = socket.local_addr().expect("a bound socket has an address");
        // Valid INVITEs that are never ACKed, 400 a second.
        pump(&socket, target, 400, Duration::from_secs(4), || {
            Request::invite(target, local, "UDP", 40_002)
                .build()
                .into_bytes()
        })
    });
    std::thread::sleep(Duration::from_secs(1)); // let the flood get going (not a sync point)
    let first_answer = call_from(Ipv4Addr::new(127, 0, 0, 2), bridge.sip);
    let tally: Tally = flood.join().expect("the flood thread");
    println!("flood: {tally:?}; the other caller's first answer after {first_answer:?}");
    assert!(
        first_answer < Duration::from_secs(1),
        "a caller beside the flood waited {first_answer:?} for an answer"
    );
    // Default limits: a burst of 10, then one 503 with Retry-After, then silence (drop).
    assert_eq!(tally.count(503), 1, "{tally:?}");
    assert_eq!(
        tally.retry_after, 1,
        "the 503 carries Retry-After: {tally:?}"
    );
    assert!(
        tally.count(100) <= 20,
        "at most limits.max_calls_per_source calls (each answered 100 once): {tally:?}"
    );
    let m = metrics::scrape(bridge.signaling);
    assert!(refused(&m, "source_rate") >= tally.sent as f64 * 0.9 - 50.0);
    let waiting = m.get("dialbridge_calls_active");
    assert!(waiting <= 20.0);
    assert!(
        waiting > 0.0,
        "the admitted flood INVITEs wait for their ACK"
    );
    assert_eq!(
        m.get("dialbridge_pipelines_active"),
        0.0,
        "an INVITE costs no GStreamer pipeline until it is ACKed"
    );
    assert!(
        limited_lines(&bridge) <= 4,
        "refusals are logged at most once per 10 s per reason"
    );
    // The flood's unACKed calls give their slots back.
    metrics::wait_idle(bridge.signaling, TIMER_H + Duration::from_secs(10));
    bridge.assert_alive();
    assert_no_panic(&bridge, &metrics::scrape(bridge.signaling));
}

#[test]
fn a_mutation_flood_panics_nothing_fills_no_log_and_leaks_nothing() {
    let seconds: u64 = std::env::var("DIALBRIDGE_FLOOD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("DIALBRIDGE_FLOOD_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4475);
    let dir = tools::test_dir();
    let mut bridge = Bridge::start(&dir, &open_bridge_config());
    // Warm-up call, so the memory before the flood includes one call's worth of set-up.
    call_from(Ipv4Addr::new(127, 0, 0, 3), bridge.sip);
    metrics::wait_idle(bridge.signaling, Duration::from_secs(10));
    let rss_before = bridge.held().rss_kb;

    let target = bridge.sip;
    let flood = std::thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP port on loopback");
        let local = socket.local_addr().expect("a bound socket has an address");
        let mut mutator = Mutator::new(seed, target, local);
        pump(&socket, target, 500, Duration::from_secs(seconds), || {
            mutator.next_datagram()
        })
    });
    std::thread::sleep(Duration::from_secs(seconds / 2)); // mid-flood (not a sync point)
    let first_answer = call_from(Ipv4Addr::new(127, 0, 0, 2), bridge.sip);
    let tally = flood.join().expect("the flood thread");
    println!(
        "mutation flood (seed {seed}): {tally:?}; other caller answered after {first_answer:?}"
    );
    assert!(
        first_answer < Duration::from_secs(1),
        "a caller beside the flood waited {first_answer:?}"
    );

    let m = metrics::scrape(bridge.signaling);
    assert_no_panic(&bridge, &m);
    let dropped: f64 = [
        "unparsable",
        "base_headers",
        "cseq_method",
        "content_length",
    ]
    .iter()
    .map(|r| malformed(&m, r))
    .sum();
    assert!(dropped > 0.0, "a mutation flood has malformed messages");
    let reasons = 16; // every reason of both families and the rest, with room to spare
    let intervals = seconds.div_ceil(10) as usize + 1;
    let lines = limited_lines(&bridge);
    assert!(
        lines <= reasons * intervals,
        "{lines} rate-limited log lines for {} datagrams",
        tally.sent
    );
    metrics::wait_idle(bridge.signaling, TIMER_H + Duration::from_secs(10));
    let rss_after = bridge.held().rss_kb;
    println!("RSS before the flood {rss_before} kB, after it {rss_after} kB");
    assert!(
        rss_after <= rss_before + 16 * 1024,
        "memory after the flood ({rss_after} kB) should be near its level before ({rss_before} kB)"
    );
    // Still a working bridge.
    call_from(Ipv4Addr::new(127, 0, 0, 2), bridge.sip);
    bridge.assert_alive();
}
