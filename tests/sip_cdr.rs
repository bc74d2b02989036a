//! Call detail records and call-quality metrics against the real bridge: the test's phone does
//! SIP with `common::sipraw` and sends its own RTP (so it can drop every 10th packet and send
//! RTCP receiver reports). Logs of a failed test are in `target/tmp/dialbridge-it/sip_cdr/<test>/`.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use common::bridge::{Bridge, Config};
use common::metrics;
use common::sdp::AudioSdp;
use common::sipraw::{self, Request, Response, Udp};
use common::tools;
use serde_json::Value;

/// Audio packets each call sends (2 s: well inside the 5.8 s welcome prompt, so the IVR never
/// ends the call first).
const PACKETS: u16 = 100;
/// The caller's number, asserted by the trunk.
const CALLER: &str = "+493012345689";
/// How `caller_id.mask` with `visible_tail = 2` shows it.
const MASKED: &str = "+49 30 ••• 89";
/// What the phone reports losing of the bridge's audio, and its jitter in 8 kHz units (2 ms).
const REPORTED_LOST: u32 = 3;
const REPORTED_JITTER: u32 = 16;
const SIP_WAIT: Duration = Duration::from_secs(10);

fn cdr_config(dir: &Path) -> (Config, std::path::PathBuf) {
    let path = dir.join("calls.jsonl");
    let mut config = Config::trunk();
    config.extra_toml = format!("[cdr]\npath = \"{}\"\n", path.display());
    (config, path)
}

/// Waits for a SIP response matching `wanted`, answering nothing else.
fn wait_response(udp: &Udp, wanted: impl Fn(&Response) -> bool) -> Response {
    let deadline = Instant::now() + SIP_WAIT;
    while Instant::now() < deadline {
        for datagram in udp.collect(Duration::from_millis(200), Duration::from_millis(500)) {
            if let Some(r) = Response::parse(&datagram).filter(|r| wanted(r)) {
                return r;
            }
        }
    }
    panic!(
        "no such SIP response within {SIP_WAIT:?}; trace: {}",
        udp.trace_path()
    )
}

/// What the test keeps of a finished call.
struct Call {
    call_id: String,
}

/// Places one call: INVITE (PCMU, with `P-Asserted-Identity`), ACK, `PACKETS` packets of
/// silence (every 10th left out when `lossy`), an RFC 4733 digit when `digit`, muxed RTCP
/// receiver reports about the bridge's audio, then BYE.
fn place_call(dir: &Path, bridge: SocketAddr, name: &str, lossy: bool, digit: bool) -> Call {
    let udp = Udp::traced(bridge, &dir.join(format!("{name}.sip.txt")));
    let rtp = UdpSocket::bind("127.0.0.1:0").expect("binding the caller's RTP port");
    let rtp_port = rtp.local_addr().expect("bound").port();
    let mut invite = Request::invite(bridge, udp.local(), "UDP", rtp_port);
    invite
        .extra_headers
        .push(format!("P-Asserted-Identity: <sip:{CALLER}@127.0.0.1>"));
    udp.send(invite.build().as_bytes());
    let ok = wait_response(&udp, |r| r.status == 200 && r.method() == "INVITE");
    let body = ok.raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let answer = AudioSdp::parse(body).unwrap_or_else(|e| panic!("SDP answer: {e}\n{body}"));
    let to_tag = ok.header("To").and_then(sipraw::to_tag);
    let contact = ok.contact_uri().expect("the 200 OK has a Contact");
    let in_dialog = |method: &str, cseq: u32| {
        let mut r = invite.derive(method, cseq, true);
        r.to_tag = to_tag.clone();
        r.uri = contact.clone();
        r.build()
    };
    udp.send(in_dialog("ACK", 1).as_bytes());

    send_media(&rtp, answer.addr, lossy, digit);

    udp.send(in_dialog("BYE", 2).as_bytes());
    wait_response(&udp, |r| r.status == 200 && r.method() == "BYE");
    Call {
        call_id: invite.call_id,
    }
}

/// Paces 20 ms packets to the bridge. Reports go out at packets 30 and 60, long before the BYE.
fn send_media(rtp: &UdpSocket, to: SocketAddr, lossy: bool, digit: bool) {
    let ssrc: u32 = rand::random();
    let (mut seq, mut ts): (u16, u32) = (rand::random(), rand::random());
    let start = Instant::now();
    let packet = |pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]| {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        p
    };
    for i in 0..PACKETS {
        let due = start + Duration::from_millis(20 * u64::from(i));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait); // pacing a 20 ms RTP stream, not synchronisation
        }
        if digit && i == 10 {
            // Key 5 for 60 ms: three updates, then the end packet three times (RFC 4733 §2.5).
            for (n, end) in [
                (1u16, false),
                (2, false),
                (3, false),
                (3, true),
                (3, true),
                (3, true),
            ] {
                let duration = (n * 160).to_be_bytes();
                let flags = if end { 0x80 | 10 } else { 10 };
                let p = packet(
                    101,
                    n == 1 && !end,
                    seq,
                    ts,
                    &[5, flags, duration[0], duration[1]],
                );
                rtp.send_to(&p, to).expect("sending RTP on loopback");
                seq = seq.wrapping_add(1);
            }
        }
        // Left out, not just unsent: the sequence number is used up, as on a lossy network.
        if !(lossy && i % 10 == 2) {
            let p = packet(0, i == 0, seq, ts, &[0xff; 160]);
            rtp.send_to(&p, to).expect("sending RTP on loopback");
        }
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(160);
        if i == 30 || i == 60 {
            send_receiver_report(rtp, to, ssrc);
        }
    }
}

