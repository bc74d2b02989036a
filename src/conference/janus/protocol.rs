//! The Janus JSON API as types: what we send ([`Request`], inside an [`Envelope`] that adds the
//! API secret and token) and what Janus sends ([`Incoming`]). Plugin bodies stay JSON values
//! here; `videoroom.rs` and `audiobridge.rs` read them.
//!
//! Every message is one JSON object per WebSocket text frame with a `"janus"` tag. Requests carry
//! a `transaction`; Janus answers a synchronous request with `success`/`error`, an asynchronous
//! one with `ack` and later an `event` carrying the same transaction (either may come first).
//! Unsolicited messages (`event` without transaction, `webrtcup`, `hangup`, `media`, `trickle`,
//! `timeout`, …) name the handle in `sender`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The WebSocket subprotocol Janus's websockets transport speaks.
pub const SUBPROTOCOL: &str = "janus-protocol";
/// Janus core error: the session does not exist (timed out, destroyed, or Janus restarted).
pub const ERROR_SESSION_NOT_FOUND: u32 = 458;

/// A session description as Janus carries it (`"jsep"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jsep {
    /// `offer` or `answer`.
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
}

impl Jsep {
    pub fn offer(sdp: String) -> Jsep {
        Jsep {
            kind: "offer".into(),
            sdp,
        }
    }

    pub fn answer(sdp: String) -> Jsep {
        Jsep {
            kind: "answer".into(),
            sdp,
        }
    }
}

/// One trickled ICE candidate, or the end of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TrickleCandidate {
    Candidate {
        candidate: String,
        #[serde(rename = "sdpMLineIndex", default)]
        sdp_mline_index: u32,
        #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
    },
    /// `{"completed":true}`: no more candidates.
    Completed { completed: bool },
}

/// What we ask of Janus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "janus", rename_all = "lowercase")]
pub enum Request {
    Create {
        transaction: String,
    },
    Attach {
        transaction: String,
        session_id: u64,
        plugin: String,
    },
    Message {
        transaction: String,
        session_id: u64,
        handle_id: u64,
        body: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jsep: Option<Jsep>,
    },
    Trickle {
        transaction: String,
        session_id: u64,
        handle_id: u64,
        candidate: TrickleCandidate,
    },
    Keepalive {
        transaction: String,
        session_id: u64,
    },
    Detach {
        transaction: String,
        session_id: u64,
        handle_id: u64,
    },
    Destroy {
        transaction: String,
        session_id: u64,
    },
}

impl Request {
    pub fn transaction(&self) -> &str {
        match self {
            Request::Create { transaction }
            | Request::Attach { transaction, .. }
            | Request::Message { transaction, .. }
            | Request::Trickle { transaction, .. }
            | Request::Keepalive { transaction, .. }
            | Request::Detach { transaction, .. }
            | Request::Destroy { transaction, .. } => transaction,
        }
    }
}

/// A request on the wire: Janus wants the API secret and the auth token in every request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(flatten)]
    pub request: Request,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apisecret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl Envelope {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("requests serialize: strings, integers and JSON values")
    }
}

/// `{"id": N}` in the reply to `create` (session ID) and `attach` (handle ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdData {
    pub id: u64,
}

/// A plugin's part of a reply or event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginData {
    pub plugin: String,
    pub data: Value,
}

/// A Janus core error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoreError {
    pub code: u32,
    #[serde(default)]
    pub reason: String,
}

