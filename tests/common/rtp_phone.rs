//! The namespace phone's media, on the shared [`super::rtp_endpoint`] shell: RTP with PCMU
//! (payload type 0) and RFC 4733 key presses (type 101) in 20 ms packets, from a sender thread
//! that plays silence or a tone; a receiver thread decodes
//! what the bridge sends, keeps every sample with its arrival time for spectra, and cuts the
//! sound into prompt segments (`tests/common/audio.rs`) so a test can tell which prompt played.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use super::audio::{self, Analyzer, PromptLibrary, Segment};
use super::g711;

use super::rtp_endpoint::{Endpoint, Shared};
use super::rtp_packets::{PACKET, Tx, tick};
use super::rtp_stats::{RxSnapshot, RxStats};
use super::spectrum::Spectrum;

pub use super::rtp_packets::{EVENT_PT, RATE, Source};

struct Rx {
    samples: Vec<i16>,
    /// (arrival, index of the packet's first sample in `samples`).
    arrivals: Vec<(Instant, usize)>,
    packets: u64,
    other_payload_types: u64,
    analyzer: Analyzer,
    /// RFC 3550 loss and jitter of the audio stream.
    stats: RxStats,
    /// When each clip of a [`Source::Clip`] went out.
    clip_starts: Vec<Instant>,
}

pub struct RtpPhone {
    pub local: SocketAddr,
    endpoint: Endpoint<Tx, Rx>,
    /// Prompts recognised or skipped so far, for messages.
    pub heard: Vec<String>,
}

impl RtpPhone {
    pub fn new(ip: IpAddr) -> RtpPhone {
        let rx = Rx {
            samples: Vec::new(),
            arrivals: Vec::new(),
            packets: 0,
            other_payload_types: 0,
            analyzer: Analyzer::default(),
            stats: RxStats::new(RATE),
            clip_starts: Vec::new(),
        };
        let endpoint = Endpoint::start(ip, Tx::fresh(), rx, send_tick, receive);
        RtpPhone {
            local: endpoint.local,
            endpoint,
            heard: Vec::new(),
        }
    }

    /// Starts sending to the address of the SDP answer.
    pub fn set_remote(&self, remote: SocketAddr) {
        self.endpoint.tx().remote = Some(remote);
    }

    pub fn set_source(&self, source: Source) {
        self.endpoint.tx().source = source;
    }

    /// Queues key presses (RFC 4733).
    pub fn press(&self, keys: &str) {
        self.endpoint.tx().keys.extend(keys.chars());
    }

