//! SDP offer/answer for the phone leg (RFC 3264), as pure functions.
//!
//! The SIP layer hands over the INVITE body: [`parse`] reads it (`parse.rs`), [`negotiate`]
//! picks one audio stream and the first codec of the admin's preference list that the caller
//! offers (`negotiate.rs`), and [`answer`] writes the reply (`write.rs`). No sockets and no
//! clock: the caller supplies the local RTP address and the `o=` numbers, so every rule here is
//! tested with plain function calls. Errors map to SIP status codes through
//! [`SdpError::status_code`]. SRTP: an RTP/SAVP stream is taken when the [`SrtpPolicy`](super::sdes::SrtpPolicy) allows
//! it and one of its `a=crypto` lines is usable ([`super::sdes`]); the answer then carries our
//! own key for the same tag and suite. The shared types live in `types.rs`.

mod negotiate;
mod parse;
mod types;
mod write;

pub use negotiate::{negotiate, negotiate_with};
pub use parse::parse;
pub use types::{
    Direction, LocalMedia, MLine, Negotiated, PTIME_MS, SdpError, Security, TELEPHONE_EVENT_PT,
};
pub use write::{answer, offer};

#[cfg(test)]
mod tests;
