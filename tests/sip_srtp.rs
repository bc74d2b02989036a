//! SRTP with SDES keys on the phone leg, against real peers: baresip calls over TLS with
//! `mediaenc=srtp-mand` (and the test's pcap proves no plain audio crossed), sipp is refused by
//! an SRTP-only route, and a plain call to an `optional` route still works. Logs of a failed
//! test are in `target/tmp/dialbridge-it/sip_srtp/<test>/`.

mod common;
use common::{goertzel, netns};

use std::time::Duration;

use common::baresip::{self, Account, Baresip};
use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::g711::ulaw_to_linear;
use common::metrics;
use common::pcap::{Capture, Rtp};
use common::rtp::RtpPeer;
use common::sipp::{self, Offer, Sipp};
use common::tls::TestCa;
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
        (
            "plain",
            "RTP/AVP",
            String::new(),
            "Warning: 399 dialbridge .SRTP required.",
        ),
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
        let scenario = sipp::scenario_from_template(
            &dir,
            "uac_reject.xml",
            &sipp::refusal("488", proto, warning),
        );
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
    assert!(
        text.contains(" RTP/AVP "),
        "answer should be plain RTP:\n{text}"
    );
    assert!(
        !text.contains("a=crypto"),
        "no key for a plain call:\n{text}"
    );
    let welcome = call.rtp.expect_prompt("welcome", PROMPT);
    assert!(
        welcome.peak_rms() > 2000.0,
        "peak RMS {:.0}",
        welcome.peak_rms()
    );
    let m = metrics::scrape(bridge.signaling);
    assert_eq!(m.get("dialbridge_calls_media_total{media=\"rtp\"}"), 1.0);
    assert_eq!(m.get("dialbridge_calls_media_total{media=\"srtp\"}"), 0.0);
    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);
}

/// A PCMU-only bridge on `ip` with SIP over TLS (a certificate of `ca` for `ip`) and calls to
/// `number` under `srtp = "required"`; `config` brings the rest.
fn tls_bridge(dir: &std::path::Path, ca: &TestCa, mut config: Config, number: &str) -> Bridge {
    let server = ca.server("bridge", &config.ip);
    config.media_toml = "codecs = [\"PCMU\"]\n".into();
    config.extra_toml = format!(
        "[sip.tls]\nport = 0\ncert = \"{}\"\nkey = \"{}\"\n\n\
         [[routes]]\nnumber = \"{number}\"\nsrtp = \"required\"\n",
        server.cert.display(),
        server.key.display()
    );
    Bridge::start(dir, &config)
}

/// baresip with `mediaenc=srtp-mand` (PCMU) dials `uri`; returns once the call is up and the
/// welcome prompt is heard (loud speech in what it decoded; silence decodes near 0), with the
/// loudest 200 ms RMS.
fn srtp_baresip_hears_welcome(dir: &std::path::Path, ca: &TestCa, uri: &str) -> (Baresip, f64) {
    let mut phone = Baresip::start(
        dir,
        &Account {
            mediaenc: "srtp-mand".into(),
            codecs: "PCMU".into(),
            cafile: Some(ca.cert.clone()),
        },
    );
    phone.command("dial", uri);
    phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(20));
    let loudest = tools::poll(
        "the welcome prompt in baresip's decoded audio",
        PROMPT,
        Duration::from_millis(200),
        || {
            let (pcm, rate) = phone.heard();
            let window = rate as usize / 5;
            let loudest = pcm.chunks(window).map(goertzel::rms).fold(0.0, f64::max);
            (loudest > 2000.0).then_some(loudest)
        },
        || format!("{} samples heard", phone.heard().0.len()),
    );
    (phone, loudest)
}

/// baresip types `1234#` (RFC 4733 inside SRTP) and becomes the `joined`-th caller in a room;
/// its call is the bridge's one SRTP call.
fn srtp_baresip_joins_1234(phone: &mut Baresip, bridge: &Bridge, joined: u32) -> metrics::Metrics {
    phone.command("sndcode", "1234#");
    let wanted = f64::from(joined);
    metrics::wait_for(
        bridge.signaling,
        "dialbridge_calls_joined_total",
        &joined.to_string(),
        PROMPT,
        |v| v == wanted,
    );
    let m = metrics::scrape(bridge.signaling);
    assert_eq!(m.get("dialbridge_calls_media_total{media=\"srtp\"}"), 1.0);
    m
}

