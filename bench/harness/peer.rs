//! A lightweight WebRTC room participant: dialbridge's own [`ConferenceLeg`] plus a tiny client
//! of the built-in signaling server. It joins a room as `web`, offers to those already there and
//! answers newcomers (the newcomer offers), sends a tone (or a clip every period, noting when
//! each went out), notes when each of its room's callers (each with a tone of its own) is first
//! heard, and can record what it hears with the time each frame was played.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dialbridge::media::conference_leg::{
    ConferenceLeg, ConferenceLegConfig, ConferenceMediaEvent, SdpKind,
};
use futures_util::{SinkExt, StreamExt};
use gstreamer::prelude::*;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::common::goertzel;
use crate::common::rtp_phone::Source;
use crate::common::tools::lock;

/// Mix level (RMS) above which the peer counts the room as heard.
const HEARD_RMS: f64 = 300.0;
/// Share of a caller's tone amplitude that counts it as heard (neighbouring tones leak less
/// than a tenth into a 20 ms Goertzel filter).
const HEARD_SHARE: f64 = 0.4;
/// Samples per 20 ms tick (8 kHz).
const FRAME: usize = 160;

/// What the peer sends until told otherwise.
const TONE: Source = Source::Tone {
    hz: 660.0,
    amplitude: 8000.0,
};

/// What the peer heard since recording started: samples, and when each 20 ms frame played.
#[derive(Default)]
pub struct Recording {
    pub samples: Vec<i16>,
    pub frame_times: Vec<Instant>,
}

impl Recording {
    /// When sample `i` played.
    pub fn time_of(&self, i: usize) -> Option<Instant> {
        let frame = self.frame_times.get(i / FRAME)?;
        Some(*frame + Duration::from_secs_f64((i % FRAME) as f64 / 8000.0))
    }
}

#[derive(Default)]
struct Sound {
    source: Option<Source>,
    /// Samples sent so far (the tone's phase, the clip's position).
    phase: u64,
    clip_starts: Vec<Instant>,
    recording: Option<Recording>,
}

pub struct Peer {
    pub leg: Arc<ConferenceLeg>,
    first_audio: Mutex<Option<Instant>>,
    /// The tones of the room's callers, by slot, and when each was first heard.
    tones: Vec<f64>,
    tone_amplitude: f64,
    tones_heard: Mutex<Vec<Option<Instant>>>,
    pub joined: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
    sound: Mutex<Sound>,
}

impl Peer {
    /// Starts the leg and joins `room` at `ws_url` on `rt`; `tones` are the room's callers'
    /// (of `tone_amplitude` each), watched for in what the peer hears.
    pub fn start(
        rt: &tokio::runtime::Handle,
        ws_url: String,
        room: String,
        tones: Vec<f64>,
        tone_amplitude: f64,
    ) -> Result<Arc<Peer>, String> {
        let (events_tx, events_rx) = mpsc::channel(256);
        let leg = ConferenceLeg::start(ConferenceLegConfig::default(), events_tx)
            .map_err(|e| e.to_string())?;
        cheapen_encoder(&leg);
        let leg = Arc::new(leg);
        let (joined_tx, joined) = watch::channel(false);
        let task = rt.spawn(run(ws_url, room, leg.clone(), events_rx, joined_tx));
        Ok(Arc::new(Peer {
            leg,
            first_audio: Mutex::new(None),
            tones_heard: Mutex::new(vec![None; tones.len()]),
            tones,
            tone_amplitude,
            joined,
            task,
            sound: Mutex::new(Sound {
                source: Some(TONE),
                ..Sound::default()
            }),
        }))
    }

    pub fn set_source(&self, source: Source) {
        lock(&self.sound).source = Some(source);
    }

    /// Starts a fresh recording of what the peer hears.
    pub fn record(&self) {
        lock(&self.sound).recording = Some(Recording::default());
    }

    /// Ends the recording and returns it.
    pub fn take_recording(&self) -> Recording {
        lock(&self.sound).recording.take().unwrap_or_default()
    }

    /// When the caller's audio was first heard, if it was.
    pub fn first_heard(&self) -> Option<Instant> {
        *lock(&self.first_audio)
    }

    /// When the caller in `slot` of the room was first heard, if it was.
    pub fn heard_tone(&self, slot: usize) -> Option<Instant> {
        lock(&self.tones_heard).get(slot).copied().flatten()
    }

    /// When each clip went out.
    pub fn clip_starts(&self) -> Vec<Instant> {
        lock(&self.sound).clip_starts.clone()
    }

