//! The VideoRoom machine driven with hand-made Janus messages (shapes from the plugin's docs).

use super::*;
use crate::conference::janus::client::TransactionIds;
use crate::conference::janus::machine::Step;
use crate::conference::janus::protocol::{CoreError, IdData, PluginData, Request};

const ME: u64 = 1;
const PUBLISHER_HANDLE: u64 = 100;

fn room() -> VideoRoom {
    VideoRoom {
        core: Core::new(9, TransactionIds::new()),
        room: 1234,
        pin: Some("42".into()),
        me: ME,
        private_id: Some(77),
        publisher: PUBLISHER_HANDLE,
        feeds: HashMap::new(),
    }
}

fn steps(room: &mut VideoRoom) -> (Vec<Request>, Vec<ConferenceEvent>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    for step in room.core.steps.drain(..) {
        match step {
            Step::Send(r) => sent.push(r),
            Step::Emit(e) => events.push(e),
        }
    }
    (sent, events)
}

fn event(transaction: Option<&str>, sender: u64, data: Value, jsep: Option<Jsep>) -> Incoming {
    Incoming::Event {
        transaction: transaction.map(str::to_string),
        sender,
        plugindata: Some(PluginData {
            plugin: PLUGIN.into(),
            data,
        }),
        jsep,
    }
}

fn publishers(list: Value) -> Value {
    json!({"videoroom": "event", "room": 1234, "publishers": list})
}

/// Runs a subscription to `feed` up to Janus's offer; returns the subscriber handle.
fn subscribe(room: &mut VideoRoom, feed: u64, handle: u64) -> Vec<ConferenceEvent> {
    let streams =
        json!([{"type": "audio", "mid": "0", "codec": "opus"}, {"type": "video", "mid": "1"}]);
    room.handle(event(
        None,
        PUBLISHER_HANDLE,
        publishers(json!([{"id": feed, "streams": streams}])),
        None,
    ));
    let (sent, _) = steps(room);
    let [
        Request::Attach {
            transaction,
            plugin,
            ..
        },
    ] = &sent[..]
    else {
        panic!("{sent:?}")
    };
    assert_eq!(plugin, PLUGIN);
    room.handle(Incoming::Success {
        transaction: Some(transaction.clone()),
        sender: None,
        data: Some(IdData { id: handle }),
        plugindata: None,
    });
    let (sent, _) = steps(room);
    let [
        Request::Message {
            transaction,
            handle_id,
            body,
            jsep: None,
            ..
        },
    ] = &sent[..]
    else {
        panic!("{sent:?}")
    };
    assert_eq!(*handle_id, handle);
    assert_eq!(body["ptype"], "subscriber");
    assert_eq!(
        body["streams"],
        json!([{"feed": feed, "mid": "0"}]),
        "audio only"
    );
    assert_eq!(
        (body["private_id"].as_u64(), body["pin"].as_str()),
        (Some(77), Some("42"))
    );
    let transaction = transaction.clone();
    room.handle(Incoming::Ack {
        transaction: Some(transaction.clone()),
    });
    let attached = json!({"videoroom": "attached", "room": 1234});
    room.handle(event(
        Some(&transaction),
        handle,
        attached,
        Some(Jsep::offer("v=0 janus".into())),
    ));
    steps(room).1
}

