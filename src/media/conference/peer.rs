//! One remote participant: its webrtcbin, the tee branch that feeds it, its receive bins, and
//! the offer/answer and trickle-ICE steps around webrtcbin's signals.
//!
//! Ordering rules (from DESIGN.md): an offer is created only once caps (with ssrc) have reached
//! webrtcbin's sink pad, else it lacks `a=ssrc`; a remote offer is applied only once the send
//! branch, using the offerer's Opus payload type, has caps, else webrtcbin makes the m-line
//! recvonly. Remote candidates that arrive before the remote description are held back.
//!
//! Callbacks run on GStreamer threads (webrtcbin's, streaming threads) and hold only weak
//! references to elements, so no reference cycle keeps a removed peer alive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app::AppSink;
use gstreamer_webrtc::{
    WebRTCBundlePolicy, WebRTCICEConnectionState, WebRTCPeerConnectionState,
    WebRTCRTPTransceiverDirection, WebRTCSessionDescription,
};

use super::description::{self, SdpType};
use super::mix::Mixer;
use super::{ConferenceLegError, ConferenceMediaEvent, Events};

/// Buffers the per-peer send queue holds before it drops the oldest: webrtcbin blocks its sink
/// pad until negotiation completes, and a stalled peer must not hold up the others.
const SEND_QUEUE_BUFFERS: u32 = 10;

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

#[derive(Default)]
struct Negotiation {
    we_offer: bool,
    /// Caps have reached webrtcbin's sink pad.
    send_ready: bool,
    offer_started: bool,
    /// A remote offer waiting for `send_ready`.
    remote_offer: Option<String>,
    remote_set: bool,
    candidates: Vec<(u32, String)>,
    connected: bool,
    failed: bool,
    closed: bool,
    recv_bins: Vec<(u64, gst::Element)>,
}

/// The peer state callbacks see.
pub(super) struct PeerShared {
    pub name: String,
    events: Events,
    mixer: Arc<Mutex<Mixer>>,
    recv_description: Arc<str>,
    pipeline: glib::WeakRef<gst::Pipeline>,
    state: Mutex<Negotiation>,
}

static NEXT_STREAM: AtomicU64 = AtomicU64::new(1);

/// One peer's elements; owned by the leg's peer table.
pub(super) struct Peer {
    pub shared: Arc<PeerShared>,
    webrtc: gst::Element,
    queue: gst::Element,
    tee_pad: Option<gst::Pad>,
}

impl Peer {
    /// Adds a webrtcbin (and its send queue, not yet fed) for `name` to the pipeline.
    pub fn new(
        setup: &PeerSetup,
        prefix: &str,
        name: &str,
        we_offer: bool,
    ) -> Result<Peer, ConferenceLegError> {
        let make = |factory: &str, suffix: &str| {
            gst::ElementFactory::make(factory).name(format!("{prefix}-{suffix}")).build().map_err(
                |e| ConferenceLegError::Pipeline(format!("cannot create {factory}: {e}")),
            )
        };
        let queue = make("queue", "q")?;
        queue.set_property("max-size-buffers", SEND_QUEUE_BUFFERS);
        queue.set_property("max-size-bytes", 0u32);
        queue.set_property("max-size-time", 0u64);
        queue.set_property_from_str("leaky", "downstream");
        let webrtc = make("webrtcbin", "webrtc")?;
        webrtc.set_property("bundle-policy", WebRTCBundlePolicy::MaxBundle);
        webrtc.set_property("latency", setup.jitter_latency_ms);
        if let Some(stun) = &setup.stun_server {
            webrtc.set_property("stun-server", stun);
        }
        let shared = Arc::new(PeerShared {
            name: name.to_string(),
            events: setup.events.clone(),
            mixer: setup.mixer.clone(),
            recv_description: setup.recv_description.clone(),
            pipeline: setup.pipeline.downgrade(),
            state: Mutex::new(Negotiation { we_offer, ..Negotiation::default() }),
        });
        connect_signals(&webrtc, &shared);
        setup.pipeline.add_many([&queue, &webrtc]).map_err(pipeline_error)?;
        let linked = Self::link(&webrtc, &queue, &shared);
        if let Err(e) = linked {
            for element in [&webrtc, &queue] {
                let _ = element.set_state(gst::State::Null);
                let _ = setup.pipeline.remove(element);
            }
            return Err(e);
        }
        Ok(Peer { shared, webrtc, queue, tee_pad: None })
    }

