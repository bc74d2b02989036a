//! The call actor: the ONE task that owns a call. It answers (or refuses) the INVITE, starts the
//! phone leg, then runs the call loop (`active.rs`): wait for a SIP, media, DTMF, timer or
//! conference event → feed the machine → carry out its actions. Whatever ends the call, the same
//! cleanup runs (media stopped, metrics and the call slot released, the call record written).

use super::active::{ActiveCall, set_sdp_body};
use super::context::CallContext;
use super::machine::CallMachine;
use super::ports;
use crate::cdr::{CallRecord, CallRecorder, EndReason};
use crate::config::LockedCall;
use crate::media::MediaEvent;
use crate::media::phone_leg::{PhoneLeg, PhoneLegConfig};
use crate::media::prompts::PromptSet;
use crate::metrics;
use crate::sip::gate::Admitted;
use crate::sip::identity::caller_id;
use crate::sip::screen::has_sdp_body;
use crate::sip::sdes::{LocalKeyMaterial, SrtpPolicy};
use crate::sip::sdp::{self, LocalMedia, Negotiated, Security};
use crate::sip::usage::CallUsage;
use ezk_sip_core::{Endpoint, IncomingRequest};
use ezk_sip_types::{Name, StatusCode};
use ezk_sip_ua::dialog::Dialog;
use ezk_sip_ua::invite::acceptor::InviteAcceptor;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// Media events per call in flight; the phone leg counts digits it cannot queue.
const MEDIA_EVENT_CAPACITY: usize = 64;
/// SIP INFO digits in flight; more are counted as dropped.
const INFO_DIGIT_CAPACITY: usize = 32;

/// Runs one call to its end. Never panics on peer input; every exit path releases the call
/// (the slot, the source ticket, the gauge and the early-CANCEL entry are drop guards, so even
/// a panic gives them back).
pub async fn run(ctx: Arc<CallContext>, request: Admitted, shutdown: watch::Receiver<bool>) {
    let call_id = request.invite.base_headers.call_id.0.to_string();
    let branch = request.invite.tsx_key.branch().to_string();
    let early = ctx.early.clone();
    let span = tracing::info_span!("call", call_id = %call_id);
    let Admitted {
        invite,
        direct_room,
        called,
        route,
        language,
        srtp,
        permit,
        ticket,
    } = request;
    let _held = (permit, ticket);
    metrics::CALLS_ACTIVE.inc();
    let _active = scopeguard(|| metrics::CALLS_ACTIVE.dec());
    // Forgets the INVITE if it was rejected before its acceptor existed.
    let _early = scopeguard(move || {
        early.finish(&branch);
    });
    // Written when this task ends, whichever way (the recorder's drop covers a panic).
    let record = CallRecord::new(call_id, called, route, ctx.backend_name);
    let mut recorder = CallRecorder::new(record, ctx.cdr.clone());
    let result = tracing::Instrument::instrument(
        answer_and_run(
            ctx,
            invite,
            direct_room,
            &language,
            srtp,
            shutdown,
            &mut recorder.record,
        ),
        span.clone(),
    )
    .await;
    let _enter = span.enter();
    match result {
        Ok((kind, reason)) => {
            tracing::info!(%reason, "call ended");
            recorder.end(kind, reason);
        }
        // Refused offers come from the network at the admitted rate: rate-limited.
        Err(e @ CallError::Rejected(..)) => {
            crate::warn_limited!("call_rejected", error = %e, "call refused");
            if let CallError::Rejected(code, _) = &e {
                recorder.record.sip_status = Some(*code);
            }
            recorder.end(EndReason::Rejected, e.to_string());
        }
        Err(e) => {
            tracing::warn!(error = %e, "call failed");
            let kind = match e {
                CallError::Media(_) => EndReason::MediaError,
                _ => EndReason::SipError,
            };
            recorder.end(kind, e.to_string());
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("rejected with {0}: {1}")]
    Rejected(u16, String),
    #[error("SIP: {0}")]
    Sip(String),
    #[error("media: {0}")]
    Media(String),
}

/// Minimal drop guard so the active-call gauge is right on every path, panics included.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f()
            }
        }
    }
    Guard(Some(f))
}

