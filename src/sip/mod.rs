//! The SIP side: the ezk endpoint and its request layer ([`endpoint`]), registration with a
//! provider ([`register`]), trunk access control ([`acl`], [`digest`]), in-dialog extras such as
//! SIP INFO DTMF ([`usage`]), CANCELs that overtake their INVITE ([`early`]), and the pure parts: SDP negotiation ([`sdp`]) and caller identity
//! ([`identity`]).

pub mod acl;
pub mod digest;
pub mod early;
pub mod endpoint;
pub mod identity;
pub mod register;
pub mod sdp;
pub mod usage;

use ezk_sip_core::{Endpoint, IncomingRequest};
use ezk_sip_types::{Method, StatusCode};

/// Answers an out-of-dialog request with a final status and nothing else. Used for every early
/// rejection (403, 488, 503 ...). Errors are logged: there is nobody else to tell.
pub async fn reject(endpoint: &Endpoint, mut request: IncomingRequest, code: u16) {
    if request.line.method == Method::ACK {
        return;
    }
    let response = endpoint.create_response(&request, StatusCode::from(code), None);
    let result = if request.line.method == Method::INVITE {
        endpoint
            .create_server_inv_tsx(&mut request)
            .respond_failure(response)
            .await
    } else {
        endpoint
            .create_server_tsx(&mut request)
            .respond(response)
            .await
    };
    if let Err(e) = result {
        tracing::warn!(code, error = %e, "could not send SIP rejection");
    }
}