/// Reads the bridge's SSRC from its audio and reports on it, multiplexed on the RTP port.
fn send_receiver_report(rtp: &UdpSocket, to: SocketAddr, ours: u32) {
    rtp.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("non-zero timeout");
    let mut buf = [0u8; 2048];
    let (len, _) = rtp
        .recv_from(&mut buf)
        .expect("the bridge sends RTP (the welcome prompt) within 2 s");
    assert!(
        len >= 12,
        "a {len}-byte datagram from the bridge's RTP port"
    );
    let mut rr = vec![0x81, 201, 0, 7];
    rr.extend_from_slice(&ours.to_be_bytes());
    rr.extend_from_slice(&buf[8..12]); // the bridge's SSRC
    rr.push(0); // fraction lost
    rr.extend_from_slice(&REPORTED_LOST.to_be_bytes()[1..]);
    rr.extend_from_slice(&1000u32.to_be_bytes()); // extended highest sequence
    rr.extend_from_slice(&REPORTED_JITTER.to_be_bytes());
    rr.extend_from_slice(&[0; 8]); // LSR, DLSR
    rtp.send_to(&rr, to).expect("sending RTCP on loopback");
}

/// The records so far, once `count` lines are there.
fn records(path: &Path, count: usize) -> Vec<Value> {
    tools::poll(
        &format!("{count} call records in {}", path.display()),
        Duration::from_secs(10),
        Duration::from_millis(50),
        || {
            let text = std::fs::read_to_string(path).ok()?;
            let lines: Vec<&str> = text.lines().collect();
            (lines.len() >= count).then(|| {
                lines
                    .iter()
                    .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                    .collect()
            })
        },
        || std::fs::read_to_string(path).unwrap_or_else(|e| e.to_string()),
    )
}

fn record_of<'a>(records: &'a [Value], call: &Call) -> &'a Value {
    let found: Vec<&Value> = records
        .iter()
        .filter(|r| r["call_id"] == call.call_id.as_str())
        .collect();
    assert_eq!(found.len(), 1, "one record per call: {records:#?}");
    found[0]
}