    /// Waits until every queued key press went out.
    pub fn wait_keys_sent(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let tx = self.endpoint.tx();
                if tx.keys_done() {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "key presses not sent within {timeout:?} (remote {:?})",
                    tx.remote
                );
            }
            thread::sleep(PACKET);
        }
    }

    pub fn packets_received(&self) -> u64 {
        self.endpoint.rx().packets
    }

    /// Loss and jitter of the received audio so far (RFC 3550).
    pub fn rx_stats(&self) -> RxSnapshot {
        self.endpoint.rx().stats.snapshot()
    }

    /// When each clip went out since the source became a [`Source::Clip`].
    pub fn clip_starts(&self) -> Vec<Instant> {
        self.endpoint.rx().clip_starts.clone()
    }

    /// The samples that arrived at or after `since`, each with the time it was heard (its
    /// packet's arrival plus its place in the packet).
    pub fn timed_samples_since(&self, since: Instant) -> (Vec<i16>, Vec<Instant>) {
        let rx = self.endpoint.rx();
        let mut samples = Vec::new();
        let mut times = Vec::new();
        for (n, &(arrival, first)) in rx.arrivals.iter().enumerate() {
            if arrival < since {
                continue;
            }
            let end = rx.arrivals.get(n + 1).map_or(rx.samples.len(), |a| a.1);
            for (k, &sample) in rx.samples[first..end].iter().enumerate() {
                samples.push(sample);
                times.push(arrival + Duration::from_secs_f64(k as f64 / f64::from(RATE)));
            }
        }
        (samples, times)
    }

    /// The samples that arrived at or after `since`.
    pub fn samples_since(&self, since: Instant) -> Vec<i16> {
        let rx = self.endpoint.rx();
        let first = rx
            .arrivals
            .iter()
            .find(|(t, _)| *t >= since)
            .map_or(rx.samples.len(), |(_, i)| *i);
        rx.samples[first..].to_vec()
    }

    /// The spectrum of the first `window` of audio that arrives from now on (waits for it).
    pub fn spectrum_of_next(&self, window: Duration) -> Spectrum {
        let since = Instant::now();
        let n = (window.as_secs_f64() * f64::from(RATE)) as usize;
        let wait = window + Duration::from_secs(3);
        self.endpoint.wait_rx(
            wait,
            |rx| {
                let first = rx
                    .arrivals
                    .iter()
                    .rev()
                    .take_while(|(t, _)| *t >= since)
                    .last()
                    .map(|(_, i)| *i)?;
                (rx.samples.len() - first >= n)
                    .then(|| Spectrum::of(&rx.samples[first..first + n], RATE))
            },
            |_, _| format!("not {window:?} of audio from the bridge within {wait:?}"),
        )
    }

    /// Is a stretch of sound going on (not yet closed by the analyzer's gap of silence)?
    pub fn in_sound(&self) -> bool {
        self.endpoint.rx().analyzer.in_sound()
    }

    /// The spectrum of the last `window` of received audio (at most what there is).
    pub fn spectrum_of_last(&self, window: Duration) -> Spectrum {
        let rx = self.endpoint.rx();
        let n = (window.as_secs_f64() * f64::from(RATE)) as usize;
        let from = rx.samples.len().saturating_sub(n);
        if rx.samples.len() - from < 1024 {
            return Spectrum::of(&vec![0; 1024], RATE);
        }
        Spectrum::of(&rx.samples[from..], RATE)
    }

    /// Writes everything received so far as a 8 kHz mono WAV (for people and failure analysis).
    pub fn save_wav(&self, path: &std::path::Path) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let rx = self.endpoint.rx();
        let mut w = hound::WavWriter::create(path, spec)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        for &s in &rx.samples {
            w.write_sample(s).expect("writing a WAV sample");
        }
        w.finalize().expect("finishing the WAV");
    }

    /// Waits until sound starts (a prompt began playing).
    pub fn wait_sound(&self, timeout: Duration) {
        self.endpoint.wait_rx(
            timeout,
            |rx| (rx.analyzer.in_sound() || !rx.analyzer.segments.is_empty()).then_some(()),
            |rx, _| {
                format!(
                    "no sound from the bridge within {timeout:?} ({} RTP packets)",
                    rx.packets
                )
            },
        )
    }

    /// Drops the segments heard so far (the next [`wait_prompt`](Self::wait_prompt) looks at
    /// newer sound only).
    pub fn forget_segments(&mut self) {
        let n = self.endpoint.rx().analyzer.segments.drain(..).count();
        self.heard.push(format!("({n} segments forgotten)"));
    }

    /// Ends the open segment as if silence had followed: after a BYE no more RTP comes to
    /// close it.
    pub fn flush_segments(&self) {
        let mut rx = self.endpoint.rx();
        rx.analyzer
            .push(RATE, &vec![0; RATE as usize], Instant::now());
    }

    /// Waits for a stretch of sound that matches prompt `name` (a WAV stem); other sound before
    /// it is noted and skipped. Returns the matching segment and its score.
    pub fn wait_prompt(&mut self, name: &str, timeout: Duration) -> (Segment, f32) {
        let lib = PromptLibrary::english();
        lib.duration(name); // panics early on a typo
        // Both closures below note what was heard; the waiter calls them one at a time.
        let heard = RefCell::new(std::mem::take(&mut self.heard));
        let found = self.endpoint.wait_rx(
            timeout,
            |rx| {
                let mut heard = heard.borrow_mut();
                while let Some(seg) = rx.analyzer.segments.pop_front() {
                    if seg.envelope.len() < 10 {
                        heard.push(format!("a {} ms blip", seg.duration().as_millis()));
                        continue;
                    }
                    let best = lib.scores(&seg.envelope).remove(0);
                    if best.prompt == name && best.score >= audio::MIN_SCORE {
                        heard.push(format!("{name} ({:.2})", best.score));
                        return Some((seg, best.score));
                    }
                    heard.push(audio::describe(lib, &seg));
                }
                None
            },
            |rx, _| {
                format!(
                    "no {name} prompt within {timeout:?}; heard: {:?}; {} RTP packets",
                    heard.borrow(),
                    rx.packets
                )
            },
        );
        self.heard = heard.into_inner();
        found
    }
}

/// Sends one tick's packets and notes when a clip started.
fn send_tick(shared: &Shared<Tx, Rx>, socket: &UdpSocket) {
    let mut tx = shared.tx();
    let Some(remote) = tx.remote else { return };
    for p in tick(&mut tx) {
        let _ = socket.send_to(&p, remote);
    }
    if tx.clip_started {
        shared.rx().clip_starts.push(Instant::now());
    }
}

/// Decodes the PCMU packets (others are counted) and keeps their samples and arrival times.
fn receive(shared: &Shared<Tx, Rx>, datagram: Option<(&[u8], SocketAddr)>, now: Instant) {
    let Some((buf, _)) = datagram else { return };
    let n = buf.len();
    if n < 12 || buf[0] >> 6 != 2 {
        return;
    }
    let csrc = usize::from(buf[0] & 0x0f);
    let pt = buf[1] & 0x7f;
    let mut start = 12 + 4 * csrc;
    if buf[0] & 0x10 != 0 && n >= start + 4 {
        start += 4 + 4 * usize::from(u16::from_be_bytes([buf[start + 2], buf[start + 3]]));
    }
    let mut rx = shared.rx();
    rx.packets += 1;
    if pt != 0 || start > n {
        rx.other_payload_types += 1;
        return;
    }
    let seq = u16::from_be_bytes([buf[2], buf[3]]);
    let ts = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
    rx.stats.on_packet(ssrc, seq, ts, now);
    let pcm: Vec<i16> = buf[start..n]
        .iter()
        .map(|&b| g711::ulaw_to_linear(b))
        .collect();
    let index = rx.samples.len();
    rx.arrivals.push((now, index));
    rx.samples.extend_from_slice(&pcm);
    rx.analyzer.push(RATE, &pcm, now);
}