    /// Queue → webrtcbin sink pad (a sendrecv transceiver), then both to the pipeline's state.
    fn link(
        webrtc: &gst::Element,
        queue: &gst::Element,
        shared: &Arc<PeerShared>,
    ) -> Result<(), ConferenceLegError> {
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
        let queue_src = queue.static_pad("src").expect("queue always has a src pad");
        queue_src.link(&sink).map_err(|e| ConferenceLegError::Pipeline(format!("{e:?}")))?;
        for element in [webrtc, queue] {
            element.sync_state_with_parent().map_err(pipeline_error)?;
        }
        Ok(())
    }

    pub fn is_fed(&self) -> bool {
        self.tee_pad.is_some()
    }

    /// Links a new tee branch into the send queue. `pt`: the payload type this peer expects;
    /// when it differs from the encoder's `base_pt`, the branch rewrites caps and packets.
    pub fn feed_from(&mut self, tee: &gst::Element, pt: u8, base_pt: u8) -> Result<(), ConferenceLegError> {
        let queue_sink = self.queue.static_pad("sink").expect("queue always has a sink pad");
        if pt != base_pt {
            let src = self.queue.static_pad("src").expect("queue always has a src pad");
            src.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |_, info| {
                    rewrite_payload_type(info, pt);
                    gst::PadProbeReturn::Ok
                },
            );
        }
        let tee_pad = tee
            .request_pad_simple("src_%u")
            .ok_or_else(|| ConferenceLegError::Pipeline("tee gave no src pad".into()))?;
        tee_pad.link(&queue_sink).map_err(|e| ConferenceLegError::Pipeline(format!("{e:?}")))?;
        self.tee_pad = Some(tee_pad);
        Ok(())
    }

    pub fn remote_description(
        &self,
        sdp_type: SdpType,
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
        let mut elements = vec![self.webrtc.clone(), self.queue.clone()];
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
    fn lock(&self) -> MutexGuard<'_, Negotiation> {
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
        self.events.send(ConferenceMediaEvent::PeerFailed { peer: self.name.clone(), reason });
    }

    fn send_caps_ready(self: &Arc<Self>, webrtc: &gst::Element) {
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
            self.create(webrtc, SdpType::Offer);
        }
        if let Some(sdp) = remote {
            if let Err(e) = self.apply_remote(webrtc, SdpType::Offer, &sdp) {
                self.fail(e.to_string());
            }
        }
    }

    fn remote_description(
        self: &Arc<Self>,
        webrtc: &gst::Element,
        sdp_type: SdpType,
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
                SdpType::Offer if state.we_offer && !state.remote_set => {
                    return Err(unexpected("we sent the offer"));
                }
                SdpType::Answer if !state.we_offer => return Err(unexpected("we are answering")),
                SdpType::Offer if !state.send_ready => {
                    description::parse(sdp_type, sdp).map_err(|reason| {
                        ConferenceLegError::BadSdp { peer: self.name.clone(), reason }
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
        sdp_type: SdpType,
        sdp: &str,
    ) -> Result<(), ConferenceLegError> {
        let value = description::parse(sdp_type, sdp)
            .map_err(|reason| ConferenceLegError::BadSdp { peer: self.name.clone(), reason })?;
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
            if sdp_type == SdpType::Offer {
                this.create(&webrtc, SdpType::Answer);
            }
        });
        webrtc.emit_by_name::<()>("set-remote-description", &[&value, &promise]);
        Ok(())
    }

    /// `create-offer`/`create-answer`, then `set-local-description` and the event.
    fn create(self: &Arc<Self>, webrtc: &gst::Element, sdp_type: SdpType) {
        let (signal, field) = match sdp_type {
            SdpType::Offer => ("create-offer", "offer"),
            SdpType::Answer => ("create-answer", "answer"),
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

    fn remote_candidate(&self, webrtc: &gst::Element, mline: u32, candidate: &str) {
        let candidate = candidate.trim();
        let candidate = candidate.strip_prefix("a=").unwrap_or(candidate).to_string();
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

    fn on_connection_state(&self, state: WebRTCPeerConnectionState) {
        match state {
            WebRTCPeerConnectionState::Connected => {
                if std::mem::replace(&mut self.lock().connected, true) {
                    return;
                }
                tracing::debug!(peer = %self.name, "peer connected");
                self.events.send(ConferenceMediaEvent::PeerConnected { peer: self.name.clone() });
            }
            WebRTCPeerConnectionState::Failed => self.fail("ICE/DTLS connection failed".into()),
            _ => {}
        }
    }

    /// A new webrtcbin src pad: Opus audio goes to a receive bin feeding the mixer, anything
    /// else to a fakesink (an unlinked pad would stop webrtcbin's streaming thread).
    fn on_src_pad(&self, pad: &gst::Pad) {
        let mut state = self.lock();
        let Some(pipeline) = self.pipeline.upgrade() else { return };
        if state.closed {
            return;
        }
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let is_opus = caps.structure(0).is_some_and(|s| {
            s.get::<&str>("encoding-name").is_ok_and(|e| e.eq_ignore_ascii_case("OPUS"))
        });
        let stream = NEXT_STREAM.fetch_add(1, Ordering::Relaxed);
        let built = if is_opus { self.recv_bin(stream) } else { fakesink() };
        let result = built.and_then(|bin| {
            pipeline.add(&bin).map_err(|e| e.to_string())?;
            state.recv_bins.push((stream, bin.clone()));
            bin.sync_state_with_parent().map_err(|e| e.to_string())?;
            let sink = bin.static_pad("sink").ok_or("receive bin has no sink pad")?;
            pad.link(&sink).map_err(|e| format!("{e:?}"))?;
            Ok(())
        });
        drop(state);
        if let Err(reason) = result {
            self.fail(format!("cannot receive from {}: {reason}", pad.name()));
        }
    }

    fn recv_bin(&self, stream: u64) -> Result<gst::Element, String> {
        let bin = gst::parse::bin_from_description(&self.recv_description, true)
            .map_err(|e| format!("receive bin does not parse: {e}"))?;
        let sink = bin
            .by_name("out")
            .and_then(|e| e.downcast::<AppSink>().ok())
            .ok_or("receive bin has no appsink named out")?;
        let mixer = self.mixer.clone();
        let mut pcm: Vec<i16> = Vec::new();
        sink.set_callbacks(
            gstreamer_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
                    let Some(buffer) = sample.buffer() else { return Ok(gst::FlowSuccess::Ok) };
                    let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                    pcm.clear();
                    pcm.extend(map.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
                    lock(&mixer).push(stream, &pcm);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        Ok(bin.upcast())
    }
}

fn connect_signals(webrtc: &gst::Element, shared: &Arc<PeerShared>) {
    let s = shared.clone();
    webrtc.connect("on-ice-candidate", false, move |args| {
        let mline = args.get(1).and_then(|v| v.get::<u32>().ok());
        let candidate = args.get(2).and_then(|v| v.get::<String>().ok());
        if let (Some(sdp_mline_index), Some(candidate)) = (mline, candidate) {
            let peer = s.name.clone();
            s.events.send(ConferenceMediaEvent::LocalCandidate { peer, sdp_mline_index, candidate });
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
    webrtc.connect_pad_added(move |_, pad| {
        if pad.direction() == gst::PadDirection::Src {
            s.on_src_pad(pad);
        }
    });
}

fn fakesink() -> Result<gst::Element, String> {
    gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .property("async", false)
        .build()
        .map_err(|e| e.to_string())
}

/// Sets the RTP payload type in packets and caps of a branch whose peer uses another one.
fn rewrite_payload_type(info: &mut gst::PadProbeInfo, pt: u8) {
    match &mut info.data {
        Some(gst::PadProbeData::Buffer(buffer)) => {
            let buffer = buffer.make_mut();
            if let Ok(mut map) = buffer.map_writable()
                && map.len() >= 12
            {
                map[1] = (map[1] & 0x80) | (pt & 0x7f);
            }
        }
        Some(gst::PadProbeData::Event(event)) => {
            if let gst::EventView::Caps(caps) = event.view() {
                let mut caps = caps.caps_owned();
                if let Some(s) = caps.make_mut().structure_mut(0) {
                    s.set("payload", i32::from(pt));
                }
                *event = gst::event::Caps::new(&caps);
            }
        }
        _ => {}
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

fn pipeline_error(e: impl std::fmt::Display) -> ConferenceLegError {
    ConferenceLegError::Pipeline(e.to_string())
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