fn assert_time(record: &Value, field: &str) -> String {
    let t = record[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a time: {record:#}"));
    let b = t.as_bytes();
    assert!(
        t.len() == 24 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && t.ends_with('Z'),
        "{field} is not RFC 3339 UTC: {t}"
    );
    t.to_string()
}

fn number(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

#[test]
fn records_a_clean_and_a_lossy_call_with_quality() {
    let dir = tools::test_dir();
    let (config, path) = cdr_config(&dir);
    let bridge = Bridge::start(&dir, &config);
    let clean = place_call(&dir, bridge.sip, "clean", false, true);
    let lossy = place_call(&dir, bridge.sip, "lossy", true, false);
    let all = records(&path, 2);
    assert_eq!(all.len(), 2, "exactly one record per call: {all:#?}");

    let mut mos = Vec::new();
    for (call, lossy) in [(&clean, false), (&lossy, true)] {
        let r = record_of(&all, call);
        assert_eq!(r["caller"], MASKED, "{r:#}");
        assert!(
            !r.to_string().contains("3012345"),
            "the full number leaked: {r}"
        );
        assert_eq!(r["called"], "1000");
        assert!(r["route"].is_null() && r["room"].is_null() && r["join_time"].is_null());
        assert_eq!(r["backend"], "builtin");
        assert_eq!(r["codec"], "PCMU");
        assert_eq!(r["end_reason"], "caller_hangup", "{r:#}");
        assert_eq!(r["ended_by"], "caller");
        let expected_dtmf: &[&str] = if lossy { &[] } else { &["rfc4733"] };
        assert_eq!(r["dtmf_methods"], serde_json::json!(expected_dtmf), "{r:#}");
        let invite = assert_time(r, "invite_time");
        let answer = assert_time(r, "answer_time");
        let end = assert_time(r, "end_time");
        assert!(invite <= answer && answer <= end, "{r:#}");

        let q = &r["quality"];
        assert!(q["room_to_bridge"].is_null() && q["bridge_to_room"].is_null());
        let rx = &q["phone_to_bridge"];
        let loss = number(&rx["loss_pct"], "phone_to_bridge.loss_pct");
        let packets = number(&rx["packets"], "phone_to_bridge.packets");
        // The last packet or two can still be on their way when the BYE ends the call.
        let sent = f64::from(PACKETS) - if lossy { 10.0 } else { 0.0 };
        assert!(
            (sent - 2.0..=sent).contains(&packets),
            "{sent} packets sent: {rx}"
        );
        if lossy {
            assert!((8.0..=12.0).contains(&loss), "~10 % loss expected: {rx}");
        } else {
            assert_eq!(loss, 0.0, "{rx}");
        }
        for field in ["jitter_ms", "r_factor", "mos", "delay_ms"] {
            number(&rx[field], field);
        }
        let tx = &q["bridge_to_phone"];
        assert_eq!(
            tx["lost"], REPORTED_LOST,
            "the phone's receiver report: {tx}"
        );
        assert_eq!(number(&tx["jitter_ms"], "jitter"), 2.0, "{tx}");
        assert!(number(&tx["packets"], "packets") > 0.0, "{tx}");
        mos.push(number(&rx["mos"], "phone_to_bridge.mos"));
    }
    assert!(mos[0] > 4.0, "a clean G.711 call scores above 4: {mos:?}");
    assert!(
        mos[1] < mos[0] - 0.5,
        "10 % loss lowers the MOS clearly: clean {}, lossy {}",
        mos[0],
        mos[1]
    );
}

#[test]
fn quality_metrics_and_refusals_move_after_calls() {
    let dir = tools::test_dir();
    let (config, path) = cdr_config(&dir);
    let bridge = Bridge::start(&dir, &config);
    let before = metrics::scrape(bridge.signaling);
    let mos_count = "dialbridge_call_mos_count{direction=\"phone_to_bridge\"}";
    assert_eq!(before.get(mos_count), 0.0);

    place_call(&dir, bridge.sip, "clean", false, true);
    // An offer of G.729 only: refused with 488, and still recorded.
    let udp = Udp::traced(bridge.sip, &dir.join("refused.sip.txt"));
    let mut invite = Request::invite(bridge.sip, udp.local(), "UDP", 40000);
    invite.body = invite.body.replace("RTP/AVP 0 101", "RTP/AVP 18");
    udp.send(invite.build().as_bytes());
    let refused = wait_response(&udp, |r| r.status >= 400);
    assert_eq!(refused.status, 488, "{}", refused.raw);
    let mut ack = invite.derive("ACK", 1, false);
    ack.to_tag = refused.header("To").and_then(sipraw::to_tag);
    udp.send(ack.build().as_bytes());

    let all = records(&path, 2);
    let rejected = all
        .iter()
        .find(|r| r["call_id"] == invite.call_id.as_str())
        .unwrap_or_else(|| panic!("no record of the refused call: {all:#?}"));
    assert_eq!(rejected["end_reason"], "rejected", "{rejected:#}");
    assert_eq!(rejected["sip_status"], 488);
    assert_eq!(rejected["ended_by"], "bridge");
    assert!(rejected["answer_time"].is_null() && rejected["codec"].is_null());

    let after = metrics::scrape(bridge.signaling);
    for (name, wanted) in [
        (mos_count.to_string(), 1.0),
        (
            "dialbridge_call_jitter_ms_count{direction=\"phone_to_bridge\"}".into(),
            1.0,
        ),
        (
            "dialbridge_call_loss_ratio_count{direction=\"phone_to_bridge\"}".into(),
            1.0,
        ),
        (
            "dialbridge_call_mos_count{direction=\"bridge_to_phone\"}".into(),
            1.0,
        ),
        (
            "dialbridge_call_mos_bucket{direction=\"phone_to_bridge\",le=\"+Inf\"}".into(),
            1.0,
        ),
        (
            "dialbridge_calls_ended_total{reason=\"caller_hangup\"}".into(),
            1.0,
        ),
        (
            "dialbridge_calls_ended_total{reason=\"rejected\"}".into(),
            1.0,
        ),
        (
            "dialbridge_dtmf_digits_total{method=\"rfc4733\"}".into(),
            1.0,
        ),
        (
            "dialbridge_dtmf_digits_total{method=\"sip_info\"}".into(),
            0.0,
        ),
        (
            "dialbridge_call_mos_count{direction=\"room_to_bridge\"}".into(),
            0.0,
        ),
    ] {
        assert_eq!(after.get(&name), wanted, "{name}");
    }
    let mos_sum = after.get("dialbridge_call_mos_sum{direction=\"phone_to_bridge\"}");
    assert!(
        mos_sum > 4.0 && mos_sum <= 4.5,
        "one clean call's MOS: {mos_sum}"
    );
    // Registration state and refusals by reason were there before this work: still there.
    after.get("dialbridge_registered");
    after.get("dialbridge_sip_invites_refused_total{reason=\"max_calls\"}");
}
