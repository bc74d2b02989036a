//! The conference side of a call's media: the phone caller as one participant of a mesh room,
//! with one webrtcbin PeerConnection (audio only, Opus) per other participant.
//!
//! One pipeline per call (`pipelines/conference-send.txt`): the caller's PCM is encoded to Opus
//! ONCE and a tee fans the RTP out to every peer's webrtcbin directly (no queue thread per peer),
//! passing audio to a peer only once it is connected, so a peer that is still negotiating
//! cannot block the others. Each peer's incoming audio is decoded straight to the phone's rate
//! (`pipelines/conference-recv.txt`) and mixed in Rust (`conference/mix.rs` says why not
//! `audiomixer`). PCM in and out is driven by the phone side's 20 ms tick:
//! [`ConferenceLeg::push_phone_audio`] queues a frame for the leg's one streaming thread, which
//! encodes it and feeds the peers (so the phone leg's tokio task never waits on webrtcbin),
//! [`ConferenceLeg::pull_room_audio`] takes the next mixed frame.
//!
//! The phone side must keep pushing frames (silence is fine) from the start: webrtcbin learns
//! the send caps (payload type, ssrc) from the first frame after a peer is added, and neither our
//! offer nor our answer is made before that (see `conference/negotiation.rs`).
//!
//! Signaling stays outside: local SDP and ICE candidates leave as [`ConferenceMediaEvent`]s,
//! remote ones come in through [`ConferenceLeg::remote_description`] and
//! [`ConferenceLeg::remote_candidate`] (trickle ICE both ways). The leg needs no tokio runtime;
//! events are sent with `try_send` from GStreamer threads, and a full channel drops the event,
//! counts it in [`super::DROPPED_EVENTS`] and logs it. A lost description breaks that peer, so
//! give the channel room for a burst of candidates (64 or more).
//!
//! Costs: one streaming thread per call (the encoder's), and webrtcbin's threads per peer (ICE,
//! DTLS, RTCP, jitter buffer, about eight).
//! [`ConferenceLeg::stop`] (or drop) sets the pipeline to NULL, which joins
//! all of them before it returns.

#[path = "conference/branches.rs"]
mod branches;
#[path = "conference/bus.rs"]
mod bus;
#[path = "conference/description.rs"]
mod description;
#[path = "conference/feed.rs"]
mod feed;
#[path = "conference/local.rs"]
mod local;
#[path = "conference/mix.rs"]
mod mix;
#[path = "conference/negotiation.rs"]
mod negotiation;
#[path = "conference/peer.rs"]
mod peer;
#[path = "conference/shared.rs"]
mod shared;
#[path = "conference/stats.rs"]
mod stats;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use tokio::sync::mpsc;

pub use crate::sdp_kind::SdpKind;
pub use description::opus_payload_type;
pub use mix::{MAX_FRAMES, PRIME_FRAMES};

use super::events::MediaError;
use super::gst::init;
use super::pipeline::{ACTIVE_PIPELINES, render};
use bus::PeerIndex;
use feed::Feed;
use mix::Mixer;
use peer::{Peer, PeerSetup};
pub use shared::{ConferenceLegError, ConferenceMediaEvent};
use shared::{Events, lock};
pub use stats::{InboundStats, OutboundStats};

/// The send pipeline description (embedded at build time).
pub const SEND_TEMPLATE: &str = include_str!("../../pipelines/conference-send.txt");
/// The per-stream receive bin description (embedded at build time).
pub const RECV_TEMPLATE: &str = include_str!("../../pipelines/conference-recv.txt");
/// Our Opus payload type: Chromium's and Janus's, so most answers need no rewriting.
pub const OPUS_PT: u8 = 111;
/// Opus bitrate for the caller's voice (bit/s): ample for 8/16 kHz telephone audio.
pub const OPUS_BITRATE: u32 = 32_000;

/// How the conference leg of one call is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceLegConfig {
    /// The phone leg's PCM rate in Hz: 8000 (G.711) or 16000 (G.722).
    pub audio_rate: u32,
    /// webrtcbin's jitter buffer latency in ms (its own default, 200, dominates join-to-audio
    /// time). Default 50.
    pub jitter_latency_ms: u32,
    /// `stun://host:port`, or `None` for host candidates only.
    pub stun_server: Option<String>,
    /// How the caller's voice is encoded.
    pub opus: OpusSettings,
}

