//! The layer that takes what no dialog or transaction claimed. It runs in ezk's task for the
//! datagram, so nothing here waits on anything but one send: every refusal is answered
//! statelessly (RFC 3261 8.2.7: no transaction that would keep the request and wait 32 s for an
//! ACK), and a new INVITE passes the rate limits, then the [`Gate`], before it is queued for the
//! server as an [`Admitted`] call. Retransmissions of a refused request are refused again.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ezk_sip_core::{Endpoint, IncomingRequest, Layer, MayTake};
use ezk_sip_types::header::typed::MaxForwards;
use ezk_sip_types::{Method, Name, StatusCode};
use tokio::sync::mpsc;

use super::admission::{AdmissionControl, Decision};
use super::early::EarlyInvites;
use super::gate::{Admitted, Gate, Refused};
use super::screen::{check_request, has_sdp_body, unsupported_requirements};
use crate::metrics::{SIP_INVITES_REFUSED, SIP_MALFORMED};

/// What the entry layer needs besides the endpoint.
pub struct EntryOptions {
    pub admission: AdmissionControl,
    pub gate: Gate,
    /// Admitted calls for the server; full → 503.
    pub calls: mpsc::Sender<Admitted>,
    /// Retry-After of a 503 for a full bridge.
    pub retry_after: Duration,
    /// Set once a drain starts: new INVITEs and OPTIONS get 503 with `drain_retry_after`, so
    /// callers' proxies and load balancers (which probe with OPTIONS) go elsewhere.
    pub draining: Arc<AtomicBool>,
    pub drain_retry_after: Duration,
}

pub struct EntryLayer {
    options: EntryOptions,
    early: EarlyInvites,
}

impl EntryLayer {
    pub fn new(options: EntryOptions, early: EarlyInvites) -> Self {
        EntryLayer { options, early }
    }
}

/// How often, and how far apart, an unmatched CANCEL looks again for its INVITE.
const CANCEL_RETRIES: usize = 4;
const CANCEL_RETRY_DELAY: Duration = Duration::from_millis(10);

/// Methods we understand somewhere; anything else is 501.
const KNOWN: [Method; 12] = [
    Method::INVITE,
    Method::ACK,
    Method::BYE,
    Method::CANCEL,
    Method::OPTIONS,
    Method::INFO,
    Method::UPDATE,
    Method::PRACK,
    Method::NOTIFY,
    Method::REGISTER,
    Method::SUBSCRIBE,
    Method::REFER,
];

#[async_trait::async_trait]
impl Layer for EntryLayer {
    fn name(&self) -> &'static str {
        "dialbridge-entry"
    }

    async fn receive(&self, endpoint: &Endpoint, request: MayTake<'_, IncomingRequest>) {
        let method = request.line.method.clone();
        let in_dialog = request.base_headers.to.tag.is_some();
        if method == Method::ACK {
            return; // ACKs need no answer
        }
        if method == Method::CANCEL {
            return self.cancel(endpoint, request).await;
        }
        if let Err(problem) = check_request(
            &request.line,
            &request.base_headers,
            &request.headers,
            &request.body,
        ) {
            SIP_MALFORMED.inc(problem.label());
            crate::warn_limited!(problem.label(), %method, source = %request.tp_info.source, "malformed request: 400 ({})", problem.describe());
            return respond(
                endpoint,
                request.take(),
                StatusCode::BAD_REQUEST,
                Extra::None,
            )
            .await;
        }
        if let Some((code, extra)) = refusal(&request, in_dialog) {
            return respond(endpoint, request.take(), code, extra).await;
        }
        if !in_dialog
            && matches!(method, Method::INVITE | Method::OPTIONS)
            && self.options.draining.load(Ordering::Relaxed)
        {
            if method == Method::INVITE {
                SIP_INVITES_REFUSED.inc("draining");
                crate::metrics::CALLS_REJECTED.inc();
            }
            tracing::debug!(%method, source = %request.tp_info.source, "draining: 503");
            let retry = Extra::RetryAfter(self.options.drain_retry_after);
            let code = StatusCode::SERVICE_UNAVAILABLE;
            return respond(endpoint, request.take(), code, retry).await;
        }
        match method {
            Method::OPTIONS if !in_dialog => {
                let request = request.take();
                let mut response = endpoint.create_response(&request, StatusCode::OK, None);
                for allow in endpoint.allowed() {
                    response.msg.headers.insert_named(allow);
                }
                for supported in endpoint.supported() {
                    response.msg.headers.insert_named(supported);
                }
                response.msg.headers.insert(Name::ACCEPT, "application/sdp");
                send_stateless(endpoint, request, response).await;
            }
            Method::INVITE if !in_dialog => self.invite(endpoint, request.take()).await,
            _ => {} // ezk answers 481 for requests of unknown dialogs
        }
    }
}

