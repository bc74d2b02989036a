//! What webrtcbin's statistics say about the audio: its `inbound-rtp` entries (RFC 3550
//! receiver counters of what peers send us), and `outbound-rtp` / `remote-inbound-rtp` (what we
//! sent and what the peers' receiver reports say about it), for call records, the load bench and
//! diagnostics.

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

/// What peers report about the audio we send them (their RTCP receiver reports).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OutboundStats {
    pub packets_sent: u64,
    /// Lost as the peers report it; `None` until a receiver report came.
    pub packets_lost: Option<i64>,
    /// The largest jitter the peers report, in seconds.
    pub jitter_s: f64,
    /// The largest round-trip time, in seconds (0 when unknown).
    pub round_trip_s: f64,
}

impl OutboundStats {
    /// Adds `other`'s counters; jitter and round trip are the larger of the two.
    pub fn merge(&mut self, other: OutboundStats) {
        self.packets_sent += other.packets_sent;
        self.packets_lost = match (self.packets_lost, other.packets_lost) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.jitter_s = self.jitter_s.max(other.jitter_s);
        self.round_trip_s = self.round_trip_s.max(other.round_trip_s);
    }
}

/// Sums one webrtcbin's `outbound-rtp` and `remote-inbound-rtp` entries. Blocks like
/// [`inbound`].
pub fn outbound(webrtc: &gst::Element) -> Option<OutboundStats> {
    let mut total = OutboundStats::default();
    for stat in entries(webrtc)? {
        match stat.get::<WebRTCStatsType>("type") {
            Ok(WebRTCStatsType::OutboundRtp) => total.merge(OutboundStats {
                packets_sent: integer(&stat, "packets-sent").unwrap_or(0).max(0) as u64,
                ..OutboundStats::default()
            }),
            Ok(WebRTCStatsType::RemoteInboundRtp) => total.merge(OutboundStats {
                packets_lost: integer(&stat, "packets-lost"),
                jitter_s: stat.get::<f64>("jitter").unwrap_or(0.0),
                round_trip_s: stat.get::<f64>("round-trip-time").unwrap_or(0.0),
                ..OutboundStats::default()
            }),
            _ => {}
        }
    }
    Some(total)
}

/// webrtcbin's statistics entries; `None` if it gives no answer.
fn entries(webrtc: &gst::Element) -> Option<Vec<gst::Structure>> {
    let promise = gst::Promise::new();
    webrtc.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
    if promise.wait() != gst::PromiseResult::Replied {
        return None;
    }
    let reply = promise.get_reply()?;
    Some(
        reply
            .iter()
            .filter_map(|(_, value)| value.get::<gst::Structure>().ok())
            .collect(),
    )
}

/// Sums one webrtcbin's `inbound-rtp` entries. Blocks until webrtcbin answers (it gathers them
/// on its own thread); `None` if it gives no answer.
pub fn inbound(webrtc: &gst::Element) -> Option<InboundStats> {
    let mut total = InboundStats::default();
    for stat in entries(webrtc)? {
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
