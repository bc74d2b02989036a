//! The link between a call in a room and the room: the conference session (signaling) and the
//! WebRTC conference leg (media), wired to the phone leg. It relays SDP and ICE between the two
//! and reduces everything else to [`CallInput`]s for the call machine.

use super::local_room::{self, Registration};
use super::machine::CallInput;
use super::talk::TalkDetector;
use crate::conference::{ConferenceCommand, ConferenceEvent, ConferenceSession};
use crate::media::conference_leg::{
    ConferenceLeg, ConferenceLegConfig, ConferenceMediaEvent, InboundStats, OutboundStats,
};
use crate::media::phone_leg::PhoneLeg;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;

/// Longest wait for webrtcbin's statistics at call end; the record goes without them after.
const STATS_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Media events of the conference leg in flight (candidates come in bursts).
const MEDIA_EVENT_CAPACITY: usize = 256;

pub struct RoomLink {
    session: ConferenceSession,
    leg: Arc<ConferenceLeg>,
    media_events: mpsc::Receiver<ConferenceMediaEvent>,
    muted: Arc<AtomicBool>,
    /// Everyone else in the room that we know of (with a PeerConnection in the leg, linked
    /// in-process, or not offering yet).
    peers: HashSet<String>,
    /// Our entry among this process's calls in rooms, when the backend's IDs allow it.
    local: Option<Registration>,
    /// Whether the caller talks (set by the phone's PCM tap), and what the conference was told.
    talk: Arc<Talk>,
    talk_told: bool,
    /// A channel that has ended (or whose conference said `Closed`) is reported once and then no
    /// longer polled: a closed channel is always ready, and the call task would spin on it.
    conference_closed: bool,
    media_closed: bool,
}

/// The caller's talking state, from the PCM tap to the call task; only the latest counts.
#[derive(Default)]
struct Talk {
    talking: AtomicBool,
    changed: tokio::sync::Notify,
}

/// Either side of the room has something for the call.
pub enum RoomEvent {
    Conference(Option<ConferenceEvent>),
    Media(Option<ConferenceMediaEvent>),
    /// The caller started or stopped talking.
    Talk,
}

impl RoomLink {
    /// Starts the conference leg and connects it to the phone leg's audio.
    pub fn start(
        session: ConferenceSession,
        phone: &PhoneLeg,
        config: ConferenceLegConfig,
    ) -> Result<Self, String> {
        let (tx, media_events) = mpsc::channel(MEDIA_EVENT_CAPACITY);
        let audio_rate = config.audio_rate;
        let leg = Arc::new(ConferenceLeg::start(config, tx).map_err(|e| e.to_string())?);
        let local = session
            .local_id
            .as_deref()
            .map(|id| local_room::register(id, &leg));
        let muted = Arc::new(AtomicBool::new(false));
        let (to_room, is_muted) = (leg.clone(), muted.clone());
        let talk = Arc::new(Talk::default());
        let tap_talk = talk.clone();
        let mut detector = TalkDetector::new(audio_rate);
        phone.set_pcm_tap(Some(Box::new(move |pcm: &[i16]| {
            if !is_muted.load(Ordering::Relaxed) {
                to_room.push_phone_audio(pcm);
                if let Some(talking) = detector.feed(pcm) {
                    tap_talk.talking.store(talking, Ordering::Relaxed);
                    tap_talk.changed.notify_one();
                }
            }
        })));
        let from_room = leg.clone();
        phone.set_tx_fill(Some(Box::new(move |out: &mut [i16]| {
            from_room.pull_room_audio(out)
        })));
        Ok(Self {
            session,
            leg,
            media_events,
            muted,
            peers: HashSet::new(),
            local,
            talk,
            talk_told: false,
            conference_closed: false,
            media_closed: false,
        })
    }

    pub async fn next(&mut self) -> RoomEvent {
        tokio::select! {
            e = self.session.events.recv(), if !self.conference_closed => {
                self.conference_closed = e.is_none();
                RoomEvent::Conference(e)
            }
            e = self.media_events.recv(), if !self.media_closed => {
                self.media_closed = e.is_none();
                RoomEvent::Media(e)
            }
            _ = self.talk.changed.notified() => RoomEvent::Talk,
            else => std::future::pending().await,
        }
    }

    /// Handles a room event; returns what the call machine must know.
    pub async fn handle(&mut self, event: RoomEvent) -> Option<CallInput> {
        match event {
            RoomEvent::Conference(None) => Some(CallInput::ConferenceFailed),
            RoomEvent::Conference(Some(event)) => self.conference_event(event),
            RoomEvent::Media(None) => None,
            RoomEvent::Media(Some(event)) => self.media_event(event).await,
            RoomEvent::Talk => {
                let talking = self.talk.talking.load(Ordering::Relaxed);
                if talking == self.talk_told || self.conference_closed {
                    return None;
                }
                self.talk_told = talking;
                self.send(ConferenceCommand::SetTalking(talking)).await
            }
        }
    }

