//! The Janus backend against a real Janus 1.1.2 (Debian package `janus`), started by each test
//! inside its own network namespace (see `netns`), with real WebRTC audio through both plugins.
//! Participants are the backend plus a `ConferenceLeg` each, relayed as `src/call/room.rs`
//! does; their phones push tones and a Goertzel filter finds the others' tones in the mix.
//! Janus runs with a 6 s session timeout and the backends keep alive every 2 s, so a session
//! that forgot its keepalives dies during the longer tests. `SHOW_SDP=1` prints descriptions.

mod common;
use common::janus::{participant, server, tone};
use common::netns;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dialbridge::conference::janus::{JanusBackend, JanusOptions, JanusPlugin, PUBLISHER};
use dialbridge::conference::{ConferenceBackend, ConferenceEvent, RoomLookup};
use dialbridge::media::conference_leg::SdpKind;
use serde_json::json;

use participant::{AUDIO_TIMEOUT, Participant, display_names, refused, wait_hears, wait_until};
use server::{API_SECRET, Janus, ROOM_SECRET};
use tone::{has_tone, lacks_tone};

const SESSION_TIMEOUT_S: u32 = 6;
const KEEPALIVE: Duration = Duration::from_secs(2);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn run(test: impl std::future::Future<Output = ()>) {
    dialbridge::media::init().expect("GStreamer is installed");
    tokio::runtime::Runtime::new()
        .expect("a tokio runtime starts")
        .block_on(test);
}

fn start_janus() -> Janus {
    Janus::start(netns::IFACE_A, SESSION_TIMEOUT_S)
}

fn backend(janus: &Janus, plugin: JanusPlugin) -> JanusBackend {
    let mut options = JanusOptions::new(janus.url(), plugin).with_credentials(API_SECRET, "");
    options.keepalive = KEEPALIVE;
    JanusBackend::new(options)
}

#[test]
fn lookups_pins_and_refusals() {
    let _serial = serial();
    if !netns::reexec_in_netns("lookups_pins_and_refusals") {
        return;
    }
    run(async {
        let janus = start_janus();
        for (plugin, open, with_pin, pin, wrong_pin_code, no_room_code) in [
            (JanusPlugin::VideoRoom, "1234", "4321", "2468", "433", "426"),
            (
                JanusPlugin::AudioBridge,
                "2345",
                "5432",
                "1357",
                "489",
                "485",
            ),
        ] {
            println!("--- {plugin:?}");
            let b = backend(&janus, plugin);
            assert_eq!(
                b.lookup_room(open).await.unwrap(),
                RoomLookup::Found {
                    pin_required: false
                }
            );
            assert_eq!(
                b.lookup_room(with_pin).await.unwrap(),
                RoomLookup::Found { pin_required: true }
            );
            assert_eq!(b.lookup_room("999").await.unwrap(), RoomLookup::NotFound);
            assert_eq!(b.lookup_room("12x").await.unwrap(), RoomLookup::NotFound);
            // Rooms made through the API, private (not in `list`): found by the PIN probe.
            for (room, room_pin) in [(7001, Some("1111")), (7002, None)] {
                let mut create = json!({"request": "create", "room": room, "is_private": true, "secret": ROOM_SECRET});
                if let Some(p) = room_pin {
                    create["pin"] = json!(p);
                }
                b.plugin_request(create)
                    .await
                    .expect("Janus creates the room");
                let lookup = b.lookup_room(&room.to_string()).await.unwrap();
                assert_eq!(
                    lookup,
                    RoomLookup::Found {
                        pin_required: room_pin.is_some()
                    },
                    "room {room}"
                );
            }
            assert!(b.check_pin(with_pin, pin).await.unwrap());
            assert!(!b.check_pin(with_pin, "1111").await.unwrap());
            assert!(!b.check_pin(with_pin, "").await.unwrap());
            assert!(
                b.check_pin(open, "5").await.unwrap(),
                "a room without PIN takes any"
            );
            assert!(b.check_pin("7001", "1111").await.unwrap());
            assert!(!b.check_pin("7001", "2").await.unwrap());
            assert!(!b.check_pin("999", "1").await.unwrap());
            let listed = b.plugin_request(json!({"request": "listparticipants", "room": with_pin.parse::<u64>().unwrap()})).await.unwrap();
            assert_eq!(
                display_names(&listed),
                Vec::<String>::new(),
                "PIN checks join nobody: {listed}"
            );

            let wrong = refused(Participant::join(&b, with_pin, Some("1"), "Mallory", 500.0).await);
            assert!(wrong.contains(wrong_pin_code), "{wrong}");
            let missing = refused(Participant::join(&b, "999", None, "Mallory", 500.0).await);
            assert!(missing.contains(no_room_code), "{missing}");
            println!("refused: {wrong} / {missing}");
        }
        let no_secret = JanusBackend::new(JanusOptions::new(janus.url(), JanusPlugin::VideoRoom));
        let err = no_secret.lookup_room("1234").await.unwrap_err().to_string();
        assert!(err.contains("403"), "Janus wants its API secret: {err}");
    });
}

