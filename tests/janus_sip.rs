//! Acceptance tests of the Janus backend through SIP: a phone (SIP + PCMU RTP from
//! `tests/common`) calls the real `dialbridge` binary configured with `backend = "janus"`, types
//! a Janus room ID (and PIN), and talks to a Janus participant (`common/janus/participant.rs`:
//! the backend plus a conference leg, sending 440 Hz). The phone sends 1000 Hz; tones are found
//! both ways. The same over `wss://` (certificates from a test CA), to Janus and to the built-in
//! signaling server. Each test runs in its own network namespace with its own Janus
//! (`common/janus/server.rs`), one at a time. Needs root (unshare -n), Janus (apt `janus`).
//! Logs: target/tmp/browser_e2e/janus_sip_*/.
//! Run: `cargo test --test janus_sip -- --nocapture`.

mod common;
use common::janus::{participant, server};
use common::{netns, tls};

use std::time::{Duration, Instant};

use common::bridge::{Backend, Bridge, Config};
use common::phone::{MASKED_NUMBER, Phone};
use common::phone_checks::{assert_phone_hears, press, wait_goodbye, wait_quiet};
use common::rtp_phone::Source;
use common::setup::{inside_netns, phone_ip};
use dialbridge::conference::builtin::BuiltinBackend;
use dialbridge::conference::janus::{JanusBackend, JanusOptions, JanusPlugin};
use participant::{Participant, display_names, wait_hears};
use serde_json::{Value, json};
use server::{API_SECRET, Janus, ROOM_SECRET, WssCert};
use tls::TestCa;

/// Janus drops sessions idle this long; the bridge keeps alive well within it.
const SESSION_TIMEOUT_S: u32 = 30;
const PROMPT: Duration = Duration::from_secs(15);
const PHONE_TONE: Source = Source::Tone {
    hz: 1000.0,
    amplitude: 8000.0,
};

/// Janus, a backend of our own on it (the "Janus side"), and the bridge pointed at it.
struct Rig {
    rt: tokio::runtime::Runtime,
    backend: JanusBackend,
    bridge: Bridge,
    janus: Janus,
    started: Instant,
    /// The bridge's call records (`[cdr] path`).
    cdr: std::path::PathBuf,
}

impl Rig {
    fn start(test: &str, plugin: JanusPlugin) -> Rig {
        Rig::start_with(test, plugin, false)
    }

    /// With `wss`, Janus also serves `wss://` with a certificate from a test CA, and both the
    /// bridge (`conference.ca_file`) and our own backend reach it only that way.
    fn start_with(test: &str, plugin: JanusPlugin, wss: bool) -> Rig {
        let started = Instant::now();
        dialbridge::media::init().expect("GStreamer is installed");
        let rt = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
        let dir = common::tools::named_test_dir(&format!("janus_sip_{test}"));
        let ca = wss.then(|| TestCa::new(&dir, "test-ca"));
        let cert = ca.as_ref().map(|ca| ca.server("janus", "127.0.0.1"));
        let wss_cert = cert.as_ref().map(|c| WssCert {
            cert: &c.cert,
            key: &c.key,
        });
        let janus = Janus::start_with(netns::IFACE_A, SESSION_TIMEOUT_S, wss_cert);
        let url = if wss { janus.wss_url() } else { janus.url() };
        let name = match plugin {
            JanusPlugin::VideoRoom => "videoroom",
            JanusPlugin::AudioBridge => "audiobridge",
        };
        let ca_file = ca.as_ref().map(|ca| ca.cert.as_path());
        let cdr = dir.join("calls.jsonl");
        let config = Config {
            backend: Backend::Janus {
                url: url.clone(),
                plugin: name.into(),
                api_secret: API_SECRET.into(),
                ca_file: ca_file.map(Into::into),
            },
            extra_toml: format!("[cdr]\npath = \"{}\"\n", cdr.display()),
            ..common::setup::bridge_config()
        };
        let bridge = Bridge::start(&dir, &config);
        let mut options = JanusOptions::new(url, plugin).with_credentials(API_SECRET, "");
        if let Some(ca) = ca_file {
            let tls = dialbridge::tls::client_config(Some(ca)).expect("the test CA loads");
            options = options.with_tls(tls);
        }
        let backend = JanusBackend::new(options);
        eprintln!(
            "TIMING {test}: Janus and bridge ready after {:?}",
            started.elapsed()
        );
        Rig {
            rt,
            backend,
            bridge,
            janus,
            started,
            cdr,
        }
    }

    fn call(&self) -> Phone {
        let mut phone = Phone::call(phone_ip(), self.bridge.sip);
        phone.rtp.wait_prompt("welcome", PROMPT);
        phone
    }

    fn join(&self, room: &str, pin: Option<&str>, name: &str, hz: f64) -> Participant {
        self.rt
            .block_on(Participant::join(&self.backend, room, pin, name, hz))
            .unwrap_or_else(|e| panic!("{name} cannot join {room}: {e}"))
    }