/// What Janus sends. Unknown kinds (`server_info`, `claimed`, future ones) become `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "janus", rename_all = "lowercase")]
pub enum Incoming {
    Success {
        #[serde(default)]
        transaction: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sender: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<IdData>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plugindata: Option<PluginData>,
    },
    Error {
        #[serde(default)]
        transaction: Option<String>,
        error: CoreError,
    },
    Ack {
        #[serde(default)]
        transaction: Option<String>,
    },
    Event {
        #[serde(default)]
        transaction: Option<String>,
        sender: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        plugindata: Option<PluginData>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jsep: Option<Jsep>,
    },
    Webrtcup {
        sender: u64,
    },
    Media {
        sender: u64,
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        receiving: bool,
    },
    Slowlink {
        sender: u64,
    },
    Hangup {
        sender: u64,
        #[serde(default)]
        reason: String,
    },
    Detached {
        sender: u64,
    },
    Trickle {
        sender: u64,
        candidate: TrickleCandidate,
    },
    Timeout {
        session_id: u64,
    },
    #[serde(other)]
    Other,
}

impl Incoming {
    /// Parses one frame; `None` (logged) for text that is not a Janus message.
    pub fn parse(text: &str) -> Option<Incoming> {
        match serde_json::from_str(text) {
            Ok(message) => Some(message),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable message from Janus");
                None
            }
        }
    }

    /// The transaction this message answers, if any.
    pub fn transaction(&self) -> Option<&str> {
        match self {
            Incoming::Success { transaction, .. }
            | Incoming::Error { transaction, .. }
            | Incoming::Ack { transaction }
            | Incoming::Event { transaction, .. } => transaction.as_deref(),
            _ => None,
        }
    }
}

/// The `error_code`/`error` pair plugins put in their data when a request failed.
pub fn plugin_error(data: &Value) -> Option<(u32, String)> {
    let code = data.get("error_code")?.as_u64()?;
    let reason = data
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some((u32::try_from(code).unwrap_or(u32::MAX), reason.to_string()))
}

impl Incoming {
    /// The plugin data and JSEP of a reply (`success`) or `event`.
    pub fn into_plugin_reply(self) -> Option<(Value, Option<Jsep>)> {
        match self {
            Incoming::Success {
                plugindata: Some(p),
                ..
            } => Some((p.data, None)),
            Incoming::Event {
                plugindata: Some(p),
                jsep,
                ..
            } => Some((p.data, jsep)),
            _ => None,
        }
    }

    /// Why the request this answers failed (a core error or a plugin's `error_code`); `None`
    /// when it did not.
    pub fn failure(&self) -> Option<String> {
        match self {
            Incoming::Error { error, .. } => Some(format!("{} ({})", error.reason, error.code)),
            Incoming::Success {
                plugindata: Some(p),
                ..
            }
            | Incoming::Event {
                plugindata: Some(p),
                ..
            } => plugin_error(&p.data).map(|(code, reason)| format!("{reason} ({code})")),
            _ => None,
        }
    }
}

/// A VideoRoom publisher, as `joined` and `publishers` events list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publisher {
    pub id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// A placeholder publisher (rooms with `dummy_publisher`), never a person.
    #[serde(default)]
    pub dummy: bool,
    #[serde(default)]
    pub streams: Vec<PublishedStream>,
}

/// One stream of a [`Publisher`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedStream {
    /// `audio`, `video` or `data`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mid: Option<String>,
    #[serde(default)]
    pub disabled: bool,
}

impl Publisher {
    /// What to subscribe to for its audio: its first live audio stream's mid (`Some(None)`: it
    /// lists no streams, take the feed as a whole), or `None` when it sends no audio.
    pub fn audio_mid(&self) -> Option<Option<String>> {
        if self.dummy {
            return None;
        }
        if self.streams.is_empty() {
            return Some(None);
        }
        let audio = self
            .streams
            .iter()
            .find(|s| s.kind == "audio" && !s.disabled)?;
        Some(audio.mid.clone())
    }
}

/// The `publishers` list in VideoRoom data (empty when absent; logged when unreadable).
pub fn publishers(data: &Value) -> Vec<Publisher> {
    let Some(list) = data.get("publishers") else {
        return Vec::new();
    };
    Vec::<Publisher>::deserialize(list).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "unreadable publisher list from Janus");
        Vec::new()
    })
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
