//! One remote participant: its webrtcbin, the tee branch that feeds it, its receive bins, and
//! its state ([`Negotiation`]; the offer/answer steps are in `negotiation.rs`).
//!
//! Callbacks run on GStreamer threads (webrtcbin's, streaming threads) and hold only weak
//! references to elements, so no reference cycle keeps a removed peer alive.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_webrtc::{
    WebRTCBundlePolicy, WebRTCICEConnectionState, WebRTCICEGatheringState,
    WebRTCPeerConnectionState, WebRTCRTPTransceiverDirection,
};

use super::branches;
use super::mix::Mixer;
use super::shared::{ConferenceLegError, ConferenceMediaEvent, Events, lock};
use crate::sdp_kind::SdpKind;

/// What every peer of one leg shares.
pub(super) struct PeerSetup {
    pub pipeline: gst::Pipeline,
    pub events: Events,
    pub mixer: Arc<Mutex<Mixer>>,
    /// The rendered receive-bin description.
    pub recv_description: Arc<str>,
    pub jitter_latency_ms: u32,
    pub stun_server: Option<String>,
}

/// Where a peer is in offer/answer, and what it owns that callbacks add.
#[derive(Default)]
pub(super) struct Negotiation {
    pub we_offer: bool,
    /// Caps have reached webrtcbin's sink pad.
    pub send_ready: bool,
    pub offer_started: bool,
    /// A remote offer waiting for `send_ready`.
    pub remote_offer: Option<String>,
    pub remote_set: bool,
    /// Remote candidates held back until `remote_set`.
    pub candidates: Vec<(u32, String)>,
    pub failed: bool,
    pub closed: bool,
    pub recv_bins: Vec<(u64, gst::Element)>,
}

/// The peer state callbacks see.
pub(super) struct PeerShared {
    pub name: String,
    pub events: Events,
    /// ICE and DTLS are up: the send branch lets audio through.
    pub connected: Arc<AtomicBool>,
    mixer: Arc<Mutex<Mixer>>,
    recv_description: Arc<str>,
    pipeline: glib::WeakRef<gst::Pipeline>,
    state: Mutex<Negotiation>,
}

/// webrtcbin puts a `clocksync` (sync on) in front of every stream it sends, which holds each
/// packet until the pipeline clock reaches its timestamp: a timed wake-up per packet and peer.
/// Our frames are already paced by the phone's 20 ms tick and stamped on the pipeline's running
/// time (`feed.rs`), so the wait buys nothing; this turns it off as webrtcbin adds them.
fn unsync_inputs(webrtc: &gst::Element) {
    let Some(bin) = webrtc.downcast_ref::<gst::Bin>() else {
        return;
    };
    bin.connect_element_added(|_, element| {
        if element.factory().is_some_and(|f| f.name() == "clocksync") {
            element.set_property("sync", false);
        }
    });
}

/// One peer's elements; owned by the leg's peer table.
pub(super) struct Peer {
    pub shared: Arc<PeerShared>,
    webrtc: gst::Element,
    /// webrtcbin's sink pad (our sendrecv transceiver), fed straight from the tee.
    sink: gst::Pad,
    tee_pad: Option<gst::Pad>,
}

impl Peer {
    /// Adds a webrtcbin (not yet fed) for `name` to the pipeline.
    pub fn new(
        setup: &PeerSetup,
        prefix: &str,
        name: &str,
        we_offer: bool,
    ) -> Result<Peer, ConferenceLegError> {
        let make = |factory: &str, suffix: &str| {
            gst::ElementFactory::make(factory)
                .name(format!("{prefix}-{suffix}"))
                .build()
                .map_err(|e| ConferenceLegError::Pipeline(format!("cannot create {factory}: {e}")))
        };
        let webrtc = make("webrtcbin", "webrtc")?;
        unsync_inputs(&webrtc);
        webrtc.set_property("bundle-policy", WebRTCBundlePolicy::MaxBundle);
        webrtc.set_property("latency", setup.jitter_latency_ms);
        if let Some(stun) = &setup.stun_server {
            webrtc.set_property("stun-server", stun);
        }
        let shared = Arc::new(PeerShared {
            name: name.to_string(),
            events: setup.events.clone(),
            connected: Arc::default(),
            mixer: setup.mixer.clone(),
            recv_description: setup.recv_description.clone(),
            pipeline: setup.pipeline.downgrade(),
            state: Mutex::new(Negotiation {
                we_offer,
                ..Negotiation::default()
            }),
        });
        connect_signals(&webrtc, &shared);
        setup.pipeline.add(&webrtc).map_err(pipeline_error)?;
        match Self::prepare(&webrtc, &shared) {
            Ok(sink) => Ok(Peer {
                shared,
                webrtc,
                sink,
                tee_pad: None,
            }),
            Err(e) => {
                let _ = webrtc.set_state(gst::State::Null);
                let _ = setup.pipeline.remove(&webrtc);
                Err(e)
            }
        }
    }

