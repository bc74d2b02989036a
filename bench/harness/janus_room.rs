//! The rooms of the bench's Janus peer: AudioBridge rooms made through the API, each with one
//! WebRTC participant (dialbridge's own Janus backend and conference leg, as `tests/janus.rs`
//! joins them: what a web user of the room costs Janus) and its plain-RTP callers (the test
//! harness's RTP phone, the caller dialbridge's steps use too).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialbridge::conference::janus::JanusBackend;
use serde_json::{Value, json};

use super::janus_api::JanusApi;
use crate::common::audio::SOUND_RMS;
use crate::common::goertzel;
use crate::common::janus::participant::Participant;
use crate::common::janus::server::ROOM_SECRET;
use crate::common::janus::tone::AUDIBLE_RMS;
use crate::common::netns;
use crate::common::rtp_phone::{RtpPhone, Source};

pub const PLUGIN: &str = "janus.plugin.audiobridge";
/// The rooms mix at the callers' rate (8 kHz G.711): Janus then resamples nothing on the
/// callers' side, only Opus (48 kHz on the wire) for the WebRTC participant, which is what
/// dialbridge's own pipeline does too.
pub const SAMPLING_RATE: u32 = 8000;
/// What each caller says, as in dialbridge's steps.
const CALLER_TONE: Source = Source::Tone {
    hz: 440.0,
    amplitude: 8000.0,
};
/// What the WebRTC participant says (Hz): the lone caller of a room of one hears it.
const WEB_TONE: f64 = 660.0;
/// How much of the latest audio tells whether someone hears the room.
const LISTEN: Duration = Duration::from_millis(400);

/// One AudioBridge room and who is in it.
pub struct Room {
    pub id: u64,
    /// The WebRTC participant, when it could join.
    pub web: Option<Participant>,
    pub callers: Vec<RtpPhone>,
}

impl Room {
    /// Creates room `id` (8 kHz, plain RTP allowed, not recorded) on the `admin` handle, joins
    /// its WebRTC participant through `backend`, then `callers` plain-RTP callers. A WebRTC
    /// participant that fails to join is reported and left out; a caller that fails is an error.
    pub async fn open(
        api: &JanusApi,
        admin: u64,
        backend: &Arc<JanusBackend>,
        id: u64,
        callers: usize,
    ) -> Result<Room, String> {
        let create = json!({
            "request": "create", "room": id, "secret": ROOM_SECRET,
            "sampling_rate": SAMPLING_RATE, "allow_rtp_participants": true, "record": false,
        });
        api.message(admin, create).await?;
        let web = join_web(backend.clone(), id).await;
        if let Err(e) = &web {
            eprintln!("janus room {id}: the WebRTC participant did not join: {e}");
        }
        let mut room = Room {
            id,
            web: web.ok(),
            callers: Vec::new(),
        };
        for n in 0..callers {
            room.callers.push(join_caller(api, id, n).await?);
        }
        Ok(room)
    }

    /// Callers that hear the room's mix now.
    pub fn callers_hearing(&self) -> usize {
        self.callers.iter().filter(|c| caller_hears(c)).count()
    }

    /// Does the WebRTC participant hear the callers now?
    pub fn web_hears(&self) -> bool {
        self.web
            .as_ref()
            .is_some_and(|w| goertzel::rms(&w.heard(LISTEN.as_millis() as usize)) > AUDIBLE_RMS)
    }

    /// The WebRTC participant leaves, then the room is destroyed (which also drops the callers'
    /// participants); the callers' phones stop when the room is dropped.
    pub async fn close(self, api: &JanusApi, admin: u64) {
        if let Some(web) = self.web {
            // `leave` asserts on its leg; a failure there must not end the bench.
            let _ = tokio::spawn(web.leave()).await;
        }
        let destroy = json!({"request": "destroy", "room": self.id, "secret": ROOM_SECRET});
        if let Err(e) = api.message(admin, destroy).await {
            eprintln!("janus room {}: {e}", self.id);
        }
    }
}

/// The WebRTC participant of room `id`, joined as a dialbridge call would join it.
async fn join_web(backend: Arc<JanusBackend>, id: u64) -> Result<Participant, String> {
    let joining = tokio::spawn(async move {
        Participant::join(&*backend, &id.to_string(), None, "web", WEB_TONE).await
    });
    match joining.await {
        Ok(joined) => joined.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the join panicked: {e}")),
    }
}

/// A plain-RTP caller in room `id`: an RTP phone on the callers' address, joined with PCMU
/// (payload type 0, what the phone sends and decodes), then sending its tone to the address
/// Janus answered with.
async fn join_caller(api: &JanusApi, id: u64, n: usize) -> Result<RtpPhone, String> {
    let handle = api.attach(PLUGIN).await?;
    let ip: IpAddr = netns::ADDR_B
        .parse()
        .map_err(|e| format!("bad caller address: {e}"))?;
    let phone = RtpPhone::new(ip);
    let join = json!({
        "request": "join", "room": id, "display": format!("caller {n}"), "codec": "pcmu",
        "rtp": {"ip": ip.to_string(), "port": phone.local.port(), "payload_type": 0},
    });
    let joined = api.message(handle, join).await?;
    let janus = janus_rtp_address(&joined["rtp"]).ok_or_else(|| {
        format!("room {id}: the joined event has no usable rtp address: {joined}")
    })?;
    phone.set_source(CALLER_TONE);
    phone.set_remote(janus);
    Ok(phone)
}

/// Where Janus wants the caller's RTP: the joined event's `rtp` `ip` and `port`.
fn janus_rtp_address(rtp: &Value) -> Option<SocketAddr> {
    let ip: IpAddr = rtp["ip"].as_str()?.parse().ok()?;
    let port = u16::try_from(rtp["port"].as_u64()?).ok()?;
    Some(SocketAddr::new(ip, port))
}

/// Is sound (not just packets of silence) in the caller's latest audio?
fn caller_hears(phone: &RtpPhone) -> bool {
    let since = Instant::now()
        .checked_sub(LISTEN)
        .unwrap_or_else(Instant::now);
    goertzel::rms(&phone.samples_since(since)) > f64::from(SOUND_RMS)
}
