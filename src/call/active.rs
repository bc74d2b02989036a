//! The running call: after the 200 OK, [`ActiveCall::run`] is the one select loop that waits for
//! a SIP, media, DTMF, timer, backend or conference event, feeds the machine and carries out its
//! actions (prompts, lookups, join, mute, re-INVITE answers) until it says why the call ended.

use super::backend::{self, BackendFuture, BackendReply, poll_pending};
use super::context::CallContext;
use super::guard::CallGuard;
use super::machine::{CallAction, CallInput, CallMachine};
use super::room::{RoomEvent, RoomLink};
use crate::cdr::{CallRecord, EndReason};
use crate::conference::{ConferenceError, ConferenceSession, JoinRequest};
use crate::ivr::dtmf::DtmfSource;
use crate::media::MediaEvent;
use crate::media::conference_leg::ConferenceLegConfig;
use crate::media::phone_leg::PhoneLeg;
use crate::metrics;
use crate::sip::screen::has_sdp_body;
use crate::sip::sdp::{self, Direction, LocalMedia, Negotiated, Security};
use ezk_sip_core::transport::OutgoingResponse;
use ezk_sip_types::StatusCode;
use ezk_sip_types::header::typed::ContentType;
use ezk_sip_ua::invite::session::{InviteSession, InviteSessionEvent, ReInviteReceived};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

pub(super) struct ActiveCall<'a> {
    pub(super) ctx: Arc<CallContext>,
    pub(super) leg: PhoneLeg,
    pub(super) negotiated: Negotiated,
    pub(super) local: &'a mut LocalMedia,
    /// The route's SRTP policy and our key, for re-INVITEs.
    pub(super) security: Security<'a>,
    pub(super) machine: CallMachine,
    /// The one room lookup, PIN check or join in flight.
    pub(super) pending: Option<BackendFuture>,
    /// The room, once joined.
    pub(super) room: Option<RoomLink>,
    /// How the caller is shown to the room.
    pub(super) shown: String,
    /// The masked number for the phone marking.
    pub(super) caller_number: Option<String>,
    pub(super) guard: CallGuard,
    /// The call's record: room, join time and DTMF methods are noted here.
    pub(super) record: &'a mut CallRecord,
}

impl ActiveCall<'_> {
    /// The select loop. Returns why the call ended, as a kind and in words.
    pub(super) async fn run(
        &mut self,
        session: &mut InviteSession,
        media_rx: &mut mpsc::Receiver<MediaEvent>,
        info_rx: &mut mpsc::Receiver<char>,
        mut shutdown: watch::Receiver<bool>,
    ) -> (EndReason, String) {
        let mut goodbye = self.ctx.goodbye.clone();
        let mut goodbye_said = false;
        loop {
            if let Some(reason) = self.apply_actions(session).await {
                return reason;
            }
            let deadline = self.machine.poll_timeout();
            tokio::select! {
                event = session.run() => match event {
                    Ok(InviteSessionEvent::Bye(bye)) => {
                        let _ = session.handle_bye(bye).await;
                        return (EndReason::CallerHangup, "caller hung up".into());
                    }
                    Ok(InviteSessionEvent::Terminated) => {
                        return (EndReason::SipError, "session terminated".into())
                    }
                    Ok(InviteSessionEvent::ReInviteReceived(reinvite)) => self.handle_reinvite(session, reinvite).await,
                    Ok(InviteSessionEvent::RefreshNeeded) => {
                        if let Err(e) = session.refresh().await {
                            tracing::warn!(error = %e, "session refresh failed, ending call");
                            let _ = session.terminate().await;
                            return (EndReason::SipError, "session refresh failed".into());
                        }
                    }
                    Ok(InviteSessionEvent::Notify(_)) => {}
                    Err(e) => return (EndReason::SipError, format!("SIP session error: {e}")),
                },
                Some(event) = media_rx.recv() => match event {
                    MediaEvent::Digit { digit, source } => self.input(CallInput::Digit { digit, source }),
                    MediaEvent::PromptDone => self.input(CallInput::PromptDone),
                    MediaEvent::RtpTimeout => self.input(CallInput::RtpTimeout),
                    MediaEvent::Error(e) => {
                        tracing::error!(error = %e, "media failed, ending call");
                        let _ = session.terminate().await;
                        return (EndReason::MediaError, format!("media error: {e}"));
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
                _ = crate::shutdown::stopped(&mut goodbye), if !goodbye_said => {
                    goodbye_said = true;
                    tracing::info!("drain limit reached: closing prompt, then BYE");
                    self.input(CallInput::Draining);
                }
                _ = crate::shutdown::stopped(&mut shutdown) => {
                    let _ = session.terminate().await;
                    return (EndReason::Shutdown, "dialbridge is shutting down".into());
                }
            }
        }
    }

    fn input(&mut self, input: CallInput) {
        tracing::debug!(?input, "call input");
        if let CallInput::Digit { source, .. } = &input {
            let method = super::record::dtmf_label(*source);
            metrics::DTMF_DIGITS.inc(method);
            self.record.dtmf_seen(method);
        }
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
        let config = ConferenceLegConfig {
            audio_rate: self.negotiated.codec.audio_rate(),
            jitter_latency_ms: self.ctx.media.conference_jitter_ms,
            stun_server: None,
            opus: self.ctx.media.opus,
        };
        match RoomLink::start(session, &self.leg, config) {
            Ok(room) => {
                tracing::info!("joined the conference");
                self.record.join_time = Some(crate::cdr::rfc3339(std::time::SystemTime::now()));
                self.room = Some(room);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot start the conference media");
                self.input(CallInput::ConferenceFailed);
            }
        }
    }

    /// Carries out the machine's actions; `Some(reason)` when the call is over.
    async fn apply_actions(&mut self, session: &mut InviteSession) -> Option<(EndReason, String)> {
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
                    self.record.room = Some(room.clone());
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
                    return Some((EndReason::from_machine(reason), reason.to_string()));
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
        set_sdp_body(&mut response, body);
        if let Err(e) = session.handle_reinvite_success(reinvite, response).await {
            tracing::warn!(error = %e, "re-INVITE was not acknowledged");
        }
    }
}

async fn next_room_event(room: &mut Option<RoomLink>) -> RoomEvent {
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

/// Puts an SDP answer into a 200 OK (the INVITE's and a re-INVITE's).
pub(super) fn set_sdp_body(response: &mut OutgoingResponse, body: String) {
    response
        .msg
        .headers
        .insert_named(&ContentType(bytesstr::BytesStr::from_static(
            "application/sdp",
        )));
    response.msg.body = body.into();
}