impl EntryLayer {
    /// Ours only when it overtook its INVITE; else ezk answers 481. The endpoint handles each
    /// datagram in its own task, so a CANCEL sent right behind its INVITE may even be seen
    /// first: give the INVITE a moment to be queued.
    async fn cancel(&self, endpoint: &Endpoint, request: MayTake<'_, IncomingRequest>) {
        let branch = request.tsx_key.branch().to_string();
        let mut known = self.early.cancel(&branch);
        for _ in 0..CANCEL_RETRIES {
            if known {
                break;
            }
            tokio::time::sleep(CANCEL_RETRY_DELAY).await;
            known = self.early.cancel(&branch);
        }
        if known {
            respond(endpoint, request.take(), StatusCode::OK, Extra::None).await;
        }
    }

    async fn invite(&self, endpoint: &Endpoint, invite: IncomingRequest) {
        let source = invite.tp_info.source;
        let retry = Extra::RetryAfter(self.options.retry_after);
        let ticket = match self.options.admission.admit(source.ip()) {
            Ok(ticket) => ticket,
            Err(Decision::Reject(why, after)) => {
                SIP_INVITES_REFUSED.inc(why.label());
                crate::warn_limited!(why.label(), %source, "INVITE over the limits: 503");
                let code = StatusCode::SERVICE_UNAVAILABLE;
                return respond(endpoint, invite, code, Extra::RetryAfter(after)).await;
            }
            Err(Decision::Drop(why)) => return SIP_INVITES_REFUSED.inc(why.label()),
            Err(Decision::Admit) => unreachable!("admit() returns a ticket for Admit"),
        };
        let branch = invite.tsx_key.branch().to_string();
        self.early.insert(&branch);
        let (invite, code, extra) = match self.options.gate.admit(invite, ticket) {
            Ok(admitted) => match self.options.calls.try_send(admitted) {
                Ok(()) => return,
                Err(e) => {
                    SIP_INVITES_REFUSED.inc("queue_full");
                    crate::warn_limited!("queue_full", %source, "call queue full or closed: 503");
                    (
                        e.into_inner().invite,
                        StatusCode::SERVICE_UNAVAILABLE,
                        retry,
                    )
                }
            },
            Err((invite, Refused::NotAllowed)) => {
                SIP_INVITES_REFUSED.inc("not_allowed");
                crate::warn_limited!("not_allowed", %source, "INVITE from a source outside sip.trunk.allow: 403");
                (invite, StatusCode::FORBIDDEN, Extra::None)
            }
            Err((invite, Refused::Full)) => {
                SIP_INVITES_REFUSED.inc("max_calls");
                crate::warn_limited!("max_calls", %source, "call limit reached: 503");
                (invite, StatusCode::SERVICE_UNAVAILABLE, retry)
            }
            Err((invite, Refused::Challenge(challenge))) => {
                tracing::debug!(%source, "INVITE needs digest authentication: 401");
                let header = Extra::Header(Name::WWW_AUTHENTICATE, challenge);
                (invite, StatusCode::UNAUTHORIZED, header)
            }
        };
        self.early.finish(&branch);
        if code != StatusCode::UNAUTHORIZED {
            crate::metrics::CALLS_REJECTED.inc();
        }
        respond(endpoint, invite, code, extra).await;
    }
}

/// What a refusal carries besides its status.
pub enum Extra {
    None,
    /// Our Allow list (405, 501: RFC 3261 21.4.6, RFC 4475 3.1.1.2).
    Allow,
    RetryAfter(Duration),
    Header(Name, String),
}

