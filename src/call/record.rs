//! Fills a call's record from its parts at the end: the phone leg's measurements and the
//! conference leg's webrtcbin statistics become the four directions' [`Quality`].

use super::room::RoomLink;
use crate::cdr::quality::{self, CodecImpairment, Quality};
use crate::cdr::{CallRecord, Directions};
use crate::ivr::dtmf::DtmfSource;
use crate::media::Codec;
use crate::media::phone_leg::PhoneLeg;

/// Packetisation delay of one 20 ms packet.
const PTIME_MS: f64 = 20.0;

/// The E-model figures of a phone codec.
fn impairment(codec: Codec) -> CodecImpairment {
    match codec {
        Codec::G722 => quality::G722,
        Codec::PCMA | Codec::PCMU => quality::G711,
    }
}

/// One-way delay estimate without a round-trip measurement: one packet, plus a receiver's
/// jitter buffer sized to twice the jitter (a common adaptive-buffer target), plus half the
/// round trip where one is known.
fn delay_ms(jitter_ms: f64, round_trip_ms: f64) -> f64 {
    PTIME_MS + 2.0 * jitter_ms + round_trip_ms / 2.0
}

/// The phone side: what we received (our RTP counters) and what the caller reports receiving
/// from us (`None` when it sent no RTCP receiver report).
pub(super) fn phone_side(leg: &PhoneLeg, codec: Codec, record: &mut CallRecord) {
    let measured = leg.quality();
    let stats = leg.stats();
    let imp = impairment(codec);
    let q = &mut record.quality;
    q.phone_to_bridge = Some(Quality::score(
        imp,
        measured.audio_packets,
        stats.rx_lost,
        measured.jitter_ms,
        delay_ms(measured.jitter_ms, 0.0),
    ));
    q.bridge_to_phone = measured.report.map(|r| {
        let jitter_ms = 1000.0 * f64::from(r.jitter) / f64::from(measured.clock_rate.max(1));
        let lost = u64::try_from(r.cumulative_lost).unwrap_or(0);
        let received = stats.tx_packets.saturating_sub(lost);
        Quality::score(imp, received, lost, jitter_ms, delay_ms(jitter_ms, 0.0))
    });
}

/// The conference side, from webrtcbin's statistics; nothing when it gave none.
pub(super) async fn room_side(room: &RoomLink, q: &mut Directions) {
    let Some((inbound, outbound)) = room.media_stats().await else {
        tracing::debug!("no conference statistics for the call record");
        return;
    };
    let lost = u64::try_from(inbound.packets_lost).unwrap_or(0);
    let jitter_ms = inbound.jitter_s * 1000.0;
    q.room_to_bridge = Some(Quality::score(
        quality::OPUS,
        inbound.packets_received,
        lost,
        jitter_ms,
        delay_ms(jitter_ms, 0.0),
    ));
    q.bridge_to_room = outbound.packets_lost.map(|lost| {
        let lost = u64::try_from(lost).unwrap_or(0);
        let jitter_ms = outbound.jitter_s * 1000.0;
        let rtt_ms = outbound.round_trip_s * 1000.0;
        let received = outbound.packets_sent.saturating_sub(lost);
        Quality::score(
            quality::OPUS,
            received,
            lost,
            jitter_ms,
            delay_ms(jitter_ms, rtt_ms),
        )
    });
}

/// The record's and the metric's name of a DTMF method.
pub(super) fn dtmf_label(source: DtmfSource) -> &'static str {
    match source {
        DtmfSource::Rfc4733 => "rfc4733",
        DtmfSource::SipInfo => "sip_info",
        DtmfSource::Inband => "inband",
    }
}
