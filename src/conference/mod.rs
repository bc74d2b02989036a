//! The seam between a call and the conference it joins. A backend looks up rooms, checks PINs,
//! and (from the conference-leg issue on) joins a room as a WebRTC participant.
//!
//! Backends: [`builtin`], a client of dialbridge's own room signaling server.

pub mod builtin;

use async_trait::async_trait;

/// What a room lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomLookup {
    /// The room exists; `pin_required` says whether the IVR must ask for a PIN.
    Found { pin_required: bool },
    /// No room with this ID.
    NotFound,
}

#[derive(Debug, thiserror::Error)]
pub enum ConferenceError {
    /// The conference server could not be reached or stopped answering.
    #[error("conference server unreachable: {0}")]
    Unreachable(String),
    /// The server answered something we do not understand.
    #[error("conference server protocol error: {0}")]
    Protocol(String),
}

/// A conference system dialbridge can put callers into.
#[async_trait]
pub trait ConferenceBackend: Send + Sync + 'static {
    /// Does the room exist, and does it need a PIN?
    async fn lookup_room(&self, room: &str) -> Result<RoomLookup, ConferenceError>;

    /// Is `pin` the PIN of `room`? A room without PIN accepts any PIN.
    async fn check_pin(&self, room: &str, pin: &str) -> Result<bool, ConferenceError>;
}
