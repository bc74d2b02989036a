//! The AudioBridge machine driven with hand-made Janus messages (shapes from the plugin's docs).

use super::*;
use crate::conference::janus::client::TransactionIds;
use crate::conference::janus::kinds::JanusPlugin;
use crate::conference::janus::machine::Step;
use crate::conference::janus::protocol::PluginData;
use crate::conference::janus::protocol::Request;

const ME: u64 = 3;
const HANDLE: u64 = 30;

fn bridge() -> AudioBridge {
    AudioBridge {
        core: Core::new(9, TransactionIds::new()),
        me: ME,
        handle: HANDLE,
        self_muted: false,
        host_muted: false,
    }
}

fn steps(bridge: &mut AudioBridge) -> (Vec<Request>, Vec<ConferenceEvent>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    for step in bridge.core.steps.drain(..) {
        match step {
            Step::Send(r) => sent.push(r),
            Step::Emit(e) => events.push(e),
        }
    }
    (sent, events)
}

fn event(transaction: Option<&str>, data: Value, jsep: Option<Jsep>) -> Incoming {
    Incoming::Event {
        transaction: transaction.map(str::to_string),
        sender: HANDLE,
        plugindata: Some(PluginData {
            plugin: JanusPlugin::AudioBridge.package().into(),
            data,
        }),
        jsep,
    }
}

#[test]
fn offer_goes_with_configure_and_the_answer_comes_back() {
    let mut bridge = bridge();
    bridge.on_command(ConferenceCommand::Description {
        peer: MIXER.into(),
        kind: SdpKind::Offer,
        sdp: "v=0 o".into(),
    });
    bridge.on_command(ConferenceCommand::Candidate {
        peer: MIXER.into(),
        sdp_mline_index: 0,
        candidate: "candidate:1".into(),
    });
    let (sent, _) = steps(&mut bridge);
    let [
        Request::Message {
            transaction,
            handle_id: HANDLE,
            body,
            jsep: Some(jsep),
            ..
        },
        Request::Trickle {
            handle_id: HANDLE, ..
        },
    ] = &sent[..]
    else {
        panic!("{sent:?}")
    };
    assert_eq!(
        (body["request"].as_str(), jsep.kind.as_str()),
        (Some("configure"), "offer")
    );
    let t = transaction.clone();
    bridge.handle(Incoming::Ack {
        transaction: Some(t.clone()),
    });
    let ok = json!({"audiobridge": "event", "room": 1, "result": "ok"});
    bridge.handle(event(Some(&t), ok, Some(Jsep::answer("v=0 a".into()))));
    assert_eq!(
        steps(&mut bridge).1,
        [ConferenceEvent::Description {
            peer: MIXER.into(),
            kind: SdpKind::Answer,
            sdp: "v=0 a".into()
        }]
    );
}

#[test]
fn kick_of_us_only_ends_the_call() {
    let mut bridge = bridge();
    bridge.handle(event(
        None,
        json!({"audiobridge": "event", "room": 1, "kicked": 99}),
        None,
    ));
    bridge.handle(event(
        None,
        json!({"audiobridge": "event", "room": 1, "leaving": 99}),
        None,
    ));
    assert_eq!(steps(&mut bridge).1, vec![]);
    bridge.handle(event(
        None,
        json!({"audiobridge": "event", "room": 1, "kicked": ME}),
        None,
    ));
    bridge.handle(Incoming::Hangup {
        sender: HANDLE,
        reason: "Close PC".into(),
    });
    assert_eq!(steps(&mut bridge).1, [ConferenceEvent::Kicked]);
    assert!(bridge.core.finished);
}

#[test]
fn muted_by_host_once_but_not_when_we_muted() {
    let mut bridge = bridge();
    let me_muted = json!({"audiobridge": "event", "participants": [{"id": ME, "muted": true}, {"id": 5, "muted": false}]});
    bridge.handle(event(None, me_muted.clone(), None));
    bridge.handle(event(None, me_muted.clone(), None));
    assert_eq!(steps(&mut bridge).1, [ConferenceEvent::MutedByHost]);
    bridge.on_command(ConferenceCommand::SetMuted(false));
    let (sent, _) = steps(&mut bridge);
    assert!(
        matches!(&sent[..], [Request::Message { body, jsep: None, .. }] if body["muted"] == false),
        "{sent:?}"
    );
    bridge.on_command(ConferenceCommand::SetMuted(true));
    bridge.handle(event(None, me_muted, None));
    assert_eq!(steps(&mut bridge).1, vec![], "we muted ourselves");
}

#[test]
fn destroyed_ends_and_hangup_breaks() {
    let mut bridge = bridge();
    bridge.handle(event(
        None,
        json!({"audiobridge": "destroyed", "room": 1}),
        None,
    ));
    assert!(matches!(
        &steps(&mut bridge).1[..],
        [ConferenceEvent::Closed { ended: true, .. }]
    ));
    let mut bridge = super::tests::bridge();
    bridge.handle(Incoming::Hangup {
        sender: HANDLE,
        reason: "ICE failed".into(),
    });
    assert!(matches!(
        &steps(&mut bridge).1[..],
        [ConferenceEvent::Closed { ended: false, .. }]
    ));
}
