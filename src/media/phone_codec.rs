//! The phone leg's codec, RTP payload ⇄ PCM, on the call's own task. G.711 is done in Rust
//! ([`super::g711`]: a table per sample, our own RTP header, no GStreamer buffer or element);
//! G.722 goes through the `phone-rx.txt` / `phone-tx.txt` pipelines, pushed through pads of ours
//! (the receive pipeline hands its PCM to the same [`PcmSink`] from its appsink).

use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::AppSink;
use tokio::sync::mpsc;

use crate::ivr::dtmf::{DtmfSource, InbandDetector};

use super::events::{MediaEvent, send_event};
use super::g711::Law;
use super::leg_stats::PcmTap;
use super::rtp::RtpHeader;
use super::tx::{PTIME, slot_offset};

/// Where the caller's decoded audio goes: the in-band DTMF detector, then the tap (the
/// conference leg, once in a room).
pub struct PcmSink {
    pub detector: Option<InbandDetector>,
    pub tap: Arc<Mutex<Option<PcmTap>>>,
    pub events: mpsc::Sender<MediaEvent>,
}

impl PcmSink {
    pub fn deliver(&mut self, pcm: &[i16]) {
        if let Some(detector) = self.detector.as_mut() {
            for digit in detector.push(pcm) {
                tracing::debug!(%digit, "in-band DTMF digit");
                let source = DtmfSource::Inband;
                send_event(&self.events, MediaEvent::Digit { digit, source });
            }
        }
        if let Some(tap) = self.tap.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            tap(pcm);
        }
    }
}

pub(crate) enum PhoneCodec {
    G711 {
        law: Law,
        sink: PcmSink,
        packetizer: Packetizer,
        /// Reused for each packet's samples.
        pcm: Vec<i16>,
    },
    /// The pipelines' entry pads and the send pipeline's exit; the leg owns the pipelines.
    Pipelines {
        rx_pad: gst::Pad,
        tx_pad: gst::Pad,
        tx_sink: AppSink,
    },
}

impl PhoneCodec {
    pub fn g711(law: Law, payload_type: u8, sink: PcmSink) -> PhoneCodec {
        PhoneCodec::G711 {
            law,
            sink,
            packetizer: Packetizer::new(payload_type, 8000),
            pcm: Vec::new(),
        }
    }

    /// Decodes one in-order audio packet (its PCM goes to the sink). Refused input is dropped.
    pub fn decode(&mut self, header: &RtpHeader, packet: Vec<u8>) {
        match self {
            PhoneCodec::G711 { law, sink, pcm, .. } => {
                pcm.clear();
                law.decode(header.payload(&packet), pcm);
                sink.deliver(pcm);
            }
            PhoneCodec::Pipelines { rx_pad, .. } => {
                if let Err(e) = rx_pad.push(gst::Buffer::from_mut_slice(packet)) {
                    tracing::trace!("receive pipeline refused a packet: {e:?}");
                }
            }
        }
    }

    /// Encodes the frame for packet slot `slot` (a new timeline after `discont`) and appends
    /// the RTP packets to `out`. Returns false when the encoder refused the frame.
    pub fn encode(
        &mut self,
        frame: &[i16],
        slot: u64,
        discont: bool,
        out: &mut Vec<Vec<u8>>,
    ) -> bool {
        match self {
            PhoneCodec::G711 {
                law, packetizer, ..
            } => {
                let mut packet = packetizer.header(slot, frame.len(), discont);
                law.encode(frame, &mut packet);
                out.push(packet);
                true
            }
            PhoneCodec::Pipelines {
                tx_pad, tx_sink, ..
            } => {
                let pushed = push_frame(tx_pad, frame, slot, discont);
                while let Some(sample) = tx_sink.try_pull_sample(gst::ClockTime::ZERO) {
                    if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                        out.push(map.to_vec());
                    }
                }
                pushed
            }
        }
    }
}

fn push_frame(pad: &gst::Pad, frame: &[i16], slot: u64, discont: bool) -> bool {
    let bytes: Vec<u8> = frame.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut buffer = gst::Buffer::from_mut_slice(bytes);
    {
        let buffer = buffer
            .get_mut()
            .expect("a buffer just made has no other owner");
        buffer.set_pts(gst::ClockTime::from_nseconds(
            slot_offset(slot).as_nanos() as u64
        ));
        buffer.set_duration(gst::ClockTime::from_nseconds(PTIME.as_nanos() as u64));
        if discont {
            buffer.set_flags(gst::BufferFlags::DISCONT);
        }
    }
    match pad.push(buffer) {
        Ok(_) => true,
        Err(e) => {
            tracing::debug!("send pipeline refused a frame: {e:?}");
            false
        }
    }
}

/// RTP headers for one packet per 20 ms slot, as a payloader would write them: random SSRC,
/// sequence and timestamp origin; the timestamp follows the slot, so after skipped slots it
/// jumps with real time; the marker starts each talkspurt (the first packet, and after a gap).
pub(crate) struct Packetizer {
    payload_type: u8,
    ssrc: u32,
    sequence: u16,
    timestamp_origin: u32,
    samples_per_slot: u32,
}

impl Packetizer {
    pub fn new(payload_type: u8, clock_rate: u32) -> Packetizer {
        Packetizer {
            payload_type,
            ssrc: rand::random(),
            sequence: rand::random(),
            timestamp_origin: rand::random(),
            samples_per_slot: clock_rate * PTIME.as_millis() as u32 / 1000,
        }
    }

    /// The 12-byte header of the packet for `slot`, with room reserved for `payload` bytes.
    pub fn header(&mut self, slot: u64, payload: usize, discont: bool) -> Vec<u8> {
        let timestamp = self
            .timestamp_origin
            .wrapping_add((slot as u32).wrapping_mul(self.samples_per_slot));
        let mut packet = Vec::with_capacity(12 + payload);
        packet.push(0x80);
        packet.push(self.payload_type & 0x7F | if discont { 0x80 } else { 0 });
        packet.extend_from_slice(&self.sequence.to_be_bytes());
        packet.extend_from_slice(&timestamp.to_be_bytes());
        packet.extend_from_slice(&self.ssrc.to_be_bytes());
        self.sequence = self.sequence.wrapping_add(1);
        packet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp;

    #[test]
    fn packets_follow_the_slots() {
        let mut p = Packetizer::new(8, 8000);
        let first = rtp::parse(&[p.header(0, 0, true), vec![0xD5; 160]].concat()).unwrap();
        let second = rtp::parse(&[p.header(1, 0, false), vec![0xD5; 160]].concat()).unwrap();
        let later = rtp::parse(&[p.header(10, 0, true), vec![0xD5; 160]].concat()).unwrap();
        assert_eq!((first.payload_type, first.marker), (8, true));
        assert!(!second.marker && later.marker);
        assert_eq!(second.sequence, first.sequence.wrapping_add(1));
        assert_eq!(later.sequence, first.sequence.wrapping_add(2));
        assert_eq!(second.timestamp.wrapping_sub(first.timestamp), 160);
        assert_eq!(later.timestamp.wrapping_sub(first.timestamp), 1600);
        assert_eq!((first.ssrc, first.payload_len), (later.ssrc, 160));
    }
}