    /// Requests webrtcbin's sink pad (a sendrecv transceiver) and starts the element.
    fn prepare(
        webrtc: &gst::Element,
        shared: &Arc<PeerShared>,
    ) -> Result<gst::Pad, ConferenceLegError> {
        let sink = webrtc
            .request_pad_simple("sink_%u")
            .ok_or_else(|| ConferenceLegError::Pipeline("webrtcbin gave no sink pad".into()))?;
        let transceiver: glib::Object = sink.property("transceiver");
        transceiver.set_property("direction", WebRTCRTPTransceiverDirection::Sendrecv);
        let weak = webrtc.downgrade();
        let on_caps = shared.clone();
        sink.connect_notify(Some("caps"), move |_, _| {
            if let Some(webrtc) = weak.upgrade() {
                on_caps.send_caps_ready(&webrtc);
            }
        });
        webrtc.sync_state_with_parent().map_err(pipeline_error)?;
        Ok(sink)
    }

    pub fn webrtc(&self) -> &gst::Element {
        &self.webrtc
    }

    pub fn is_fed(&self) -> bool {
        self.tee_pad.is_some()
    }

    /// Links a new tee branch straight into webrtcbin, without a queue (and so a thread) per
    /// peer: the tee runs on the leg's encoder thread, which may wait inside webrtcbin but never
    /// blocks the caller's task. The branch
    /// drops audio until the peer is connected. `pt`: the payload type this peer expects; when
    /// it differs from the encoder's `base_pt`, the branch rewrites caps and packets.
    pub fn feed_from(
        &mut self,
        tee: &gst::Element,
        pt: u8,
        base_pt: u8,
    ) -> Result<(), ConferenceLegError> {
        let tee_pad = tee
            .request_pad_simple("src_%u")
            .ok_or_else(|| ConferenceLegError::Pipeline("tee gave no src pad".into()))?;
        branches::hold_until_connected(&tee_pad, self.shared.connected.clone());
        branches::adapt_send_branch(&tee_pad, pt, base_pt);
        tee_pad
            .link(&self.sink)
            .map_err(|e| ConferenceLegError::Pipeline(format!("{e:?}")))?;
        self.tee_pad = Some(tee_pad);
        Ok(())
    }

    pub fn remote_description(
        &self,
        sdp_type: SdpKind,
        sdp: &str,
    ) -> Result<(), ConferenceLegError> {
        self.shared.remote_description(&self.webrtc, sdp_type, sdp)
    }

    pub fn remote_candidate(&self, mline: u32, candidate: &str) {
        self.shared.remote_candidate(&self.webrtc, mline, candidate);
    }

    /// Cuts the peer's tee branch. The caller holds the feed lock, so no buffer is inside the
    /// tee while its pad is released; the other branches do not notice.
    pub fn detach(&mut self, tee: &gst::Element) {
        self.shared.lock().closed = true;
        if let Some(tee_pad) = self.tee_pad.take() {
            if let Some(peer) = tee_pad.peer() {
                let _ = tee_pad.unlink(&peer);
            }
            tee.release_request_pad(&tee_pad);
        }
    }

    /// Stops the peer's elements (joining their threads) and removes them from the pipeline.
    pub fn dispose(self, pipeline: &gst::Pipeline) {
        let bins = {
            let mut state = self.shared.lock();
            state.closed = true;
            std::mem::take(&mut state.recv_bins)
        };
        let mut elements = vec![self.webrtc.clone()];
        elements.extend(bins.iter().map(|(_, bin)| bin.clone()));
        for element in &elements {
            if element.set_state(gst::State::Null).is_err() {
                tracing::warn!(peer = %self.shared.name, "{} did not stop cleanly", element.name());
            }
            let _ = pipeline.remove(element);
        }
        let mut mixer = lock(&self.shared.mixer);
        for (stream, _) in bins {
            mixer.remove(stream);
        }
    }
}

