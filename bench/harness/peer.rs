//! A lightweight WebRTC room participant: dialbridge's own [`ConferenceLeg`] plus a tiny client
//! of the built-in signaling server. It joins a room as `web`, answers the bridge's offer (the
//! newcomer offers), sends a tone and notes when the caller's audio first reaches it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use dialbridge::media::conference_leg::{
    ConferenceLeg, ConferenceLegConfig, ConferenceMediaEvent, SdpType,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// Mix level (RMS) above which the peer counts the caller as heard.
const HEARD_RMS: f64 = 300.0;

pub struct Peer {
    pub leg: Arc<ConferenceLeg>,
    /// When the caller's audio was first heard.
    pub first_audio: Mutex<Option<Instant>>,
    pub joined: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<()>,
    phase: Mutex<u64>,
}

impl Peer {
    /// Starts the leg and joins `room` at `ws_url` on `rt`.
    pub fn start(
        rt: &tokio::runtime::Handle,
        ws_url: String,
        room: String,
    ) -> Result<Arc<Peer>, String> {
        let (events_tx, events_rx) = mpsc::channel(256);
        let leg = ConferenceLeg::start(ConferenceLegConfig::default(), events_tx)
            .map_err(|e| e.to_string())?;
        let leg = Arc::new(leg);
        let (joined_tx, joined) = watch::channel(false);
        let task = rt.spawn(run(ws_url, room, leg.clone(), events_rx, joined_tx));
        Ok(Arc::new(Peer {
            leg,
            first_audio: Mutex::new(None),
            joined,
            task,
            phase: Mutex::new(0),
        }))
    }

    /// One 20 ms tick: send 20 ms of a 660 Hz tone, pull 20 ms of the mix.
    pub fn tick(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        let pcm: Vec<i16> = (0..160u64)
            .map(|i| {
                let t = (*phase + i) as f64 / 8000.0;
                (8000.0 * (2.0 * std::f64::consts::PI * 660.0 * t).sin()) as i16
            })
            .collect();
        *phase += 160;
        self.leg.push_phone_audio(&pcm);
        let mut out = [0i16; 160];
        self.leg.pull_room_audio(&mut out);
        let rms = (out.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 160.0).sqrt();
        let mut first = self.first_audio.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() && rms > HEARD_RMS {
            *first = Some(Instant::now());
        }
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
                    Some("joined") => { let _ = joined.send(true); }
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
                        let kind = if sdp_type == SdpType::Offer { "offer" } else { "answer" };
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
                .and_then(|()| leg.remote_description(&from, SdpType::Offer, text)),
            Some("answer") => leg.remote_description(&from, SdpType::Answer, text),
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
