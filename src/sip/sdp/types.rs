//! The types the SDP steps share (errors, directions, the negotiated result, our local media)
//! and the constants of what we offer; below `parse.rs`, `negotiate.rs` and `write.rs`.

use std::net::{IpAddr, SocketAddr};

use crate::media::codec::Codec;
use crate::sip::sdes::{LocalKeyMaterial, SdesError, SrtpAgreement, SrtpPolicy};

/// Payload type we use for telephone-event when we write the offer ourselves.
pub const TELEPHONE_EVENT_PT: u8 = 101;
/// Packet duration we ask the caller to send, in milliseconds; also the default we send.
pub const PTIME_MS: u32 = 20;
/// The RFC 4733 events we understand: digits, `*`, `#` and A–D.
pub(super) const TELEPHONE_EVENTS: &str = "0-15";

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("malformed SDP: {0}")]
    Parse(String),
    #[error("the offer has no active audio stream")]
    NoAudio,
    #[error("audio is offered only over {0}, which this route does not accept")]
    UnsupportedTransport(String),
    #[error("SRTP required: the offer has only plain RTP/AVP audio")]
    SrtpRequired,
    #[error("no usable SRTP crypto line: {0}")]
    NoUsableCrypto(SdesError),
    #[error("the audio connection address {0:?} is a host name, not an IP address")]
    HostnameAddress(String),
    #[error("no codec in common with the offer")]
    NoCommonCodec,
}

impl SdpError {
    /// The SIP response for this error: 400 Bad Request for broken SDP, else 488 Not
    /// Acceptable Here (well-formed, but nothing we can use).
    pub fn status_code(&self) -> u16 {
        match self {
            SdpError::Parse(_) => 400,
            _ => 488,
        }
    }

    /// Text for a `Warning` header when the refusal is about media security (the caller's
    /// admin must learn that SRTP is the reason); `None` for other refusals.
    pub fn warning(&self) -> Option<&'static str> {
        match self {
            SdpError::SrtpRequired => Some("SRTP required"),
            SdpError::NoUsableCrypto(_) => Some("no supported SRTP crypto suite"),
            SdpError::UnsupportedTransport(_) => Some("SRTP is not accepted here"),
            _ => None,
        }
    }
}

/// How SRTP is handled for one call: the route's policy and our key material (kept for the
/// whole dialog, so re-INVITE answers repeat our key).
#[derive(Debug, Clone, Copy)]
pub struct Security<'a> {
    pub policy: SrtpPolicy,
    pub local_keys: &'a LocalKeyMaterial,
}

/// The name `a=crypto` lines get before the SDP crate sees them: its own crypto parser panics
/// on the common lifetime `|2^48` (`2u32.pow(48)` overflows) and fails the whole SDP on one
/// line it cannot read, so [`crate::sip::sdes`] reads them instead.
pub(super) const CRYPTO_ATTRIBUTE: &str = "x-dialbridge-crypto";

/// A media direction, always seen from dialbridge's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub(super) fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether we send RTP to the caller.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether we expect RTP from the caller.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The SDP attribute name (`sendrecv`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

/// One m-line of the offer, kept so the answer has the same lines in the same order (RFC 3264
/// §6 forbids dropping lines; unwanted ones are answered with port 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MLine {
    /// The audio stream we accepted.
    Audio,
    /// A refused stream: the answer's `m=` value, already with port 0 (`video 0 RTP/AVP 96`).
    Rejected(String),
}

/// The outcome of negotiating one offer: everything the phone leg needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: Codec,
    /// The offer's payload type for `codec`; the answer and our RTP use the same number.
    pub payload_type: u8,
    /// RFC 4733 DTMF payload type, when the caller offered telephone-event/8000.
    pub telephone_event_pt: Option<u8>,
    /// Where to send RTP; `None` when the caller is on hold with c=0.0.0.0 (or `::`).
    pub remote_rtp: Option<SocketAddr>,
    /// OUR direction after answering (the offer's `sendonly` makes us `recvonly`, …).
    pub direction: Direction,
    /// Packet duration the caller wants to receive (its `a=ptime`), in ms; 20 when absent.
    pub ptime_ms: u32,
    /// The offer's m-lines in order. Empty: the answer has just the audio line.
    pub m_lines: Vec<MLine>,
    /// SRTP keys when the audio stream is RTP/SAVP; `None`: plain RTP.
    pub srtp: Option<SrtpAgreement>,
}

/// Our end of the audio stream, chosen by the caller of [`super::answer`] / [`super::offer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address written into `o=` and `c=`.
    pub ip: IpAddr,
    /// Local RTP port.
    pub port: u16,
    /// `o=` session id; stays the same for the whole dialog.
    pub session_id: u64,
    /// `o=` version; must grow with every new SDP we send in the dialog (RFC 3264 §8).
    pub session_version: u64,
}