/// The answer to a well-formed request we will not take, before any work is spent on it.
fn refusal(request: &IncomingRequest, in_dialog: bool) -> Option<(StatusCode, Extra)> {
    let method = &request.line.method;
    if !KNOWN.contains(method) {
        return Some((StatusCode::NOT_IMPLMENTED, Extra::Allow));
    }
    if let Ok(MaxForwards(0)) = request.headers.get_named::<MaxForwards>()
        && *method != Method::OPTIONS
    {
        return Some((StatusCode::TOO_MANY_HOPS, Extra::None));
    }
    if in_dialog {
        return None; // the dialog's owner answers (ezk says 481 for unknown dialogs)
    }
    if matches!(
        *method,
        Method::REGISTER | Method::SUBSCRIBE | Method::REFER
    ) {
        return Some((StatusCode::METHOD_NOT_ALLOWED, Extra::Allow));
    }
    if matches!(*method, Method::INVITE | Method::OPTIONS) {
        let unsupported = unsupported_requirements(&request.headers);
        if !unsupported.is_empty() {
            let header = Extra::Header(Name::UNSUPPORTED, unsupported.join(", "));
            return Some((StatusCode::BAD_EXTENSION, header));
        }
    }
    if *method == Method::INVITE && !accepts_sdp(request) {
        // Our answer carries SDP (RFC 4475 sdp01: 406).
        return Some((StatusCode::NOT_ACCEPTABLE, Extra::None));
    }
    if *method == Method::INVITE && !request.body.is_empty() && !has_sdp_body(request) {
        // We read only SDP bodies (RFC 3261 21.4.13: 415 with what we accept).
        let accept = Extra::Header(Name::ACCEPT, "application/sdp".into());
        return Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, accept));
    }
    None
}

/// Whether an `Accept` header, if any, lets us answer with SDP.
fn accepts_sdp(request: &IncomingRequest) -> bool {
    let mut accept = request.headers.get_raw(&Name::ACCEPT).peekable();
    if accept.peek().is_none() {
        return true;
    }
    accept.flat_map(|v| v.split(',')).any(|range| {
        let range = range.split(';').next().unwrap_or_default().trim();
        ["application/sdp", "application/*", "*/*"]
            .iter()
            .any(|ok| range.eq_ignore_ascii_case(ok))
    })
}

/// A final response to `request` with a To tag that is the same for every retransmission (a
/// stateless UAS must be able to answer them alike, RFC 3261 8.2.7).
pub fn final_response(
    endpoint: &Endpoint,
    request: &mut IncomingRequest,
    code: StatusCode,
) -> ezk_sip_core::transport::OutgoingResponse {
    if request.base_headers.to.tag.is_none() && code != StatusCode::TRYING {
        let mut h = DefaultHasher::new();
        request.base_headers.call_id.0.as_str().hash(&mut h);
        request.tsx_key.branch().hash(&mut h);
        request.base_headers.to.tag = Some(format!("db{:016x}", h.finish()).into());
    }
    endpoint.create_response(request, code, None)
}

/// Answers `request` with `code` and what `extra` adds, statelessly.
pub async fn respond(
    endpoint: &Endpoint,
    mut request: IncomingRequest,
    code: StatusCode,
    extra: Extra,
) {
    if request.line.method == Method::ACK {
        return;
    }
    let mut response = final_response(endpoint, &mut request, code);
    let headers = &mut response.msg.headers;
    match extra {
        Extra::None => {}
        Extra::Allow => endpoint
            .allowed()
            .iter()
            .for_each(|a| headers.insert_named(a)),
        Extra::RetryAfter(after) => headers.insert(Name::RETRY_AFTER, after.as_secs().to_string()),
        Extra::Header(name, value) => headers.insert(name, value),
    }
    send_stateless(endpoint, request, response).await;
}

/// Sends `response` without a transaction; the request (and ezk's registration of its
/// transaction key) is dropped with it.
async fn send_stateless(
    endpoint: &Endpoint,
    request: IncomingRequest,
    mut response: ezk_sip_core::transport::OutgoingResponse,
) {
    if let Err(e) = endpoint.send_outgoing_response(&mut response).await {
        crate::warn_limited!("send_failed", error = %e, "could not answer {}", request.line.method);
    }
}