/// The admin's trade between codec cost and quality (`media.opus_complexity`, `media.opus_dtx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// libopus complexity, 0 (cheapest) to 10 (best, libopus's own default).
    pub complexity: u8,
    /// Discontinuous transmission: during silence send a packet only every 400 ms.
    pub dtx: bool,
}

impl Default for OpusSettings {
    fn default() -> Self {
        OpusSettings {
            complexity: 10,
            dtx: false,
        }
    }
}

impl Default for ConferenceLegConfig {
    fn default() -> Self {
        ConferenceLegConfig {
            audio_rate: 8000,
            jitter_latency_ms: 50,
            stun_server: None,
            opus: OpusSettings::default(),
        }
    }
}

/// A snapshot of the room mix (see [`ConferenceLeg::mix_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MixStats {
    /// Remote audio streams with buffered or flowing audio.
    pub streams: usize,
    /// 20 ms pulls in which a stream ran dry (a gap in its audio).
    pub underruns: u64,
    /// Samples dropped to keep a stream's delay bounded.
    pub dropped_samples: u64,
}

/// The running conference leg of one call; see the module docs.
pub struct ConferenceLeg {
    setup: PeerSetup,
    tee: gst::Element,
    feed: Mutex<Feed>,
    peers: Mutex<HashMap<String, (String, Peer)>>,
    index: PeerIndex,
    next_peer: AtomicU64,
    audio_rate: u32,
    /// PeerConnections in `peers`, readable without its lock (which `add_peer` holds while it
    /// builds a webrtcbin).
    webrtc_peers: AtomicUsize,
    /// Callers of this process in the same room (see `conference/local.rs`).
    local: local::LocalLinks,
}

/// The send pipeline for PCM at `rate` Hz, as the conference leg (and the bench's codec floor)
/// runs it.
pub fn send_description(rate: u32, ssrc: u32, opus: OpusSettings) -> Result<String, MediaError> {
    let values = [
        ("rate", rate.to_string()),
        ("pt", OPUS_PT.to_string()),
        ("ssrc", ssrc.to_string()),
        ("bitrate", OPUS_BITRATE.to_string()),
        ("complexity", opus.complexity.min(10).to_string()),
        ("dtx", opus.dtx.to_string()),
    ];
    render("conference-send.txt", SEND_TEMPLATE, &values)
}

/// The receive bin of one remote stream, decoding to PCM at `rate` Hz.
pub fn recv_description(rate: u32) -> Result<String, MediaError> {
    render(
        "conference-recv.txt",
        RECV_TEMPLATE,
        &[("rate", rate.to_string())],
    )
}

