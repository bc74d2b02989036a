//! The caller's RTP endpoint of the sipp tests (sipp only does the SIP), on the shared
//! [`super::rtp_endpoint`] shell: it sends 20 ms packets of silence in the negotiated codec,
//! replays the RFC 4733 key presses from the captures sip-tester ships, and decodes what the
//! bridge sends into [`audio`] segments so a test can wait for "the welcome prompt was heard"
//! as an event.
//!
//! Symmetric like a phone: it sends from the port it announced in its SDP, to the address the
//! test sets from the SDP answer (or, until then, to where the bridge's packets come from).

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use super::audio::{self, Analyzer, PromptLibrary, Segment};
use super::g711;
use super::g722::G722Decoder;
use super::pcap::Rtp;
use super::rtp_endpoint::{Endpoint, Shared};
use super::rtp_send::{self, DIGIT_GAP_PACKETS, PACKET, TxItem, TxState, load_event};

pub use super::rtp_send::Codec;

/// No RTP for this long ends the sound going on (the bridge may hang up right after a prompt,
/// without the trailing silence that normally ends it).
const RTP_STOPPED: Duration = Duration::from_millis(300);

/// What the endpoint received so far.
#[derive(Debug, Clone, Default)]
pub struct RxStats {
    pub packets: u64,
    pub by_payload_type: BTreeMap<u8, u64>,
    pub not_rtp: u64,
    pub first_source: Option<SocketAddr>,
    pub last_packet: Option<Instant>,
}

struct RxState {
    stats: RxStats,
    analyzer: Analyzer,
    /// Prompts recognised so far, for failure messages.
    heard: Vec<String>,
}

pub struct RtpPeer {
    endpoint: Endpoint<TxState, RxState>,
}

impl RtpPeer {
    /// Binds 127.0.0.1 on a free port and starts the send and receive threads.
    pub fn new() -> RtpPeer {
        RtpPeer::bind(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// [`RtpPeer::new`] on `ip` (a namespace's address, say).
    pub fn bind(ip: IpAddr) -> RtpPeer {
        let tx = TxState {
            remote: None,
            learned_remote: None,
            codec: None,
            learned_codec: None,
            event_pt: 101,
            sending: true,
            queue: VecDeque::new(),
            current: None,
            seq: rand::random(),
            ts: rand::random(),
            ssrc: rand::random(),
            sent_packets: 0,
            digits_sent: String::new(),
        };
        let rx = RxState {
            stats: RxStats::default(),
            analyzer: Analyzer::default(),
            heard: Vec::new(),
        };
        let mut g722: Option<G722Decoder> = None;
        let endpoint = Endpoint::start(
            ip,
            tx,
            rx,
            |s, socket| rtp_send::send_tick(&mut s.tx(), socket),
            move |s, datagram, now| receive(s, &mut g722, datagram, now),
        );
        RtpPeer { endpoint }
    }

    pub fn port(&self) -> u16 {
        self.endpoint.local.port()
    }

    /// Where to send: the address of the SDP answer.
    pub fn set_remote(&self, addr: SocketAddr) {
        self.endpoint.tx().remote = Some(addr);
    }

    /// The codec to send; without it, the codec of the first audio packet received.
    pub fn set_codec(&self, codec: Codec) {
        self.endpoint.tx().codec = Some(codec);
    }

    /// The telephone-event payload type we offered (default 101).
    pub fn set_event_payload_type(&self, pt: u8) {
        self.endpoint.tx().event_pt = pt;
    }

    /// Stops or resumes sending (e.g. while sipp streams RTP of its own).
    pub fn set_sending(&self, on: bool) {
        self.endpoint.tx().sending = on;
    }

    /// Queues key presses as RFC 4733 events, each a new event with its own timestamp.
    pub fn send_digits(&self, digits: &str) {
        let events: Vec<_> = digits.chars().map(load_event).collect();
        let mut tx = self.endpoint.tx();
        for e in events {
            tx.queue.push_back(TxItem::Event(e));
            tx.queue.push_back(TxItem::Gap(DIGIT_GAP_PACKETS));
        }
    }

    /// Waits until every queued key press went out.
    pub fn wait_digits_sent(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let tx = self.endpoint.tx();
                if tx.queue.is_empty() && tx.current.is_none() {
                    return;
                }
                if Instant::now() >= deadline {
                    panic!(
                        "key presses not sent within {timeout:?} (sent so far: {:?}; remote {:?}, codec {:?}): \
                         does the bridge send RTP?",
                        tx.digits_sent,
                        tx.remote.or(tx.learned_remote),
                        tx.codec.or(tx.learned_codec)
                    );
                }
            }
            thread::sleep(PACKET);
        }
    }

    pub fn stats(&self) -> RxStats {
        self.endpoint.rx().stats.clone()
    }

