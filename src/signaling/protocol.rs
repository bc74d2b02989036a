//! The wire messages of the built-in signaling server: JSON text frames over WebSocket, one
//! object per frame, tagged by `"type"` (snake_case). A request may carry `request_id`, which
//! the reply echoes, so one connection can have many requests in flight. See
//! `docs/signaling-protocol.md` for the full description.

use serde::{Deserialize, Serialize};

/// The protocol version the server announces in [`ServerMessage::Hello`].
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest text frame the server accepts, in bytes; larger ones are answered with an error.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// A server-assigned connection ID, unique while the server runs.
pub type ClientId = u64;

/// Correlates a reply with its request; chosen freely by the client.
pub type RequestId = u64;

/// A message with its optional `request_id`. On the wire the ID sits next to `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<RequestId>,
    #[serde(flatten)]
    pub message: T,
}

impl<T> Envelope<T> {
    pub fn new(request_id: Option<RequestId>, message: T) -> Self {
        Envelope {
            request_id,
            message,
        }
    }
}

/// Client → server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Present the shared secret; needed for `lookup_room`/`check_pin` when the server has one.
    /// Reply: `auth_ok`; a wrong secret gets `error` (`unauthorized`) and the connection closes.
    Auth { secret: String },
    /// Does the room exist, and does it need a PIN? Reply: `room_info`.
    LookupRoom { room: String },
    /// Is this the room's PIN? A room without PIN accepts any. Reply: `pin_result`.
    CheckPin { room: String, pin: String },
    /// Create a room; without `room` the server picks a free numeric ID. Reply: `room_created`.
    CreateRoom {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default)]
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pin: Option<String>,
    },
    /// Join a room as a participant (one room per connection). Reply: `joined`; the others get
    /// `participant_joined`.
    Join {
        room: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pin: Option<String>,
        #[serde(default)]
        name: String,
    },
    /// Leave the joined room. Reply: `left`; the others get `participant_left`.
    Leave,
    /// Relay `payload` (e.g. SDP or ICE) to another participant of the same room, who gets
    /// `signal` with `from`. Reply: none on success.
    Signal {
        to: ClientId,
        payload: serde_json::Value,
    },
    /// Liveness check. Reply: `pong`.
    Ping,
}

impl ClientMessage {
    /// Every `type` a client may send, to tell "unknown type" from "bad fields".
    pub const TYPES: [&'static str; 8] = [
        "auth",
        "lookup_room",
        "check_pin",
        "create_room",
        "join",
        "leave",
        "signal",
        "ping",
    ];
}

/// A participant as others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub client_id: ClientId,
    pub name: String,
}

/// Server → client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message on every connection.
    Hello {
        client_id: ClientId,
        version: u32,
    },
    AuthOk,
    RoomInfo {
        room: String,
        exists: bool,
        pin_required: bool,
    },
    PinResult {
        room: String,
        ok: bool,
    },
    RoomCreated {
        room: String,
    },
    /// You are in `room` (called `name`); `participants` are the others already there.
    Joined {
        room: String,
        name: String,
        client_id: ClientId,
        participants: Vec<Participant>,
    },
    Left {
        room: String,
    },
    ParticipantJoined {
        room: String,
        participant: Participant,
    },
    ParticipantLeft {
        room: String,
        client_id: ClientId,
    },
    /// A relayed `signal` from another participant.
    Signal {
        from: ClientId,
        payload: serde_json::Value,
    },
    Pong,
    /// The request failed; `code` is one of [`ErrorCode`].
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Machine-readable error kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not a JSON object.
    BadJson,
    /// The object has no string `type`, or one the server does not know.
    UnknownType,
    /// The type is known but its fields are wrong.
    BadMessage,
    /// The frame is larger than [`MAX_MESSAGE_BYTES`].
    TooLarge,
    /// A binary frame; the connection is closed.
    BinaryFrame,
    /// Missing or wrong secret.
    Unauthorized,
    /// A room ID or PIN that is not all digits, or a name that is too long.
    InvalidValue,
    RoomNotFound,
    RoomExists,
    WrongPin,
    /// The server holds as many rooms as it may.
    TooManyRooms,
    /// `join` while in a room, or `leave`/`signal` while in none.
    WrongState,
    /// The `signal` target is not in your room.
    NoSuchParticipant,
    /// Too many bad messages; the connection is closed.
    TooManyErrors,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T>(value: T, wire: serde_json::Value)
    where
        T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        assert_eq!(serde_json::to_value(&value).unwrap(), wire);
        assert_eq!(serde_json::from_value::<T>(wire).unwrap(), value);
    }

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
                    name: "x".into(),
                },
                json!({"type":"join","room":"1","name":"x"}),
            ),
            (ClientMessage::Leave, json!({"type":"leave"})),
            (
                ClientMessage::Signal {
                    to: 3,
                    payload: json!({"sdp":"v=0"}),
                },
                json!({"type":"signal","to":3,"payload":{"sdp":"v=0"}}),
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
    fn server_messages_round_trip() {
        let p = Participant {
            client_id: 2,
            name: "Phone ••• 89".into(),
        };
        let cases = [
            (
                ServerMessage::Hello {
                    client_id: 1,
                    version: 1,
                },
                json!({"type":"hello","client_id":1,"version":1}),
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
                    participants: vec![p.clone()],
                },
                json!({"type":"joined","room":"1","name":"R","client_id":1,"participants":[{"client_id":2,"name":"Phone ••• 89"}]}),
            ),
            (
                ServerMessage::Left { room: "1".into() },
                json!({"type":"left","room":"1"}),
            ),
            (
                ServerMessage::ParticipantJoined {
                    room: "1".into(),
                    participant: p,
                },
                json!({"type":"participant_joined","room":"1","participant":{"client_id":2,"name":"Phone ••• 89"}}),
            ),
            (
                ServerMessage::ParticipantLeft {
                    room: "1".into(),
                    client_id: 2,
                },
                json!({"type":"participant_left","room":"1","client_id":2}),
            ),
            (
                ServerMessage::Signal {
                    from: 2,
                    payload: json!(null),
                },
                json!({"type":"signal","from":2,"payload":null}),
            ),
            (ServerMessage::Pong, json!({"type":"pong"})),
            (
                ServerMessage::Error {
                    code: ErrorCode::RoomNotFound,
                    message: "m".into(),
                },
                json!({"type":"error","code":"room_not_found","message":"m"}),
            ),
        ];
        for (msg, wire) in cases {
            round_trip(msg, wire);
        }
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
}
