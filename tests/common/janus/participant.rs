//! One participant of a Janus room as the bridge would be: a backend session plus a
//! `ConferenceLeg`, relayed the way `src/call/room.rs` relays them (Joined peers: we offer;
//! PeerJoined: they offer; descriptions and candidates both ways), and a simulated phone
//! pushing a tone. Everything the session and the leg said is logged for the assertions.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dialbridge::conference::{
    ConferenceBackend, ConferenceCommand, ConferenceError, ConferenceEvent, ConferenceSession,
    JoinRequest, SdpKind,
};
use dialbridge::media::conference_leg::{ConferenceLeg, ConferenceLegConfig, ConferenceMediaEvent};
use tokio::sync::{mpsc, oneshot};

use serde_json::Value;

use super::tone::{Phone, RATE, dominant_frequency};
use crate::common::tools::lock;

#[derive(Default, Debug)]
pub struct Log {
    /// What the backend told the call, in order.
    pub events: Vec<ConferenceEvent>,
    /// Our own descriptions: (peer, type, SDP).
    pub local: Vec<(String, SdpKind, String)>,
    /// The leg's other events (connected, failed …).
    pub media: Vec<ConferenceMediaEvent>,
}

pub struct Participant {
    pub name: String,
    pub leg: Arc<ConferenceLeg>,
    phone: Phone,
    log: Arc<Mutex<Log>>,
    stop: Option<oneshot::Sender<()>>,
    relay: tokio::task::JoinHandle<()>,
}

impl Participant {
    /// Joins `room` through `backend` and starts the media; `tone`: what our phone says (Hz).
    pub async fn join(
        backend: &dyn ConferenceBackend,
        room: &str,
        pin: Option<&str>,
        name: &str,
        tone: f64,
    ) -> Result<Participant, ConferenceError> {
        let request = JoinRequest {
            room: room.to_string(),
            pin: pin.map(str::to_string),
            display_name: name.to_string(),
            caller: None,
        };
        let session = backend.join(request).await?;
        let (tx, media) = mpsc::channel(256);
        let config = ConferenceLegConfig {
            audio_rate: RATE,
            jitter_latency_ms: 50,
            ..ConferenceLegConfig::default()
        };
        let leg = Arc::new(ConferenceLeg::start(config, tx).expect("the conference leg starts"));
        let phone = Phone::start(leg.clone(), RATE, tone);
        let log: Arc<Mutex<Log>> = Arc::default();
        let (stop, stopped) = oneshot::channel();
        let relay = tokio::spawn(relay(
            session,
            leg.clone(),
            media,
            log.clone(),
            stopped,
            name.to_string(),
        ));
        Ok(Participant {
            name: name.to_string(),
            leg,
            phone,
            log,
            stop: Some(stop),
            relay,
        })
    }

    pub fn heard(&self, ms: usize) -> Vec<i16> {
        self.phone.last(ms)
    }

    pub fn events(&self) -> Vec<ConferenceEvent> {
        lock(&self.log).events.clone()
    }

    pub fn log(&self) -> MutexGuard<'_, Log> {
        lock(&self.log)
    }

    /// Waits until an event matching `what` came; returns it.
    pub async fn wait_event(
        &self,
        timeout: Duration,
        what: impl Fn(&ConferenceEvent) -> bool,
    ) -> ConferenceEvent {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(event) = self.events().into_iter().find(|e| what(e)) {
                return event;
            }
            assert!(
                Instant::now() < deadline,
                "{}: event not seen within {timeout:?}; log: {:#?}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Leaves the room (drops the session) and stops phone and leg.
    pub async fn leave(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.relay).await;
        self.phone.stop();
        let Participant { leg, phone, .. } = self;
        drop(phone);
        match Arc::try_unwrap(leg) {
            Ok(leg) => leg.stop(),
            Err(_) => panic!("the leg is still shared after the phone stopped"),
        }
    }
}

