//! The small types every Janus file shares, kept below them all: which plugin hosts the rooms
//! and what went wrong talking to Janus.

use std::time::Duration;

use crate::conference::ConferenceError;

/// What went wrong talking to Janus; becomes a [`ConferenceError`] at the trait.
#[derive(Debug, thiserror::Error)]
pub enum JanusError {
    /// Janus could not be reached, or the connection broke.
    #[error("Janus unreachable: {0}")]
    Unreachable(String),
    /// A Janus core error (403 wrong API secret or token, 458 no such session, …).
    #[error("Janus refused the request: {reason} ({code})")]
    Janus { code: u32, reason: String },
    /// A plugin error (`error_code`), e.g. VideoRoom 426 no such room, 433 wrong PIN.
    #[error("Janus plugin refused the request: {reason} ({code})")]
    Plugin { code: u32, reason: String },
    /// Janus answered something we do not understand.
    #[error("unexpected answer from Janus: {0}")]
    Unexpected(String),
    /// The whole lookup, check or join took longer than [`JanusOptions::timeout`].
    #[error("no answer from Janus within {0:?}")]
    Timeout(Duration),
}

impl From<JanusError> for ConferenceError {
    fn from(e: JanusError) -> ConferenceError {
        match e {
            JanusError::Unreachable(_) | JanusError::Timeout(_) => {
                ConferenceError::Unreachable(e.to_string())
            }
            _ => ConferenceError::Protocol(e.to_string()),
        }
    }
}

/// Which Janus plugin hosts the rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JanusPlugin {
    VideoRoom,
    AudioBridge,
}

impl JanusPlugin {
    /// The plugin's package name, for `attach`.
    pub const fn package(self) -> &'static str {
        match self {
            JanusPlugin::VideoRoom => "janus.plugin.videoroom",
            JanusPlugin::AudioBridge => "janus.plugin.audiobridge",
        }
    }
}