#[test]
fn subscribes_to_audio_of_other_publishers_and_answers() {
    let mut room = room();
    let events = subscribe(&mut room, 11, 500);
    let peer = feed_peer(11);
    assert_eq!(
        events,
        [
            ConferenceEvent::PeerJoined { peer: peer.clone() },
            ConferenceEvent::Description {
                peer: peer.clone(),
                kind: SdpKind::Offer,
                sdp: "v=0 janus".into()
            },
        ]
    );
    room.on_command(ConferenceCommand::Description {
        peer: peer.clone(),
        kind: SdpKind::Answer,
        sdp: "v=0 us".into(),
    });
    room.on_command(ConferenceCommand::Candidate {
        peer: peer.clone(),
        sdp_mline_index: 0,
        candidate: "candidate:1".into(),
    });
    room.on_command(ConferenceCommand::Candidate {
        peer: PUBLISHER.into(),
        sdp_mline_index: 0,
        candidate: "candidate:2".into(),
    });
    let (sent, _) = steps(&mut room);
    let [
        Request::Message {
            handle_id: 500,
            body,
            jsep: Some(jsep),
            ..
        },
        Request::Trickle { handle_id: 500, .. },
        Request::Trickle {
            handle_id: PUBLISHER_HANDLE,
            ..
        },
    ] = &sent[..]
    else {
        panic!("{sent:?}")
    };
    assert_eq!(
        (body["request"].as_str(), jsep),
        (Some("start"), &Jsep::answer("v=0 us".into()))
    );
    // Janus's own trickle (if it full-trickles) reaches the right peer.
    let candidate = TrickleCandidate::Candidate {
        candidate: "candidate:9".into(),
        sdp_mline_index: 0,
        sdp_mid: Some("0".into()),
    };
    room.handle(Incoming::Trickle {
        sender: 500,
        candidate,
    });
    let (_, events) = steps(&mut room);
    assert_eq!(
        events,
        [ConferenceEvent::Candidate {
            peer,
            sdp_mline_index: 0,
            candidate: "candidate:9".into()
        }]
    );
}

#[test]
fn skips_ourselves_video_only_and_known_publishers() {
    let mut room = room();
    subscribe(&mut room, 11, 500);
    let list = json!([
        {"id": ME, "streams": [{"type": "audio", "mid": "0"}]},
        {"id": 11, "streams": [{"type": "audio", "mid": "0"}]},
        {"id": 12, "streams": [{"type": "video", "mid": "0"}]},
        {"id": 13, "streams": [{"type": "audio", "mid": "0", "disabled": true}]},
        {"id": 14, "dummy": true},
    ]);
    room.handle(event(None, PUBLISHER_HANDLE, publishers(list), None));
    assert_eq!(steps(&mut room), (vec![], vec![]));
}

#[test]
fn publisher_leaving_ends_its_feed_once() {
    let mut room = room();
    subscribe(&mut room, 11, 500);
    room.handle(event(
        None,
        PUBLISHER_HANDLE,
        json!({"videoroom": "event", "unpublished": 11}),
        None,
    ));
    let (sent, events) = steps(&mut room);
    assert!(
        matches!(&sent[..], [Request::Detach { handle_id: 500, .. }]),
        "{sent:?}"
    );
    assert_eq!(
        events,
        [ConferenceEvent::PeerLeft {
            peer: feed_peer(11)
        }]
    );
    room.handle(event(
        None,
        PUBLISHER_HANDLE,
        json!({"videoroom": "event", "leaving": 11}),
        None,
    ));
    room.handle(Incoming::Hangup {
        sender: 500,
        reason: "Close PC".into(),
    });
    assert_eq!(steps(&mut room), (vec![], vec![]), "nothing twice");
    // Our own unpublish acknowledgement is not a feed.
    room.handle(event(
        None,
        PUBLISHER_HANDLE,
        json!({"videoroom": "event", "unpublished": "ok"}),
        None,
    ));
    assert_eq!(steps(&mut room), (vec![], vec![]));
}

#[test]
fn publisher_gone_before_the_handle_is_attached() {
    let mut room = room();
    let list = json!([{"id": 11, "streams": [{"type": "audio", "mid": "0"}]}]);
    room.handle(event(None, PUBLISHER_HANDLE, publishers(list), None));
    let (sent, _) = steps(&mut room);
    let attach = sent[0].transaction().to_string();
    room.handle(event(
        None,
        PUBLISHER_HANDLE,
        json!({"videoroom": "event", "leaving": 11}),
        None,
    ));
    assert_eq!(
        steps(&mut room).1,
        vec![],
        "never announced, so no PeerLeft"
    );
    room.handle(Incoming::Success {
        transaction: Some(attach),
        sender: None,
        data: Some(IdData { id: 501 }),
        plugindata: None,
    });
    let (sent, events) = steps(&mut room);
    assert!(
        matches!(&sent[..], [Request::Detach { handle_id: 501, .. }]),
        "{sent:?}"
    );
    assert!(events.is_empty());
}

