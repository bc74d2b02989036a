//! Every message against its exact wire form, both ways.

use super::*;
use serde_json::json;

fn round_trip<T>(value: T, wire: serde_json::Value)
where
    T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    assert_eq!(serde_json::to_value(&value).unwrap(), wire);
    assert_eq!(serde_json::from_value::<T>(wire).unwrap(), value);
}

fn phone() -> Participant {
    Participant {
        client_id: 2,
        display_name: "Phone".into(),
        kind: ParticipantKind::Phone,
        muted: false,
        caller: Some("+49 30 ••• 89".into()),
        host: false,
    }
}

const PHONE_WIRE: &str = r#"{"client_id":2,"display_name":"Phone","kind":"phone","muted":false,"caller":"+49 30 ••• 89","host":false}"#;

#[test]
fn client_messages_round_trip() {
    let cases = [
        (
            ClientMessage::Auth { secret: "s".into() },
            json!({"type":"auth","secret":"s"}),
        ),
        (
            ClientMessage::LookupRoom { room: "1".into() },
            json!({"type":"lookup_room","room":"1"}),
        ),
        (
            ClientMessage::CheckPin {
                room: "1".into(),
                pin: "2".into(),
            },
            json!({"type":"check_pin","room":"1","pin":"2"}),
        ),
        (
            ClientMessage::CreateRoom {
                room: None,
                name: "n".into(),
                pin: Some("9".into()),
            },
            json!({"type":"create_room","name":"n","pin":"9"}),
        ),
        (
            ClientMessage::Join {
                room: "1".into(),
                pin: None,
                display_name: "x".into(),
                kind: ParticipantKind::Phone,
                caller: Some("+49 ••• 89".into()),
                host_key: None,
            },
            json!({"type":"join","room":"1","display_name":"x","kind":"phone","caller":"+49 ••• 89"}),
        ),
        (
            ClientMessage::JoinOrCreate {
                room: Some("77".into()),
                pin: None,
                display_name: "Host".into(),
                kind: ParticipantKind::Web,
                host_key: Some("k".into()),
            },
            json!({"type":"join_or_create","room":"77","display_name":"Host","kind":"web","host_key":"k"}),
        ),
        (ClientMessage::Leave, json!({"type":"leave"})),
        (
            ClientMessage::Signal {
                to: 3,
                payload: json!({"sdp":{"type":"offer","sdp":"v=0"}}),
            },
            json!({"type":"signal","to":3,"payload":{"sdp":{"type":"offer","sdp":"v=0"}}}),
        ),
        (
            ClientMessage::SetMuted { muted: true },
            json!({"type":"set_muted","muted":true}),
        ),
        (
            ClientMessage::Mute { client_id: 4 },
            json!({"type":"mute","client_id":4}),
        ),
        (
            ClientMessage::Kick { client_id: 4 },
            json!({"type":"kick","client_id":4}),
        ),
        (ClientMessage::Ping, json!({"type":"ping"})),
    ];
    assert_eq!(cases.len(), ClientMessage::TYPES.len());
    for (msg, wire) in cases {
        assert!(ClientMessage::TYPES.contains(&wire["type"].as_str().unwrap()));
        round_trip(msg, wire);
    }
}

#[test]
fn join_accepts_the_version_1_name_field() {
    let msg: ClientMessage =
        serde_json::from_value(json!({"type":"join","room":"1","name":"A","kind":"web"})).unwrap();
    assert!(matches!(msg, ClientMessage::Join { display_name, .. } if display_name == "A"));
    let no_kind = json!({"type":"join","room":"1","display_name":"A"});
    assert!(serde_json::from_value::<ClientMessage>(no_kind).is_err());
}

