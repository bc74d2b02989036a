//! What the media legs tell their call: [`MediaEvent`]s, the [`MediaError`] of every media
//! step, and the non-blocking hand-over that counts an event it had to drop. The lowest file
//! of `media`: it uses no other.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ivr::dtmf::DtmfSource;

/// What the phone leg tells its call. Everything GStreamer or the network does reaches call
/// logic as one of these plain events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The caller pressed a key.
    Digit { digit: char, source: DtmfSource },
    /// The prompt started with `play` has been sent completely (not sent for a stopped or
    /// replaced prompt).
    PromptDone,
    /// No RTP arrived for the configured timeout (sent once).
    RtpTimeout,
    /// A pipeline reported an error; the call should end.
    Error(String),
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("GStreamer could not be initialised: {0}")]
    Init(String),
    #[error("GStreamer element {element:?} is missing: install the apt package {package}")]
    MissingElement {
        element: &'static str,
        package: &'static str,
    },
    #[error("pipeline {file}: {reason}")]
    Pipeline { file: String, reason: String },
    #[error("prompt file {}: {reason}", path.display())]
    Prompt { path: PathBuf, reason: String },
    #[error("the phone leg needs a tokio runtime (start it from inside one)")]
    NoRuntime,
    #[error("RTP socket: {0}")]
    Socket(#[from] std::io::Error),
}

/// Events (mostly digits) that could not be delivered because the call's event channel was
/// full. Each one is also logged.
pub static DROPPED_EVENTS: AtomicU64 = AtomicU64::new(0);

/// How many events were dropped because an event channel was full (see [`DROPPED_EVENTS`]).
pub fn dropped_events() -> u64 {
    DROPPED_EVENTS.load(Ordering::Relaxed)
}

/// Hands an event to the call without blocking; a full channel counts the event in
/// [`DROPPED_EVENTS`] and logs it, a closed channel (the call is ending) is ignored.
pub(crate) fn send_event(events: &tokio::sync::mpsc::Sender<MediaEvent>, event: MediaEvent) {
    use tokio::sync::mpsc::error::TrySendError;
    match events.try_send(event) {
        Ok(()) => {}
        Err(TrySendError::Full(event)) => {
            DROPPED_EVENTS.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(?event, "media event channel full, event dropped");
        }
        Err(TrySendError::Closed(event)) => {
            tracing::debug!(?event, "media event channel closed, event discarded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_channel_counts_dropped_event() {
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        send_event(&tx, MediaEvent::PromptDone);
        let before = dropped_events();
        send_event(
            &tx,
            MediaEvent::Digit {
                digit: '5',
                source: DtmfSource::Rfc4733,
            },
        );
        assert!(dropped_events() > before);
    }
}