async fn answer_and_run(
    ctx: Arc<CallContext>,
    invite: IncomingRequest,
    direct_room: Option<String>,
    language: &str,
    srtp_policy: SrtpPolicy,
    shutdown: watch::Receiver<bool>,
    record: &mut CallRecord,
) -> Result<(EndReason, String), CallError> {
    let endpoint = ctx.endpoint.clone();
    let from = header_text(&invite, &Name::FROM).unwrap_or_default();
    // With `Privacy: id` the asserted identity is for the network, not for display.
    let private = header_text(&invite, &Name::custom("Privacy", &["privacy"]))
        .is_some_and(|p| p.to_ascii_lowercase().split(';').any(|v| v.trim() == "id"));
    let asserted = header_text(
        &invite,
        &Name::custom("P-Asserted-Identity", &["p-asserted-identity"]),
    );
    let pai = asserted.clone().filter(|_| !private);
    let caller = caller_id(&from, pai.as_deref());
    // Guesses count against the asserted number even when it is withheld: it is never shown.
    let counted = caller_id(&from, asserted.as_deref()).number;
    let shown = caller.display(ctx.mask_caller_id, ctx.caller_id_visible_tail);
    record.caller = caller.number.as_ref().map(|n| match ctx.mask_caller_id {
        true => crate::sip::identity::mask_number(n, ctx.caller_id_visible_tail),
        false => n.clone(),
    });
    tracing::info!(caller = %shown, source = %invite.tp_info.source, "incoming call");
    let has_sdp = has_sdp_body(&invite);
    let local_keys = match LocalKeyMaterial::random() {
        Ok(keys) => keys,
        Err(e) => return reject(&endpoint, invite, 500, e.to_string()).await,
    };
    let security = Security {
        policy: srtp_policy,
        local_keys: &local_keys,
    };
    let negotiated = if has_sdp {
        match sdp::parse(&invite.body)
            .and_then(|offer| sdp::negotiate_with(&offer, &ctx.media.codecs, security))
        {
            Ok(n) => Some(n),
            Err(e) => return refuse_offer(&endpoint, invite, e).await,
        }
    } else if srtp_policy == SrtpPolicy::Required {
        // Our own offer would be plain RTP: SRTP-only routes need the caller's offer.
        return refuse_offer(&endpoint, invite, sdp::SdpError::SrtpRequired).await;
    } else {
        None
    };
    let Some(prompts) = ctx.prompts.get(language).cloned() else {
        return reject(
            &endpoint,
            invite,
            500,
            format!("no prompts for language {language:?}"),
        )
        .await;
    };

    let source = invite.tp_info.source;
    let guard = ctx.guessing.guard(counted.as_deref(), source.ip());
    let locked_out = guard.locked(Instant::now());
    if let Some(remaining) = locked_out {
        tracing::info!(
            caller = %shown,
            lockout_s = remaining.as_secs(),
            "caller is locked out for guessing"
        );
        if guard.locked_call() == LockedCall::Reject {
            return reject(&endpoint, invite, 403, "locked out for guessing".into()).await;
        }
    }
    let socket = match ports::bind_rtp(ctx.media.rtp_bind, ctx.media.port_min, ctx.media.port_max) {
        Ok(s) => s,
        Err(e) => return reject(&endpoint, invite, 503, e.to_string()).await,
    };
    let local_rtp = socket
        .local_addr()
        .map_err(|e| CallError::Media(e.to_string()))?;
    let sdp_ip = ctx
        .media
        .sdp_ip
        .unwrap_or_else(|| route_ip(local_rtp.ip(), source));
    let mut local = LocalMedia {
        ip: sdp_ip,
        port: local_rtp.port(),
        session_id: rand::random::<u32>() as u64,
        session_version: 1,
    };

    let dialog = match Dialog::new_server(
        endpoint.clone(),
        &invite,
        ctx.contacts
            .for_request(&invite.tp_info.transport, &invite.line.uri)
            .clone(),
    ) {
        Ok(d) => d,
        Err(e) => return reject(&endpoint, invite, 400, e.to_string()).await,
    };
    let (info_tx, mut info_rx) = mpsc::channel(INFO_DIGIT_CAPACITY);
    let _usage = dialog.register_usage(CallUsage { digits: info_tx });
    let branch = invite.tsx_key.branch().to_string();
    let mut acceptor = InviteAcceptor::new(dialog, invite);
    if ctx.early.finish(&branch) {
        // The CANCEL overtook us and was answered 200 by the entry layer.
        if let Ok(response) = acceptor
            .create_response(StatusCode::REQUEST_TERMINATED, None)
            .await
        {
            let _ = acceptor.respond_failure(response).await;
        }
        return Ok((EndReason::Cancelled, "cancelled before answer".into()));
    }
    acceptor.timer_config().interval_secs = ctx.session_expires_s;
    if let Ok(trying) = acceptor.create_response(StatusCode::TRYING, None).await {
        let _ = acceptor.respond_provisional(trying).await;
    }

    let (media_tx, mut media_rx) = mpsc::channel(MEDIA_EVENT_CAPACITY);
    let body = match &negotiated {
        Some(n) => sdp::answer(n, &local),
        None => sdp::offer(&ctx.media.codecs, &local),
    };
    let mut response = acceptor
        .create_response(StatusCode::OK, None)
        .await
        .map_err(|e| CallError::Sip(e.to_string()))?;
    set_sdp_body(&mut response, body);

    // Start media before the 200 OK so the first prompt packet follows the ACK at once. The
    // socket is moved into the leg only after we know the codec (late offer: from the ACK).
    let (mut session, ack) = match acceptor.respond_success(response).await {
        Ok(pair) => pair,
        Err(e) => return Err(CallError::Sip(format!("caller went away before ACK: {e}"))),
    };
    metrics::CALLS_TOTAL.inc();
    record.answer_time = Some(crate::cdr::rfc3339(std::time::SystemTime::now()));
    let negotiated = match negotiated {
        Some(n) => n,
        None => match sdp::parse(&ack.body).and_then(|a| sdp::negotiate(&a, &ctx.media.codecs)) {
            Ok(n) => n,
            Err(e) => {
                let _ = session.terminate().await;
                return Err(CallError::Rejected(
                    e.status_code(),
                    format!("SDP in ACK: {e}"),
                ));
            }
        },
    };
    let media = if negotiated.srtp.is_some() {
        "srtp"
    } else {
        "rtp"
    };
    metrics::CALLS_MEDIA.inc(media);
    record.codec = Some(negotiated.codec.to_string());
    record.srtp = negotiated.srtp.is_some();
    let suite = negotiated.srtp.as_ref().map(|s| s.suite.name());
    tracing::info!(codec = %negotiated.codec, remote = ?negotiated.remote_rtp, media, suite, "call answered");

    let mut leg = start_leg(&ctx, socket, &negotiated, prompts, media_tx)?;
    // Plain RTP only: SRTCP reports would need the SRTP keys to read.
    if negotiated.srtp.is_none()
        && let Some(rtcp) = ports::bind_rtcp(local_rtp)
        && let Err(e) = leg.listen_rtcp(rtcp)
    {
        tracing::debug!(error = %e, "not reading RTCP");
    }
    let mut call = ActiveCall {
        ctx: ctx.clone(),
        leg,
        negotiated,
        local: &mut local,
        machine: match locked_out {
            Some(_) => CallMachine::locked_out(ctx.ivr.clone(), Instant::now()),
            None => CallMachine::new(ctx.ivr.clone(), direct_room, Instant::now()),
        },
        guard,
        security,
        pending: None,
        room: None,
        shown: shown.clone(),
        caller_number: caller
            .number
            .as_ref()
            .map(|n| crate::sip::identity::mask_number(n, ctx.caller_id_visible_tail)),
        record,
    };
    let reason = call
        .run(&mut session, &mut media_rx, &mut info_rx, shutdown)
        .await;
    super::record::phone_side(&call.leg, call.negotiated.codec, call.record);
    if let Some(room) = call.room.take() {
        super::record::room_side(&room, &mut call.record.quality).await;
        room.stop(&call.leg);
    }
    call.leg.stop();
    Ok(reason)
}

