//! The phone's media: RTP with PCMU (payload type 0) and RFC 4733 key presses (type 101) in
//! 20 ms packets, from a sender thread that plays silence or a tone; a receiver thread decodes
//! what the bridge sends, keeps every sample with its arrival time for spectra, and cuts the
//! sound into prompt segments (`tests/common/audio.rs`) so a test can tell which prompt played.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::audio::{self, Analyzer, PromptLibrary, Segment};
use super::g711;

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
}

struct Shared {
    stop: AtomicBool,
    tx: Mutex<Tx>,
    /// When each clip of a [`Source::Clip`] went out.
    clip_starts: Mutex<Vec<Instant>>,
    rx: Mutex<Rx>,
    rx_changed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread leaves consistent data behind.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct RtpPhone {
    pub local: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// Prompts recognised or skipped so far, for messages.
    pub heard: Vec<String>,
}

impl RtpPhone {
    pub fn new(ip: IpAddr) -> RtpPhone {
        let socket = UdpSocket::bind((ip, 0)).expect("binding the RTP socket");
        let local = socket.local_addr().expect("a bound socket has an address");
        socket
            .set_read_timeout(Some(PACKET))
            .expect("a non-zero timeout is valid");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            tx: Mutex::new(Tx::fresh()),
            clip_starts: Mutex::default(),
            rx: Mutex::new(Rx {
                samples: Vec::new(),
                arrivals: Vec::new(),
                packets: 0,
                other_payload_types: 0,
                analyzer: Analyzer::default(),
                stats: RxStats::new(RATE),
            }),
            rx_changed: Condvar::new(),
        });
        let rx_socket = socket.try_clone().expect("cloning a UDP socket");
        let (s1, s2) = (shared.clone(), shared.clone());
        let threads = vec![
            thread::Builder::new()
                .name("rtp-tx".into())
                .spawn(move || send_loop(&s1, &socket))
                .expect("spawning"),
            thread::Builder::new()
                .name("rtp-rx".into())
                .spawn(move || recv_loop(&s2, &rx_socket))
                .expect("spawning"),
        ];
        RtpPhone {
            local,
            shared,
            threads,
            heard: Vec::new(),
        }
    }

    /// Starts sending to the address of the SDP answer.
    pub fn set_remote(&self, remote: SocketAddr) {
        lock(&self.shared.tx).remote = Some(remote);
    }

    pub fn set_source(&self, source: Source) {
        lock(&self.shared.tx).source = source;
    }

    /// Queues key presses (RFC 4733).
    pub fn press(&self, keys: &str) {
        lock(&self.shared.tx).keys.extend(keys.chars());
    }

    /// Waits until every queued key press went out.
    pub fn wait_keys_sent(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let tx = lock(&self.shared.tx);
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
        lock(&self.shared.rx).packets
    }

    /// Loss and jitter of the received audio so far (RFC 3550).
    pub fn rx_stats(&self) -> RxSnapshot {
        lock(&self.shared.rx).stats.snapshot()
    }

    /// When each clip went out since the source became a [`Source::Clip`].
    pub fn clip_starts(&self) -> Vec<Instant> {
        lock(&self.shared.clip_starts).clone()
    }

    /// The samples that arrived at or after `since`, each with the time it was heard (its
    /// packet's arrival plus its place in the packet).
    pub fn timed_samples_since(&self, since: Instant) -> (Vec<i16>, Vec<Instant>) {
        let rx = lock(&self.shared.rx);
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
        let rx = lock(&self.shared.rx);
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
        let deadline = since + window + Duration::from_secs(3);
        let mut rx = lock(&self.shared.rx);
        loop {
            let first = rx
                .arrivals
                .iter()
                .rev()
                .take_while(|(t, _)| *t >= since)
                .last()
                .map(|(_, i)| *i);
            if let Some(first) = first
                && rx.samples.len() - first >= n
            {
                return Spectrum::of(&rx.samples[first..first + n], RATE);
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "not {window:?} of audio from the bridge within {:?}",
                deadline - since
            );
            rx = self
                .shared
                .rx_changed
                .wait_timeout(rx, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Is a stretch of sound going on (not yet closed by the analyzer's gap of silence)?
    pub fn in_sound(&self) -> bool {
        lock(&self.shared.rx).analyzer.in_sound()
    }

    /// The spectrum of the last `window` of received audio (at most what there is).
    pub fn spectrum_of_last(&self, window: Duration) -> Spectrum {
        let rx = lock(&self.shared.rx);
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
        let rx = lock(&self.shared.rx);
        let mut w = hound::WavWriter::create(path, spec)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        for &s in &rx.samples {
            w.write_sample(s).expect("writing a WAV sample");
        }
        w.finalize().expect("finishing the WAV");
    }

    /// Waits until sound starts (a prompt began playing).
    pub fn wait_sound(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut rx = lock(&self.shared.rx);
        while !rx.analyzer.in_sound() && rx.analyzer.segments.is_empty() {
            let now = Instant::now();
            assert!(
                now < deadline,
                "no sound from the bridge within {timeout:?} ({} RTP packets)",
                rx.packets
            );
            rx = self
                .shared
                .rx_changed
                .wait_timeout(rx, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Drops the segments heard so far (the next [`wait_prompt`](Self::wait_prompt) looks at
    /// newer sound only).
    pub fn forget_segments(&mut self) {
        let n = lock(&self.shared.rx).analyzer.segments.drain(..).count();
        self.heard.push(format!("({n} segments forgotten)"));
    }

    /// Ends the open segment as if silence had followed: after a BYE no more RTP comes to
    /// close it.
    pub fn flush_segments(&self) {
        let mut rx = lock(&self.shared.rx);
        rx.analyzer
            .push(RATE, &vec![0; RATE as usize], Instant::now());
    }

    /// Waits for a stretch of sound that matches prompt `name` (a WAV stem); other sound before
    /// it is noted and skipped. Returns the matching segment and its score.
    pub fn wait_prompt(&mut self, name: &str, timeout: Duration) -> (Segment, f32) {
        let lib = PromptLibrary::english();
        lib.duration(name); // panics early on a typo
        let deadline = Instant::now() + timeout;
        let mut rx = lock(&self.shared.rx);
        loop {
            while let Some(seg) = rx.analyzer.segments.pop_front() {
                if seg.envelope.len() < 10 {
                    self.heard
                        .push(format!("a {} ms blip", seg.duration().as_millis()));
                    continue;
                }
                let best = lib.scores(&seg.envelope).remove(0);
                if best.prompt == name && best.score >= audio::MIN_SCORE {
                    self.heard.push(format!("{name} ({:.2})", best.score));
                    return (seg, best.score);
                }
                self.heard.push(audio::describe(lib, &seg));
            }
            let now = Instant::now();
            assert!(
                now < deadline,
                "no {name} prompt within {timeout:?}; heard: {:?}; {} RTP packets",
                self.heard,
                rx.packets
            );
            rx = self
                .shared
                .rx_changed
                .wait_timeout(rx, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for RtpPhone {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn send_loop(shared: &Shared, socket: &UdpSocket) {
    let mut next = Instant::now();
    while !shared.stop.load(Ordering::Relaxed) {
        next += PACKET;
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        } else if now - next > Duration::from_millis(200) {
            next = now; // descheduled: don't burst to catch up
        }
        let mut tx = lock(&shared.tx);
        let Some(remote) = tx.remote else { continue };
        for p in tick(&mut tx) {
            let _ = socket.send_to(&p, remote);
        }
        if tx.clip_started {
            lock(&shared.clip_starts).push(Instant::now());
        }
    }
}

fn recv_loop(shared: &Shared, socket: &UdpSocket) {
    let mut buf = [0u8; 2048];
    while !shared.stop.load(Ordering::Relaxed) {
        let Ok((n, _)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let now = Instant::now();
        if n < 12 || buf[0] >> 6 != 2 {
            continue;
        }
        let csrc = usize::from(buf[0] & 0x0f);
        let pt = buf[1] & 0x7f;
        let mut start = 12 + 4 * csrc;
        if buf[0] & 0x10 != 0 && n >= start + 4 {
            start += 4 + 4 * usize::from(u16::from_be_bytes([buf[start + 2], buf[start + 3]]));
        }
        let mut rx = lock(&shared.rx);
        rx.packets += 1;
        if pt != 0 || start > n {
            rx.other_payload_types += 1;
            continue;
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
        drop(rx);
        shared.rx_changed.notify_all();
    }
}
