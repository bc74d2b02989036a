//! spreed-signaling's client API (v1.0, `/spreed` WebSocket) as types: what the bridge sends
//! as an internal client and what the server sends it. Unknown message types parse as
//! [`ServerMessage::Other`]; media payloads (`data` of a `message`) stay JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only `roomType` the bridge publishes and subscribes (never "screen").
pub const ROOM_TYPE: &str = "video";

/// Participant flags of a virtual session (spreed-signaling's `FLAG_*`; 2 is on hold).
pub const FLAG_MUTED: u32 = 1;
pub const FLAG_TALKING: u32 = 4;

/// `inCall` bits of a participant: in the call, and with audio.
pub const IN_CALL: u64 = 1;
pub const WITH_AUDIO: u64 = 2;

/// Client to server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientMessage {
    Hello {
        id: String,
        hello: HelloRequest,
    },
    Room {
        id: String,
        room: RoomRequest,
    },
    Internal {
        internal: Internal,
    },
    Message {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        message: Outgoing,
    },
    Bye {
        bye: Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelloRequest {
    pub version: String,
    pub auth: HelloAuth,
}

/// `auth.type = "internal"`: `token = hex(HMAC(internal secret, random))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelloAuth {
    #[serde(rename = "type")]
    pub kind: String,
    pub params: InternalParams,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InternalParams {
    pub random: String,
    pub token: String,
    /// The Nextcloud URL the room belongs to, as configured in the signaling server.
    pub backend: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomRequest {
    pub roomid: String,
    #[serde(default)]
    pub sessionid: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Internal {
    #[serde(rename = "addsession")]
    Add { addsession: AddSession },
    #[serde(rename = "updatesession")]
    Update { updatesession: UpdateSession },
    #[serde(rename = "removesession")]
    Remove { removesession: RemoveSession },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddSession {
    /// Our own name for the virtual session (the SIP Call-ID); the server makes a public one.
    pub sessionid: String,
    pub roomid: String,
    pub flags: u32,
    pub user: PhoneUser,
}

/// How the caller shows in the room: a phone participant with its masked number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneUser {
    #[serde(rename = "type")]
    pub kind: String,
    pub callid: String,
    pub number: String,
    pub displayname: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateSession {
    pub sessionid: String,
    pub roomid: String,
    pub flags: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoveSession {
    pub sessionid: String,
    pub roomid: String,
}

/// A `message` to one session; `data` is the signaling payload (offer, candidate, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    pub recipient: Recipient,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    #[serde(rename = "type")]
    pub kind: String,
    pub sessionid: String,
}

impl Recipient {
    pub fn session(id: &str) -> Recipient {
        Recipient {
            kind: "session".into(),
            sessionid: id.into(),
        }
    }
}

/// Server to client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    Welcome {},
    Hello {
        #[serde(default)]
        id: Option<String>,
        hello: HelloReply,
    },
    Error {
        #[serde(default)]
        id: Option<String>,
        error: ErrorBody,
    },
    Room {
        #[serde(default)]
        id: Option<String>,
        room: RoomReply,
    },
    Event {
        event: Event,
    },
    Message {
        message: Delivered,
    },
    Control {
        control: Delivered,
    },
    Bye {
        #[serde(default)]
        bye: Option<Value>,
    },
    #[serde(other)]
    Other,
}

impl ServerMessage {
    /// Parses one frame; `None` (logged) for what is not a message of this API.
    pub fn parse(text: &str) -> Option<ServerMessage> {
        match serde_json::from_str(text) {
            Ok(message) => Some(message),
            Err(e) => {
                tracing::warn!(error = %e, "spreed-signaling sent a message we cannot read");
                None
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HelloReply {
    pub sessionid: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RoomReply {
    pub roomid: String,
}

/// An `event`: `target` room (`join`, `leave`, `disinvite`) or participants (`update`,
/// `flags`); the field named like `type` carries its data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Event {
    pub target: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub join: Vec<JoinedSession>,
    #[serde(default)]
    pub leave: Vec<String>,
    #[serde(default)]
    pub update: Option<ParticipantsUpdate>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JoinedSession {
    pub sessionid: String,
    /// The Nextcloud session ID (what participant updates name); absent for internal ones.
    #[serde(default)]
    pub roomsessionid: Option<String>,
    #[serde(default)]
    pub userid: String,
    /// What the session shows (a phone caller's has `type: "phone"`).
    #[serde(default)]
    pub user: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ParticipantsUpdate {
    #[serde(default)]
    pub changed: Vec<Participant>,
    #[serde(default)]
    pub users: Vec<Participant>,
}

/// One entry of a participants update. `sessionId` is Nextcloud's session ID for users, the
/// signaling session ID for internal and virtual sessions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub in_call: u64,
    #[serde(default)]
    pub internal: bool,
    #[serde(default, rename = "virtual")]
    pub is_virtual: bool,
}

/// A `message` or `control` delivered to us.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Delivered {
    #[serde(default)]
    pub sender: Option<Sender>,
    #[serde(default)]
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sender {
    #[serde(default)]
    pub sessionid: String,
}

impl JoinedSession {
    /// A web user (has a Nextcloud session) or a phone caller.
    pub fn is_person(&self) -> bool {
        let kind = self.user.as_ref().and_then(|u| u.get("type"));
        self.roomsessionid.is_some() || kind.and_then(Value::as_str) == Some("phone")
    }
}

/// The SDP in a description's `payload`.
pub fn sdp_of(data: &Value) -> Option<String> {
    let sdp = data["payload"].get("sdp").and_then(Value::as_str);
    if sdp.is_none() {
        tracing::warn!(%data, "signaling description without SDP ignored");
    }
    sdp.map(str::to_string)
}

/// A `mute` control mutes unless it says otherwise (`flags` without the muted bit, or
/// `audio: false`).
pub fn mute_requested(data: &Value) -> bool {
    let mute = &data["mute"];
    if let Some(flags) = mute.get("flags").and_then(Value::as_u64) {
        return flags & u64::from(FLAG_MUTED) != 0;
    }
    mute.get("audio").and_then(Value::as_bool).unwrap_or(true)
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