fn start_leg(
    ctx: &CallContext,
    socket: UdpSocket,
    n: &Negotiated,
    prompts: Arc<PromptSet>,
    events: mpsc::Sender<MediaEvent>,
) -> Result<PhoneLeg, CallError> {
    let config = PhoneLegConfig {
        codec: n.codec,
        payload_type: n.payload_type,
        telephone_event_pt: n.telephone_event_pt,
        remote: n.remote_rtp,
        jitter_buffer_ms: ctx.media.jitter_buffer_ms,
        rtp_timeout: ctx.media.rtp_timeout,
        inband_dtmf: ctx.media.inband_dtmf,
        srtp: n.srtp.clone(),
    };
    PhoneLeg::start(socket, config, prompts, events).map_err(|e| CallError::Media(e.to_string()))
}

/// Refuses an offer we cannot answer, with a `Warning` that names the reason when it is about
/// SRTP (so the caller's admin sees why, not just 488).
async fn refuse_offer<T>(
    endpoint: &Endpoint,
    invite: IncomingRequest,
    e: sdp::SdpError,
) -> Result<T, CallError> {
    let code = e.status_code();
    match e.warning() {
        Some(text) => {
            metrics::CALLS_REJECTED.inc();
            crate::sip::reject_with_warning(endpoint, invite, code, text).await;
            Err(CallError::Rejected(code, e.to_string()))
        }
        None => reject(endpoint, invite, code, e.to_string()).await,
    }
}

async fn reject<T>(
    endpoint: &Endpoint,
    invite: IncomingRequest,
    code: u16,
    why: String,
) -> Result<T, CallError> {
    metrics::CALLS_REJECTED.inc();
    crate::sip::reject(endpoint, invite, code).await;
    Err(CallError::Rejected(code, why))
}

fn header_text(request: &IncomingRequest, name: &Name) -> Option<String> {
    request.headers.get_raw(name).next().map(|v| v.to_string())
}

/// The local IP to advertise when bound to the unspecified address: the one the kernel would
/// use to reach the caller (a connected UDP socket sends nothing).
fn route_ip(bound: IpAddr, peer: SocketAddr) -> IpAddr {
    if !bound.is_unspecified() {
        return bound;
    }
    let any: SocketAddr = if peer.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .expect("literal socket address");
    UdpSocket::bind(any)
        .and_then(|s| s.connect(peer).and_then(|_| s.local_addr()))
        .map(|a| a.ip())
        .unwrap_or(bound)
}
