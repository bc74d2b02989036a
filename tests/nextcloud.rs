//! Acceptance tests of the Nextcloud Talk backend (issue 12): a phone (SIP + PCMU RTP from
//! `tests/common`) calls the real `dialbridge` binary with `backend = "nextcloud"`, types a Talk
//! dial-in ID, and meets Talk web users in the room. The room runs on a real
//! nextcloud-spreed-signaling ≥ 1.0 (`common/nextcloud/signaling.rs`) in front of a real Janus;
//! Nextcloud itself is a stand-in (`common/nextcloud/standin.rs`); the web users are
//! `common/nextcloud/web.rs` plus a conference leg each (`common/janus/participant.rs`). Each
//! test runs in its own network namespace. Needs root (unshare -n), Janus and the signaling
//! server (scripts/install-deps.sh). Logs: target/tmp/nextcloud_*/.
//! Run: `cargo test --test nextcloud -- --nocapture`.

mod common;
use common::janus::{participant, server, tone};
use common::netns;
use common::nextcloud::{signaling, standin, web};

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::bridge::{Backend, Bridge, Config};
use common::phone::{MASKED_NUMBER, Phone};
use common::phone_checks::{
    assert_phone_hears, last_second_until, press, wait_goodbye, wait_quiet,
};
use common::rtp_phone::Source;
use common::setup::{inside_netns, phone_ip};
use participant::{Participant, wait_hears, wait_until};
use serde_json::json;
use server::Janus;
use signaling::{INTERNAL_SECRET, Signaling};
use standin::{Room, SIP_SECRET, StandIn};
use web::TalkWeb;

const PROMPT: Duration = Duration::from_secs(15);
const PHONE_TONE: Source = Source::Tone {
    hz: 1000.0,
    amplitude: 8000.0,
};
/// The Talk rooms: dial-in ID → room token (and PIN).
const OPEN: Room = Room {
    dial_in: "424242",
    token: "talkroom1",
    pin: None,
};
const WITH_PIN: Room = Room {
    dial_in: "515151",
    token: "talkroom2",
    pin: Some("2468"),
};

/// Janus, the signaling server, the stand-in Nextcloud and the bridge.
struct Rig {
    rt: tokio::runtime::Runtime,
    standin: StandIn,
    signaling: Signaling,
    bridge: Bridge,
    _janus: Janus,
}

impl Rig {
    fn start(test: &str) -> Rig {
        dialbridge::media::init().expect("GStreamer is installed");
        let rt = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
        let dir = common::tools::named_test_dir(&format!("nextcloud_{test}"));
        let janus = Janus::start_without_api_secret(netns::IFACE_A, 30);
        let standin = rt.block_on(StandIn::start(vec![OPEN, WITH_PIN]));
        let signaling = Signaling::start(&dir, standin.url(), &janus.url());
        standin.set_signaling(signaling.addr);
        let config = Config {
            backend: Backend::Nextcloud {
                signaling_url: signaling.url(),
                internal_secret: INTERNAL_SECRET.into(),
                backend_url: standin.url().into(),
                backend_secret: SIP_SECRET.into(),
            },
            ..common::setup::bridge_config()
        };
        let bridge = Bridge::start(&dir, &config);
        Rig {
            rt,
            standin,
            signaling,
            bridge,
            _janus: janus,
        }
    }

    fn call(&self) -> Phone {
        let mut phone = Phone::call(phone_ip(), self.bridge.sip);
        phone.rtp.wait_prompt("welcome", PROMPT);
        phone
    }

    /// A web user in the open room sending `hz` (0: silent).
    fn web(&self, user: &str, hz: f64) -> (Arc<TalkWeb>, Participant) {
        let web = Arc::new(TalkWeb::new(
            user,
            self.signaling.url(),
            OPEN.token,
            self.standin.clone(),
        ));
        let joined = Participant::join(web.as_ref(), OPEN.token, None, user, hz);
        let participant = self
            .rt
            .block_on(joined)
            .unwrap_or_else(|e| panic!("{user} cannot join: {e}"));
        (web, participant)
    }
}

/// The joining prompt may still run over the room's tone: waits until `hz` dominates the
/// phone's last second, then checks the next 2 s.
fn phone_hears(phone: &Phone, hz: f64) {
    let (last, ok) = last_second_until(phone, Duration::from_secs(20), |s| {
        (s.dominant_hz() - hz).abs() <= 30.0
    });
    assert!(ok, "{hz} Hz never dominated: {}", last.describe(&[hz]));
    assert_phone_hears(phone, hz);
}

/// Acceptance 1: a caller types the dial-in ID and joins; a Talk web user hears the caller's
/// 1000 Hz (subscribed to the bridge's internal session) and the caller hears the web user's
/// 440 Hz (the bridge subscribed to it).
#[test]
fn caller_and_talk_web_user_hear_each_other() {
    if !inside_netns("caller_and_talk_web_user_hear_each_other") {
        return;
    }
    let rig = Rig::start("audio");
    let (_bob_web, bob) = rig.web("bob", 440.0);
    let mut phone = rig.call();
    press(&phone, &format!("{}#", OPEN.dial_in));
    phone.rtp.set_source(PHONE_TONE);
    rig.rt.block_on(wait_hears(&bob, 1000.0));
    phone_hears(&phone, 440.0);
    phone.sip.bye(Duration::from_secs(5));
    rig.rt.block_on(bob.leave());
}

