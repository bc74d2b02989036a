//! [`SdpKind`]: whether a session description is an offer or an answer (RFC 3264). Conference
//! signaling carries it and the WebRTC conference leg acts on it, so it sits below both;
//! depends on nothing else in the crate.

/// The kind of a session description (the two a mesh participant exchanges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpKind {
    Offer,
    Answer,
}