/// Tone power at [`baresip::TONE_HZ`] relative to the RMS of `pcm`: about 1.4 for a pure tone,
/// near 0 for noise (what encrypted payload decodes to).
fn tone_share(pcm: &[i16], rate: u32) -> f64 {
    goertzel::power(pcm, rate, f64::from(baresip::TONE_HZ)) / goertzel::rms(pcm).max(1.0)
}

/// Acceptance: baresip calls in over TLS with `mediaenc=srtp-mand`, hears the welcome prompt,
/// puts the call on hold and resumes it (re-INVITEs), types the room ID as RFC 4733 events
/// (inside SRTP) and joins; on the wire (tcpdump on lo)
/// every RTP packet both ways carries an SRTP tag and its payload shows no trace of the 1000 Hz
/// tone baresip sends, which its own dump of what it sent shows plainly. The bridge runs at
/// trace level, and no key reaches its log.
#[test]
fn baresip_over_tls_with_srtp_hears_the_prompt_and_joins_with_no_plain_audio_on_the_wire() {
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "ca");
    // Trace level: the SIP library then quotes every message, SDP included.
    let config = Config {
        rust_log: Some("trace".into()),
        ..Config::trunk()
    };
    let bridge = tls_bridge(&dir, &ca, config, "1000");
    let tls = bridge.sip_tls.expect("READY names the TLS listener");
    let capture = Capture::start(&dir, "phone_leg", "udp");
    let uri = format!("sip:1000@{tls};transport=tls");
    let (mut phone, loudest) = srtp_baresip_hears_welcome(&dir, &ca, &uri);
    eprintln!("RESULT baresip hears the welcome prompt at RMS {loudest:.0}");

    // Hold and resume (re-INVITEs with baresip's crypto lines): the keys stay in force, and
    // the digits typed after them still get through.
    for command in ["hold", "resume"] {
        phone.command(command, "");
        phone.wait_event("CALL_REMOTE_SDP", Duration::from_secs(10));
    }
    let log = std::fs::read_to_string(&bridge.log).expect("reading the bridge log");
    assert_eq!(
        log.matches("re-INVITE applied").count(),
        2,
        "hold and resume applied"
    );
    assert!(!log.contains("re-INVITE refused"));

    srtp_baresip_joins_1234(&mut phone, &bridge, 1);
    // Two more seconds of baresip's tone, counted in what it sent.
    let sent_before = phone.sent().0.len();
    tools::poll(
        "two more seconds of baresip's tone",
        Duration::from_secs(10),
        Duration::from_millis(200),
        || (phone.sent().0.len() >= sent_before + 16000).then_some(()),
        || format!("{} samples sent", phone.sent().0.len()),
    );
    let (sent, sent_rate) = phone.sent();
    let plain_share = tone_share(&sent[sent.len().saturating_sub(8000)..], sent_rate);
    phone.command("hangup", "");
    phone.wait_event("CALL_CLOSED", Duration::from_secs(10));
    metrics::wait_idle(bridge.signaling, SETTLE);
    let m = metrics::scrape(bridge.signaling);
    assert_eq!(m.get("dialbridge_srtp_rejected_packets_total"), 0.0);

    // Other tests share lo: keep the phone leg's packets, by the port the bridge logged.
    let log = std::fs::read_to_string(&bridge.log).expect("reading the bridge log");
    let leg_port: u16 = log
        .split("phone leg started local=127.0.0.1:")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .expect("the bridge logs its phone leg's local address");
    let quoted = log.matches("a=crypto:").count();
    assert!(
        quoted >= 2,
        "the trace log quotes the SDP ({quoted} crypto lines)"
    );
    assert_eq!(
        log.matches("inline:<redacted>").count(),
        log.matches("inline:").count(),
        "an SRTP key reached the log"
    );
    let packets = capture.stop();
    let rtp: Vec<(u16, Rtp)> = packets
        .iter()
        .filter(|p| p.src.port() == leg_port || p.dst.port() == leg_port)
        .filter_map(|p| Some((p.src.port(), Rtp::parse(&p.payload)?)))
        .filter(|(_, r)| r.payload_type == 0 || r.payload_type == 101)
        .collect();
    let mut sources: Vec<u16> = rtp.iter().map(|(port, _)| *port).collect();
    sources.sort_unstable();
    sources.dedup();
    assert_eq!(
        sources.len(),
        2,
        "RTP from exactly two ports (bridge and baresip): {sources:?}"
    );
    let audio_len = rtp
        .iter()
        .find(|(_, r)| r.payload_type == 0)
        .map(|(_, r)| r.payload.len())
        .expect("PCMU packets on the wire");
    let tag = audio_len.wrapping_sub(160);
    assert!(
        [4, 10, 16].contains(&tag),
        "a 20 ms PCMU payload is 160 bytes; {audio_len} is not 160 plus an SRTP tag"
    );
    let events = rtp.iter().filter(|(_, r)| r.payload_type == 101).count();
    assert!(
        rtp.iter()
            .filter(|(_, r)| r.payload_type == 101)
            .all(|(_, r)| r.payload.len() == 4 + tag),
        "telephone-events are 4 bytes plus the tag"
    );
    assert!(
        events >= 5,
        "the five digits went as RFC 4733 events; saw {events} packets"
    );
    for port in sources {
        let audio: Vec<&Rtp> = rtp
            .iter()
            .filter(|(p, r)| *p == port && r.payload_type == 0)
            .map(|(_, r)| r)
            .collect();
        assert!(
            audio.len() > 100,
            "only {} audio packets from port {port}",
            audio.len()
        );
        assert!(
            audio.iter().all(|r| r.payload.len() == audio_len),
            "every audio packet from {port} carries the {tag}-byte tag"
        );
        let pcm: Vec<i16> = audio
            .iter()
            .flat_map(|r| r.payload[..160].iter().map(|&b| ulaw_to_linear(b)))
            .collect();
        let share = tone_share(&pcm, 8000);
        eprintln!(
            "RESULT port {port}: {} SRTP audio packets of {audio_len} bytes (tag {tag}); \
             1000 Hz share on the wire {share:.3}, in baresip's plain audio {plain_share:.3}",
            audio.len()
        );
        assert!(
            share < 0.1,
            "the wire from {port} shows the 1000 Hz tone: {share:.3}"
        );
    }
    assert!(
        plain_share > 0.5,
        "baresip's own dump should show its tone plainly (share {plain_share:.3})"
    );
}