    /// One 20 ms tick: send 20 ms of the source, pull 20 ms of the mix.
    pub fn tick(&self) {
        let mut sound = lock(&self.sound);
        let (pcm, clip_started) = sound.source.unwrap_or(TONE).frame(sound.phase);
        sound.phase += FRAME as u64;
        let now = Instant::now();
        self.leg.push_phone_audio(&pcm);
        if clip_started {
            sound.clip_starts.push(now);
        }
        let mut out = [0i16; FRAME];
        self.leg.pull_room_audio(&mut out);
        let now = Instant::now();
        if let Some(rec) = &mut sound.recording {
            rec.samples.extend_from_slice(&out);
            rec.frame_times.push(now);
        }
        let mut first = lock(&self.first_audio);
        if first.is_none() && goertzel::rms(&out) > HEARD_RMS {
            *first = Some(now);
        }
        let mut heard = lock(&self.tones_heard);
        for (slot, at) in heard.iter_mut().enumerate().filter(|(_, at)| at.is_none()) {
            let level = goertzel::power(&out, 8000, self.tones[slot]);
            if level > HEARD_SHARE * self.tone_amplitude {
                *at = Some(now);
            }
        }
    }
}

/// Sets the leg's Opus encoder to complexity 0. The peers' own encoding is not what the bench
/// measures, the bench shares the machine with the bridge, and decoding (the bridge's side of
/// it) costs the same whatever the encoder's complexity.
fn cheapen_encoder(leg: &ConferenceLeg) {
    let encoders = leg.pipeline().iterate_recurse().into_iter().flatten();
    for element in encoders.filter(|e| e.factory().is_some_and(|f| f.name() == "opusenc")) {
        element.set_property("complexity", 0i32);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(
    url: String,
    room: String,
    leg: Arc<ConferenceLeg>,
    mut events: mpsc::Receiver<ConferenceMediaEvent>,
    joined: watch::Sender<bool>,
) {
    let Ok((ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
        eprintln!("peer {room}: cannot connect to {url}");
        return;
    };
    let (mut tx, mut rx) = ws.split();
    let join = json!({"type": "join", "room": room, "kind": "web", "display_name": "bench", "request_id": 1});
    if tx.send(Message::text(join.to_string())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            msg = rx.next() => {
                let Some(Ok(msg)) = msg else { return };
                let Ok(text) = msg.to_text() else { continue };
                let Ok(v) = serde_json::from_str::<Value>(text) else { continue };
                match v["type"].as_str() {
                    Some("joined") => {
                        offer_to_participants(&leg, &v);
                        let _ = joined.send(true);
                    }
                    Some("signal") => on_signal(&leg, &v),
                    Some("participant_left") => {
                        if let Some(id) = v["client_id"].as_u64() { leg.remove_peer(&id.to_string()); }
                    }
                    Some("error") => eprintln!("peer {room}: {v}"),
                    _ => {}
                }
            }
            event = events.recv() => {
                let Some(event) = event else { return };
                let (peer, payload) = match event {
                    ConferenceMediaEvent::LocalDescription { peer, sdp_type, sdp } => {
                        let kind = if sdp_type == SdpKind::Offer { "offer" } else { "answer" };
                        (peer, json!({"sdp": {"type": kind, "sdp": sdp}}))
                    }
                    ConferenceMediaEvent::LocalCandidate { peer, sdp_mline_index, candidate } => {
                        (peer, json!({"ice": {"candidate": candidate, "sdpMLineIndex": sdp_mline_index}}))
                    }
                    ConferenceMediaEvent::PeerFailed { peer, reason } => {
                        eprintln!("peer {room}: connection to {peer} failed: {reason}");
                        continue;
                    }
                    _ => continue,
                };
                let to: u64 = peer.parse().unwrap_or(0);
                let msg = json!({"type": "signal", "to": to, "payload": payload});
                if tx.send(Message::text(msg.to_string())).await.is_err() { return; }
            }
        }
    }
}

/// We are the newcomer: offer to everyone already in the room.
fn offer_to_participants(leg: &ConferenceLeg, joined: &Value) {
    let others = joined["participants"].as_array().into_iter().flatten();
    for id in others.filter_map(|p| p["client_id"].as_u64()) {
        if let Err(e) = leg.add_peer(&id.to_string(), true) {
            eprintln!("peer: cannot offer to {id}: {e}");
        }
    }
}

fn on_signal(leg: &ConferenceLeg, v: &Value) {
    let Some(from) = v["from"].as_u64().map(|f| f.to_string()) else {
        return;
    };
    let payload = &v["payload"];
    if let Some(sdp) = payload.get("sdp") {
        let text = sdp["sdp"].as_str().unwrap_or_default();
        let result = match sdp["type"].as_str() {
            Some("offer") => leg
                .add_peer(&from, false)
                .and_then(|()| leg.remote_description(&from, SdpKind::Offer, text)),
            Some("answer") => leg.remote_description(&from, SdpKind::Answer, text),
            _ => Ok(()),
        };
        if let Err(e) = result {
            eprintln!("peer: description from {from} refused: {e}");
        }
    } else if let Some(ice) = payload.get("ice") {
        let index = ice["sdpMLineIndex"].as_u64().unwrap_or(0) as u32;
        leg.remote_candidate(&from, index, ice["candidate"].as_str().unwrap_or_default());
    }
}
