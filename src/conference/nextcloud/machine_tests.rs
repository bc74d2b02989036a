//! The Talk session machine driven with server messages shaped as spreed-signaling 1.2.4 sends
//! them, no network.

use serde_json::json;

use super::*;

fn caller() -> Caller {
    Caller {
        callid: "call-1".into(),
        number: "+49 *** *** 123".into(),
    }
}

fn server(v: Value) -> ServerMessage {
    serde_json::from_value(v).expect("a server message")
}

fn machine() -> Machine {
    let joined: Vec<JoinedSession> = serde_json::from_value(json!([
        {"sessionid": "sig-alice", "roomsessionid": "nc-alice", "userid": "alice"},
        {"sessionid": "me", "userid": ""}]))
    .expect("join entries");
    assert_eq!(Machine::people(&joined), 1);
    Machine::new("me".into(), "room1".into(), caller(), &joined)
}

fn sent(m: &mut Machine) -> Vec<Value> {
    m.steps
        .drain(..)
        .filter_map(|s| match s {
            Step::Send(c) => Some(serde_json::to_value(c).expect("encodes")),
            Step::Emit(_) => None,
        })
        .collect()
}

fn emitted(m: &mut Machine) -> Vec<ConferenceEvent> {
    m.steps
        .drain(..)
        .filter_map(|s| match s {
            Step::Emit(e) => Some(e),
            Step::Send(_) => None,
        })
        .collect()
}

fn in_call(users: Value) -> ServerMessage {
    server(
        json!({"type": "event", "event": {"target": "participants", "type": "update",
        "update": {"roomid": "room1", "users": users}}}),
    )
}

#[test]
fn the_caller_shows_as_a_phone_participant() {
    let mut m = machine();
    let out = sent(&mut m);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["internal"]["type"], "addsession");
    let add = &out[0]["internal"]["addsession"];
    assert_eq!(add["user"]["type"], "phone");
    assert_eq!(add["user"]["number"], "+49 *** *** 123");
    assert_eq!(add["user"]["callid"], "call-1");
    assert_eq!(add["roomid"], "room1");
}

#[test]
fn our_candidates_wait_for_the_answer() {
    let mut m = machine();
    sent(&mut m);
    m.on_command(ConferenceCommand::Description {
        peer: PUBLISHER.into(),
        kind: SdpKind::Offer,
        sdp: "v=0 offer".into(),
    });
    m.on_command(ConferenceCommand::Candidate {
        peer: PUBLISHER.into(),
        sdp_mline_index: 0,
        candidate: "candidate:1 1 UDP 1 10.0.0.1 9 typ host".into(),
    });
    let out = sent(&mut m);
    assert_eq!(out.len(), 1, "only the offer: {out:?}");
    let offer = &out[0]["message"];
    assert_eq!(offer["recipient"]["sessionid"], "me");
    assert_eq!(offer["data"]["roomType"], "video");
    assert_eq!(offer["data"]["payload"]["sdp"], "v=0 offer");
    m.handle(server(json!({"type": "message", "message": {
        "sender": {"type": "session", "sessionid": "me"},
        "data": {"type": "answer", "sid": offer["data"]["sid"], "roomType": "video",
                 "payload": {"type": "answer", "sdp": "v=0 answer"}}}})));
    let steps = std::mem::take(&mut m.steps);
    assert!(
        matches!(&steps[0], Step::Emit(ConferenceEvent::Description { peer, kind: SdpKind::Answer, .. }) if peer == PUBLISHER)
    );
    let Step::Send(candidate) = &steps[1] else {
        panic!("{steps:?}")
    };
    let candidate = serde_json::to_value(candidate).expect("encodes");
    assert_eq!(candidate["message"]["data"]["type"], "candidate");
    assert_eq!(
        candidate["message"]["data"]["payload"]["candidate"]["sdpMLineIndex"],
        0
    );
}

#[test]
fn a_refused_offer_ends_the_call_as_unreachable() {
    let mut m = machine();
    m.on_command(ConferenceCommand::Description {
        peer: PUBLISHER.into(),
        kind: SdpKind::Offer,
        sdp: "v=0".into(),
    });
    let out = sent(&mut m);
    let id = out[1]["id"]
        .as_str()
        .expect("the offer has an id")
        .to_string();
    m.handle(server(
        json!({"type": "error", "id": id, "error": {"code": "not_allowed",
        "message": "Not allowed to publish."}}),
    ));
    assert!(m.finished);
    assert!(matches!(
        &emitted(&mut m)[..],
        [ConferenceEvent::Closed { ended: false, .. }]
    ));
}

#[test]
fn others_with_audio_are_subscribed_once_and_retried_when_refused() {
    let mut m = machine();
    sent(&mut m);
    m.handle(in_call(json!([
        {"sessionId": "nc-alice", "inCall": 3, "userId": "alice"},
        {"sessionId": "me", "inCall": 3, "internal": true},
        {"sessionId": "virt", "inCall": 3, "virtual": true},
        {"sessionId": "nc-unknown", "inCall": 3}])));
    let out = sent(&mut m);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["message"]["recipient"]["sessionid"], "sig-alice");
    assert_eq!(out[0]["message"]["data"]["type"], "requestoffer");
    m.handle(in_call(json!([{"sessionId": "nc-alice", "inCall": 7}])));
    // 1.2.4 names users by their signaling ID in updates.
    m.handle(in_call(json!([{"sessionId": "sig-alice", "inCall": 7}])));
    assert!(sent(&mut m).is_empty(), "already requested");
    let id = out[0]["id"].clone();
    m.handle(server(
        json!({"type": "error", "id": id, "error": {"code": "processing_failed"}}),
    ));
    m.tick();
    let again = sent(&mut m);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["message"]["data"]["type"], "requestoffer");
    assert!(!m.finished);
}

