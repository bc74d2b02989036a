//! The call actor: the ONE task that owns a call. It answers the INVITE, starts the phone leg,
//! then loops: wait for a SIP, media, DTMF, timer or conference event → feed the machine →
//! carry out its actions. Whatever ends the call, the same cleanup runs (media stopped, metrics
//! and the call slot released).

use super::backend::{self, BackendFuture, BackendReply, poll_pending};
use super::guard::{CallGuard, SipGuessing};
use super::machine::{CallAction, CallInput, CallMachine};
use super::ports;
use super::room::RoomLink;
use crate::conference::{ConferenceBackend, ConferenceError, ConferenceSession, JoinRequest};
use crate::config::LockedCall;
use crate::ivr::dtmf::DtmfSource;
use crate::ivr::machine::IvrConfig;
use crate::media::MediaEvent;
use crate::media::codec::Codec;
use crate::media::phone_leg::{PhoneLeg, PhoneLegConfig};
use crate::media::prompts::PromptSet;
use crate::metrics;
use crate::sip::endpoint::Contacts;
use crate::sip::gate::Admitted;
use crate::sip::identity::caller_id;
use crate::sip::screen::has_sdp_body;
use crate::sip::sdes::{LocalKeyMaterial, SrtpPolicy};
use crate::sip::sdp::{self, Direction, LocalMedia, Negotiated, Security};
use crate::sip::usage::CallUsage;
use ezk_sip_core::{Endpoint, IncomingRequest};
use ezk_sip_types::header::typed::ContentType;
use ezk_sip_types::{Name, StatusCode};
use ezk_sip_ua::dialog::Dialog;
use ezk_sip_ua::invite::acceptor::InviteAcceptor;
use ezk_sip_ua::invite::session::{InviteSession, InviteSessionEvent, ReInviteReceived};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Media events per call in flight; the phone leg counts digits it cannot queue.
const MEDIA_EVENT_CAPACITY: usize = 64;
/// SIP INFO digits in flight; more are counted as dropped.
const INFO_DIGIT_CAPACITY: usize = 32;

/// Media settings shared by all calls.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub rtp_bind: IpAddr,
    /// IP for SDP `c=`; `None`: the local IP that routes to the caller.
    pub sdp_ip: Option<IpAddr>,
    pub port_min: u16,
    pub port_max: u16,
    pub codecs: Vec<Codec>,
    pub jitter_buffer_ms: u32,
    pub rtp_timeout: Option<Duration>,
    pub inband_dtmf: bool,
    /// webrtcbin jitter buffer latency on the conference side, in ms.
    pub conference_jitter_ms: u32,
}

/// Everything a call needs that outlives it.
pub struct CallContext {
    pub endpoint: Endpoint,
    pub contacts: Contacts,
    pub media: MediaSettings,
    pub ivr: IvrConfig,
    /// Prompt sets by language.
    pub prompts: HashMap<String, Arc<PromptSet>>,
    pub backend: Arc<dyn ConferenceBackend>,
    /// INVITEs not yet owned by an acceptor (CANCELs that overtake them).
    pub early: crate::sip::early::EarlyInvites,
    pub session_expires_s: u32,
    pub mask_caller_id: bool,
    pub caller_id_visible_tail: usize,
    /// The room-ID and PIN guessing limit, shared by all calls.
    pub guessing: Arc<SipGuessing>,
}

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
    let result = tracing::Instrument::instrument(
        answer_and_run(ctx, invite, direct_room, &language, srtp, shutdown),
        span.clone(),
    )
    .await;
    let _enter = span.enter();
    match result {
        Ok(reason) => tracing::info!(%reason, "call ended"),
        // Refused offers come from the network at the admitted rate: rate-limited.
        Err(e @ CallError::Rejected(..)) => {
            crate::warn_limited!("call_rejected", error = %e, "call refused")
        }
        Err(e) => tracing::warn!(error = %e, "call failed"),
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
) -> Result<String, CallError> {
    let endpoint = ctx.endpoint.clone();
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
    tracing::info!(caller = %shown, source = %invite.tp_info.source, "incoming call");

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
        return Ok("cancelled before answer".into());
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
    response
        .msg
        .headers
        .insert_named(&ContentType(bytesstr::BytesStr::from_static(
            "application/sdp",
        )));
    response.msg.body = body.into();

    // Start media before the 200 OK so the first prompt packet follows the ACK at once. The
    // socket is moved into the leg only after we know the codec (late offer: from the ACK).
    let (mut session, ack) = match acceptor.respond_success(response).await {
        Ok(pair) => pair,
        Err(e) => return Err(CallError::Sip(format!("caller went away before ACK: {e}"))),
    };
    metrics::CALLS_TOTAL.inc();
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
    let suite = negotiated.srtp.as_ref().map(|s| s.suite.name());
    tracing::info!(codec = %negotiated.codec, remote = ?negotiated.remote_rtp, media, suite, "call answered");

    let leg = start_leg(&ctx, socket, &negotiated, prompts, media_tx)?;
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
    };
    let reason = call
        .run(&mut session, &mut media_rx, &mut info_rx, shutdown)
        .await;
    if let Some(room) = call.room.take() {
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

struct ActiveCall<'a> {
    ctx: Arc<CallContext>,
    leg: PhoneLeg,
    negotiated: Negotiated,
    local: &'a mut LocalMedia,
    /// The route's SRTP policy and our key, for re-INVITEs.
    security: Security<'a>,
    machine: CallMachine,
    /// The one room lookup, PIN check or join in flight.
    pending: Option<BackendFuture>,
    /// The room, once joined.
    room: Option<RoomLink>,
    /// How the caller is shown to the room.
    shown: String,
    /// The masked number for the phone marking.
    caller_number: Option<String>,
    guard: CallGuard,
}

