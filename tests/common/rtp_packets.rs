//! The packets the phone sends every 20 ms: PCMU audio (silence or a tone) and RFC 4733 key
//! presses (five packets while the key is down, the end packet three times, then a gap).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use super::g711;

use super::goertzel;

pub const RATE: u32 = 8000;
pub const PACKET: Duration = Duration::from_millis(20);
pub const SAMPLES_PER_PACKET: usize = 160;
pub const EVENT_PT: u8 = 101;
/// A key press: this many packets while the key is down, then three end packets, then a gap.
const KEY_DOWN_PACKETS: u16 = 5;
const KEY_GAP_PACKETS: u32 = 5;

/// What the phone's microphone picks up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Source {
    Silence,
    Tone {
        hz: f64,
        amplitude: f64,
    },
    /// `samples` (a click, a chirp) at the start of every `period_packets` packets, silence
    /// between. Each start sets [`Tx::clip_started`] so the sender can note when it went out.
    Clip {
        samples: &'static [i16],
        period_packets: u64,
    },
}

impl Source {
    /// The 20 ms frame starting `phase` samples into the source, and whether a clip starts in it.
    pub fn frame(self, phase: u64) -> (Vec<i16>, bool) {
        match self {
            Source::Silence => (vec![0; SAMPLES_PER_PACKET], false),
            Source::Tone { hz, amplitude } => (
                goertzel::tones(&[hz], amplitude, RATE, phase as usize, SAMPLES_PER_PACKET),
                false,
            ),
            Source::Clip {
                samples,
                period_packets,
            } => {
                let at = (phase % (period_packets.max(1) * SAMPLES_PER_PACKET as u64)) as usize;
                let pcm = (at..at + SAMPLES_PER_PACKET)
                    .map(|i| samples.get(i).copied().unwrap_or(0))
                    .collect();
                (pcm, at == 0)
            }
        }
    }
}

/// The sender's state: where to, what the microphone hears, the key presses queued.
pub struct Tx {
    pub remote: Option<SocketAddr>,
    pub source: Source,
    pub keys: VecDeque<char>,
    /// The key being pressed: its event code, start timestamp and packets sent.
    pub key: Option<(u8, u32, u16)>,
    pub gap: u32,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    /// Samples of the tone generated so far (its phase).
    pub phase: u64,
    /// The last tick started a clip.
    pub clip_started: bool,
}

impl Tx {
    /// Nothing queued, silence, random sequence number, timestamp and SSRC.
    pub fn fresh() -> Tx {
        Tx {
            remote: None,
            source: Source::Silence,
            keys: VecDeque::new(),
            key: None,
            gap: 0,
            seq: rand::random(),
            ts: rand::random(),
            ssrc: rand::random(),
            phase: 0,
            clip_started: false,
        }
    }

    /// No key press queued, going on or followed by its gap.
    pub fn keys_done(&self) -> bool {
        self.keys.is_empty() && self.key.is_none() && self.gap == 0
    }
}

