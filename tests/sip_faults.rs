//! Faults on a call: RTP that stops, a caller that vanishes, requests racing each other, a
//! re-INVITE storm, a TCP connection that drops. Each must end with no call, pipeline, thread,
//! port or file left behind (threads and open files back to where they were before the call).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::dialog::RawDialog;
use common::metrics;
use common::rtp::RtpPeer;
use common::sdp::AudioSdp;
use common::tools;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const ANSWER: Duration = Duration::from_secs(10);
/// A BYE the caller never answers is retried for 64 × T1.
const TIMER_F: Duration = Duration::from_secs(32);

/// A bridge that hangs up after 2 s without RTP, warmed up by one call so GStreamer's and the
/// runtime's one-time threads exist; returns it with its threads and open files at rest.
fn bridge() -> (Bridge, (u64, u64)) {
    let dir = tools::test_dir();
    let mut config = Config::trunk();
    config.media_toml = "rtp_timeout_s = 2\n".into();
    let mut bridge = Bridge::start(&dir, &config);
    let mut warm = RawDialog::invite_udp(bridge.sip, LOCAL, 40_020);
    warm.answer(ANSWER);
    warm.send_request("BYE", None);
    warm.wait(ANSWER, |r| r.method() == "BYE")
        .expect("the warm-up call's BYE was answered");
    metrics::wait_idle(bridge.signaling, Duration::from_secs(10));
    let rest = threads_and_fds(&bridge);
    bridge.assert_alive();
    (bridge, rest)
}

fn threads_and_fds(bridge: &Bridge) -> (u64, u64) {
    let held = bridge.held();
    (held.threads, held.fds)
}

/// No call, no pipeline, and threads and files as at rest.
fn assert_clean(bridge: &mut Bridge, rest: (u64, u64), within: Duration) {
    metrics::wait_idle(bridge.signaling, within);
    let m = metrics::scrape(bridge.signaling);
    assert_eq!(m.get("dialbridge_panics_total"), 0.0);
    // Threads end a moment after their pipeline; give them that moment. Fewer than at rest is
    // fine: the rest figure may include the server side of a /metrics connection not yet closed.
    let within_rest = |now: (u64, u64)| now.0 <= rest.0 && now.1 <= rest.1;
    let mut now = threads_and_fds(bridge);
    for _ in 0..50 {
        if within_rest(now) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        now = threads_and_fds(bridge);
    }
    assert!(
        within_rest(now),
        "(threads, open files) after the fault {now:?} vs at rest {rest:?}"
    );
    bridge.assert_alive();
}

fn answered(call: &mut RawDialog) -> AudioSdp {
    let ok = call.answer(ANSWER);
    let body = ok
        .raw
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    AudioSdp::parse(&body).expect("the 200 carries an SDP answer")
}

/// An answered call whose RTP peer sends to the bridge's answer address.
fn call_with_media(bridge: &Bridge) -> (RtpPeer, RawDialog) {
    let rtp = RtpPeer::new();
    let mut call = RawDialog::invite_udp(bridge.sip, LOCAL, rtp.port());
    let answer = answered(&mut call);
    rtp.set_remote(answer.addr);
    (rtp, call)
}

#[test]
fn rtp_that_stops_mid_call_ends_the_call_with_a_bye() {
    let (mut bridge, rest) = bridge();
    let (rtp, mut call) = call_with_media(&bridge);
    rtp.wait_sound(ANSWER); // the welcome prompt: media flows both ways
    rtp.set_sending(false);
    let bye = call.wait_request("BYE", Duration::from_secs(10));
    assert!(
        bye.is_some(),
        "the bridge should hang up 2 s after RTP stopped"
    );
    assert_clean(&mut bridge, rest, Duration::from_secs(10));
}

#[test]
fn a_caller_that_vanishes_without_bye_is_forgotten() {
    let (mut bridge, rest) = bridge();
    let mut call = RawDialog::invite_udp(bridge.sip, LOCAL, 40_022);
    answered(&mut call);
    call.vanish(); // no RTP, no BYE, its port closed
    assert_clean(&mut bridge, rest, TIMER_F + Duration::from_secs(10));
}