impl PeerShared {
    pub fn lock(&self) -> MutexGuard<'_, Negotiation> {
        lock(&self.state)
    }

    /// Reports the peer failed (once).
    pub fn fail(&self, reason: String) {
        {
            let mut state = self.lock();
            if state.failed || state.closed {
                return;
            }
            state.failed = true;
        }
        tracing::warn!(peer = %self.name, "peer failed: {reason}");
        self.events.send(ConferenceMediaEvent::PeerFailed {
            peer: self.name.clone(),
            reason,
        });
    }

    fn on_connection_state(&self, state: WebRTCPeerConnectionState) {
        match state {
            WebRTCPeerConnectionState::Connected => {
                if self.connected.swap(true, Ordering::Relaxed) {
                    return;
                }
                tracing::debug!(peer = %self.name, "peer connected");
                self.events.send(ConferenceMediaEvent::PeerConnected {
                    peer: self.name.clone(),
                });
            }
            WebRTCPeerConnectionState::Failed => self.fail("ICE/DTLS connection failed".into()),
            _ => {}
        }
    }

    /// A new webrtcbin src pad: Opus audio goes to a receive bin feeding the mixer, anything
    /// else to a fakesink (an unlinked pad would stop webrtcbin's streaming thread).
    fn on_src_pad(&self, pad: &gst::Pad) {
        let mut state = self.lock();
        let Some(pipeline) = self.pipeline.upgrade() else {
            return;
        };
        if state.closed {
            return;
        }
        let result = branches::receiver(pad, &self.recv_description, &self.mixer).and_then(
            |(stream, bin)| {
                pipeline.add(&bin).map_err(|e| e.to_string())?;
                state.recv_bins.push((stream, bin.clone()));
                bin.sync_state_with_parent().map_err(|e| e.to_string())?;
                let sink = bin
                    .static_pad("sink")
                    .ok_or("receive bin has no sink pad")?;
                pad.link(&sink).map_err(|e| format!("{e:?}"))?;
                Ok(())
            },
        );
        drop(state);
        if let Err(reason) = result {
            self.fail(format!("cannot receive from {}: {reason}", pad.name()));
        }
    }
}

fn connect_signals(webrtc: &gst::Element, shared: &Arc<PeerShared>) {
    let s = shared.clone();
    webrtc.connect("on-ice-candidate", false, move |args| {
        let mline = args.get(1).and_then(|v| v.get::<u32>().ok());
        let candidate = args.get(2).and_then(|v| v.get::<String>().ok());
        if let (Some(sdp_mline_index), Some(candidate)) = (mline, candidate) {
            let peer = s.name.clone();
            s.events.send(ConferenceMediaEvent::LocalCandidate {
                peer,
                sdp_mline_index,
                candidate,
            });
        }
        None
    });
    let s = shared.clone();
    webrtc.connect_notify(Some("connection-state"), move |webrtc, _| {
        s.on_connection_state(webrtc.property("connection-state"));
    });
    let s = shared.clone();
    webrtc.connect_notify(Some("ice-connection-state"), move |webrtc, _| {
        let state: WebRTCICEConnectionState = webrtc.property("ice-connection-state");
        if state == WebRTCICEConnectionState::Failed {
            s.fail("ICE connection failed".into());
        }
    });
    let s = shared.clone();
    webrtc.connect_notify(Some("ice-gathering-state"), move |webrtc, _| {
        let state: WebRTCICEGatheringState = webrtc.property("ice-gathering-state");
        if state == WebRTCICEGatheringState::Complete {
            s.events.send(ConferenceMediaEvent::LocalCandidatesDone {
                peer: s.name.clone(),
            });
        }
    });
    let s = shared.clone();
    webrtc.connect_pad_added(move |_, pad| {
        if pad.direction() == gst::PadDirection::Src {
            s.on_src_pad(pad);
        }
    });
}

fn pipeline_error(e: impl std::fmt::Display) -> ConferenceLegError {
    ConferenceLegError::Pipeline(e.to_string())
}
