//! The SIP side: the ezk endpoint ([`endpoint`]) and the layer for requests outside a dialog
//! ([`entry`]: stateless refusals, [`admission`] rate limits, then the [`gate`]: trunk access
//! control [`acl`], [`digest`], call cap, routes), registration with a provider ([`register`]),
//! in-dialog extras such as SIP INFO DTMF ([`usage`]), CANCELs that overtake their INVITE
//! ([`early`]), ezk's reports of bad input ([`ezk_log`]), and the pure parts: request checks
//! ([`screen`]), SDP negotiation ([`sdp`]) with SRTP keys by SDES ([`sdes`]) and caller identity ([`identity`]).

pub mod acl;
pub mod admission;
pub mod digest;
pub mod early;
pub mod endpoint;
pub mod entry;
pub mod ezk_log;
pub mod gate;
pub mod identity;
pub mod register;
pub mod screen;
pub mod sdes;
pub mod sdp;
pub mod usage;

use ezk_sip_core::{Endpoint, IncomingRequest};

/// Answers an out-of-dialog request with a final status and nothing else, statelessly (see
/// [`entry`]). Used for every early rejection (403, 488, 503 ...).
pub async fn reject(endpoint: &Endpoint, request: IncomingRequest, code: u16) {
    entry::respond(endpoint, request, code.into(), entry::Extra::None).await
}

/// Like [`reject`], with a `Warning: 399 dialbridge "<text>"` header (RFC 3261 §20.43) that
/// tells the caller's admin why, e.g. that the route requires SRTP.
pub async fn reject_with_warning(
    endpoint: &Endpoint,
    request: IncomingRequest,
    code: u16,
    text: &str,
) {
    let text: String = text.chars().filter(|c| *c != '"' && *c != '\\').collect();
    let warning = entry::Extra::Header(
        ezk_sip_types::Name::custom("Warning", &["warning"]),
        format!("399 dialbridge \"{text}\""),
    );
    entry::respond(endpoint, request, code.into(), warning).await
}
