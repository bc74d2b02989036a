//! What the conference leg's parts share, below all of them: the events it sends its call (and
//! the channel that counts a dropped one), its error type, and the poison-tolerant [`lock`].

use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::media::events::{DROPPED_EVENTS, MediaError};
use crate::sdp_kind::SdpKind;

/// What the conference leg tells its call (to be relayed to signaling, or acted on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConferenceMediaEvent {
    /// Send our offer or answer to `peer`.
    LocalDescription {
        peer: String,
        sdp_type: SdpKind,
        sdp: String,
    },
    /// Send this ICE candidate (`candidate:…`, no `a=`) to `peer`.
    LocalCandidate {
        peer: String,
        sdp_mline_index: u32,
        candidate: String,
    },
    /// All our candidates for `peer` have been sent (for backends that signal the end of
    /// candidates, such as Janus's `{"completed":true}`).
    LocalCandidatesDone { peer: String },
    /// ICE and DTLS are up with `peer` (sent once).
    PeerConnected { peer: String },
    /// `peer` cannot work (negotiation, ICE, DTLS or its elements failed; sent once). The
    /// others are unaffected; remove the peer.
    PeerFailed { peer: String, reason: String },
    /// The shared send side failed: the conference leg is dead.
    Error { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ConferenceLegError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("audio rate {0} Hz is not supported (8000 or 16000)")]
    UnsupportedRate(u32),
    #[error("conference pipeline: {0}")]
    Pipeline(String),
    #[error("no peer {0:?}")]
    UnknownPeer(String),
    #[error("peer {0:?} already exists")]
    DuplicatePeer(String),
    #[error("bad SDP from {peer:?}: {reason}")]
    BadSdp { peer: String, reason: String },
    #[error("unexpected {sdp_type:?} from {peer:?}: {reason}")]
    UnexpectedDescription {
        peer: String,
        sdp_type: SdpKind,
        reason: String,
    },
}

/// The event channel, shared by GStreamer callbacks.
#[derive(Clone)]
pub(crate) struct Events(pub(super) mpsc::Sender<ConferenceMediaEvent>);

impl Events {
    pub(super) fn send(&self, event: ConferenceMediaEvent) {
        use mpsc::error::TrySendError;
        match self.0.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(event)) => {
                DROPPED_EVENTS.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(?event, "conference event channel full, event dropped");
            }
            Err(TrySendError::Closed(_)) => {}
        }
    }
}

/// Locks `mutex`, also after a thread panicked while holding it (the data stays usable).
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
