//! Loss and jitter in the steady window, as both sides saw the bridge's audio: the callers from
//! RTP sequence numbers and arrival times (RFC 3550), the room peers from webrtcbin's receiver
//! counters.

use dialbridge::media::conference_leg::InboundStats;
use serde::Serialize;

use super::procstat::percentile;
use crate::common::rtp_stats::RxSnapshot;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Quality {
    /// Bridge -> caller packets lost in the window (all calls).
    pub loss_caller_pct: f64,
    /// Interarrival jitter of the bridge's RTP at the callers (median of the calls).
    pub jitter_caller_ms: f64,
    /// Bridge -> room peer packets lost in the window (all peers).
    pub loss_peer_pct: f64,
    /// Interarrival jitter of the bridge's audio at the room peers (median of the peers).
    pub jitter_peer_ms: f64,
}

/// The window's figures from counters taken at its start and end (pairwise, same order).
pub fn between(
    callers: (&[RxSnapshot], &[RxSnapshot]),
    peers: (&[InboundStats], &[InboundStats]),
) -> Quality {
    let (mut lost, mut expected) = (0u64, 0u64);
    for (before, after) in callers.0.iter().zip(callers.1) {
        lost += after.lost_since(before);
        expected += after.expected.saturating_sub(before.expected);
    }
    let loss_caller_pct = percent(lost as f64, expected as f64);
    let (mut lost, mut received) = (0i64, 0u64);
    for (before, after) in peers.0.iter().zip(peers.1) {
        lost += after.packets_lost - before.packets_lost;
        received += after
            .packets_received
            .saturating_sub(before.packets_received);
    }
    let lost = lost.max(0) as f64;
    let jitter = |values: Vec<f64>| percentile(&values, 50.0);
    Quality {
        loss_caller_pct,
        jitter_caller_ms: jitter(callers.1.iter().map(|s| s.jitter_ms).collect()),
        loss_peer_pct: percent(lost, received as f64 + lost),
        jitter_peer_ms: jitter(peers.1.iter().map(|s| s.jitter_s * 1e3).collect()),
    }
}

/// `part` of `whole` in %, 0 when there is no whole.
fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole * 100.0
    } else {
        0.0
    }
}