    /// Waits for the next prompt and checks it is `prompt` (a WAV stem: "welcome", "joining",
    /// ...). Panics with what was heard instead, or what arrived at all on timeout.
    pub fn expect_prompt(&self, prompt: &str, timeout: Duration) -> Segment {
        let lib = PromptLibrary::english();
        lib.duration(prompt); // panics early on a typo
        self.endpoint.wait_rx(
            timeout,
            |rx| {
                while let Some(seg) = rx.analyzer.segments.pop_front() {
                    if seg.envelope.len() < 10 {
                        rx.heard
                            .push(format!("a {} ms blip", seg.duration().as_millis()));
                        continue;
                    }
                    let scores = lib.scores(&seg.envelope);
                    let best = &scores[0];
                    if best.prompt != prompt || best.score < audio::MIN_SCORE {
                        panic!(
                            "expected the {prompt} prompt, heard {} (heard before: {:?})",
                            audio::describe(lib, &seg),
                            rx.heard
                        );
                    }
                    rx.heard.push(format!("{prompt} ({:.2})", best.score));
                    // Prompts that ran together: keep the rest for the next expectation.
                    let rest: Vec<f32> = seg.envelope[best.consumed..]
                        .iter()
                        .copied()
                        .skip_while(|&r| r <= audio::SOUND_RMS)
                        .collect();
                    if rest.len() >= 10 {
                        let start = seg.start
                            + Duration::from_millis(
                                audio::WINDOW_MS * (seg.envelope.len() - rest.len()) as u64,
                            );
                        rx.analyzer.segments.push_front(Segment {
                            start,
                            envelope: rest,
                        });
                    }
                    let mut matched = seg;
                    matched.envelope.truncate(best.consumed);
                    return Some(matched);
                }
                None
            },
            |rx, now| {
                format!(
                    "no {prompt} prompt within {timeout:?}: {}",
                    describe_rx(rx, now)
                )
            },
        )
    }

    /// Waits until sound starts (a prompt began playing).
    pub fn wait_sound(&self, timeout: Duration) {
        self.endpoint.wait_rx(
            timeout,
            |rx| (rx.analyzer.in_sound() || !rx.analyzer.segments.is_empty()).then_some(()),
            |rx, now| format!("no sound within {timeout:?}: {}", describe_rx(rx, now)),
        )
    }

    /// Asserts RTP keeps arriving for `period` without a gap over 500 ms: the call is up.
    pub fn assert_flowing(&self, period: Duration) {
        let end = Instant::now() + period;
        while Instant::now() < end {
            thread::sleep(Duration::from_millis(100));
            let rx = self.endpoint.rx();
            let age = rx.stats.last_packet.map(|t| t.elapsed());
            if age.is_none_or(|a| a > Duration::from_millis(500)) {
                panic!(
                    "RTP from the bridge stopped: {}",
                    describe_rx(&rx, Instant::now())
                );
            }
        }
    }
}

fn describe_rx(rx: &RxState, now: Instant) -> String {
    let s = &rx.stats;
    format!(
        "{} RTP packets (by payload type {:?}, {} not RTP) from {:?}, last {}; {} of {} windows loud, \
         loudest quiet window RMS {:.0}, sound going on: {}, prompts heard: {:?}",
        s.packets,
        s.by_payload_type,
        s.not_rtp,
        s.first_source,
        s.last_packet.map_or("never".into(), |t| format!(
            "{} ms ago",
            (now - t).as_millis()
        )),
        rx.analyzer.sound_windows,
        rx.analyzer.windows,
        rx.analyzer.silence_peak_rms,
        rx.analyzer.in_sound(),
        rx.heard
    )
}

/// Counts and decodes what arrived, teaches the sender where and in which codec to answer,
/// and ends the sound going on when RTP stops.
fn receive(
    shared: &Shared<TxState, RxState>,
    g722: &mut Option<G722Decoder>,
    datagram: Option<(&[u8], SocketAddr)>,
    now: Instant,
) {
    let mut rx = shared.rx();
    if let Some((data, src)) = datagram {
        let Some(rtp) = Rtp::parse(data) else {
            rx.stats.not_rtp += 1;
            return;
        };
        rx.stats.packets += 1;
        *rx.stats
            .by_payload_type
            .entry(rtp.payload_type)
            .or_default() += 1;
        rx.stats.last_packet = Some(now);
        let first = rx.stats.first_source.is_none();
        rx.stats.first_source.get_or_insert(src);
        let codec = Codec::from_payload_type(rtp.payload_type);
        match codec {
            Some(law @ (Codec::Pcmu | Codec::Pcma)) => {
                let decode = match law {
                    Codec::Pcmu => g711::ulaw_to_linear,
                    _ => g711::alaw_to_linear,
                };
                let pcm: Vec<i16> = rtp.payload.iter().map(|&b| decode(b)).collect();
                rx.analyzer.push(8000, &pcm, now);
            }
            Some(Codec::G722) => g722.get_or_insert_with(G722Decoder::new).push(&rtp.payload),
            None => {}
        }
        if first || codec.is_some() {
            drop(rx);
            let mut tx = shared.tx();
            tx.learned_remote.get_or_insert(src);
            if let Some(c) = codec {
                tx.learned_codec.get_or_insert(c);
            }
            drop(tx);
            rx = shared.rx();
        }
    }
    if let Some(d) = g722.as_mut() {
        let pcm = d.pull();
        if !pcm.is_empty() {
            rx.analyzer.push(16000, &pcm, now);
        }
    }
    let stalled = rx.stats.last_packet.is_some_and(|t| now - t > RTP_STOPPED);
    if stalled && rx.analyzer.in_sound() {
        rx.analyzer.end_of_stream();
    }
}