/// A moderator's control message to the phone participant (its public virtual session ID, as
/// the moderator saw it join).
fn control(web: &TalkWeb, data: serde_json::Value) {
    let phones = web.phone_sessions();
    let phone = phones
        .first()
        .expect("the moderator saw the phone participant join");
    web.send(json!({"type": "control", "control": {
        "recipient": {"type": "session", "sessionid": phone}, "data": data}}));
}

/// Acceptance 2: Nextcloud learns of a phone participant with the masked number, shown talking
/// while the caller speaks; a moderator's mute plays the muted prompt, the room stops hearing
/// the caller and sees it muted; the
/// moderator's hangup ends the call with the removed prompt and BYE.
#[test]
fn phone_participant_shown_masked_then_muted_and_hung_up_by_a_moderator() {
    if !inside_netns("phone_participant_shown_masked_then_muted_and_hung_up_by_a_moderator") {
        return;
    }
    let rig = Rig::start("moderation");
    // Alice is silent, so the caller's prompts are heard on their own.
    let (alice_web, alice) = rig.web("alice", 0.0);
    let mut phone = rig.call();
    press(&phone, &format!("{}#", OPEN.dial_in));
    phone.rtp.wait_prompt("joining", PROMPT);
    phone.rtp.set_source(PHONE_TONE);
    rig.rt.block_on(wait_hears(&alice, 1000.0));
    let flags = || {
        alice_web
            .flags
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    };
    rig.rt.block_on(wait_until(
        "the phone participant to show as talking",
        PROMPT,
        || flags().last().is_some_and(|f| f & 4 != 0),
    ));

    let added: Vec<_> = (rig.standin.seen().sessions.iter())
        .filter(|s| s["action"] == "add")
        .cloned()
        .collect();
    assert_eq!(added.len(), 1, "one virtual session added: {added:?}");
    assert_eq!(added[0]["user"]["type"], "phone", "{added:?}");
    assert_eq!(added[0]["user"]["number"], MASKED_NUMBER, "{added:?}");
    assert_eq!(added[0]["user"]["displayname"], MASKED_NUMBER, "{added:?}");
    assert_eq!(rig.standin.seen().bad_checksums, 0);

    // Alice is silent: the phone hears nothing until the prompt.
    wait_quiet(&mut phone);
    control(&alice_web, json!({"type": "mute", "mute": {"flags": 1}}));
    phone.rtp.wait_prompt("muted", PROMPT);
    rig.rt.block_on(wait_until(
        "alice to stop hearing the muted caller",
        PROMPT,
        || tone::lacks_tone(&alice.heard(400), 1000.0),
    ));
    rig.rt.block_on(wait_until(
        "the phone participant to show as muted, not talking",
        PROMPT,
        || flags().last() == Some(&1),
    ));

    wait_quiet(&mut phone);
    let hung_up = Instant::now();
    control(&alice_web, json!({"type": "hangup", "hangup": {}}));
    wait_goodbye(&mut phone, "removed", hung_up);
    // The bridge removes the virtual session as it leaves; the server tells Nextcloud.
    rig.rt
        .block_on(wait_until("the virtual session's removal", PROMPT, || {
            (rig.standin.seen().sessions.iter()).any(|s| s["action"] == "remove")
        }));
    rig.rt.block_on(alice.leave());
}

/// Acceptance 3: a wrong dial-in ID and a wrong PIN get the retry prompts (Talk's API
/// answers); a restarted signaling server means "cannot be reached" and the end of the call;
/// the next call works again.
#[test]
fn wrong_entries_then_signaling_restart_then_a_new_call() {
    if !inside_netns("wrong_entries_then_signaling_restart_then_a_new_call") {
        return;
    }
    let mut rig = Rig::start("restart");
    let mut phone = rig.call();
    press(&phone, "999999#");
    phone.rtp.wait_prompt("wrong_id", PROMPT);
    press(&phone, &format!("{}#", WITH_PIN.dial_in));
    phone.rtp.wait_prompt("enter_pin", PROMPT);
    press(&phone, "1111#");
    phone.rtp.wait_prompt("wrong_pin", PROMPT);
    press(&phone, "2468#");
    phone.rtp.wait_prompt("joining", PROMPT);
    phone.sip.bye(Duration::from_secs(5));
    drop(phone);

    let mut phone = rig.call();
    press(&phone, &format!("{}#", OPEN.dial_in));
    phone.rtp.wait_prompt("joining", PROMPT);
    wait_quiet(&mut phone);
    let restarted = Instant::now();
    rig.signaling.restart();
    wait_goodbye(&mut phone, "unreachable", restarted);
    drop(phone);
    rig.bridge.assert_conference_failed_once();

    let (_bob_web, bob) = rig.web("bob", 440.0);
    let mut phone = rig.call();
    press(&phone, &format!("{}#", OPEN.dial_in));
    phone.rtp.set_source(PHONE_TONE);
    rig.rt.block_on(wait_hears(&bob, 1000.0));
    phone_hears(&phone, 440.0);
    phone.sip.bye(Duration::from_secs(5));
    rig.rt.block_on(bob.leave());
}