impl ActiveCall<'_> {
    /// The select loop. Returns why the call ended.
    async fn run(
        &mut self,
        session: &mut InviteSession,
        media_rx: &mut mpsc::Receiver<MediaEvent>,
        info_rx: &mut mpsc::Receiver<char>,
        mut shutdown: watch::Receiver<bool>,
    ) -> String {
        loop {
            if let Some(reason) = self.apply_actions(session).await {
                return reason;
            }
            let deadline = self.machine.poll_timeout();
            tokio::select! {
                event = session.run() => match event {
                    Ok(InviteSessionEvent::Bye(bye)) => {
                        let _ = session.handle_bye(bye).await;
                        return "caller hung up".into();
                    }
                    Ok(InviteSessionEvent::Terminated) => return "session terminated".into(),
                    Ok(InviteSessionEvent::ReInviteReceived(reinvite)) => self.handle_reinvite(session, reinvite).await,
                    Ok(InviteSessionEvent::RefreshNeeded) => {
                        if let Err(e) = session.refresh().await {
                            tracing::warn!(error = %e, "session refresh failed, ending call");
                            let _ = session.terminate().await;
                            return "session refresh failed".into();
                        }
                    }
                    Ok(InviteSessionEvent::Notify(_)) => {}
                    Err(e) => return format!("SIP session error: {e}"),
                },
                Some(event) = media_rx.recv() => match event {
                    MediaEvent::Digit { digit, source } => self.input(CallInput::Digit { digit, source }),
                    MediaEvent::PromptDone => self.input(CallInput::PromptDone),
                    MediaEvent::RtpTimeout => self.input(CallInput::RtpTimeout),
                    MediaEvent::Error(e) => {
                        tracing::error!(error = %e, "media failed, ending call");
                        let _ = session.terminate().await;
                        return format!("media error: {e}");
                    }
                },
                Some(digit) = info_rx.recv() => {
                    self.input(CallInput::Digit { digit, source: DtmfSource::SipInfo })
                }
                reply = poll_pending(&mut self.pending) => {
                    self.pending = None;
                    match reply {
                        BackendReply::Input(input) => {
                            let input = self.guard.screen(&self.machine, input, Instant::now());
                            self.input(input)
                        }
                        BackendReply::Joined(joined) => self.joined(joined),
                    }
                }
                event = next_room_event(&mut self.room) => {
                    let room = self.room.as_mut().expect("room events only come from a joined room");
                    if let Some(input) = room.handle(event).await {
                        self.input(input);
                    }
                }
                _ = sleep_until(deadline) => self.machine.handle_timeout(Instant::now()),
                _ = crate::shutdown::stopped(&mut shutdown) => {
                    let _ = session.terminate().await;
                    return "dialbridge is shutting down".into();
                }
            }
        }
    }

    fn input(&mut self, input: CallInput) {
        tracing::debug!(?input, "call input");
        self.machine.handle(input, Instant::now());
    }

    fn joined(&mut self, joined: Result<ConferenceSession, ConferenceError>) {
        let session = match joined {
            Ok(session) => session,
            Err(e) => {
                tracing::warn!(error = %e, "joining the conference failed");
                return self.input(CallInput::ConferenceFailed);
            }
        };
        let rate = self.negotiated.codec.audio_rate();
        match RoomLink::start(
            session,
            &self.leg,
            rate,
            self.ctx.media.conference_jitter_ms,
        ) {
            Ok(room) => {
                tracing::info!("joined the conference");
                self.room = Some(room);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot start the conference media");
                self.input(CallInput::ConferenceFailed);
            }
        }
    }

    /// Carries out the machine's actions; `Some(reason)` when the call is over.
    async fn apply_actions(&mut self, session: &mut InviteSession) -> Option<String> {
        while let Some(action) = self.machine.poll_action() {
            tracing::debug!(?action, "call action");
            match action {
                CallAction::Play(prompt) => self.leg.play(prompt),
                CallAction::StopPrompt => self.leg.stop_prompt(),
                CallAction::LookupRoom { .. } | CallAction::CheckPin { .. }
                    if self.guard.locked(Instant::now()).is_some() =>
                {
                    // Locked out meanwhile by this caller's other calls: no further guess.
                    self.machine.handle(CallInput::LockedOut, Instant::now());
                }
                CallAction::LookupRoom { room } => {
                    self.pending = Some(backend::lookup(self.ctx.backend.clone(), room))
                }
                CallAction::CheckPin { room, pin } => {
                    self.pending = Some(backend::check_pin(self.ctx.backend.clone(), room, pin))
                }
                CallAction::Join { room, pin } => {
                    metrics::CALLS_JOINED.inc();
                    tracing::info!(%room, "caller entered a valid room");
                    let request = JoinRequest {
                        room,
                        pin,
                        display_name: self.shown.clone(),
                        caller: self.caller_number.clone(),
                    };
                    self.pending = Some(backend::join(self.ctx.backend.clone(), request));
                }
                CallAction::SetMuted(muted) => {
                    if let Some(room) = self.room.as_mut()
                        && let Some(input) = room.set_muted(muted).await
                    {
                        self.machine.handle(input, Instant::now());
                    }
                }
                CallAction::Hangup { reason } => {
                    if let Err(e) = session.terminate().await {
                        tracing::debug!(error = %e, "BYE was not answered");
                    }
                    return Some(reason.to_string());
                }
            }
        }
        None
    }

    /// A re-INVITE may bring new keys but may not switch between SRTP and plain RTP: the leg
    /// was built for one of them (and `off`/`required` policies already decide the rest).
    fn same_security(&self, n: Negotiated) -> Result<Negotiated, sdp::SdpError> {
        match (&self.negotiated.srtp, &n.srtp) {
            (Some(_), None) => Err(sdp::SdpError::SrtpRequired),
            (None, Some(_)) => Err(sdp::SdpError::UnsupportedTransport("RTP/SAVP".into())),
            _ => Ok(n),
        }
    }

    /// Hold/unhold and address changes. The codec stays: we answer only with the one in use.
    async fn handle_reinvite(&mut self, session: &mut InviteSession, reinvite: ReInviteReceived) {
        let offer = if has_sdp_body(&reinvite.invite) {
            match sdp::parse(&reinvite.invite.body)
                .and_then(|o| sdp::negotiate_with(&o, &[self.negotiated.codec], self.security))
                .and_then(|n| self.same_security(n))
            {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::info!(error = %e, "re-INVITE refused");
                    let code = StatusCode::from(e.status_code());
                    if let Ok(response) =
                        session.dialog.create_response(&reinvite.invite, code, None)
                    {
                        let _ = reinvite.transaction.respond_failure(response).await;
                    }
                    return;
                }
            }
        } else {
            None
        };
        if let Some(n) = offer {
            let hold = matches!(n.direction, Direction::RecvOnly | Direction::Inactive);
            self.leg.update_remote(n.remote_rtp, hold);
            if let Some(srtp) = &n.srtp {
                self.leg.update_srtp(srtp.clone());
            }
            tracing::info!(remote = ?n.remote_rtp, hold, "re-INVITE applied");
            self.negotiated = n;
        }
        self.local.session_version += 1;
        let body = sdp::answer(&self.negotiated, self.local);
        let Ok(mut response) =
            session
                .dialog
                .create_response(&reinvite.invite, StatusCode::OK, None)
        else {
            return;
        };
        response
            .msg
            .headers
            .insert_named(&ContentType(bytesstr::BytesStr::from_static(
                "application/sdp",
            )));
        response.msg.body = body.into();
        if let Err(e) = session.handle_reinvite_success(reinvite, response).await {
            tracing::warn!(error = %e, "re-INVITE was not acknowledged");
        }
    }
}

async fn next_room_event(room: &mut Option<RoomLink>) -> super::room::RoomEvent {
    match room {
        Some(room) => room.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
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