#[test]
fn an_offer_becomes_a_peer_that_we_answer_and_that_leaves() {
    let mut m = machine();
    m.handle(in_call(json!([{"sessionId": "nc-alice", "inCall": 3}])));
    sent(&mut m);
    m.handle(server(json!({"type": "message", "message": {
        "sender": {"type": "session", "sessionid": "sig-alice"},
        "data": {"type": "offer", "sid": "s9", "roomType": "video",
                 "payload": {"type": "offer", "sdp": "v=0 theirs"}}}})));
    assert_eq!(
        emitted(&mut m),
        vec![
            ConferenceEvent::PeerJoined {
                peer: "sig-alice".into()
            },
            ConferenceEvent::Description {
                peer: "sig-alice".into(),
                kind: SdpKind::Offer,
                sdp: "v=0 theirs".into()
            }
        ]
    );
    m.on_command(ConferenceCommand::Description {
        peer: "sig-alice".into(),
        kind: SdpKind::Answer,
        sdp: "v=0 ours".into(),
    });
    let out = sent(&mut m);
    assert_eq!(out[0]["message"]["data"]["sid"], "s9");
    assert_eq!(out[0]["message"]["data"]["payload"]["type"], "answer");
    m.handle(server(
        json!({"type": "event", "event": {"target": "room", "type": "leave",
        "leave": ["sig-alice"]}}),
    ));
    assert_eq!(
        emitted(&mut m),
        vec![ConferenceEvent::PeerLeft {
            peer: "sig-alice".into()
        }]
    );
}

#[test]
fn moderator_mute_and_hangup_reach_the_call() {
    let mut m = machine();
    sent(&mut m);
    m.handle(server(json!({"type": "control", "control": {
        "sender": {"type": "session", "sessionid": "sig-alice"},
        "recipient": {"type": "session", "sessionid": "me"},
        "data": {"type": "mute", "mute": {"flags": 1}}}})));
    assert_eq!(emitted(&mut m), vec![ConferenceEvent::MutedByHost]);
    m.handle(server(json!({"type": "message", "message": {
        "sender": {"type": "session", "sessionid": "sig-alice"},
        "data": {"type": "mute", "mute": {"flags": 1}}}})));
    let steps = std::mem::take(&mut m.steps);
    assert!(
        !steps.iter().any(|s| matches!(s, Step::Send(_))),
        "flags already muted: {steps:?}"
    );
    m.handle(server(json!({"type": "control", "control": {
        "sender": {"type": "session", "sessionid": "sig-alice"},
        "data": {"type": "hangup", "hangup": {}}}})));
    assert_eq!(emitted(&mut m), vec![ConferenceEvent::Kicked]);
    assert!(m.finished);
}

#[test]
fn muting_updates_the_flags_and_leaving_removes_the_session() {
    let mut m = machine();
    sent(&mut m);
    m.on_command(ConferenceCommand::SetMuted(true));
    m.on_command(ConferenceCommand::SetMuted(true));
    let out = sent(&mut m);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["internal"]["updatesession"]["flags"], 1);
    m.on_command(ConferenceCommand::SetMuted(false));
    assert_eq!(sent(&mut m)[0]["internal"]["updatesession"]["flags"], 0);
    let leave: Vec<Value> = m
        .leave()
        .into_iter()
        .map(|c| serde_json::to_value(c).expect("encodes"))
        .collect();
    assert_eq!(leave[0]["internal"]["type"], "removesession");
    assert_eq!(leave[1]["type"], "bye");
}

#[test]
fn bye_and_disinvite_close_the_room() {
    let mut m = machine();
    m.handle(server(
        json!({"type": "event", "event": {"target": "room", "type": "disinvite",
        "disinvite": {"roomid": "room1", "reason": "deleted"}}}),
    ));
    assert!(m.finished);
    m.handle(server(json!({"type": "bye", "bye": {"reason": "x"}})));
    let events = emitted(&mut m);
    assert!(
        matches!(&events[..], [ConferenceEvent::Closed { ended: true, .. }]),
        "only the first closes: {events:?}"
    );
}

#[test]
fn updates_may_name_users_by_their_signaling_id() {
    let mut m = machine();
    sent(&mut m);
    m.handle(in_call(
        json!([{"sessionId": "sig-alice", "inCall": 7, "userId": "alice"}]),
    ));
    let out = sent(&mut m);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["message"]["recipient"]["sessionid"], "sig-alice");
}

#[test]
fn talking_shows_in_the_flags_unless_muted() {
    let mut m = machine();
    sent(&mut m);
    let flags = |m: &mut Machine| -> Vec<Value> {
        sent(m)
            .iter()
            .map(|s| s["internal"]["updatesession"]["flags"].clone())
            .collect()
    };
    m.on_command(ConferenceCommand::SetTalking(true));
    assert_eq!(flags(&mut m), vec![json!(4)]);
    m.on_command(ConferenceCommand::SetMuted(true));
    assert_eq!(flags(&mut m), vec![json!(1)], "muting ends talking");
    m.on_command(ConferenceCommand::SetTalking(true));
    assert_eq!(
        flags(&mut m),
        Vec::<Value>::new(),
        "a muted caller is not shown talking"
    );
    m.on_command(ConferenceCommand::SetMuted(false));
    m.on_command(ConferenceCommand::SetTalking(true));
    m.on_command(ConferenceCommand::SetTalking(false));
    assert_eq!(flags(&mut m), vec![json!(0), json!(4), json!(0)]);
}
