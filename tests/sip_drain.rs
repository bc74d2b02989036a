//! Graceful drain against the real binary: SIGTERM with two calls up (new INVITEs and OPTIONS
//! get 503, `/readyz` turns 503 while `/healthz` stays ok, one call ends by itself, the other
//! hears the closing prompt at the drain limit and gets BYE, exit 0); `dialbridge drain`, after
//! which the first SIGTERM lets the drain go on and the second hangs up at once; SIGINT that
//! hangs up at once; and a register-mode bridge that unregisters from a real kamailio.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::bridge::{Bridge, Config};
use common::call::{Caller, PROMPT};
use common::kamailio::Kamailio;
use common::metrics::{self, http_get};
use common::sipraw::{Request, Response, Udp};
use common::tools;

/// The drain limit of the first test: long enough for one caller to hang up first, short for
/// the test.
const LIMIT_S: u64 = 5;
/// The Retry-After the 503s must carry (drain.retry_after_s).
const RETRY_AFTER_S: u32 = 42;
/// The longest the bridge may take to exit once nothing is left.
const EXIT: Duration = Duration::from_secs(30);
/// Longest wait for one HTTP or SIP state change.
const CHANGE: Duration = Duration::from_secs(10);

fn drain_toml(limit_s: u64) -> String {
    format!(
        "[drain]\nlimit_s = {limit_s}\nretry_after_s = {RETRY_AFTER_S}\n\n\
         [[conference.builtin.rooms]]\nid = \"4321\"\nname = \"Second room\"\n"
    )
}

/// Sends `request` from `udp` and returns the first final response (ACKing a failure).
fn ask(udp: &Udp, request: &Request) -> Response {
    udp.send(request.build().as_bytes());
    let deadline = Instant::now() + CHANGE;
    while Instant::now() < deadline {
        let finals: Vec<Response> = udp
            .collect(Duration::from_millis(300), Duration::from_secs(1))
            .iter()
            .filter_map(|d| Response::parse(d))
            .filter(|r| r.status >= 200)
            .collect();
        if let Some(r) = finals.into_iter().next() {
            if request.method == "INVITE" {
                let mut ack = request.derive("ACK", request.cseq, false);
                ack.to_tag = r.header("To").and_then(common::sipraw::to_tag);
                udp.send(ack.build().as_bytes());
            }
            return r;
        }
    }
    panic!("no final response to {} within {CHANGE:?}", request.method);
}

/// A new INVITE and an OPTIONS to the draining bridge: both 503, the INVITE with Retry-After.
fn assert_refuses_new_calls(sip: SocketAddr) {
    let udp = Udp::new(sip);
    let invite = Request::invite(sip, udp.local(), "UDP", tools::free_port());
    let r = ask(&udp, &invite);
    assert_eq!(r.status, 503, "a new INVITE while draining:\n{}", r.raw);
    assert_eq!(
        r.header("Retry-After"),
        Some(RETRY_AFTER_S.to_string().as_str()),
        "{}",
        r.raw
    );
    let options = Request::new("OPTIONS", sip, udp.local(), "UDP");
    let r = ask(&udp, &options);
    assert_eq!(r.status, 503, "OPTIONS while draining:\n{}", r.raw);
}

fn status(addr: SocketAddr, path: &str) -> (u16, String) {
    http_get(addr, path).unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"))
}

/// Waits until `/readyz` answers 503 (the drain has started).
fn wait_not_ready(addr: SocketAddr) {
    tools::poll(
        "/readyz to turn 503",
        CHANGE,
        Duration::from_millis(50),
        || (status(addr, "/readyz").0 == 503).then_some(()),
        || format!("{:?}", status(addr, "/readyz")),
    );
}

/// Dials `room` (no PIN) and waits until the caller is in it and the "alone" prompt is over.
fn caller_in_room(bridge: &Bridge, scenario: &str, room: &str, joined: f64) -> Caller {
    let call = Caller::dial(&bridge.dir, scenario, bridge.sip, &[0], |s| {
        s.timeout(Duration::from_secs(180))
            .log_name(&format!("room_{room}"))
    });
    call.rtp.expect_prompt("welcome", PROMPT);
    call.rtp.send_digits(&format!("{room}#"));
    call.rtp.expect_prompt("joining", PROMPT);
    metrics::wait_for(
        bridge.signaling,
        "dialbridge_calls_joined_total",
        &joined.to_string(),
        CHANGE,
        |v| v == joined,
    );
    call.rtp.expect_prompt("alone", PROMPT);
    call
}

