//! One-way audio delay, both directions: after the steady window every caller and every room
//! peer plays a chirp once a second into silence, each side records, and cross-correlation
//! ([`super::chirp`]) finds when each chirp was heard. A pair of plain WebRTC peers in a room of
//! their own measures the same WebRTC path without the bridge in the same run; the bridge's
//! added delay is the difference.

use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::peer::Peer;
use super::{chirp, procstat};
use crate::common::phone::Phone;
use crate::common::rtp_phone::Source;

/// How long the chirps play.
const WINDOW: Duration = Duration::from_secs(6);
/// One chirp per second in each direction (50 packets of 20 ms).
const PERIOD_PACKETS: u64 = 50;
/// A chirp heard later than this after the last one sent is not paired.
const MAX_DELAY_S: f64 = 0.9;

/// Delay figures of one step, in ms (medians over all chirps of all calls).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delays {
    /// Caller → room peer, mouth to ear.
    pub up_p50_ms: f64,
    pub up_p95_ms: f64,
    /// Room peer → caller.
    pub down_p50_ms: f64,
    pub down_p95_ms: f64,
    /// Peer → peer over WebRTC alone (no bridge), the same stack and machine.
    pub webrtc_p50_ms: f64,
    /// What the bridge adds over a direct WebRTC hop: `up/down_p50 - webrtc_p50`.
    pub added_up_ms: f64,
    pub added_down_ms: f64,
    /// Chirps paired per direction (up, down, WebRTC-only).
    pub samples: [usize; 3],
}

fn chirp_clip() -> &'static [i16] {
    static CHIRP: OnceLock<Vec<i16>> = OnceLock::new();
    CHIRP.get_or_init(chirp::chirp)
}

fn secs(t: Instant, t0: Instant) -> f64 {
    t.saturating_duration_since(t0).as_secs_f64()
}

/// Delays from `sent` instants to the chirps found in `samples` (heard at `time_of(i)`).
fn measure(
    t0: Instant,
    sent: &[Instant],
    samples: &[i16],
    time_of: impl Fn(usize) -> Option<Instant>,
) -> Vec<f64> {
    let sent: Vec<f64> = sent
        .iter()
        .filter(|t| **t >= t0)
        .map(|t| secs(*t, t0))
        .collect();
    let heard: Vec<f64> = chirp::find(samples, chirp_clip(), chirp::CHIRP_SAMPLES * 4)
        .into_iter()
        .filter_map(&time_of)
        .map(|t| secs(t, t0))
        .collect();
    chirp::delays(&sent, &heard, MAX_DELAY_S)
        .into_iter()
        .map(|d| d * 1e3)
        .collect()
}

/// Plays chirps both ways for [`WINDOW`]: `calls[i]` with `peers[i]`, and `webrtc.0` to
/// `webrtc.1`. Leaves the sources on chirps.
pub fn run(calls: &[(&Phone, &Peer)], webrtc: (&Peer, &Peer)) -> Delays {
    let t0 = Instant::now();
    let chirps = Source::Clip {
        samples: chirp_clip(),
        period_packets: PERIOD_PACKETS,
    };
    for (phone, peer) in calls {
        phone.rtp.set_source(chirps);
        peer.set_source(chirps);
        peer.record();
    }
    webrtc.0.set_source(chirps);
    webrtc.1.record();
    thread::sleep(WINDOW);

    let (mut up, mut down) = (Vec::new(), Vec::new());
    for (phone, peer) in calls {
        let rec = peer.take_recording();
        up.extend(measure(t0, &phone.rtp.clip_starts(), &rec.samples, |i| {
            rec.time_of(i)
        }));
        let (samples, times) = phone.rtp.timed_samples_since(t0);
        down.extend(measure(t0, &peer.clip_starts(), &samples, |i| {
            times.get(i).copied()
        }));
    }
    let rec = webrtc.1.take_recording();
    let direct = measure(t0, &webrtc.0.clip_starts(), &rec.samples, |i| {
        rec.time_of(i)
    });
    let p = procstat::percentile;
    let webrtc_p50 = p(&direct, 50.0);
    Delays {
        up_p50_ms: p(&up, 50.0),
        up_p95_ms: p(&up, 95.0),
        down_p50_ms: p(&down, 50.0),
        down_p95_ms: p(&down, 95.0),
        webrtc_p50_ms: webrtc_p50,
        added_up_ms: p(&up, 50.0) - webrtc_p50,
        added_down_ms: p(&down, 50.0) - webrtc_p50,
        samples: [up.len(), down.len(), direct.len()],
    }
}
