//! Trunk mode against real peers: sipp places the calls, the test owns the caller's RTP and
//! listens to the prompts (see `tests/common/`). Logs of a failed test are in
//! `target/tmp/dialbridge-it/sip_trunk/<test>/`.
//!
//! "The call stays up" is checked by events, not a fixed `<pause>`: the scenario only sends BYE
//! when the test tells it to (sipp's twin socket), and fails on any BYE from the bridge before.

mod common;

use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::metrics;
use common::rtp::RtpPeer;
use common::sipp::{self, Offer, Sipp};
use common::sipraw::{self, Request, Response};
use common::tools;

/// Longest wait for one prompt to be heard completely (welcome is 5.8 s).
const PROMPT: Duration = Duration::from_secs(15);
/// Longest wait for counters after a call ended.
const SETTLE: Duration = Duration::from_secs(5);

/// Answers with the offered codec, plays the welcome prompt, takes room 1234 by RFC 4733,
/// plays the joining prompt, and keeps the call until the caller hangs up.
fn joins_room_1234(static_pts: &[u8], expect_pt: u8) {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &Config::trunk());
    let call = Caller::dial(&dir, "uac_call.xml", bridge.sip, static_pts, |s| s);
    call.assert_answer(expect_pt, true);

    let welcome = call.rtp.expect_prompt("welcome", PROMPT);
    // The prompts peak around RMS 7000; silence through G.711/G.722 is near 0.
    assert!(
        welcome.peak_rms() > 2000.0,
        "the welcome prompt is too quiet: peak RMS {:.0}",
        welcome.peak_rms()
    );
    call.rtp.send_digits("1234#");
    call.rtp.expect_prompt("joining", PROMPT);
    metrics::wait_for(
        bridge.signaling,
        "dialbridge_calls_joined_total",
        "1",
        SETTLE,
        |v| v == 1.0,
    );

    // Joined: the call must stay up (RTP keeps coming, no BYE: sipp would fail on one).
    call.rtp.assert_flowing(Duration::from_secs(3));
    let m = metrics::scrape(bridge.signaling);
    assert_eq!(m.get("dialbridge_calls_active"), 1.0);
    assert_eq!(m.get("dialbridge_calls_total"), 1.0);
    let stats = call.rtp.stats();
    assert!(
        stats
            .by_payload_type
            .keys()
            .all(|&pt| pt == expect_pt || pt == 101 || pt == 13),
        "the bridge sent other payload types than the answered one: {stats:?}"
    );

    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);
}

#[test]
fn pcmu_call_joins_room_and_stays_up() {
    joins_room_1234(&[0], 0);
}

#[test]
fn pcma_call_joins_room() {
    joins_room_1234(&[0, 8], 8);
}

#[test]
fn g722_is_preferred_and_joins_room() {
    joins_room_1234(&[0, 8, 9], 9);
}

#[test]
fn unsupported_codecs_get_488() {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &Config::trunk());
    let rtp = RtpPeer::new();
    let offer = Offer {
        rtp_port: rtp.port(),
        payload_types: "3 97".into(),
        attributes: "a=rtpmap:3 GSM/8000\r\na=rtpmap:97 iLBC/8000\r\na=fmtp:97 mode=30".into(),
    };
    let scenario = sipp::scenario_from_template(
        &dir,
        "uac_reject.xml",
        &sipp::refusal("488", "RTP/AVP", "SIP/2.0"),
    );
    Sipp::new(&dir, &scenario, bridge.sip)
        .offer(&offer)
        .timeout(Duration::from_secs(20))
        .run()
        .assert_success();
    metrics::wait_idle(bridge.signaling, SETTLE);
}

/// Three unknown rooms: wrong_id twice, then goodbye and a BYE from the bridge.
#[test]
fn three_wrong_room_ids_end_the_call() {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &Config::trunk());
    let call = Caller::dial(&dir, "uac_bridge_hangs_up.xml", bridge.sip, &[0], |s| s);
    call.rtp.expect_prompt("welcome", PROMPT);
    for wrong in ["999#", "998#"] {
        call.rtp.send_digits(wrong);
        call.rtp.expect_prompt("wrong_id", PROMPT);
    }
    call.rtp.send_digits("997#");
    call.rtp.expect_prompt("goodbye", PROMPT);
    // The scenario ends when the bridge's BYE was received and answered.
    let outcome = call.sipp.finish();
    outcome.assert_success();
    metrics::wait_idle(bridge.signaling, SETTLE);
    assert_eq!(
        metrics::scrape(bridge.signaling).get("dialbridge_calls_joined_total"),
        0.0
    );
}

/// Room 5678 needs PIN 2468: a wrong PIN is refused, the right one joins.
#[test]
fn pin_room_refuses_wrong_pin_then_joins() {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &Config::trunk());
    let call = Caller::dial(&dir, "uac_call.xml", bridge.sip, &[0], |s| s);
    call.rtp.expect_prompt("welcome", PROMPT);
    call.rtp.send_digits("5678#");
    call.rtp.expect_prompt("enter_pin", PROMPT);
    call.rtp.send_digits("1357#");
    call.rtp.expect_prompt("wrong_pin", PROMPT);
    assert_eq!(
        metrics::scrape(bridge.signaling).get("dialbridge_calls_joined_total"),
        0.0
    );
    call.rtp.send_digits("2468#");
    call.rtp.expect_prompt("joining", PROMPT);
    metrics::wait_for(
        bridge.signaling,
        "dialbridge_calls_joined_total",
        "1",
        SETTLE,
        |v| v == 1.0,
    );
    call.rtp.assert_flowing(Duration::from_secs(1));
    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);
}

