//! [`JanusError`]: what went wrong talking to Janus, for every file of the Janus backend, and
//! how it becomes a [`ConferenceError`] at the backend trait.

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
    /// The whole lookup, check or join took longer than [`super::JanusOptions::timeout`].
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