#[test]
fn server_messages_round_trip() {
    let p: serde_json::Value = serde_json::from_str(PHONE_WIRE).unwrap();
    let cases = [
        (
            ServerMessage::Hello {
                client_id: 1,
                version: 2,
            },
            json!({"type":"hello","client_id":1,"version":2}),
        ),
        (ServerMessage::AuthOk, json!({"type":"auth_ok"})),
        (
            ServerMessage::RoomInfo {
                room: "1".into(),
                exists: true,
                pin_required: false,
            },
            json!({"type":"room_info","room":"1","exists":true,"pin_required":false}),
        ),
        (
            ServerMessage::PinResult {
                room: "1".into(),
                ok: true,
            },
            json!({"type":"pin_result","room":"1","ok":true}),
        ),
        (
            ServerMessage::RoomCreated { room: "7".into() },
            json!({"type":"room_created","room":"7"}),
        ),
        (
            ServerMessage::Joined {
                room: "1".into(),
                name: "R".into(),
                client_id: 1,
                pin_required: false,
                host: true,
                host_key: Some("k".into()),
                participants: vec![phone()],
            },
            json!({"type":"joined","room":"1","name":"R","client_id":1,"pin_required":false,
                   "host":true,"host_key":"k","participants":[p.clone()]}),
        ),
        (
            ServerMessage::Left { room: "1".into() },
            json!({"type":"left","room":"1"}),
        ),
        (
            ServerMessage::ParticipantJoined {
                room: "1".into(),
                participant: phone(),
            },
            json!({"type":"participant_joined","room":"1","participant":p.clone()}),
        ),
        (
            ServerMessage::ParticipantLeft {
                room: "1".into(),
                client_id: 2,
            },
            json!({"type":"participant_left","room":"1","client_id":2}),
        ),
        (
            ServerMessage::ParticipantUpdated {
                room: "1".into(),
                participant: phone(),
            },
            json!({"type":"participant_updated","room":"1","participant":p}),
        ),
        (
            ServerMessage::Signal {
                from: 2,
                payload: json!({"ice":{"candidate":"candidate:1 1 UDP 1 10.0.0.1 9 typ host","sdpMLineIndex":0}}),
            },
            json!({"type":"signal","from":2,"payload":{"ice":{"candidate":"candidate:1 1 UDP 1 10.0.0.1 9 typ host","sdpMLineIndex":0}}}),
        ),
        (
            ServerMessage::Muted { by: 1 },
            json!({"type":"muted","by":1}),
        ),
        (
            ServerMessage::Kicked { by: 1 },
            json!({"type":"kicked","by":1}),
        ),
        (ServerMessage::Pong, json!({"type":"pong"})),
        (
            ServerMessage::Error {
                code: ErrorCode::Forbidden,
                message: "m".into(),
            },
            json!({"type":"error","code":"forbidden","message":"m"}),
        ),
    ];
    for (msg, wire) in cases {
        round_trip(msg, wire);
    }
}

#[test]
fn room_created_carries_the_host_key_and_old_readers_ignore_it() {
    let sent = ServerMessage::HostRoomCreated {
        room: "7".into(),
        host_key: "k".into(),
    };
    let wire = json!({"type":"room_created","room":"7","host_key":"k"});
    assert_eq!(serde_json::to_value(&sent).unwrap(), wire);
    assert_eq!(
        serde_json::from_value::<ServerMessage>(wire).unwrap(),
        ServerMessage::RoomCreated { room: "7".into() }
    );
}

#[test]
fn envelope_puts_request_id_beside_type() {
    round_trip(
        Envelope::new(
            Some(42),
            ClientMessage::LookupRoom {
                room: "1234".into(),
            },
        ),
        json!({"type":"lookup_room","room":"1234","request_id":42}),
    );
    round_trip(
        Envelope::new(None, ServerMessage::Pong),
        json!({"type":"pong"}),
    );
}

#[test]
fn unknown_type_does_not_parse() {
    assert!(serde_json::from_str::<Envelope<ClientMessage>>(r#"{"type":"nope"}"#).is_err());
}
