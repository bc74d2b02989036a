//! Secrets stay out of the log. One run touches every secret the bridge handles: a trunk
//! password (sipp authenticates its INVITE), the signaling secret (the bridge's own connection
//! presents it), a configured room's host key, a room PIN and a host key (a web host creates
//! the room over the signaling WebSocket, the caller types the PIN), and a full caller number.
//! The bridge runs at DEBUG: no log line holds a secret, and none at INFO or above holds the
//! full number, which appears masked.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::metrics;
use common::rtp::RtpPeer;
use common::sipp::{self, Offer};
use common::tools;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const PROMPT: Duration = Duration::from_secs(15);
const TRUNK_PASSWORD: &str = "Tr-unk-Pa55word-81";
const SIGNALING_SECRET: &str = "Sig-Secret-7c1f4e";
const PIN: &str = "90817263";
const CONFIGURED_HOST_KEY: &str = "Configured-Host-Key-5b2e";
const CALLER: &str = "+4930123456789";
/// The number as `caller_id` masks it (two visible digits at the end).
const CALLER_MASKED: &str = "+49 30 ••• 89";

#[test]
fn no_secret_reaches_the_log_at_info_or_above() {
    let dir = tools::test_dir();
    let mut config = Config::trunk();
    config.trunk_toml = format!("username = \"trunk\"\npassword = \"{TRUNK_PASSWORD}\"\n");
    // The trunk password comes from the config file, the signaling secret from the
    // environment: both ways an admin hands a secret over.
    config.extra_toml = format!(
        "[[conference.builtin.rooms]]\nid = \"4321\"\nhost_key = \"{CONFIGURED_HOST_KEY}\"\n"
    );
    config.env = vec![(
        "DIALBRIDGE_SIGNALING_SECRET".into(),
        SIGNALING_SECRET.into(),
    )];
    let bridge = Bridge::start(&dir, &config);

    let (room, host_key) = create_room(bridge.signaling);

    let scenario = sipp::scenario_from_template(
        &dir,
        "uac_auth_call.xml",
        &[
            ("CALLER", CALLER),
            ("USER", "trunk"),
            ("PASSWORD", TRUNK_PASSWORD),
        ],
    );
    let rtp = RtpPeer::new();
    let offer = Offer::with_dtmf(rtp.port(), &[0]);
    let call = Caller::dial_with(
        &dir,
        &scenario.display().to_string(),
        bridge.sip,
        rtp,
        &offer,
        |s| s,
    );
    call.rtp.expect_prompt("welcome", PROMPT);
    call.rtp.send_digits(&format!("{room}#"));
    call.rtp.expect_prompt("enter_pin", PROMPT);
    call.rtp.send_digits(&format!("{PIN}#"));
    call.rtp.expect_prompt("joining", PROMPT);
    metrics::wait_for(
        bridge.signaling,
        "dialbridge_calls_joined_total",
        "1",
        Duration::from_secs(5),
        |v| v == 1.0,
    );
    call.hang_up();
    metrics::wait_idle(bridge.signaling, Duration::from_secs(5));
    drop(bridge);

    let log = std::fs::read_to_string(dir.join("bridge.log")).expect("reading the bridge log");
    let loud: Vec<&str> = log
        .lines()
        .filter(|l| {
            [" INFO ", " WARN ", " ERROR "]
                .iter()
                .any(|lvl| l.contains(lvl))
        })
        .collect();
    assert!(
        loud.iter()
            .any(|l| l.contains("incoming call") && l.contains(CALLER_MASKED)),
        "the incoming call should be logged with the masked number {CALLER_MASKED}"
    );
    // Secrets: in no line at all, not even DEBUG. The caller's number: not at INFO or above
    // (DEBUG traces SIP messages, whose headers carry it).
    let all: Vec<&str> = log.lines().collect();
    let checks = [
        ("trunk password", TRUNK_PASSWORD, &all),
        ("signaling secret", SIGNALING_SECRET, &all),
        ("room PIN", PIN, &all),
        ("host key", host_key.as_str(), &all),
        ("configured host key", CONFIGURED_HOST_KEY, &all),
        ("full caller number", CALLER, &loud),
        ("caller number without +", &CALLER[1..], &loud),
    ];
    for (what, secret, lines) in checks {
        let leaks: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.contains(secret))
            .collect();
        assert!(
            leaks.is_empty(),
            "the {what} is in the log:\n{}",
            leaks.join("\n")
        );
    }
}

/// A web host creates a room with [`PIN`] over the signaling WebSocket; returns the room ID
/// and the host key the server handed out.
fn create_room(signaling: SocketAddr) -> (String, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{signaling}/ws"))
            .await
            .expect("connecting to the signaling server");
        let request = json!({"type": "create_room", "name": "Board", "pin": PIN, "request_id": 1});
        ws.send(Message::text(request.to_string()))
            .await
            .expect("sending create_room");
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("an answer to create_room within 5 s")
                .expect("the connection stays open")
                .expect("a WebSocket frame");
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).expect("JSON from the server");
            if v["type"] == "room_created" {
                let room = v["room"].as_str().expect("a room ID").to_string();
                let key = v["host_key"].as_str().expect("a host key").to_string();
                return (room, key);
            }
            assert_ne!(v["type"], "error", "create_room failed: {v}");
        }
    })
}