/// The bridge logged, right before it exited, that no call was left counted.
fn assert_no_call_leaked(bridge: &Bridge) {
    let log = std::fs::read_to_string(&bridge.log).expect("reading the bridge log");
    let exit = log
        .lines()
        .rfind(|l| l.contains("all calls ended; exiting"))
        .unwrap_or_else(|| panic!("no exit line in {}", bridge.log.display()));
    assert!(exit.contains("calls_active=0"), "a call leaked: {exit}");
}

#[test]
fn sigterm_drains_calls_then_says_goodbye_and_exits_zero() {
    tools::require_tool("sipp", "apt-get install sip-tester");
    let dir = tools::test_dir();
    let mut config = Config::trunk();
    let cdr = dir.join("calls.jsonl");
    config.extra_toml = format!(
        "{}\n[cdr]\npath = \"{}\"\n",
        drain_toml(LIMIT_S),
        cdr.display()
    );
    let mut bridge = Bridge::start(&dir, &config);
    let sig = bridge.signaling;
    assert_eq!(status(sig, "/readyz"), (200, "ready\n".into()));

    let leaves = caller_in_room(&bridge, "uac_call.xml", "1234", 1.0);
    let stays = caller_in_room(&bridge, "uac_bridge_hangs_up.xml", "4321", 2.0);

    let sigterm_at = Instant::now();
    bridge.signal("TERM");
    wait_not_ready(sig);
    // One call ends by itself while the drain waits; the other is still up.
    leaves.hang_up();
    metrics::wait_for(sig, "dialbridge_calls_active", "1", CHANGE, |v| v == 1.0);
    bridge.assert_alive();
    assert_eq!(status(sig, "/healthz"), (200, "ok".into()));
    assert_eq!(metrics::scrape(sig).get("dialbridge_draining"), 1.0);
    assert_refuses_new_calls(bridge.sip);
    assert_eq!(
        metrics::scrape(sig).get("dialbridge_sip_invites_refused_total{reason=\"draining\"}"),
        1.0
    );

    // At the limit the remaining caller hears the closing prompt (sound, not silence), then BYE.
    let closing = stays.rtp.expect_prompt("closing", PROMPT);
    assert!(
        closing.start >= sigterm_at + Duration::from_secs(LIMIT_S),
        "the closing prompt started {:?} after SIGTERM, before the {LIMIT_S} s limit",
        closing.start - sigterm_at
    );
    assert!(
        closing.peak_rms() > 2000.0,
        "the closing prompt is too quiet: {:.0}",
        closing.peak_rms()
    );
    stays.sipp.finish().assert_success();

    let exit = bridge.wait_exit(EXIT);
    assert!(exit.success(), "the drained bridge exited with {exit}");
    assert_no_call_leaked(&bridge);
    // Both calls have their record by the time the process is gone; the refused INVITE has none
    // (it never became a call).
    let text = std::fs::read_to_string(&cdr).expect("the call records were written");
    let mut ends: Vec<(String, String)> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a record is JSON"))
        .map(|r| (r["room"].to_string(), r["end_reason"].to_string()))
        .collect();
    ends.sort();
    let expected = [
        ("\"1234\"", "\"caller_hangup\""),
        ("\"4321\"", "\"drained\""),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(ends, expected, "{text}");
}

/// Waits until the bridge's log has a line with every one of `words` (the log is where a
/// handled signal shows).
fn wait_log(bridge: &Bridge, words: &[&str]) {
    tools::poll(
        &format!("a log line with {words:?}"),
        CHANGE,
        Duration::from_millis(20),
        || {
            let log = std::fs::read_to_string(&bridge.log).unwrap_or_default();
            log.lines()
                .any(|l| words.iter().all(|w| l.contains(w)))
                .then_some(())
        },
        || tools::tail(&bridge.log, 5),
    );
}

#[test]
fn drain_subcommand_then_a_second_sigterm_hangs_up_at_once() {
    tools::require_tool("sipp", "apt-get install sip-tester");
    let dir = tools::test_dir();
    let mut config = Config::trunk();
    let admin = tools::loopback(tools::free_port());
    // A limit far beyond the test: only the SIGINT ends the call.
    config.extra_toml = format!("{}\n[admin]\nlisten = \"{admin}\"\n", drain_toml(3600));
    let mut bridge = Bridge::start(&dir, &config);
    assert_eq!(bridge.admin, Some(admin), "READY names the admin listener");
    assert_eq!(status(admin, "/readyz").0, 200);

    let call = caller_in_room(&bridge, "uac_bridge_hangs_up.xml", "1234", 1.0);

    let drain = |bridge: &Bridge| {
        let out = Command::new(env!("CARGO_BIN_EXE_dialbridge"))
            .arg("--config")
            .arg(&bridge.config)
            .arg("drain")
            .output()
            .expect("running dialbridge drain");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "dialbridge drain: {stdout}{stderr}");
        stdout
    };
    let said = drain(&bridge);
    assert!(
        said.contains("draining: 1 call(s)") && said.contains("3600 s"),
        "{said}"
    );
    // The endpoint answers once the supervisor has the request; the flag follows at once.
    wait_not_ready(admin);
    assert_eq!(status(admin, "/healthz"), (200, "ok".into()));
    assert_eq!(status(bridge.signaling, "/readyz").0, 503);
    assert_eq!(metrics::scrape(admin).get("dialbridge_draining"), 1.0);
    assert_refuses_new_calls(bridge.sip);
    let again = drain(&bridge);
    assert!(again.contains("already draining"), "{again}");

    // The first SIGTERM (systemctl stop after the drain command) lets the drain go on ...
    bridge.signal("TERM");
    wait_log(&bridge, &["signal received", "request=Drain"]);
    let m = metrics::scrape(admin);
    assert_eq!(m.get("dialbridge_calls_active"), 1.0, "the call must go on");
    // ... the second hangs up at once, without the closing prompt.
    bridge.signal("TERM");
    call.sipp.finish().assert_success();
    let exit = bridge.wait_exit(EXIT);
    assert!(exit.success(), "the stopped bridge exited with {exit}");
    assert_no_call_leaked(&bridge);
    let log = std::fs::read_to_string(&bridge.log).expect("reading the bridge log");
    assert!(
        !log.contains("drain limit reached"),
        "a second SIGTERM must not wait for the limit"
    );
}