    fn conference_event(&mut self, event: ConferenceEvent) -> Option<CallInput> {
        match event {
            ConferenceEvent::Joined { peers, others } => {
                for peer in &peers {
                    if !self.link_locally(peer) {
                        self.add_peer(peer, true);
                    }
                }
                Some(CallInput::ConferenceJoined { peers: others })
            }
            ConferenceEvent::PeerJoined { peer } => {
                // The newcomer offers (we answer when its offer arrives), or, when it is a call
                // of this process, links to us in-process.
                self.peers.insert(peer);
                Some(CallInput::PeersChanged {
                    peers: self.peers.len(),
                })
            }
            ConferenceEvent::PeerLeft { peer } => {
                self.remove_peer(&peer);
                Some(CallInput::PeersChanged {
                    peers: self.peers.len(),
                })
            }
            ConferenceEvent::Description { peer, kind, sdp } => {
                if !self.leg.has_peer(&peer) {
                    self.add_peer(&peer, false);
                }
                if let Err(e) = self.leg.remote_description(&peer, kind, &sdp) {
                    tracing::warn!(%peer, error = %e, "peer's SDP refused; dropping the peer");
                    self.remove_peer(&peer);
                }
                None
            }
            ConferenceEvent::Candidate {
                peer,
                sdp_mline_index,
                candidate,
            } => {
                self.leg
                    .remote_candidate(&peer, sdp_mline_index, &candidate);
                None
            }
            ConferenceEvent::MutedByHost => Some(CallInput::MutedByHost),
            ConferenceEvent::Kicked => Some(CallInput::Kicked),
            ConferenceEvent::Closed {
                ended: true,
                reason,
            } => {
                // The last event: the channel's end that follows says nothing new.
                self.conference_closed = true;
                tracing::info!(%reason, "conference closed");
                Some(CallInput::ConferenceEnded)
            }
            ConferenceEvent::Closed {
                ended: false,
                reason,
            } => {
                self.conference_closed = true;
                tracing::warn!(%reason, "conference connection lost");
                Some(CallInput::ConferenceFailed)
            }
        }
    }

    async fn media_event(&mut self, event: ConferenceMediaEvent) -> Option<CallInput> {
        let command = match event {
            ConferenceMediaEvent::LocalDescription {
                peer,
                sdp_type: kind,
                sdp,
            } => ConferenceCommand::Description { peer, kind, sdp },
            ConferenceMediaEvent::LocalCandidate {
                peer,
                sdp_mline_index,
                candidate,
            } => ConferenceCommand::Candidate {
                peer,
                sdp_mline_index,
                candidate,
            },
            ConferenceMediaEvent::LocalCandidatesDone { peer } => {
                ConferenceCommand::CandidatesDone { peer }
            }
            ConferenceMediaEvent::PeerConnected { peer } => {
                tracing::info!(%peer, "media flowing with peer");
                return None;
            }
            ConferenceMediaEvent::PeerFailed { peer, reason } => {
                tracing::warn!(%peer, %reason, "peer connection failed; dropping the peer");
                self.remove_peer(&peer);
                return None;
            }
            ConferenceMediaEvent::Error { reason } => {
                tracing::error!(%reason, "conference media failed");
                return Some(CallInput::ConferenceFailed);
            }
        };
        self.send(command).await
    }

    pub async fn set_muted(&mut self, muted: bool) -> Option<CallInput> {
        self.muted.store(muted, Ordering::Relaxed);
        self.send(ConferenceCommand::SetMuted(muted)).await
    }

    async fn send(&mut self, command: ConferenceCommand) -> Option<CallInput> {
        match self.session.commands.send(command).await {
            Ok(()) => None,
            Err(_) => Some(CallInput::ConferenceFailed),
        }
    }

    fn add_peer(&mut self, peer: &str, we_offer: bool) {
        if let Err(e) = self.leg.add_peer(peer, we_offer) {
            tracing::warn!(%peer, error = %e, "cannot add peer");
            return;
        }
        self.peers.insert(peer.to_string());
    }

    /// Links us in-process with `peer` when it is a call of this process at our audio rate.
    fn link_locally(&mut self, peer: &str) -> bool {
        let (Some(me), Some(other)) = (&self.local, local_room::find(peer)) else {
            return false;
        };
        if let Err(e) = self.leg.link_local(me.id(), &other, peer) {
            tracing::debug!(%peer, error = %e, "a caller of this bridge, but linked over WebRTC");
            return false;
        }
        tracing::info!(%peer, "hearing a caller of this bridge in-process");
        self.peers.insert(peer.to_string());
        true
    }

    fn remove_peer(&mut self, peer: &str) {
        self.peers.remove(peer);
        self.leg.remove_peer(peer);
    }

    /// Unhooks the phone leg and stops the conference media; leaving the room follows from
    /// dropping the session.
    /// The conference side's receive and send statistics, from webrtcbin (on a blocking
    /// thread: its answer can take a moment). `None` if it did not answer within `STATS_WAIT`.
    pub async fn media_stats(&self) -> Option<(InboundStats, OutboundStats)> {
        let leg = self.leg.clone();
        let query =
            tokio::task::spawn_blocking(move || (leg.inbound_stats(), leg.outbound_stats()));
        tokio::time::timeout(STATS_WAIT, query).await.ok()?.ok()
    }

    pub fn stop(self, phone: &PhoneLeg) {
        phone.set_pcm_tap(None);
        phone.set_tx_fill(None);
        drop(self.session);
        match Arc::try_unwrap(self.leg) {
            Ok(leg) => leg.stop(),
            // The phone task still holds the fill closure for a moment; the leg stops when it
            // lets go (Drop does what stop does).
            Err(_) => tracing::debug!("conference leg stops when the phone task releases it"),
        }
    }
}
