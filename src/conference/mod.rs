//! The seam between a call and the conference it joins. A backend looks up rooms, checks PINs,
//! and joins a room as a WebRTC participant.
//!
//! Backends: [`builtin`], a client of dialbridge's own room signaling server, [`janus`], rooms of
//! a Janus server, and [`nextcloud`], Nextcloud Talk rooms; all over `ws://` or `wss://` (`ws.rs`).
//! The built-in backend's shared connection is `builtin.rs`, each call's own room connection
//! `builtin_session.rs`; both use the wire steps in `builtin_wire.rs`.

pub mod builtin;
mod builtin_session;
mod builtin_wire;
pub mod janus;
pub mod nextcloud;
mod ws;

use async_trait::async_trait;

pub use crate::sdp_kind::SdpKind;

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

    /// Joins the room as a participant. The session lives until it is dropped or closed.
    async fn join(&self, request: JoinRequest) -> Result<ConferenceSession, ConferenceError>;
}

/// Who the bridge joins a room as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub room: String,
    pub pin: Option<String>,
    /// Shown to the others, e.g. "Alice (+49 30 ••• 89)".
    pub display_name: String,
    /// The masked caller number, for the phone marking.
    pub caller: Option<String>,
}

/// What the conference tells a joined call. Peer IDs are opaque strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConferenceEvent {
    /// We are in the room; we offer to each of `peers` (PeerConnections, not people: a Janus
    /// room has one for our publisher). `others` is how many people were already there.
    Joined {
        peers: Vec<String>,
        others: usize,
    },
    /// A new peer; it will send us its offer.
    PeerJoined {
        peer: String,
    },
    PeerLeft {
        peer: String,
    },
    Description {
        peer: String,
        kind: SdpKind,
        sdp: String,
    },
    Candidate {
        peer: String,
        sdp_mline_index: u32,
        candidate: String,
    },
    /// A host muted us.
    MutedByHost,
    /// A host removed us from the room.
    Kicked,
    /// The room or its server went away; `ended` when it closed in order (the conference is
    /// over), otherwise the connection broke.
    Closed {
        ended: bool,
        reason: String,
    },
}

/// What a call asks of the conference after joining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConferenceCommand {
    Description {
        peer: String,
        kind: SdpKind,
        sdp: String,
    },
    Candidate {
        peer: String,
        sdp_mline_index: u32,
        candidate: String,
    },
    /// All our ICE candidates for `peer` have been sent (Janus wants `{"completed":true}`).
    CandidatesDone {
        peer: String,
    },
    SetMuted(bool),
    /// The caller started or stopped talking (Nextcloud Talk shows it; others ignore it).
    SetTalking(bool),
}

/// A joined room: commands in, events out. Dropping it leaves the room.
pub struct ConferenceSession {
    pub commands: tokio::sync::mpsc::Sender<ConferenceCommand>,
    pub events: tokio::sync::mpsc::Receiver<ConferenceEvent>,
    /// Our own peer ID, when the backend's IDs are unique within this process (the built-in
    /// server's): other calls of this process in the room find us by it and link in-process.
    pub local_id: Option<String>,
}
