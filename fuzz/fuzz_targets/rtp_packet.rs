//! Datagrams on a call's RTP port, through what the phone leg's receive path does with them
//! (`media/phone_task.rs`): `rtp::parse`, the source latch, the sequence closer, the jitter
//! buffer for audio (PT 0) and the RFC 4733 decoder for telephone-events (PT 101). The input is
//! a sequence of frames: a source byte (one of four addresses), a 2-byte length, the datagram;
//! each arrives 20 ms after the one before.

#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use dialbridge::ivr::dtmf::Rfc4733Decoder;
use dialbridge::media::latch::{Latch, Verdict};
use dialbridge::media::reorder::{Playout, Reorder};
use dialbridge::media::rtp::{self, SeqCloser};
use libfuzzer_sys::fuzz_target;

const AUDIO_PT: u8 = 0;
const EVENT_PT: u8 = 101;

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut now = start;
    let mut latch = Latch::default();
    let mut closer = SeqCloser::default();
    let mut reorder = Reorder::new(Duration::from_millis(60));
    let mut decoder = Rfc4733Decoder::new();
    let mut out = Vec::new();
    let mut pushed = 0u64;

    let mut rest = data;
    while let [source, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (packet, next) = tail.split_at(len);
        rest = next;
        now += Duration::from_millis(20);
        reorder.poll(now, &mut out);

        let Ok(header) = rtp::parse(packet) else {
            continue;
        };
        let payload = header.payload(packet);
        let from = SocketAddr::from((Ipv4Addr::new(192, 0, 2, source & 3), 4000));
        if latch.check(from, header.ssrc, now) == Verdict::Stranger {
            continue;
        }
        match header.payload_type {
            AUDIO_PT => {
                let sequence = closer.renumber(header.ssrc, header.sequence);
                reorder.push(sequence, packet.to_vec(), now, &mut out);
                pushed += 1;
            }
            EVENT_PT => {
                closer.skip(header.ssrc);
                let _ = decoder.push(header.timestamp, payload);
            }
            _ => closer.skip(header.ssrc),
        }
    }

    // Long after the last packet every held packet has been passed on or counted as late.
    reorder.poll(now + Duration::from_secs(3600), &mut out);
    let passed = out
        .iter()
        .filter(|p| matches!(p, Playout::Packet(_)))
        .count() as u64;
    assert_eq!(
        passed + reorder.late,
        pushed,
        "the jitter buffer lost packets silently"
    );
});