#[test]
fn videoroom_audio_both_ways_and_publishers_coming_and_going() {
    let _serial = serial();
    if !netns::reexec_in_netns("videoroom_audio_both_ways_and_publishers_coming_and_going") {
        return;
    }
    run(async {
        let janus = start_janus();
        let b = backend(&janus, JanusPlugin::VideoRoom);
        let started = Instant::now();
        let alice = Participant::join(&b, "4321", Some("2468"), "Alice (+49 30 ••• 89)", 1000.0)
            .await
            .unwrap();
        let bob = Participant::join(&b, "4321", Some("2468"), "Bob", 440.0)
            .await
            .unwrap();
        wait_hears(&alice, 440.0).await;
        wait_hears(&bob, 1000.0).await;
        assert_eq!(
            alice.events()[0],
            ConferenceEvent::Joined {
                peers: vec![PUBLISHER.into()],
                others: 0,
            },
            "Alice is the first in the room"
        );

        // Our audio goes up once: only the publisher PeerConnection sends.
        for (peer, sdp_type, sdp) in &alice.log().local {
            if peer == PUBLISHER {
                assert_eq!(*sdp_type, SdpKind::Offer);
            } else {
                assert_eq!(*sdp_type, SdpKind::Answer, "{peer}");
                assert!(
                    sdp.contains("a=recvonly") && !sdp.contains("a=sendrecv"),
                    "{peer} answer sends:\n{sdp}"
                );
            }
        }
        let listed = b
            .plugin_request(json!({"request": "listparticipants", "room": 4321}))
            .await
            .unwrap();
        let mut names = display_names(&listed);
        names.sort();
        assert_eq!(names, ["Alice (+49 30 ••• 89)", "Bob"], "{listed}");

        // A third publisher mid-call is heard, then leaves cleanly.
        let carol = Participant::join(&b, "4321", Some("2468"), "Carol", 660.0)
            .await
            .unwrap();
        wait_until("Alice to hear Bob and Carol", AUDIO_TIMEOUT, || {
            let pcm = alice.heard(400);
            has_tone(&pcm, 440.0) && has_tone(&pcm, 660.0)
        })
        .await;
        wait_until("Carol to hear Alice and Bob", AUDIO_TIMEOUT, || {
            let pcm = carol.heard(400);
            has_tone(&pcm, 1000.0) && has_tone(&pcm, 440.0)
        })
        .await;
        let joined = alice
            .wait_event(Duration::from_secs(1), |e| {
                matches!(e, ConferenceEvent::PeerJoined { .. })
            })
            .await;
        let feeds: Vec<String> = alice
            .events()
            .into_iter()
            .filter_map(|e| match e {
                ConferenceEvent::PeerJoined { peer } => Some(peer),
                _ => None,
            })
            .collect();
        assert_eq!(
            feeds.len(),
            2,
            "Bob's and Carol's feeds: {feeds:?} (first {joined:?})"
        );
        let carol_feed = feeds[1].clone();
        carol.leave().await;
        let left = ConferenceEvent::PeerLeft {
            peer: carol_feed.clone(),
        };
        alice
            .wait_event(Duration::from_secs(5), |e| *e == left)
            .await;
        bob.wait_event(Duration::from_secs(5), |e| {
            matches!(e, ConferenceEvent::PeerLeft { .. })
        })
        .await;
        wait_until("Carol gone from Alice's mix", AUDIO_TIMEOUT, || {
            lacks_tone(&alice.heard(400), 660.0)
        })
        .await;
        assert_eq!(alice.leg.peer_count(), 2, "publisher and Bob's feed");
        assert!(has_tone(&alice.heard(400), 440.0), "Bob still heard");

        // Past two session timeouts: keepalives hold the sessions.
        let hold = Duration::from_secs(2 * u64::from(SESSION_TIMEOUT_S) + 1);
        tokio::time::sleep(hold.saturating_sub(started.elapsed())).await;
        for p in [&alice, &bob] {
            let closed = p
                .events()
                .into_iter()
                .find(|e| matches!(e, ConferenceEvent::Closed { .. }));
            assert_eq!(closed, None, "{} lost its session", p.name);
            assert!(
                p.log()
                    .media
                    .iter()
                    .all(|m| !format!("{m:?}").contains("Failed")),
                "{:?}",
                p.log().media
            );
        }
        wait_hears(&alice, 440.0).await;
        wait_hears(&bob, 1000.0).await;
        println!("still in the room after {:?}", started.elapsed());
        alice.leave().await;
        bob.leave().await;
    });
}