#[test]
fn subscription_refused_drops_the_feed() {
    let mut room = room();
    let list = json!([{"id": 11, "streams": [{"type": "audio", "mid": "0"}]}]);
    room.handle(event(None, PUBLISHER_HANDLE, publishers(list), None));
    let attach = steps(&mut room).0[0].transaction().to_string();
    room.handle(Incoming::Success {
        transaction: Some(attach),
        sender: None,
        data: Some(IdData { id: 501 }),
        plugindata: None,
    });
    let join = steps(&mut room).0[0].transaction().to_string();
    let refused = json!({"videoroom": "event", "error_code": 428, "error": "No such feed (11)"});
    room.handle(event(Some(&join), 501, refused, None));
    let (sent, events) = steps(&mut room);
    assert!(
        matches!(&sent[..], [Request::Detach { handle_id: 501, .. }]),
        "{sent:?}"
    );
    assert!(events.is_empty());
    assert!(room.feeds.is_empty());
}

#[test]
fn our_offer_is_published_and_answered() {
    let mut room = room();
    room.on_command(ConferenceCommand::Description {
        peer: PUBLISHER.into(),
        kind: SdpKind::Offer,
        sdp: "v=0 offer".into(),
    });
    let (sent, _) = steps(&mut room);
    let [
        Request::Message {
            transaction,
            handle_id: PUBLISHER_HANDLE,
            body,
            jsep: Some(jsep),
            ..
        },
    ] = &sent[..]
    else {
        panic!("{sent:?}")
    };
    assert_eq!(
        (body["request"].as_str(), jsep.kind.as_str()),
        (Some("publish"), "offer")
    );
    let transaction = transaction.clone();
    // The event may come before the ack.
    let configured = json!({"videoroom": "event", "configured": "ok"});
    room.handle(event(
        Some(&transaction),
        PUBLISHER_HANDLE,
        configured,
        Some(Jsep::answer("v=0 answer".into())),
    ));
    room.handle(Incoming::Ack {
        transaction: Some(transaction),
    });
    assert_eq!(
        steps(&mut room).1,
        [ConferenceEvent::Description {
            peer: PUBLISHER.into(),
            kind: SdpKind::Answer,
            sdp: "v=0 answer".into()
        }]
    );
}

#[test]
fn refused_offer_closes() {
    let mut room = room();
    room.on_command(ConferenceCommand::Description {
        peer: PUBLISHER.into(),
        kind: SdpKind::Offer,
        sdp: "v=0".into(),
    });
    let t = steps(&mut room).0[0].transaction().to_string();
    room.handle(Incoming::Error {
        transaction: Some(t),
        error: CoreError {
            code: 465,
            reason: "Invalid SDP".into(),
        },
    });
    assert!(
        matches!(&steps(&mut room).1[..], [ConferenceEvent::Closed { ended: false, reason }] if reason.contains("Invalid SDP"))
    );
    assert!(room.core.finished);
}

#[test]
fn kicked_destroyed_muted_and_hung_up() {
    let mut room = room();
    let muted = json!({"videoroom": "event", "id": ME, "mid": "0", "moderation": "muted"});
    room.handle(event(None, PUBLISHER_HANDLE, muted, None));
    let other = json!({"videoroom": "event", "id": 5, "mid": "0", "moderation": "muted"});
    room.handle(event(None, PUBLISHER_HANDLE, other, None));
    assert_eq!(steps(&mut room).1, [ConferenceEvent::MutedByHost]);

    let kicked = json!({"videoroom": "event", "room": 1234, "leaving": "ok", "reason": "kicked"});
    room.handle(event(None, PUBLISHER_HANDLE, kicked, None));
    room.handle(Incoming::Hangup {
        sender: PUBLISHER_HANDLE,
        reason: "Close PC".into(),
    });
    assert_eq!(
        steps(&mut room).1,
        [ConferenceEvent::Kicked],
        "the hangup after the kick adds nothing"
    );

    let mut room2 = super::tests::room();
    room2.handle(event(
        None,
        PUBLISHER_HANDLE,
        json!({"videoroom": "destroyed", "room": 1234}),
        None,
    ));
    assert!(matches!(
        &steps(&mut room2).1[..],
        [ConferenceEvent::Closed { ended: true, .. }]
    ));

    let mut room3 = super::tests::room();
    room3.handle(Incoming::Hangup {
        sender: PUBLISHER_HANDLE,
        reason: "ICE failed".into(),
    });
    assert!(matches!(
        &steps(&mut room3).1[..],
        [ConferenceEvent::Closed { ended: false, .. }]
    ));
}
