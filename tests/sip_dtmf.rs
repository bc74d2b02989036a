//! Key presses that do not come as RFC 4733 events: SIP INFO (both body formats providers use)
//! and in-band tones in the audio. Each enters room 1234, which `dialbridge_calls_joined_total`
//! counts. (RFC 4733 itself is covered by tests/sip_trunk.rs.)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::rtp::RtpPeer;
use common::sipp::Offer;
use common::{g711, metrics, tools};

const PROMPT: Duration = Duration::from_secs(15);
const SETTLE: Duration = Duration::from_secs(5);

/// Sends 1, 2, 3, 4, # as five SIP INFOs with `content_type` and `body(digit)`.
fn info_enters_room(content_type: &str, body: fn(char) -> String) {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &Config::trunk());
    let mut call = Caller::dial(&dir, "uac_info_dtmf.xml", bridge.sip, &[0], |mut s| {
        s = s.var("info_type", content_type);
        for (i, d) in "1234#".chars().enumerate() {
            s = s.var(&format!("b{}", i + 1), &body(d));
        }
        s
    });
    call.rtp.expect_prompt("welcome", PROMPT);
    call.sipp.send_event("digits");
    call.sipp.wait_event("digits-sent", Duration::from_secs(10));
    call.rtp.expect_prompt("joining", PROMPT);
    metrics::wait_for(
        bridge.signaling,
        "dialbridge_calls_joined_total",
        "1",
        SETTLE,
        |v| v == 1.0,
    );
    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);
}

#[test]
fn info_dtmf_relay_enters_room() {
    info_enters_room("application/dtmf-relay", |d| {
        format!("Signal={d}\r\nDuration=160")
    });
}

#[test]
fn info_application_dtmf_enters_room() {
    info_enters_room("application/dtmf", |d| d.to_string());
}

/// The DTMF frequency pair of a key.
fn tones(digit: char) -> (u32, u32) {
    let row = match digit {
        '1' | '2' | '3' => 697,
        '4' | '5' | '6' => 770,
        '7' | '8' | '9' => 852,
        _ => 941,
    };
    let col = match digit {
        '1' | '4' | '7' | '*' => 1209,
        '3' | '6' | '9' | '#' => 1477,
        _ => 1336,
    };
    (row, col)
}

/// Writes `inband_dtmf.ul` into `dir` with sox: raw 8 kHz µ-law (sipp's rtp_stream sends a
/// file's bytes as they are, so no WAV header), 1.5 s of silence, then each key a 100 ms tone
/// pair peaking at -10 dBFS followed by 150 ms of silence, then 1 s of silence.
fn make_inband_dtmf(dir: &Path, digits: &str) -> PathBuf {
    let sox = tools::require_tool("sox", "install sox (scripts/install-deps.sh)");
    let parts = dir.join("inband_parts");
    std::fs::create_dir_all(&parts).expect("creating a folder");
    let run = |args: &[&str]| {
        let out = Command::new(&sox).args(args).output().expect("running sox");
        assert!(
            out.status.success(),
            "sox {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let fmt = ["-r", "8000", "-c", "1", "-b", "16"];
    let mut files = Vec::new();
    let silence = |name: &str, secs: &str| {
        let f = parts.join(name).display().to_string();
        run(&[&["-n"][..], &fmt, &[f.as_str(), "trim", "0", secs]].concat());
        f
    };
    files.push(silence("000_lead.wav", "1.5"));
    let tail = silence("999_tail.wav", "1.0");
    for (i, d) in digits.chars().enumerate() {
        let (lo, hi) = tones(d);
        let f = parts
            .join(format!("{:03}_{i}.wav", i + 1))
            .display()
            .to_string();
        let (lo, hi) = (lo.to_string(), hi.to_string());
        run(&[
            &["-n"][..],
            &fmt,
            &[
                f.as_str(),
                "synth",
                "0.1",
                "sine",
                &lo,
                "synth",
                "0.1",
                "sine",
                "mix",
                &hi,
            ],
            &["gain", "-n", "-10", "pad", "0", "0.15"],
        ]
        .concat());
        files.push(f);
    }
    files.push(tail);
    let out = dir.join("inband_dtmf.ul");
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    let out_s = out.display().to_string();
    args.extend(["-t", "ul", out_s.as_str()]);
    run(&args);
    out
}

/// Counts the tone bursts in a µ-law file (runs of loud 20 ms windows).
fn count_bursts(ulaw: &[u8]) -> usize {
    let mut bursts = 0;
    let mut loud_before = false;
    for w in ulaw.chunks(160) {
        let rms = (w
            .iter()
            .map(|&b| f64::from(g711::ulaw_to_linear(b)).powi(2))
            .sum::<f64>()
            / w.len() as f64)
            .sqrt();
        let loud = rms > 3000.0;
        if loud && !loud_before {
            bursts += 1;
        }
        loud_before = loud;
    }
    bursts
}

#[test]
fn inband_tones_enter_room() {
    let dir = tools::test_dir();
    let file = make_inband_dtmf(&dir, "1234#");
    let bytes = std::fs::read(&file).expect("reading the generated file");
    assert_eq!(
        bytes.len(),
        8000 * 15 / 4,
        "1.5 s + 5 × 0.25 s + 1 s of 8 kHz µ-law"
    );
    assert_eq!(
        count_bursts(&bytes),
        5,
        "the generated file should hold five tone bursts"
    );

    let bridge = Bridge::start(&dir, &Config::trunk());
    // The test only listens: sipp sends the caller's RTP (from its own port), so the bridge
    // hears one stream. Its replies then go to sipp's port (symmetric RTP), which is fine: by
    // then the welcome prompt was heard here.
    let rtp = RtpPeer::new();
    rtp.set_sending(false);
    let offer = Offer {
        rtp_port: rtp.port(),
        payload_types: "0".into(),
        attributes: "a=rtpmap:0 PCMU/8000".into(),
    };
    let mut call = Caller::dial_with(&dir, "uac_inband.xml", bridge.sip, rtp, &offer, |s| s);
    call.assert_answer(0, false);
    call.rtp.expect_prompt("welcome", PROMPT);
    call.sipp.send_event("play");
    // 3.75 s of stream, then the IVR looks the room up.
    metrics::wait_for(
        bridge.signaling,
        "dialbridge_calls_joined_total",
        "1",
        Duration::from_secs(15),
        |v| v == 1.0,
    );
    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);
}
