//! Offer/answer and trickle ICE for one peer, around webrtcbin's promise-based signals.
//!
//! Ordering rules (from DESIGN.md): an offer is created only once caps (with ssrc) have reached
//! webrtcbin's sink pad, else it lacks `a=ssrc`; a remote offer is applied only once the send
//! branch, using the offerer's Opus payload type, has caps, else webrtcbin makes the m-line
//! recvonly. Remote candidates that arrive before the remote description are held back.
//! Promise callbacks run on webrtcbin's thread and hold the element only weakly.

use std::sync::Arc;

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_webrtc::WebRTCSessionDescription;

use super::description;
use super::peer::PeerShared;
use super::{ConferenceLegError, ConferenceMediaEvent};
use crate::sdp_kind::SdpKind;

impl PeerShared {
    /// Caps reached webrtcbin's sink pad: make our offer, or apply the offer that waited.
    pub fn send_caps_ready(self: &Arc<Self>, webrtc: &gst::Element) {
        let (offer, remote) = {
            let mut state = self.lock();
            if state.send_ready || state.closed {
                return;
            }
            state.send_ready = true;
            let offer = state.we_offer && !std::mem::replace(&mut state.offer_started, true);
            (offer, state.remote_offer.take())
        };
        if offer {
            self.create(webrtc, SdpKind::Offer);
        }
        if let Some(sdp) = remote
            && let Err(e) = self.apply_remote(webrtc, SdpKind::Offer, &sdp)
        {
            self.fail(e.to_string());
        }
    }

    pub fn remote_description(
        self: &Arc<Self>,
        webrtc: &gst::Element,
        sdp_type: SdpKind,
        sdp: &str,
    ) -> Result<(), ConferenceLegError> {
        let unexpected = |reason: &str| ConferenceLegError::UnexpectedDescription {
            peer: self.name.clone(),
            sdp_type,
            reason: reason.to_string(),
        };
        {
            let mut state = self.lock();
            match sdp_type {
                SdpKind::Offer if state.we_offer && !state.remote_set => {
                    return Err(unexpected("we sent the offer"));
                }
                SdpKind::Answer if !state.we_offer => return Err(unexpected("we are answering")),
                SdpKind::Offer if !state.send_ready => {
                    description::parse(sdp_type, sdp).map_err(|reason| {
                        ConferenceLegError::BadSdp {
                            peer: self.name.clone(),
                            reason,
                        }
                    })?;
                    state.remote_offer = Some(sdp.to_string());
                    return Ok(());
                }
                _ => {}
            }
        }
        self.apply_remote(webrtc, sdp_type, sdp)
    }

    /// `set-remote-description`; then (for an offer) create the answer, and release held-back
    /// candidates.
    fn apply_remote(
        self: &Arc<Self>,
        webrtc: &gst::Element,
        sdp_type: SdpKind,
        sdp: &str,
    ) -> Result<(), ConferenceLegError> {
        let value =
            description::parse(sdp_type, sdp).map_err(|reason| ConferenceLegError::BadSdp {
                peer: self.name.clone(),
                reason,
            })?;
        let this = self.clone();
        let weak = webrtc.downgrade();
        let promise = gst::Promise::with_change_func(move |reply| {
            let Some(webrtc) = weak.upgrade() else { return };
            if let Err(reason) = reply_error(reply) {
                this.fail(format!("remote {sdp_type:?} rejected: {reason}"));
                return;
            }
            let candidates = {
                let mut state = this.lock();
                state.remote_set = true;
                std::mem::take(&mut state.candidates)
            };
            for (mline, candidate) in candidates {
                webrtc.emit_by_name::<()>("add-ice-candidate", &[&mline, &candidate]);
            }
            if sdp_type == SdpKind::Offer {
                this.create(&webrtc, SdpKind::Answer);
            }
        });
        webrtc.emit_by_name::<()>("set-remote-description", &[&value, &promise]);
        Ok(())
    }

    /// `create-offer`/`create-answer`, then `set-local-description` and the event.
    fn create(self: &Arc<Self>, webrtc: &gst::Element, sdp_type: SdpKind) {
        let (signal, field) = match sdp_type {
            SdpKind::Offer => ("create-offer", "offer"),
            SdpKind::Answer => ("create-answer", "answer"),
        };
        let this = self.clone();
        let weak = webrtc.downgrade();
        let promise = gst::Promise::with_change_func(move |reply| {
            let Some(webrtc) = weak.upgrade() else { return };
            let value = match reply_error(reply) {
                Ok(Some(reply)) => reply.get::<WebRTCSessionDescription>(field).ok(),
                Ok(None) => None,
                Err(reason) => return this.fail(format!("{signal} failed: {reason}")),
            };
            let Some((value, (kind, sdp))) =
                value.and_then(|v| description::text(&v).map(|d| (v, d)))
            else {
                return this.fail(format!("{signal} gave no {field}"));
            };
            webrtc.emit_by_name::<()>("set-local-description", &[&value, &None::<gst::Promise>]);
            this.events.send(ConferenceMediaEvent::LocalDescription {
                peer: this.name.clone(),
                sdp_type: kind,
                sdp,
            });
        });
        webrtc.emit_by_name::<()>(signal, &[&None::<gst::Structure>, &promise]);
    }

    pub fn remote_candidate(&self, webrtc: &gst::Element, mline: u32, candidate: &str) {
        let candidate = candidate.trim();
        let candidate = candidate
            .strip_prefix("a=")
            .unwrap_or(candidate)
            .to_string();
        if candidate.is_empty() {
            return; // end-of-candidates: webrtcbin needs no marker
        }
        {
            let mut state = self.lock();
            if !state.remote_set {
                state.candidates.push((mline, candidate));
                return;
            }
        }
        webrtc.emit_by_name::<()>("add-ice-candidate", &[&mline, &candidate]);
    }
}

/// The promise's reply, or the error webrtcbin put in it.
fn reply_error(
    reply: Result<Option<&gst::StructureRef>, gst::PromiseError>,
) -> Result<Option<&gst::StructureRef>, String> {
    match reply {
        Ok(Some(s)) if s.has_field("error") => Err(s
            .get::<glib::Error>("error")
            .map(|e| e.to_string())
            .unwrap_or_else(|_| s.to_string())),
        Ok(reply) => Ok(reply),
        Err(e) => Err(format!("{e:?}")),
    }
}