    fn request(&self, body: Value) -> Value {
        self.rt
            .block_on(self.backend.plugin_request(body.clone()))
            .unwrap_or_else(|e| panic!("Janus refused {body}: {e}"))
    }

    fn leave(&self, p: Participant) {
        self.rt.block_on(p.leave());
    }
}

/// Phone in `room` (already past the welcome prompt), silent room: joining, then alone.
fn enter(phone: &mut Phone, room: &str, pin: Option<&str>) {
    press(phone, &format!("{room}#"));
    if let Some(pin) = pin {
        phone.rtp.wait_prompt("enter_pin", PROMPT);
        press(phone, &format!("{pin}#"));
    }
    phone.rtp.wait_prompt("joining", PROMPT);
    phone.rtp.wait_prompt("alone", PROMPT);
}

/// Caller (sending 1000 Hz) and `other` (sending 440 Hz) hear each other.
fn two_way(rig: &Rig, phone: &Phone, other: &Participant) {
    phone.rtp.set_source(PHONE_TONE);
    rig.rt.block_on(wait_hears(other, 1000.0));
    assert_phone_hears(phone, 440.0);
}

/// The phone's entry in `listparticipants` of `room`: (id, display).
fn phone_in_room(rig: &Rig, room: u64) -> (u64, String) {
    let listed = rig.request(json!({"request": "listparticipants", "room": room}));
    eprintln!("listparticipants {room}: {:?}", display_names(&listed));
    listed["participants"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|p| p["display"].as_str().is_some_and(|d| d.contains("••• 89")))
        })
        .and_then(|p| Some((p["id"].as_u64()?, p["display"].as_str()?.to_string())))
        .unwrap_or_else(|| panic!("the phone is not listed by its masked number: {listed}"))
}