#[test]
fn a_tcp_connection_dropped_mid_call_ends_the_call() {
    let (mut bridge, rest) = bridge();
    let mut call = RawDialog::invite_tcp(bridge.sip, 40_024);
    answered(&mut call);
    call.vanish();
    assert_clean(&mut bridge, rest, TIMER_F + Duration::from_secs(10));
}

#[test]
fn bye_cancel_and_reinvite_races_leave_no_call() {
    let (mut bridge, rest) = bridge();

    // CANCEL and BYE right behind the INVITE: cancelled (487) or, if the 200 won, hung up.
    let mut call = RawDialog::invite_udp(bridge.sip, LOCAL, 40_026);
    let cancel = call.invite.derive("CANCEL", 1, false).build();
    call.send(cancel.as_bytes());
    let bye = call.request("BYE", 2, None);
    call.send(bye.as_bytes());
    let last = call
        .wait(ANSWER, |r| r.method() == "INVITE" && r.status >= 200)
        .expect("the INVITE got a final answer");
    if last.status == 200 {
        call.answer(ANSWER);
        call.send_request("BYE", None);
    } else {
        assert_eq!(last.status, 487, "a cancelled INVITE ends with 487");
        call.ack_failure(&last);
    }

    // A re-INVITE and a BYE back to back on an answered call (the re-INVITE's 200 is ACKed
    // when it comes; a re-INVITE never ACKed holds the call's loop for 64 × T1).
    let mut call = RawDialog::invite_udp(bridge.sip, LOCAL, 40_028);
    answered(&mut call);
    call.send_request("INVITE", Some(common::sipraw::sdp_offer(40_030)));
    call.send_request("BYE", None);
    call.wait(ANSWER, |r| r.method() == "BYE")
        .expect("the BYE behind a re-INVITE was answered");

    // A CANCEL after the 200: too late (RFC 3261 9.2), the call goes on until its BYE.
    let mut call = RawDialog::invite_udp(bridge.sip, LOCAL, 40_032);
    answered(&mut call);
    let cancel = call.invite.derive("CANCEL", 1, false).build();
    call.send(cancel.as_bytes());
    let late = call
        .wait(ANSWER, |r| r.method() == "CANCEL")
        .expect("a late CANCEL is answered");
    assert!(late.status == 200 || late.status == 481, "{}", late.raw);
    call.send_request("BYE", None);
    call.wait(ANSWER, |r| r.method() == "BYE" && r.status == 200)
        .expect("the call was still up after the late CANCEL");

    assert_clean(&mut bridge, rest, Duration::from_secs(15));
}

#[test]
fn a_reinvite_storm_on_one_call_leaves_it_working() {
    let (mut bridge, rest) = bridge();
    let (rtp, mut call) = call_with_media(&bridge);
    let storm = 50;
    let mut finals = 0;
    for _ in 0..storm {
        let cseq = call.send_request("INVITE", Some(common::sipraw::sdp_offer(rtp.port())));
        // Each gets a final answer: 200 (then ACK) or 491/500 while another is pending.
        let r = call
            .wait(ANSWER, |r| {
                r.method() == "INVITE"
                    && r.status >= 200
                    && r.header("CSeq")
                        .is_some_and(|c| c.starts_with(&format!("{cseq} ")))
            })
            .unwrap_or_else(|| panic!("re-INVITE {cseq} got no final answer"));
        finals += 1;
        assert!(matches!(r.status, 200 | 491 | 500), "{}", r.raw); // 200s are ACKed by wait()
    }
    assert_eq!(finals, storm);
    // Still a call with media: the bridge's prompt keeps coming.
    rtp.wait_sound(ANSWER);
    let m = metrics::scrape(bridge.signaling);
    assert_eq!(m.get("dialbridge_calls_active"), 1.0);
    call.send_request("BYE", None);
    call.wait(ANSWER, |r| r.method() == "BYE" && r.status == 200)
        .expect("the BYE after the storm was answered");
    assert_clean(&mut bridge, rest, Duration::from_secs(15));
}