#[test]
fn sigint_hangs_up_at_once() {
    tools::require_tool("sipp", "apt-get install sip-tester");
    let dir = tools::test_dir();
    let mut config = Config::trunk();
    config.extra_toml = drain_toml(3600);
    let mut bridge = Bridge::start(&dir, &config);
    let call = Caller::dial(&dir, "uac_bridge_hangs_up.xml", bridge.sip, &[0], |s| s);
    call.rtp.expect_prompt("welcome", PROMPT);
    bridge.signal("INT");
    call.sipp.finish().assert_success();
    let exit = bridge.wait_exit(EXIT);
    assert!(exit.success(), "the stopped bridge exited with {exit}");
    assert_no_call_leaked(&bridge);
    let log = std::fs::read_to_string(&bridge.log).expect("reading the bridge log");
    assert!(log.contains("request=StopNow"), "SIGINT is a stop request");
}

/// OPTIONS to the bridge's account through kamailio: relayed to the registered contact (which
/// answers), or 404 from kamailio when no binding is left.
fn options_via_registrar(kamailio: &Kamailio, account: &str) -> Response {
    let udp = Udp::new(kamailio.addr());
    let mut options = Request::new("OPTIONS", kamailio.addr(), udp.local(), "UDP");
    options.uri = format!("sip:{account}@{}", kamailio.addr());
    options.to_uri = options.uri.clone();
    ask(&udp, &options)
}

#[test]
fn register_mode_unregisters_on_drain() {
    tools::require_tool("kamailio", "apt-get install kamailio");
    let dir = tools::test_dir();
    let kamailio = Kamailio::start(&dir, tools::free_port());
    // A binding far longer than the test, so only an unregistration removes it.
    let mut config = Config::register(&kamailio.uri(), "bridge", "secret", 300);
    config.extra_toml = drain_toml(LIMIT_S);
    let mut bridge = Bridge::start(&dir, &config);
    metrics::wait_for(
        bridge.signaling,
        "dialbridge_registered",
        "1",
        CHANGE,
        |v| v == 1.0,
    );
    let before = options_via_registrar(&kamailio, "bridge");
    assert_eq!(
        before.status, 200,
        "the registered bridge answers through kamailio:\n{}",
        before.raw
    );

    // No call up: the drain ends as soon as it has unregistered.
    bridge.signal("TERM");
    let exit = bridge.wait_exit(EXIT);
    assert!(exit.success(), "the drained bridge exited with {exit}");
    let after = options_via_registrar(&kamailio, "bridge");
    assert_eq!(
        after.status, 404,
        "kamailio still holds the bridge's contact after the drain:\n{}",
        after.raw
    );
    let log = std::fs::read_to_string(&bridge.log).expect("reading the bridge log");
    assert!(log.contains("unregistered"), "no unregistration logged");
}