/// The last call record, once the bridge wrote one (the call's task writes it as the call ends).
fn last_record(rig: &Rig) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&rig.cdr).unwrap_or_default();
        if let Some(line) = text.lines().last() {
            return serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        }
        assert!(
            Instant::now() < deadline,
            "no call record in {}",
            rig.cdr.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn videoroom_caller_and_janus_participant_hear_each_other() {
    if !inside_netns("videoroom_caller_and_janus_participant_hear_each_other") {
        return;
    }
    let rig = Rig::start("videoroom", JanusPlugin::VideoRoom);
    let mut phone = rig.call();
    enter(&mut phone, "4321", Some("2468"));
    let bob = rig.join("4321", Some("2468"), "Bob", 440.0);
    two_way(&rig, &phone, &bob);
    let (_, display) = phone_in_room(&rig, 4321);
    assert_eq!(display, MASKED_NUMBER);
    phone.sip.bye(Duration::from_secs(5));
    rig.leave(bob);
    eprintln!("TIMING videoroom test {:?}", rig.started.elapsed());
}

/// Acceptance: the bridge reaches Janus over wss:// (Janus's own TLS websockets transport, a
/// certificate from a private CA given as `conference.ca_file`), and audio crosses both ways.
#[test]
fn videoroom_over_wss_caller_and_janus_participant_hear_each_other() {
    if !inside_netns("videoroom_over_wss_caller_and_janus_participant_hear_each_other") {
        return;
    }
    let rig = Rig::start_with("videoroom_wss", JanusPlugin::VideoRoom, true);
    let mut phone = rig.call();
    enter(&mut phone, "1234", None);
    let bob = rig.join("1234", None, "Bob", 440.0);
    two_way(&rig, &phone, &bob);
    assert!(
        !rig.bridge
            .log_lines(&["connected to Janus", "wss://127.0.0.1"])
            .is_empty(),
        "the bridge's log should show its connection to the wss:// Janus"
    );
    phone.sip.bye(Duration::from_secs(5));
    rig.leave(bob);
    eprintln!("TIMING videoroom over wss test {:?}", rig.started.elapsed());
}

/// Acceptance: the bridge's built-in signaling server serves wss:// with a certificate from a
/// test CA; the bridge joins its own room over wss:// (pinning the served certificate), a
/// participant of our own joins over wss:// verifying against the CA, and a caller and the
/// participant hear each other.
#[test]
fn builtin_room_over_wss_caller_and_participant_hear_each_other() {
    if !inside_netns("builtin_room_over_wss_caller_and_participant_hear_each_other") {
        return;
    }
    dialbridge::media::init().expect("GStreamer is installed");
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    let dir = common::tools::named_test_dir("janus_sip_builtin_wss");
    let ca = TestCa::new(&dir, "test-ca");
    let ip = common::setup::bridge_ip();
    let cert = ca.server("signaling", &ip.to_string());
    let tls = format!(
        "[conference.builtin.tls]\ncert = {:?}\nkey = {:?}\n",
        cert.cert.display().to_string(),
        cert.key.display().to_string()
    );
    let bridge = common::setup::start_bridge_with(&dir, "bridge", None, tls);
    let signaling = bridge.signaling;
    let client_tls = dialbridge::tls::client_config(Some(&ca.cert)).expect("the test CA loads");
    let backend = BuiltinBackend::new(format!("wss://{signaling}/ws"), None).with_tls(client_tls);

    let mut phone = Phone::call(phone_ip(), bridge.sip);
    phone.rtp.wait_prompt("welcome", PROMPT);
    enter(&mut phone, "1234", None);
    let bob = rt
        .block_on(Participant::join(&backend, "1234", None, "Bob", 440.0))
        .unwrap_or_else(|e| panic!("Bob cannot join over wss: {e}"));
    phone.rtp.set_source(PHONE_TONE);
    rt.block_on(wait_hears(&bob, 1000.0));
    assert_phone_hears(&phone, 440.0);
    phone.sip.bye(Duration::from_secs(5));
    rt.block_on(bob.leave());
}

#[test]
fn audiobridge_two_way_audio_display_and_kick() {
    if !inside_netns("audiobridge_two_way_audio_display_and_kick") {
        return;
    }
    let rig = Rig::start("audiobridge", JanusPlugin::AudioBridge);
    let mut phone = rig.call();
    enter(&mut phone, "2345", None);
    let bob = rig.join("2345", None, "Bob", 440.0);
    two_way(&rig, &phone, &bob);
    let (id, display) = phone_in_room(&rig, 2345);
    assert_eq!(display, MASKED_NUMBER);
    // Bob leaves first: the "removed" prompt is then told apart from the room's tone.
    rig.leave(bob);
    wait_quiet(&mut phone);
    let kicked = Instant::now();
    rig.request(json!({"request": "kick", "room": 2345, "secret": ROOM_SECRET, "id": id}));
    wait_goodbye(&mut phone, "removed", kicked);
    // The record: removed by the room, and the quality of three directions measured: the
    // phone's RTP by the bridge, the room's both ways by webrtcbin (Janus sends RTCP reports).
    let record = last_record(&rig);
    eprintln!("RESULT call record {record}");
    assert_eq!(record["end_reason"], "kicked", "{record:#}");
    assert_eq!(record["ended_by"], "room");
    assert_eq!(record["room"], "2345");
    assert_eq!(record["backend"], "janus");
    assert_eq!(record["caller"], MASKED_NUMBER);
    assert!(record["join_time"].is_string(), "{record:#}");
    let quality = &record["quality"];
    assert!(
        quality["bridge_to_phone"].is_null(),
        "this phone sends no RTCP: {quality}"
    );
    for direction in ["phone_to_bridge", "room_to_bridge", "bridge_to_room"] {
        let q = &quality[direction];
        assert!(
            q["packets"].as_u64().is_some_and(|n| n > 0),
            "{direction}: {q}"
        );
        assert!(
            q["mos"].as_f64().is_some_and(|m| m > 4.0),
            "{direction}: {q}"
        );
    }
    eprintln!("TIMING audiobridge test {:?}", rig.started.elapsed());
}

#[test]
fn wrong_room_id_and_wrong_pin_answered_by_janus() {
    if !inside_netns("wrong_room_id_and_wrong_pin_answered_by_janus") {
        return;
    }
    let rig = Rig::start("wrong_entries", JanusPlugin::VideoRoom);
    let mut phone = rig.call();
    press(&phone, "999#");
    phone.rtp.wait_prompt("wrong_id", PROMPT);
    press(&phone, "4321#");
    phone.rtp.wait_prompt("enter_pin", PROMPT);
    press(&phone, "1111#");
    phone.rtp.wait_prompt("wrong_pin", PROMPT);
    press(&phone, "2468#");
    phone.rtp.wait_prompt("joining", PROMPT);
    eprintln!("heard: {:?}", phone.rtp.heard);
    phone.sip.bye(Duration::from_secs(5));
    eprintln!("TIMING wrong entries test {:?}", rig.started.elapsed());
}

#[test]
fn janus_restart_mid_call_then_a_new_call_joins() {
    if !inside_netns("janus_restart_mid_call_then_a_new_call_joins") {
        return;
    }
    let mut rig = Rig::start("restart", JanusPlugin::VideoRoom);
    let mut phone = rig.call();
    enter(&mut phone, "1234", None);
    let bob = rig.join("1234", None, "Bob", 440.0);
    two_way(&rig, &phone, &bob);

    // Bob leaves first: the "unreachable" prompt is then told apart from the room's tone.
    rig.leave(bob);
    wait_quiet(&mut phone);
    let stopped = Instant::now();
    rig.janus.stop();
    wait_goodbye(&mut phone, "unreachable", stopped);
    drop(phone);
    rig.bridge.assert_conference_failed_once();

    rig.janus.restart();
    let mut phone = rig.call();
    enter(&mut phone, "1234", None);
    let bob = rig.join("1234", None, "Bob again", 440.0);
    two_way(&rig, &phone, &bob);
    phone.sip.bye(Duration::from_secs(5));
    rig.leave(bob);
    eprintln!("TIMING restart test {:?}", rig.started.elapsed());
}