/// Acceptance: baresip's 1000 Hz tone, sent as SRTP over a TLS-signalled call, reaches another
/// participant of room 1234 (a plain phone, whose audio from the room comes over the bridge's
/// WebRTC legs). Runs in its own network namespace: WebRTC never uses loopback.
#[test]
fn baresip_srtp_tone_reaches_a_room_participant() {
    if !common::setup::inside_netns("baresip_srtp_tone_reaches_a_room_participant") {
        return;
    }
    let dir = tools::test_dir();
    let ca = TestCa::new(&dir, "ca");
    let mut config = Config::trunk().allow(&["127.0.0.1/32", "10.99.0.0/24"]);
    config.ip = netns::ADDR_A.into();
    let bridge = tls_bridge(&dir, &ca, config, "2000");
    let tls = bridge.sip_tls.expect("READY names the TLS listener");

    // The listener: a plain phone (number 1000, the default policy) in room 1234.
    let mut listener = common::phone::Phone::call(common::setup::phone_ip(), bridge.sip);
    listener.enter_room("1234");
    metrics::wait_for(
        bridge.signaling,
        "dialbridge_calls_joined_total",
        "1",
        PROMPT,
        |v| v == 1.0,
    );

    let uri = format!("sip:2000@{tls};transport=tls");
    let (mut phone, _) = srtp_baresip_hears_welcome(&dir, &ca, &uri);
    let m = srtp_baresip_joins_1234(&mut phone, &bridge, 2);
    assert_eq!(m.get("dialbridge_calls_media_total{media=\"rtp\"}"), 1.0);

    let (spectrum, heard) = common::setup::measure_until(
        Duration::from_secs(20),
        || listener.rtp.spectrum_of_next(Duration::from_secs(1)),
        |s| s.level_near(1000.0) - s.floor_db() > 30.0,
    );
    eprintln!(
        "RESULT the room participant hears 1000 Hz at {:+.1} dB over the floor",
        spectrum.level_near(1000.0) - spectrum.floor_db()
    );
    assert!(
        heard,
        "the room participant does not hear baresip's 1000 Hz tone"
    );
    assert_eq!(
        metrics::scrape(bridge.signaling).get("dialbridge_srtp_rejected_packets_total"),
        0.0
    );
}