fn header(marker: bool, pt: u8, seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

fn event_code(key: char) -> u8 {
    match key {
        '0'..='9' => key as u8 - b'0',
        '*' => 10,
        '#' => 11,
        _ => panic!("no RFC 4733 event for key {key:?}"),
    }
}

/// The packets of one 20 ms tick.
pub fn tick(tx: &mut Tx) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    tx.clip_started = false;
    if tx.key.is_none()
        && tx.gap == 0
        && let Some(k) = tx.keys.pop_front()
    {
        tx.key = Some((event_code(k), tx.ts, 0));
    }
    if let Some((code, start, sent)) = tx.key {
        let sent = sent + 1;
        let duration = sent.min(KEY_DOWN_PACKETS) * SAMPLES_PER_PACKET as u16;
        let end = sent > KEY_DOWN_PACKETS;
        // The end packet goes out three times (RFC 4733 2.5.1.4), all in this tick.
        let copies = if end { 3 } else { 1 };
        for _ in 0..copies {
            let mut p = header(sent == 1, EVENT_PT, tx.seq, start, tx.ssrc);
            p.extend_from_slice(&[code, if end { 0x80 | 10 } else { 10 }]);
            p.extend_from_slice(&duration.to_be_bytes());
            tx.seq = tx.seq.wrapping_add(1);
            out.push(p);
        }
        tx.key = if end { None } else { Some((code, start, sent)) };
        if end {
            tx.gap = KEY_GAP_PACKETS;
        }
    } else {
        tx.gap = tx.gap.saturating_sub(1);
        let (pcm, clip_started) = tx.source.frame(tx.phase);
        tx.clip_started = clip_started;
        tx.phase += SAMPLES_PER_PACKET as u64;
        let mut p = header(false, 0, tx.seq, tx.ts, tx.ssrc);
        p.extend(pcm.iter().map(|&s| g711::linear_to_ulaw(s)));
        tx.seq = tx.seq.wrapping_add(1);
        out.push(p);
    }
    tx.ts = tx.ts.wrapping_add(SAMPLES_PER_PACKET as u32);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::spectrum::Spectrum;

    fn fresh_tx() -> Tx {
        Tx {
            remote: None,
            source: Source::Silence,
            keys: VecDeque::new(),
            key: None,
            gap: 0,
            seq: 0,
            ts: 1000,
            ssrc: 7,
            phase: 0,
            clip_started: false,
        }
    }

    #[test]
    fn a_key_press_is_five_packets_three_ends_and_a_gap() {
        let mut tx = fresh_tx();
        tx.keys.push_back('#');
        let mut packets = Vec::new();
        for _ in 0..12 {
            packets.extend(tick(&mut tx));
        }
        let events: Vec<&Vec<u8>> = packets.iter().filter(|p| p[1] & 0x7f == EVENT_PT).collect();
        assert_eq!(events.len(), 5 + 3);
        assert!(
            events
                .iter()
                .all(|p| p[12] == 11 && u32::from_be_bytes([p[4], p[5], p[6], p[7]]) == 1000)
        );
        assert_eq!(events[0][1] & 0x80, 0x80, "marker on the first packet");
        assert_eq!(events[7][13] & 0x80, 0x80, "end bit");
        assert_eq!(u16::from_be_bytes([events[7][14], events[7][15]]), 800);
        assert_eq!(packets.len() - events.len(), 6, "audio after the key");
        assert_eq!(tx.gap, 0);
    }

    #[test]
    fn tone_packets_decode_to_the_tone() {
        let mut tx = fresh_tx();
        tx.source = Source::Tone {
            hz: 1000.0,
            amplitude: 8000.0,
        };
        let mut pcm = Vec::new();
        for _ in 0..100 {
            for p in tick(&mut tx) {
                pcm.extend(p[12..].iter().map(|&b| g711::ulaw_to_linear(b)));
            }
        }
        let s = Spectrum::of(&pcm, RATE);
        assert!(
            (s.dominant_hz() - 1000.0).abs() < 2.0,
            "{}",
            s.describe(&[])
        );
    }

    #[test]
    fn a_clip_starts_every_period_and_is_silent_between() {
        static CLIP: [i16; 200] = [5000; 200];
        let mut tx = fresh_tx();
        tx.source = Source::Clip {
            samples: &CLIP,
            period_packets: 3,
        };
        let mut starts = Vec::new();
        let mut pcm = Vec::new();
        for i in 0..7 {
            let packet = tick(&mut tx).remove(0);
            if tx.clip_started {
                starts.push(i);
            }
            pcm.extend(packet[12..].iter().map(|&b| g711::ulaw_to_linear(b)));
        }
        assert_eq!(starts, vec![0, 3, 6]);
        let loud = |range: std::ops::Range<usize>| pcm[range].iter().all(|&s| s > 4000);
        assert!(
            loud(0..200) && loud(480..680),
            "the clip plays from each start"
        );
        assert!(
            pcm[200..480].iter().all(|&s| s.abs() < 10),
            "silence between"
        );
    }
}
