//! Datagrams on a call's RTP port, through what the phone leg's receive path does with them
//! (`media/phone_task.rs`): `rtp::parse`, the source latch, the jitter buffer that puts each
//! SSRC's stream in order, then by payload type: audio (PT 0) on, telephone-events (PT 101) to
//! the RFC 4733 decoder. The input is
//! a sequence of frames: a source byte (one of four addresses), a 2-byte length, the datagram;
//! each arrives 20 ms after the one before.

#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use dialbridge::ivr::dtmf::Rfc4733Decoder;
use dialbridge::media::latch::{Latch, Verdict};
use dialbridge::media::reorder::{Playout, Reorder};
use dialbridge::media::rtp;
use libfuzzer_sys::fuzz_target;

const AUDIO_PT: u8 = 0;
const EVENT_PT: u8 = 101;

/// What the jitter buffer holds per packet: payload type, RTP timestamp, payload.
type Held = (u8, u32, Vec<u8>);

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut now = start;
    let mut latch = Latch::default();
    let mut reorder: Reorder<Held> = Reorder::new(Duration::from_millis(60));
    let mut decoder = Rfc4733Decoder::new();
    let mut out = Vec::new();
    let (mut pushed, mut passed) = (0u64, 0u64);
    // Hands what the buffer let go to its payload type's consumer.
    let mut dispatch = |out: &mut Vec<Playout<Held>>| {
        for item in out.drain(..) {
            if let Playout::Packet((pt, timestamp, payload)) = item {
                passed += 1;
                if pt == EVENT_PT {
                    let _ = decoder.push(timestamp, &payload);
                }
            }
        }
    };

    let mut rest = data;
    while let [source, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (packet, next) = tail.split_at(len);
        rest = next;
        now += Duration::from_millis(20);
        reorder.poll(now, &mut out);
        dispatch(&mut out);

        let Ok(header) = rtp::parse(packet) else {
            continue;
        };
        let from = SocketAddr::from((Ipv4Addr::new(192, 0, 2, source & 3), 4000));
        if latch.check(from, header.ssrc, now) == Verdict::Stranger {
            continue;
        }
        let pt = header.payload_type;
        if pt == AUDIO_PT || pt == EVENT_PT {
            let held = (pt, header.timestamp, header.payload(packet).to_vec());
            reorder.push(header.ssrc, header.sequence, held, now, &mut out);
            pushed += 1;
            dispatch(&mut out);
        }
    }

    // Long after the last packet every held packet has been passed on or counted as late.
    reorder.poll(now + Duration::from_secs(3600), &mut out);
    dispatch(&mut out);
    assert_eq!(
        passed + reorder.late,
        pushed,
        "the jitter buffer lost packets silently"
    );
});
