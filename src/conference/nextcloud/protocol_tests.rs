//! Round trips against the message shapes seen from spreed-signaling 1.2.4.

use serde_json::json;

use super::*;

fn round_trip(message: ClientMessage, expected: Value) {
    let encoded = serde_json::to_value(&message).expect("client messages encode");
    assert_eq!(encoded, expected);
    let decoded: ClientMessage = serde_json::from_value(encoded).expect("and decode again");
    assert_eq!(decoded, message);
}

#[test]
fn hello_room_and_bye_have_the_documented_shape() {
    round_trip(
        ClientMessage::Hello {
            id: "1".into(),
            hello: HelloRequest {
                version: "1.0".into(),
                auth: HelloAuth {
                    kind: "internal".into(),
                    params: InternalParams {
                        random: "r".into(),
                        token: "t".into(),
                        backend: "http://127.0.0.1:9100/".into(),
                    },
                },
            },
        },
        json!({"type": "hello", "id": "1", "hello": {"version": "1.0", "auth": {
            "type": "internal",
            "params": {"random": "r", "token": "t", "backend": "http://127.0.0.1:9100/"}}}}),
    );
    round_trip(
        ClientMessage::Room {
            id: "2".into(),
            room: RoomRequest {
                roomid: "abcdef12".into(),
                sessionid: String::new(),
            },
        },
        json!({"type": "room", "id": "2", "room": {"roomid": "abcdef12", "sessionid": ""}}),
    );
    round_trip(
        ClientMessage::Bye { bye: json!({}) },
        json!({"type": "bye", "bye": {}}),
    );
}

#[test]
fn virtual_sessions_are_internal_messages() {
    let user = PhoneUser {
        kind: "phone".into(),
        callid: "call-1".into(),
        number: "+49 *** *** 123".into(),
        displayname: "+49 *** *** 123".into(),
    };
    round_trip(
        ClientMessage::Internal {
            internal: Internal::Add {
                addsession: AddSession {
                    sessionid: "call-1".into(),
                    roomid: "r".into(),
                    flags: FLAG_MUTED,
                    user,
                },
            },
        },
        json!({"type": "internal", "internal": {"type": "addsession", "addsession": {
            "sessionid": "call-1", "roomid": "r", "flags": 1,
            "user": {"type": "phone", "callid": "call-1", "number": "+49 *** *** 123",
                     "displayname": "+49 *** *** 123"}}}}),
    );
    round_trip(
        ClientMessage::Internal {
            internal: Internal::Update {
                updatesession: UpdateSession {
                    sessionid: "call-1".into(),
                    roomid: "r".into(),
                    flags: FLAG_TALKING,
                },
            },
        },
        json!({"type": "internal", "internal": {"type": "updatesession",
            "updatesession": {"sessionid": "call-1", "roomid": "r", "flags": 4}}}),
    );
    round_trip(
        ClientMessage::Internal {
            internal: Internal::Remove {
                removesession: RemoveSession {
                    sessionid: "call-1".into(),
                    roomid: "r".into(),
                },
            },
        },
        json!({"type": "internal", "internal": {"type": "removesession",
            "removesession": {"sessionid": "call-1", "roomid": "r"}}}),
    );
}

#[test]
fn offers_go_to_a_session_with_the_room_type() {
    round_trip(
        ClientMessage::Message {
            id: None,
            message: Outgoing {
                recipient: Recipient::session("me"),
                data: json!({"type": "offer", "roomType": ROOM_TYPE, "sid": "s1",
                             "payload": {"type": "offer", "sdp": "v=0"}}),
            },
        },
        json!({"type": "message", "message": {
            "recipient": {"type": "session", "sessionid": "me"},
            "data": {"type": "offer", "roomType": "video", "sid": "s1",
                     "payload": {"type": "offer", "sdp": "v=0"}}}}),
    );
}

fn parse(v: Value) -> ServerMessage {
    ServerMessage::parse(&v.to_string()).expect("a server message")
}

#[test]
fn server_messages_parse() {
    assert_eq!(
        parse(json!({"type": "welcome", "welcome": {"version": "1.2.4", "features": []}})),
        ServerMessage::Welcome {}
    );
    assert_eq!(
        parse(
            json!({"id": "1", "type": "hello", "hello": {"sessionid": "S", "resumeid": "R",
            "userid": "", "version": "1.0", "server": {}}})
        ),
        ServerMessage::Hello {
            id: Some("1".into()),
            hello: HelloReply {
                sessionid: "S".into()
            }
        }
    );
    assert_eq!(
        parse(
            json!({"id": "7", "type": "error", "error": {"code": "not_allowed",
            "message": "Not allowed to publish."}})
        ),
        ServerMessage::Error {
            id: Some("7".into()),
            error: ErrorBody {
                code: "not_allowed".into(),
                message: "Not allowed to publish.".into()
            }
        }
    );
    assert_eq!(
        parse(json!({"type": "bye", "bye": {"reason": ""}})),
        ServerMessage::Bye {
            bye: Some(json!({"reason": ""}))
        }
    );
    assert_eq!(
        parse(json!({"type": "transient", "transient": {}})),
        ServerMessage::Other
    );
    assert_eq!(ServerMessage::parse("{not json"), None);
}

#[test]
fn room_events_parse() {
    let join = parse(
        json!({"type": "event", "event": {"target": "room", "type": "join",
        "join": [{"sessionid": "sig-alice", "roomsessionid": "nc-alice-1", "userid": "alice",
                  "user": {"displayname": "Alice"}},
                 {"sessionid": "virt", "userid": "", "user": {"type": "phone"}}]}}),
    );
    let ServerMessage::Event { event } = join else {
        panic!("{join:?}")
    };
    assert_eq!(event.join.len(), 2);
    assert_eq!(event.join[0].roomsessionid.as_deref(), Some("nc-alice-1"));
    let update = parse(json!({"type": "event", "event": {"target": "participants",
        "type": "update", "update": {"roomid": "r",
        "changed": [{"sessionId": "nc-alice-1", "inCall": 7, "userId": "alice"}],
        "users": [{"sessionId": "sig-me", "inCall": 3, "internal": true},
                  {"sessionId": "virt", "inCall": 3, "virtual": true}]}}}));
    let ServerMessage::Event { event } = update else {
        panic!("{update:?}")
    };
    let update = event.update.expect("an update");
    assert_eq!(update.changed[0].in_call, 7);
    assert!(update.users[0].internal && update.users[1].is_virtual);
}

#[test]
fn delivered_messages_keep_their_data() {
    let control = parse(json!({"type": "control", "control": {
        "sender": {"type": "session", "sessionid": "sig-alice", "userid": "alice"},
        "recipient": {"type": "session", "sessionid": "sig-me"},
        "data": {"type": "mute", "mute": {"flags": 1}}}}));
    let ServerMessage::Control { control } = control else {
        panic!("{control:?}")
    };
    assert_eq!(control.sender.expect("a sender").sessionid, "sig-alice");
    assert_eq!(control.data["type"], "mute");
}
