//! What webrtcbin's statistics say about the audio peers send us: its `inbound-rtp` entries
//! (RFC 3550 receiver counters), for the load bench and for diagnostics.

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc::WebRTCStatsType;

/// Receiver statistics of the streams from one or more peers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct InboundStats {
    pub packets_received: u64,
    /// Expected minus received (RFC 3550; negative with duplicates).
    pub packets_lost: i64,
    /// The largest interarrival jitter of the streams, in seconds.
    pub jitter_s: f64,
}

impl InboundStats {
    /// Adds `other`'s counters; jitter is the larger of the two.
    pub fn merge(&mut self, other: InboundStats) {
        self.packets_received += other.packets_received;
        self.packets_lost += other.packets_lost;
        self.jitter_s = self.jitter_s.max(other.jitter_s);
    }
}

/// Sums one webrtcbin's `inbound-rtp` entries. Blocks until webrtcbin answers (it gathers them
/// on its own thread); `None` if it gives no answer.
pub fn inbound(webrtc: &gst::Element) -> Option<InboundStats> {
    let promise = gst::Promise::new();
    webrtc.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
    if promise.wait() != gst::PromiseResult::Replied {
        return None;
    }
    let reply = promise.get_reply()?;
    let mut total = InboundStats::default();
    for (_, value) in reply.iter() {
        let Ok(stat) = value.get::<gst::Structure>() else {
            continue;
        };
        if stat.get::<WebRTCStatsType>("type") != Ok(WebRTCStatsType::InboundRtp) {
            continue;
        }
        total.merge(InboundStats {
            packets_received: integer(&stat, "packets-received").unwrap_or(0).max(0) as u64,
            packets_lost: integer(&stat, "packets-lost").unwrap_or(0),
            jitter_s: stat.get::<f64>("jitter").unwrap_or(0.0),
        });
    }
    Some(total)
}

/// An integer field, whichever integer type this GStreamer version gives it.
fn integer(stat: &gst::StructureRef, field: &str) -> Option<i64> {
    stat.get::<u64>(field)
        .ok()
        .and_then(|v| i64::try_from(v).ok())
        .or_else(|| stat.get::<i64>(field).ok())
        .or_else(|| stat.get::<u32>(field).ok().map(i64::from))
        .or_else(|| stat.get::<i32>(field).ok().map(i64::from))
}
