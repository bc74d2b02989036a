//! What the three DTMF decoders and the merger share: where a digit came from, the decoders'
//! error, and the RFC 4733 event code → digit table (also used for SIP INFO `Signal=` codes).

/// Where a digit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfSource {
    Rfc4733,
    SipInfo,
    Inband,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DtmfError {
    #[error("telephone-event payload is {0} bytes, needs at least 4")]
    ShortPayload(usize),
    #[error("event code {0} is not a DTMF digit")]
    NotADigit(u8),
    #[error("unsupported DTMF content type {0:?}")]
    UnsupportedContentType(String),
    #[error("no DTMF digit in the body")]
    NoDigit,
}

/// The 16 DTMF keys in RFC 4733 event-code order (0-9, *, #, A-D).
pub(super) const EVENT_DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// The key for an RFC 4733 event code, `None` for non-DTMF events (flash, tones, …).
pub(super) fn event_digit(code: u8) -> Option<char> {
    EVENT_DIGITS.get(usize::from(code)).copied()
}