#[test]
fn audiobridge_audio_both_ways_mute_kick_and_destroy() {
    let _serial = serial();
    if !netns::reexec_in_netns("audiobridge_audio_both_ways_mute_kick_and_destroy") {
        return;
    }
    run(async {
        let janus = start_janus();
        let b = backend(&janus, JanusPlugin::AudioBridge);
        let create = json!({"request": "create", "room": 7100, "secret": ROOM_SECRET, "sampling_rate": 16000});
        b.plugin_request(create)
            .await
            .expect("Janus creates the bridge");
        let alice = Participant::join(&b, "7100", None, "Alice (+49 30 ••• 89)", 1000.0)
            .await
            .unwrap();
        let bob = Participant::join(&b, "7100", None, "Bob", 440.0)
            .await
            .unwrap();
        wait_hears(&alice, 440.0).await;
        wait_hears(&bob, 1000.0).await;
        assert!(
            lacks_tone(&alice.heard(400), 1000.0),
            "Janus mixes minus our own voice"
        );

        let listed = b
            .plugin_request(json!({"request": "listparticipants", "room": 7100}))
            .await
            .unwrap();
        let mut names = display_names(&listed);
        names.sort();
        assert_eq!(names, ["Alice (+49 30 ••• 89)", "Bob"], "{listed}");
        let alice_id = listed["participants"]
            .as_array()
            .and_then(|l| l.iter().find(|p| p["display"] == "Alice (+49 30 ••• 89)"))
            .and_then(|p| p["id"].as_u64())
            .expect("Alice is listed with an id");

        let mute = json!({"request": "mute", "room": 7100, "secret": ROOM_SECRET, "id": alice_id});
        b.plugin_request(mute).await.unwrap();
        alice
            .wait_event(Duration::from_secs(5), |e| {
                *e == ConferenceEvent::MutedByHost
            })
            .await;
        wait_until("Bob to stop hearing muted Alice", AUDIO_TIMEOUT, || {
            lacks_tone(&bob.heard(400), 1000.0)
        })
        .await;

        b.plugin_request(
            json!({"request": "kick", "room": 7100, "secret": ROOM_SECRET, "id": alice_id}),
        )
        .await
        .unwrap();
        alice
            .wait_event(Duration::from_secs(5), |e| *e == ConferenceEvent::Kicked)
            .await;
        let after_kick = alice.events();
        assert_eq!(
            after_kick.last(),
            Some(&ConferenceEvent::Kicked),
            "nothing after the kick: {after_kick:?}"
        );

        b.plugin_request(json!({"request": "destroy", "room": 7100, "secret": ROOM_SECRET}))
            .await
            .unwrap();
        let ended = bob
            .wait_event(Duration::from_secs(5), |e| {
                matches!(e, ConferenceEvent::Closed { .. })
            })
            .await;
        assert!(
            matches!(ended, ConferenceEvent::Closed { ended: true, .. }),
            "{ended:?}"
        );
        alice.leave().await;
        bob.leave().await;
    });
}

#[test]
fn janus_restart_mid_call() {
    let _serial = serial();
    if !netns::reexec_in_netns("janus_restart_mid_call") {
        return;
    }
    run(async {
        let mut janus = start_janus();
        let b = backend(&janus, JanusPlugin::VideoRoom);
        let alice = Participant::join(&b, "1234", None, "Alice", 1000.0)
            .await
            .unwrap();
        let bob = Participant::join(&b, "1234", None, "Bob", 440.0)
            .await
            .unwrap();
        wait_hears(&alice, 440.0).await;
        wait_hears(&bob, 1000.0).await;

        let stopping = Instant::now();
        janus.stop();
        for p in [&alice, &bob] {
            let closed = p
                .wait_event(Duration::from_secs(5), |e| {
                    matches!(e, ConferenceEvent::Closed { .. })
                })
                .await;
            assert!(
                matches!(closed, ConferenceEvent::Closed { ended: false, .. }),
                "{closed:?}"
            );
        }
        println!(
            "both sessions closed {:?} after the stop",
            stopping.elapsed()
        );
        alice.leave().await;
        bob.leave().await;

        janus.restart();
        let alice = Participant::join(&b, "1234", None, "Alice again", 1000.0)
            .await
            .unwrap();
        let bob = Participant::join(&b, "1234", None, "Bob again", 440.0)
            .await
            .unwrap();
        wait_hears(&alice, 440.0).await;
        wait_hears(&bob, 1000.0).await;
        alice.leave().await;
        bob.leave().await;
    });
}