#[test]
fn source_not_in_allow_list_gets_403() {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &Config::trunk().allow(&["10.9.9.9/32"]));
    let rtp = RtpPeer::new();
    let scenario = sipp::scenario_from_template(
        &dir,
        "uac_reject.xml",
        &sipp::refusal("403", "RTP/AVP", "SIP/2.0"),
    );
    Sipp::new(&dir, &scenario, bridge.sip)
        .offer(&Offer::with_dtmf(rtp.port(), &[0]))
        .timeout(Duration::from_secs(20))
        .run()
        .assert_success();
    metrics::wait_idle(bridge.signaling, SETTLE);
    assert_eq!(rtp.stats().packets, 0, "a refused call must not get media");
}

/// INVITE and CANCEL back to back. The bridge answers at once, so either the CANCEL wins (487)
/// or the call was answered first (200; then we ACK and BYE like a phone would). The CANCEL
/// itself must be answered (200, or 481 when it came too late). Either way no call is left.
/// Raw SIP, because sipp cannot wait for "487 or 200" plus the CANCEL's own response in any
/// order without fragile branching. The exchange is in `sip_trace.log` in the test folder.
#[test]
fn cancel_right_after_invite_leaves_no_call() {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &Config::trunk());
    let rtp = RtpPeer::new();
    let udp = sipraw::Udp::traced(bridge.sip, &dir.join("sip_trace.log"));
    let trace = udp.trace_path();
    let invite = Request::invite(bridge.sip, udp.local(), "UDP", rtp.port());
    udp.send(invite.build().as_bytes());
    udp.send(invite.derive("CANCEL", 1, false).build().as_bytes());

    let mut invite_final: Option<u16> = None;
    let mut cancel_status: Option<u16> = None;
    let mut bye_status: Option<u16> = None;
    let mut ack: Option<Request> = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let done = invite_final.is_some_and(|s| s != 200 || bye_status.is_some())
            && cancel_status.is_some();
        if done || std::time::Instant::now() >= deadline {
            break;
        }
        let received = udp.collect(Duration::from_millis(200), Duration::from_millis(500));
        for r in received.iter().filter_map(|d| Response::parse(d)) {
            match (r.method(), r.status) {
                ("INVITE", s) if s >= 200 && invite_final.is_some() => {
                    // A retransmitted final response: our ACK was lost or not matched; resend.
                    if let Some(a) = &ack {
                        udp.send(a.build().as_bytes());
                    }
                }
                ("INVITE", s) if s >= 200 => {
                    invite_final = Some(s);
                    let mut a = invite.derive("ACK", 1, s < 300);
                    a.to_tag = sipraw::to_tag(r.header("To").unwrap_or_default());
                    if s < 300 {
                        a.uri = r.contact_uri().expect("a 200 to INVITE has a Contact");
                        udp.send(a.build().as_bytes());
                        let bye = a.derive("BYE", 2, true);
                        udp.send(bye.build().as_bytes());
                    } else {
                        udp.send(a.build().as_bytes());
                    }
                    ack = Some(a);
                }
                ("CANCEL", s) if s >= 200 => cancel_status = Some(s),
                ("BYE", s) if s >= 200 => bye_status = Some(s),
                _ => {}
            }
        }
    }
    match invite_final {
        Some(487) => {}
        Some(200) => assert_eq!(
            bye_status,
            Some(200),
            "BYE after the answered-then-cancelled INVITE; see {trace}"
        ),
        other => panic!(
            "INVITE then CANCEL: expected 487 or 200 for the INVITE, got {other:?}; see {trace}"
        ),
    }
    assert!(
        matches!(cancel_status, Some(200 | 481)),
        "the CANCEL should get 200 (or 481 when it came after the answer), got {cancel_status:?}; see {trace}"
    );
    metrics::wait_idle(bridge.signaling, SETTLE);
}

#[test]
fn bye_during_welcome_leaves_no_call() {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &Config::trunk());
    let call = Caller::dial(&dir, "uac_call.xml", bridge.sip, &[0], |s| s);
    call.rtp.wait_sound(PROMPT);
    assert_eq!(
        metrics::scrape(bridge.signaling).get("dialbridge_calls_active"),
        1.0
    );
    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);
}

#[test]
fn options_get_200() {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &Config::trunk());
    Sipp::new(&dir, "uac_options.xml", bridge.sip)
        .timeout(Duration::from_secs(10))
        .run()
        .assert_success();
    Sipp::new(&dir, "uac_options.xml", bridge.sip)
        .tcp()
        .log_name("uac_options_tcp")
        .timeout(Duration::from_secs(10))
        .run()
        .assert_success();
}

/// SIP over TCP on the same port reaches the IVR like UDP.
#[test]
fn tcp_call_hears_welcome() {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &Config::trunk());
    let call = Caller::dial(&dir, "uac_call.xml", bridge.sip, &[0], Sipp::tcp);
    call.assert_answer(0, true);
    call.rtp.expect_prompt("welcome", PROMPT);
    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);
}
