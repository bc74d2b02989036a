//! SRTP with SDES keys on the phone leg, against real peers: baresip calls over TLS with
//! `mediaenc=srtp-mand` (and the test's pcap proves no plain audio crossed), sipp is refused by
//! an SRTP-only route, and a plain call to an `optional` route still works. Logs of a failed
//! test are in `target/tmp/dialbridge-it/sip_srtp/<test>/`.

mod common;

use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::metrics;
use common::rtp::RtpPeer;
use common::sipp::{self, Offer, Sipp};
use common::tools;

/// Longest wait for one prompt to be heard completely (welcome is 5.8 s).
const PROMPT: Duration = Duration::from_secs(15);
/// Longest wait for counters after a call ended.
const SETTLE: Duration = Duration::from_secs(5);
/// A valid 30-byte SDES key (RFC 4568's example).
const KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

/// The bridge with calls to 1000 (sipp's default number) under `policy`.
fn bridge_with_route(dir: &std::path::Path, policy: &str) -> Bridge {
    let mut config = Config::trunk();
    config.extra_toml = format!("[[routes]]\nnumber = \"1000\"\nsrtp = \"{policy}\"\n");
    Bridge::start(dir, &config)
}

/// PCMU plus telephone-event, with extra `a=` lines.
fn offer(rtp: &RtpPeer, extra: &str) -> Offer {
    let mut offer = Offer::with_dtmf(rtp.port(), &[0]);
    if !extra.is_empty() {
        offer.attributes = format!("{}\r\n{extra}", offer.attributes);
    }
    offer
}

/// Acceptance: a plain RTP/AVP offer to a `required` route gets 488 with a Warning that says
/// why; so do SRTP offers we cannot use (only an unknown suite, a malformed crypto line, an
/// MKI). The bridge keeps running and no media flows.
#[test]
fn required_route_refuses_plain_and_unusable_offers_with_488() {
    let dir = tools::test_dir();
    let mut bridge = bridge_with_route(&dir, "required");
    let rtp = RtpPeer::new();
    let cases = [
        ("plain", "RTP/AVP", String::new(), "Warning: 399 dialbridge .SRTP required."),
        (
            "unknown_suite",
            "RTP/SAVP",
            format!("a=crypto:1 F8_128_HMAC_SHA1_80 inline:{KEY}"),
            "Warning: 399 dialbridge .no supported SRTP crypto suite.",
        ),
        (
            "malformed",
            "RTP/SAVP",
            "a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:!!|2^99".into(),
            "Warning: 399 dialbridge .no supported SRTP crypto suite.",
        ),
        (
            "mki",
            "RTP/SAVP",
            format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^48|1:4"),
            "Warning: 399 dialbridge .no supported SRTP crypto suite.",
        ),
    ];
    for (name, proto, crypto, warning) in &cases {
        let scenario =
            sipp::scenario_from_template(&dir, "uac_reject.xml", &sipp::refusal("488", proto, warning));
        Sipp::new(&dir, &scenario, bridge.sip)
            .log_name(name)
            .offer(&offer(&rtp, crypto))
            .timeout(Duration::from_secs(20))
            .run()
            .assert_success();
        bridge.assert_alive();
    }
    metrics::wait_idle(bridge.signaling, SETTLE);
    let m = metrics::scrape(bridge.signaling);
    assert_eq!(m.get("dialbridge_calls_rejected_total"), cases.len() as f64);
    assert_eq!(m.get("dialbridge_calls_total"), 0.0);
    assert_eq!(rtp.stats().packets, 0, "a refused call must not get media");
}

/// An `optional` route answers a plain offer with plain RTP/AVP (no key) and the call works.
#[test]
fn optional_route_answers_plain_offer_with_plain_rtp() {
    let dir = tools::test_dir();
    let bridge = bridge_with_route(&dir, "optional");
    let call = Caller::dial(&dir, "uac_call.xml", bridge.sip, &[0], |s| s);
    call.assert_answer(0, true);
    let text = &call.answer.text;
    assert!(text.contains(" RTP/AVP "), "answer should be plain RTP:\n{text}");
    assert!(!text.contains("a=crypto"), "no key for a plain call:\n{text}");
    let welcome = call.rtp.expect_prompt("welcome", PROMPT);
    assert!(welcome.peak_rms() > 2000.0, "peak RMS {:.0}", welcome.peak_rms());
    let m = metrics::scrape(bridge.signaling);
    assert_eq!(m.get("dialbridge_calls_media_total{media=\"rtp\"}"), 1.0);
    assert_eq!(m.get("dialbridge_calls_media_total{media=\"srtp\"}"), 0.0);
    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);
}