/// What `RoomLink` does, minus the phone leg.
async fn relay(
    mut session: ConferenceSession,
    leg: Arc<ConferenceLeg>,
    mut media: mpsc::Receiver<ConferenceMediaEvent>,
    log: Arc<Mutex<Log>>,
    mut stop: oneshot::Receiver<()>,
    name: String,
) {
    let mut open = true;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            event = session.events.recv(), if open => {
                let Some(event) = event else {
                    open = false;
                    continue;
                };
                println!("[{name}] {}", short(&event));
                lock(&log).events.push(event.clone());
                conference_event(&leg, event);
            }
            event = media.recv() => {
                let Some(event) = event else { return };
                let command = match event {
                    ConferenceMediaEvent::LocalDescription { peer, sdp_type, sdp } => {
                        lock(&log).local.push((peer.clone(), sdp_type, sdp.clone()));
                        ConferenceCommand::Description { peer, kind: sdp_type, sdp }
                    }
                    ConferenceMediaEvent::LocalCandidate { peer, sdp_mline_index, candidate } => {
                        ConferenceCommand::Candidate { peer, sdp_mline_index, candidate }
                    }
                    ConferenceMediaEvent::LocalCandidatesDone { peer } => {
                        ConferenceCommand::CandidatesDone { peer }
                    }
                    other => {
                        println!("[{name}] media: {other:?}");
                        if let ConferenceMediaEvent::PeerFailed { peer, .. } = &other {
                            leg.remove_peer(peer);
                        }
                        lock(&log).media.push(other);
                        continue;
                    }
                };
                if open && session.commands.send(command).await.is_err() {
                    open = false;
                }
            }
        }
    }
}

fn conference_event(leg: &ConferenceLeg, event: ConferenceEvent) {
    match event {
        ConferenceEvent::Joined { peers, .. } => {
            for peer in peers {
                leg.add_peer(&peer, true).expect("a new peer can be added");
            }
        }
        ConferenceEvent::PeerJoined { peer } => {
            leg.add_peer(&peer, false).expect("a new peer can be added")
        }
        ConferenceEvent::PeerLeft { peer } => leg.remove_peer(&peer),
        ConferenceEvent::Description { peer, kind, sdp } => {
            if let Err(e) = leg.remote_description(&peer, kind, &sdp) {
                panic!("{peer}'s {kind:?} refused: {e}\n{sdp}");
            }
        }
        ConferenceEvent::Candidate {
            peer,
            sdp_mline_index,
            candidate,
        } => {
            leg.remote_candidate(&peer, sdp_mline_index, &candidate);
        }
        ConferenceEvent::MutedByHost | ConferenceEvent::Kicked | ConferenceEvent::Closed { .. } => {
        }
    }
}

fn short(event: &ConferenceEvent) -> String {
    match event {
        ConferenceEvent::Description { peer, kind, sdp }
            if std::env::var_os("SHOW_SDP").is_none() =>
        {
            format!(
                "Description {{ peer: {peer}, kind: {kind:?}, {} bytes }}",
                sdp.len()
            )
        }
        other => format!("{other:?}"),
    }
}

// ---------- checks ----------

/// How long audio may take to show up after a join.
pub const AUDIO_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `listener` hears `freq` as its loudest tone.
pub async fn wait_hears(listener: &Participant, freq: f64) {
    let what = format!("{} to hear {freq} Hz", listener.name);
    let started = Instant::now();
    wait_until(&what, AUDIO_TIMEOUT, || {
        (dominant_frequency(&listener.heard(400)) - freq).abs() <= 10.0
    })
    .await;
    println!(
        "{} hears {freq} Hz after {:?}",
        listener.name,
        started.elapsed()
    );
}

pub fn display_names(participants: &Value) -> Vec<String> {
    let list = participants["participants"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter_map(|p| p["display"].as_str().map(str::to_string))
        .collect()
}

pub fn refused(result: Result<Participant, ConferenceError>) -> String {
    match result {
        Ok(p) => panic!("{} joined although it should not", p.name),
        Err(e) => e.to_string(),
    }
}