impl ConferenceLeg {
    /// Builds and starts the send pipeline. No peers yet.
    pub fn start(
        config: ConferenceLegConfig,
        events: mpsc::Sender<ConferenceMediaEvent>,
    ) -> Result<ConferenceLeg, ConferenceLegError> {
        init()?;
        if config.audio_rate != 8000 && config.audio_rate != 16000 {
            return Err(ConferenceLegError::UnsupportedRate(config.audio_rate));
        }
        let ssrc = rand::random_range(1..u32::MAX);
        let send = send_description(config.audio_rate, ssrc, config.opus)?;
        let recv = recv_description(config.audio_rate)?;
        let error = |e: String| ConferenceLegError::Pipeline(e);
        let pipeline = gst::parse::launch_full(&send, None, gst::ParseFlags::FATAL_ERRORS)
            .map_err(|e| error(format!("conference-send.txt does not parse: {e}")))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| error("conference-send.txt is a single element".into()))?;
        let by_name = |name: &str| {
            pipeline
                .by_name(name)
                .ok_or_else(|| error(format!("no element named {name:?}")))
        };
        let tee = by_name("fanout")?;
        let feed = Feed::new(&by_name("in")?, config.audio_rate)?;
        let events = Events(events);
        let index: PeerIndex = Arc::default();
        bus::install_handler(&pipeline, events.clone(), index.clone());
        ACTIVE_PIPELINES.fetch_add(1, Ordering::Relaxed);
        // From here on, Drop tears the pipeline down.
        let leg = ConferenceLeg {
            setup: PeerSetup {
                pipeline: pipeline.clone(),
                events,
                mixer: Arc::new(Mutex::new(Mixer::new(config.audio_rate as usize / 50))),
                recv_description: recv.into(),
                jitter_latency_ms: config.jitter_latency_ms,
                stun_server: config.stun_server.clone(),
            },
            tee,
            feed: Mutex::new(feed),
            peers: Mutex::default(),
            index,
            next_peer: AtomicU64::new(0),
            audio_rate: config.audio_rate,
            webrtc_peers: AtomicUsize::new(0),
            local: local::LocalLinks::default(),
        };
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| error(format!("cannot start: {e}")))?;
        Ok(leg)
    }

    /// Queues one frame of the caller's audio (mono S16 at `audio_rate`, normally 20 ms) for the
    /// leg's encoder thread, which sends it to every connected peer, and hands it to the callers
    /// linked in-process. Never blocks: when that thread stalls, the oldest queued frames are
    /// dropped. Without a PeerConnection nothing is encoded: nobody would hear it.
    pub fn push_phone_audio(&self, pcm: &[i16]) {
        self.local.feed(pcm);
        if self.webrtc_peers.load(Ordering::Relaxed) == 0 {
            return;
        }
        let now = self.setup.pipeline.current_running_time();
        lock(&self.feed).push(pcm, now);
    }

    /// Links this leg (`peer` `me` of the room) with `other` (peer `other_name`), a caller of
    /// this process in the same room: each hears the other's PCM through its own mix, without
    /// a PeerConnection. Fails when the two run at different audio rates (a G.722 and a G.711
    /// caller); they then need WebRTC.
    pub fn link_local(
        &self,
        me: &str,
        other: &ConferenceLeg,
        other_name: &str,
    ) -> Result<(), ConferenceLegError> {
        if self.audio_rate != other.audio_rate {
            return Err(ConferenceLegError::UnsupportedRate(other.audio_rate));
        }
        let to_other = local::Link::new(branches::next_stream_id());
        self.local
            .add_listener(other_name, &other.setup.mixer, &to_other);
        other.local.add_heard(me, &to_other);
        let to_me = local::Link::new(branches::next_stream_id());
        other.local.add_listener(me, &self.setup.mixer, &to_me);
        self.local.add_heard(other_name, &to_me);
        Ok(())
    }

    /// Fills `out` with the next samples of the mix of all peers (silence when none).
    pub fn pull_room_audio(&self, out: &mut [i16]) {
        lock(&self.setup.mixer).pull(out);
    }

    /// Adds a PeerConnection to `peer`. With `we_offer`, the offer is created as soon as the
    /// caller's audio has given webrtcbin its caps (a [`ConferenceMediaEvent::LocalDescription`]
    /// follows the next pushed frame); otherwise we wait for the peer's offer.
    pub fn add_peer(&self, peer: &str, we_offer: bool) -> Result<(), ConferenceLegError> {
        let mut peers = lock(&self.peers);
        if peers.contains_key(peer) {
            return Err(ConferenceLegError::DuplicatePeer(peer.to_string()));
        }
        let prefix = format!("peer{}", self.next_peer.fetch_add(1, Ordering::Relaxed));
        let mut new = Peer::new(&self.setup, &prefix, peer, we_offer)?;
        lock(&self.index).insert(prefix.clone(), new.shared.clone());
        if we_offer && let Err(e) = self.feed_peer(&mut new, OPUS_PT) {
            self.drop_peer(&prefix, new);
            return Err(e);
        }
        peers.insert(peer.to_string(), (prefix, new));
        self.webrtc_peers.store(peers.len(), Ordering::Relaxed);
        Ok(())
    }

    /// Applies `peer`'s offer (we answer with a [`ConferenceMediaEvent::LocalDescription`] after
    /// the next pushed frame, sending with the offer's Opus payload type) or answer. An offer
    /// without Opus, text that is not SDP, or an offer to a peer we offered to before its answer
    /// came, is refused.
    pub fn remote_description(
        &self,
        peer: &str,
        sdp_type: SdpKind,
        sdp: &str,
    ) -> Result<(), ConferenceLegError> {
        let mut peers = lock(&self.peers);
        let (_, entry) = peers
            .get_mut(peer)
            .ok_or_else(|| ConferenceLegError::UnknownPeer(peer.to_string()))?;
        let bad = |reason: String| ConferenceLegError::BadSdp {
            peer: peer.to_string(),
            reason,
        };
        description::parse(sdp_type, sdp).map_err(bad)?;
        if sdp_type == SdpKind::Offer && !entry.is_fed() {
            let pt = opus_payload_type(sdp).ok_or_else(|| bad("the offer has no Opus".into()))?;
            self.feed_peer(entry, pt)?;
        }
        entry.remote_description(sdp_type, sdp)
    }

    /// Adds one of `peer`'s ICE candidates (held back until its description is applied). An
    /// unknown peer or an empty (end-of-candidates) candidate is ignored.
    pub fn remote_candidate(&self, peer: &str, sdp_mline_index: u32, candidate: &str) {
        match lock(&self.peers).get(peer) {
            Some((_, entry)) => entry.remote_candidate(sdp_mline_index, candidate),
            None => tracing::debug!(peer, "candidate for an unknown peer ignored"),
        }
    }

    /// Closes the PeerConnection to `peer` (or its in-process link) and removes its elements;
    /// the other peers keep sending and receiving. Unknown peers are ignored.
    pub fn remove_peer(&self, peer: &str) {
        if self.local.remove(peer, &self.setup.mixer) {
            return;
        }
        let removed = {
            let mut peers = lock(&self.peers);
            let removed = peers.remove(peer);
            self.webrtc_peers.store(peers.len(), Ordering::Relaxed);
            removed
        };
        if let Some((prefix, entry)) = removed {
            self.drop_peer(&prefix, entry);
        }
    }

    /// Whether there is a PeerConnection to `peer`.
    pub fn has_peer(&self, peer: &str) -> bool {
        lock(&self.peers).contains_key(peer)
    }

    pub fn peer_count(&self) -> usize {
        lock(&self.peers).len()
    }

    /// Remote audio streams currently feeding the mix, and the mixer's counters.
    pub fn mix_stats(&self) -> MixStats {
        let mixer = lock(&self.setup.mixer);
        MixStats {
            streams: mixer.stream_count(),
            underruns: mixer.underruns,
            dropped_samples: mixer.dropped_samples,
        }
    }

    /// Receiver statistics (packets, loss, jitter) of the audio from all peers, as webrtcbin
    /// counts it. Blocks briefly per peer.
    pub fn inbound_stats(&self) -> InboundStats {
        let mut total = InboundStats::default();
        for stats in self.webrtcs().iter().filter_map(stats::inbound) {
            total.merge(stats);
        }
        total
    }

    /// What the peers report about the audio we send them (RTCP receiver reports), summed like
    /// [`ConferenceLeg::inbound_stats`]. Blocks briefly per peer.
    pub fn outbound_stats(&self) -> OutboundStats {
        let mut total = OutboundStats::default();
        for stats in self.webrtcs().iter().filter_map(stats::outbound) {
            total.merge(stats);
        }
        total
    }

    fn webrtcs(&self) -> Vec<gst::Element> {
        lock(&self.peers)
            .values()
            .map(|(_, peer)| peer.webrtc().clone())
            .collect()
    }

    /// The call's pipeline, for diagnostics (dot graphs, element counts in tests). Do not change
    /// its state or its elements.
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.setup.pipeline
    }

    /// Stops everything (the same as dropping the leg).
    pub fn stop(self) {}

    fn feed_peer(&self, peer: &mut Peer, pt: u8) -> Result<(), ConferenceLegError> {
        let _feed = lock(&self.feed);
        peer.feed_from(&self.tee, pt, OPUS_PT)
    }

    fn drop_peer(&self, prefix: &str, mut peer: Peer) {
        lock(&self.index).remove(prefix);
        {
            let _feed = lock(&self.feed);
            peer.detach(&self.tee);
        }
        peer.dispose(&self.setup.pipeline);
    }
}

impl Drop for ConferenceLeg {
    fn drop(&mut self) {
        if self.setup.pipeline.set_state(gst::State::Null).is_err() {
            tracing::warn!("conference pipeline did not stop cleanly");
        }
        lock(&self.peers).clear();
        lock(&self.index).clear();
        ACTIVE_PIPELINES.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "conference_leg_tests.rs"]
mod tests;
