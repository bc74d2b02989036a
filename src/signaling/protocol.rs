//! The wire messages of the built-in signaling server: JSON text frames over WebSocket, one
//! object per frame, tagged by `"type"` (snake_case). A request may carry `request_id`, which
//! the reply echoes, so one connection can have many requests in flight. See
//! `docs/signaling-protocol.md` for the full description, the WebRTC offer convention and the
//! host rules.

use serde::{Deserialize, Serialize};

/// The path of the WebSocket endpoint.
pub const WS_PATH: &str = "/ws";

/// The protocol version the server announces in [`ServerMessage::Hello`]. Version 2 added
/// participant kinds, mute/kick and `join_or_create`.
pub const PROTOCOL_VERSION: u32 = 2;

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

/// How a participant takes part: through the phone bridge, or from a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantKind {
    /// A caller bridged in by dialbridge; `caller` holds the masked number.
    Phone,
    /// A browser (the host page or another WebRTC client).
    Web,
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
    /// Create a room; without `room` the server picks a free numeric ID. Reply: `room_created`
    /// with the room's host key; this connection is a host of the room when it joins it.
    CreateRoom {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default)]
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pin: Option<String>,
    },
    /// Join a room (one room per connection). Reply: `joined`; the others get
    /// `participant_joined`. A `web` participant with the room's `host_key` becomes a host.
    Join {
        room: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pin: Option<String>,
        /// `name` is accepted too (protocol version 1).
        #[serde(default, alias = "name")]
        display_name: String,
        kind: ParticipantKind,
        /// The caller's number, already masked (`+49 30 ••• 89`); phone participants only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caller: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host_key: Option<String>,
    },
    /// Join `room`, creating it first when it does not exist (or when `room` is absent); whoever
    /// creates it is its host. `pin` protects a room created here. Reply: `joined`.
    JoinOrCreate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pin: Option<String>,
        #[serde(default)]
        display_name: String,
        kind: ParticipantKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host_key: Option<String>,
    },
    /// Leave the joined room. Reply: `left`; the others get `participant_left`.
    Leave,
    /// Relay `payload` (SDP or ICE, see the docs) to another participant of the same room, who
    /// gets `signal` with `from`. Reply: none on success. Only after `joined`.
    Signal {
        to: ClientId,
        payload: serde_json::Value,
    },
    /// Mute or unmute yourself. Reply and broadcast: `participant_updated`.
    SetMuted { muted: bool },
    /// Host only: mute another participant, who gets `muted`. Reply and broadcast:
    /// `participant_updated`.
    Mute { client_id: ClientId },
    /// Host only: remove another participant, who gets `kicked` and is disconnected. Reply and
    /// broadcast: `participant_left`.
    Kick { client_id: ClientId },
    /// Liveness check. Reply: `pong`.
    Ping,
}

impl ClientMessage {
    /// Every `type` a client may send, to tell "unknown type" from "bad fields".
    pub const TYPES: [&'static str; 12] = [
        "auth",
        "lookup_room",
        "check_pin",
        "create_room",
        "join",
        "join_or_create",
        "leave",
        "signal",
        "set_muted",
        "mute",
        "kick",
        "ping",
    ];
}

/// A participant as others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub client_id: ClientId,
    pub display_name: String,
    pub kind: ParticipantKind,
    pub muted: bool,
    /// The masked caller number of a phone participant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// May mute and remove others.
    #[serde(default)]
    pub host: bool,
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
    /// `room_created` as clients read it. The server sends [`ServerMessage::HostRoomCreated`],
    /// the same type with `host_key`; clients that only need the ID ignore the key. (The two
    /// can merge once every reader matches `RoomCreated { room, .. }`.)
    RoomCreated {
        room: String,
    },
    /// `room_created` as the server sends it: the room and the key that makes a `web`
    /// participant its host.
    #[serde(rename = "room_created", skip_deserializing)]
    HostRoomCreated {
        room: String,
        host_key: String,
    },
    /// You are in `room` (called `name`); `participants` are the others already there, and you
    /// offer to each of them. `host_key` is there when you are a host.
    Joined {
        room: String,
        name: String,
        client_id: ClientId,
        pin_required: bool,
        host: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host_key: Option<String>,
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
    /// A participant's state changed (mute).
    ParticipantUpdated {
        room: String,
        participant: Participant,
    },
    /// A relayed `signal` from another participant.
    Signal {
        from: ClientId,
        payload: serde_json::Value,
    },
    /// Host `by` muted you: stop sending audio until you unmute with `set_muted`.
    Muted {
        by: ClientId,
    },
    /// Host `by` removed you from the room; the server closes the connection next.
    Kicked {
        by: ClientId,
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
    /// A room ID or PIN that is not all digits, a name that is too long, or a host action aimed
    /// at yourself.
    InvalidValue,
    RoomNotFound,
    RoomExists,
    WrongPin,
    /// The server holds as many rooms as it may.
    TooManyRooms,
    /// `join` while in a room, or `leave`/`signal`/`set_muted`/`mute`/`kick` while in none.
    WrongState,
    /// The target of `signal`, `mute` or `kick` is not in your room.
    NoSuchParticipant,
    /// `mute`/`kick` from a participant who is not a host, or a wrong `host_key`.
    Forbidden,
    /// Too many bad messages; the connection is closed.
    TooManyErrors,
    /// Too many wrong room IDs or PINs from this address: `lookup_room`, `check_pin`, `join`
    /// and `join_or_create` are refused until the lockout ends (the message says when).
    Locked,
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
