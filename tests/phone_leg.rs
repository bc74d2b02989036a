//! The phone leg against real GStreamer over loopback UDP: a test socket plays the phone.
//! Tests share process-wide counters (pipelines, threads), so they run one at a time.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dialbridge::ivr::Prompt;
use dialbridge::ivr::dtmf::DtmfSource;
use dialbridge::media::{self, Codec, MediaEvent, PhoneLeg, PhoneLegConfig, PromptSet};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::{AppSink, AppSrc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

const TE_PT: u8 = 101;
const TONE_PROMPT_MS: usize = 600;

/// Prompts: Welcome is a 600 ms 440 Hz tone (loud, easy to measure), the rest empty.
fn tone_prompts() -> Arc<PromptSet> {
    let tone = sine(&[440.0], 16000, TONE_PROMPT_MS * 16, 10000.0);
    Arc::new(PromptSet::from_pcm("t", 16000, [(Prompt::Welcome, tone)]))
}

fn config(codec: Codec, remote: Option<SocketAddr>) -> PhoneLegConfig {
    PhoneLegConfig {
        codec,
        payload_type: codec.static_payload_type(),
        telephone_event_pt: Some(TE_PT),
        remote,
        jitter_buffer_ms: 40,
        rtp_timeout: None,
        inband_dtmf: false,
    }
}

async fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.expect("loopback bind")
}

fn leg_socket() -> std::net::UdpSocket {
    std::net::UdpSocket::bind("127.0.0.1:0").expect("loopback bind")
}

fn sine(freqs: &[f64], rate: u32, len: usize, amplitude: f64) -> Vec<i16> {
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let v: f64 = freqs.iter().map(|f| (2.0 * std::f64::consts::PI * f * t).sin()).sum();
            (amplitude * v) as i16
        })
        .collect()
}

fn rms(s: &[i16]) -> f64 {
    (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt()
}

/// Relative power of `freq` in `s` (Goertzel), normalised so a pure tone of that frequency
/// gives about 1.
fn tone_share(s: &[i16], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in s {
        let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let energy: f64 = s.iter().map(|&x| f64::from(x).powi(2)).sum();
    2.0 * power / (s.len() as f64 * energy.max(1.0))
}

// --- G.711, written out independently of GStreamer -------------------------------------------

fn ulaw_encode(s: i16) -> u8 {
    let mut x = i32::from(s);
    let sign = if x < 0 { x = -x; 0x80 } else { 0 };
    x = x.min(32635) + 0x84;
    let exp = (31 - (x as u32).leading_zeros() - 7).min(7) as i32;
    let mant = (x >> (exp + 3)) & 0x0f;
    !(sign | (exp << 4) as u8 | mant as u8)
}

fn ulaw_decode(b: u8) -> i16 {
    let b = !b;
    let x = (((i32::from(b & 0x0f) << 3) + 0x84) << ((b >> 4) & 7)) - 0x84;
    (if b & 0x80 != 0 { -x } else { x }) as i16
}

fn alaw_encode(s: i16) -> u8 {
    let mut x = i32::from(s) >> 3;
    let mask = if x >= 0 { 0xd5 } else { x = -x - 1; 0x55 };
    let seg = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff].iter().position(|&e| x <= e);
    let Some(seg) = seg else { return 0x7f ^ mask };
    let mant = if seg < 2 { (x >> 1) & 0x0f } else { (x >> seg) & 0x0f };
    ((seg as i32) << 4 | mant) as u8 ^ mask
}

fn alaw_decode(a: u8) -> i16 {
    let a = a ^ 0x55;
    let (exp, mant) = (i32::from((a >> 4) & 7), i32::from(a & 0x0f));
    let x = if exp == 0 { (mant << 4) + 8 } else { ((mant << 4) + 0x108) << (exp - 1) };
    (if a & 0x80 != 0 { x } else { -x }) as i16
}

// --- The phone side ------------------------------------------------------------------------

/// RTP packets the test phone sends, each at a 20 ms slot.
struct Stream {
    seq: u16,
    ts: u32,
    packets: Vec<(u64, Vec<u8>)>,
}

impl Stream {
    fn new() -> Stream {
        Stream { seq: 1000, ts: 5000, packets: Vec::new() }
    }

    fn push(&mut self, slot: u64, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.packets.push((slot, p));
    }

    /// 20 ms audio packets of G.711 `pcm` at 8 kHz, starting at `slot`.
    fn g711(&mut self, slot: u64, pt: u8, pcm: &[i16], encode: fn(i16) -> u8) -> u64 {
        let mut slot = slot;
        for frame in pcm.chunks(160) {
            let payload: Vec<u8> = frame.iter().map(|&s| encode(s)).collect();
            self.push(slot, pt, false, self.ts, &payload);
            self.ts = self.ts.wrapping_add(160);
            slot += 1;
        }
        slot
    }

    /// An RFC 4733 event at `slot`: three updates and the end packet sent three times.
    fn event(&mut self, slot: u64, digit: char) {
        let code = "0123456789*#".find(digit).expect("a DTMF digit") as u8;
        let ts = 5000 + 160 * slot as u32; // the audio timestamp of the slot the event starts in
        for i in 0..6u16 {
            let end = i >= 3;
            let duration = 160 * (i.min(3) + 1);
            let mut payload = vec![code, if end { 0x80 } else { 0 } | 10];
            payload.extend_from_slice(&duration.to_be_bytes());
            self.push(slot + u64::from(i.min(4)), TE_PT, i == 0, ts, &payload);
        }
    }

    /// Sends the packets in real time from `socket` to `to`.
    async fn send(mut self, socket: Arc<UdpSocket>, to: SocketAddr) {
        self.packets.sort_by_key(|(slot, _)| *slot);
        let start = Instant::now();
        for (slot, packet) in self.packets {
            tokio::time::sleep_until(start + Duration::from_millis(20 * slot)).await;
            socket.send_to(&packet, to).await.expect("loopback send");
        }
    }
}

/// Packets that arrived at `socket` during `window`.
async fn capture(socket: &UdpSocket, window: Duration) -> Vec<(Vec<u8>, SocketAddr)> {
    let end = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(Ok((n, from))) = tokio::time::timeout_at(end, socket.recv_from(&mut buf)).await {
        out.push((buf[..n].to_vec(), from));
    }
    out
}

/// Drains everything already queued at `socket`.
async fn flush(socket: &UdpSocket) {
    let _ = capture(socket, Duration::from_millis(1)).await;
}

async fn next_event(events: &mut mpsc::Receiver<MediaEvent>, within: Duration) -> Option<MediaEvent> {
    timeout(within, events.recv()).await.ok().flatten()
}

/// Decodes G.722 RTP packets with GStreamer.
fn decode_g722(packets: &[Vec<u8>]) -> Vec<i16> {
    let pipeline = gst::parse::launch(
        "appsrc name=src format=time caps=application/x-rtp,media=audio,clock-rate=8000,\
         encoding-name=G722,payload=9 ! rtpg722depay ! avdec_g722 ! audioconvert \
         ! audio/x-raw,format=S16LE,channels=1 ! appsink name=sink sync=false",
    )
    .expect("test decoder parses")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let src = pipeline.by_name("src").and_downcast::<AppSrc>().expect("appsrc");
    let sink = pipeline.by_name("sink").and_downcast::<AppSink>().expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("test decoder plays");
    for p in packets {
        src.push_buffer(gst::Buffer::from_slice(p.clone())).expect("push");
    }
    src.end_of_stream().expect("eos");
    let mut pcm = Vec::new();
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(2)) {
        let map = sample.buffer().expect("buffer").map_readable().expect("readable");
        pcm.extend(map.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
    }
    pipeline.set_state(gst::State::Null).expect("test decoder stops");
    pcm
}

/// Encodes 16 kHz PCM to G.722 RTP payloads of 20 ms with GStreamer.
fn encode_g722(pcm: &[i16]) -> Vec<Vec<u8>> {
    let pipeline = gst::parse::launch(
        "appsrc name=src format=time caps=audio/x-raw,format=S16LE,layout=interleaved,rate=16000,\
         channels=1 ! avenc_g722 ! rtpg722pay min-ptime=20000000 max-ptime=20000000 \
         ! appsink name=sink sync=false",
    )
    .expect("test encoder parses")
    .downcast::<gst::Pipeline>()
    .expect("a pipeline");
    let src = pipeline.by_name("src").and_downcast::<AppSrc>().expect("appsrc");
    let sink = pipeline.by_name("sink").and_downcast::<AppSink>().expect("appsink");
    pipeline.set_state(gst::State::Playing).expect("test encoder plays");
    for (i, frame) in pcm.chunks(320).enumerate() {
        let bytes: Vec<u8> = frame.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut buffer = gst::Buffer::from_mut_slice(bytes);
        buffer.get_mut().expect("fresh").set_pts(gst::ClockTime::from_mseconds(20 * i as u64));
        src.push_buffer(buffer).expect("push");
    }
    src.end_of_stream().expect("eos");
    let mut payloads = Vec::new();
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(2)) {
        let map = sample.buffer().expect("buffer").map_readable().expect("readable");
        payloads.push(map[12..].to_vec());
    }
    pipeline.set_state(gst::State::Null).expect("test encoder stops");
    payloads
}

fn payload(p: &[u8]) -> &[u8] {
    &p[12..]
}

/// Per-packet RMS of G.711 packets.
fn g711_rms(packets: &[(Vec<u8>, SocketAddr)], decode: fn(u8) -> i16) -> Vec<f64> {
    packets
        .iter()
        .map(|(p, _)| rms(&payload(p).iter().map(|&b| decode(b)).collect::<Vec<_>>()))
        .collect()
}

/// Checks that packets are one continuous RTP stream: one SSRC, seq +1, timestamp +160.
fn assert_continuous(packets: &[(Vec<u8>, SocketAddr)]) {
    for pair in packets.windows(2) {
        let (a, b) = (&pair[0].0, &pair[1].0);
        assert_eq!(a[8..12], b[8..12], "one SSRC");
        let seq = |p: &[u8]| u16::from_be_bytes([p[2], p[3]]);
        let ts = |p: &[u8]| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        assert_eq!(seq(b), seq(a).wrapping_add(1), "continuous sequence numbers");
        assert_eq!(ts(b), ts(a).wrapping_add(160), "continuous timestamps");
    }
}

fn pcm_collector(leg: &PhoneLeg) -> Arc<Mutex<Vec<i16>>> {
    let pcm = Arc::new(Mutex::new(Vec::new()));
    let sink = pcm.clone();
    leg.set_pcm_tap(Some(Box::new(move |s: &[i16]| sink.lock().unwrap().extend_from_slice(s))));
    pcm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcmu_digits_tone_prompt_and_silence() {
    let _serial = serial();
    let phone = Arc::new(bind().await);
    let (tx, mut events) = mpsc::channel(16);
    let leg = PhoneLeg::start(
        leg_socket(),
        config(Codec::PCMU, Some(phone.local_addr().unwrap())),
        tone_prompts(),
        tx,
    )
    .expect("leg starts");
    let pcm = pcm_collector(&leg);

    // The phone: 1.2 s of 1000 Hz with "4", "2", "#" as RFC 4733 events in between.
    let mut stream = Stream::new();
    stream.g711(0, 0, &sine(&[1000.0], 8000, 9600, 8000.0), ulaw_encode);
    for (i, digit) in "42#".chars().enumerate() {
        stream.event(10 + 15 * i as u64, digit);
    }
    let sender = tokio::spawn(stream.send(phone.clone(), leg.local_addr()));

    // Before any prompt: silence, continuously.
    let idle = capture(&phone, Duration::from_millis(400)).await;
    assert!(idle.len() >= 15, "a packet every 20 ms, got {}", idle.len());
    assert!(g711_rms(&idle, ulaw_decode).iter().all(|&r| r < 10.0), "silence when idle");
    assert!(idle.iter().all(|(p, _)| p.len() == 12 + 160 && p[1] & 0x7f == 0), "PCMU, 20 ms");

    let mut digits = Vec::new();
    while let Some(event) = next_event(&mut events, Duration::from_millis(1500)).await {
        match event {
            MediaEvent::Digit { digit, source } => {
                assert_eq!(source, DtmfSource::Rfc4733);
                digits.push(digit);
            }
            other => panic!("unexpected {other:?}"),
        }
        if digits.len() == 3 {
            break;
        }
    }
    assert_eq!(digits, ['4', '2', '#'], "each digit once");
    sender.await.unwrap();
    sleep(Duration::from_millis(150)).await;
    let heard = pcm.lock().unwrap().clone();
    assert!(heard.len() > 8000, "about 1.2 s of decoded audio, got {}", heard.len());
    assert!(tone_share(&heard[800..], 8000, 1000.0) > 0.8, "the 1000 Hz tone came through");

    // A prompt: loud packets, then PromptDone, then silence again; one continuous stream.
    flush(&phone).await;
    leg.play(Prompt::Welcome);
    let started = Instant::now();
    let during = capture(&phone, Duration::from_millis(TONE_PROMPT_MS as u64 - 60)).await;
    assert_eq!(next_event(&mut events, Duration::from_secs(2)).await, Some(MediaEvent::PromptDone));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(TONE_PROMPT_MS as u64 - 40), "real-time: {took:?}");
    let loud = g711_rms(&during, ulaw_decode).iter().filter(|&&r| r > 3000.0).count();
    assert!(loud + 2 >= during.len() && loud >= 20, "{loud} of {} packets loud", during.len());
    let after = capture(&phone, Duration::from_millis(200)).await;
    let mut all = during;
    all.extend(after);
    assert_continuous(&all);
    let levels = g711_rms(&all, ulaw_decode);
    let last_loud = levels.iter().rposition(|&r| r > 3000.0).expect("loud packets");
    let loud = levels.iter().filter(|&&r| r > 3000.0).count();
    assert!(loud.abs_diff(TONE_PROMPT_MS / 20) <= 1, "{loud} loud packets for a 600 ms prompt");
    assert!(levels[last_loud + 2..].iter().all(|&r| r < 10.0), "silence after: {levels:?}");
    assert_eq!(leg.stats().rx_unexpected_pt, 0);
    leg.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_prompt_silences_within_a_packet_without_prompt_done() {
    let _serial = serial();
    let phone = bind().await;
    let (tx, mut events) = mpsc::channel(16);
    let remote = Some(phone.local_addr().unwrap());
    let leg = PhoneLeg::start(leg_socket(), config(Codec::PCMU, remote), tone_prompts(), tx)
        .expect("leg starts");
    leg.play(Prompt::Welcome);
    sleep(Duration::from_millis(200)).await;
    leg.stop_prompt();
    flush(&phone).await;
    sleep(Duration::from_millis(40)).await;
    let after = capture(&phone, Duration::from_millis(300)).await;
    assert!(g711_rms(&after, ulaw_decode).iter().all(|&r| r < 10.0), "stopped at once");
    assert_eq!(next_event(&mut events, Duration::from_millis(600)).await, None, "no PromptDone");
    // Replacing: only the second play reports done.
    leg.play(Prompt::Welcome);
    sleep(Duration::from_millis(100)).await;
    leg.play(Prompt::Goodbye);
    assert_eq!(next_event(&mut events, Duration::from_secs(1)).await, Some(MediaEvent::PromptDone));
    assert_eq!(next_event(&mut events, Duration::from_millis(800)).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symmetric_rtp_follows_the_latest_source() {
    let _serial = serial();
    let sdp_address = bind().await;
    let (phone_a, phone_b) = (Arc::new(bind().await), Arc::new(bind().await));
    let (tx, _events) = mpsc::channel(16);
    let remote = Some(sdp_address.local_addr().unwrap());
    let leg = PhoneLeg::start(leg_socket(), config(Codec::PCMU, remote), tone_prompts(), tx)
        .expect("leg starts");
    assert!(capture(&sdp_address, Duration::from_millis(200)).await.len() >= 5, "SDP address first");

    let silence = vec![0i16; 1600];
    for phone in [&phone_a, &phone_b] {
        let mut stream = Stream::new();
        stream.g711(0, 0, &silence, ulaw_encode);
        stream.send(phone.clone(), leg.local_addr()).await;
        flush(phone).await;
        let got = capture(phone, Duration::from_millis(200)).await;
        assert!(got.len() >= 5, "outbound follows the latest source, got {}", got.len());
        assert!(got.iter().all(|(_, from)| *from == leg.local_addr()), "sent from the RTP port");
    }
    flush(&phone_a).await;
    assert!(capture(&phone_a, Duration::from_millis(200)).await.is_empty(), "not to the old one");

    // A re-INVITE to a new address drops the latch; hold stops sending.
    let moved = bind().await;
    leg.update_remote(Some(moved.local_addr().unwrap()), false);
    sleep(Duration::from_millis(50)).await;
    flush(&moved).await;
    assert!(capture(&moved, Duration::from_millis(200)).await.len() >= 5, "new SDP address");
    leg.update_remote(Some(moved.local_addr().unwrap()), true);
    sleep(Duration::from_millis(50)).await;
    flush(&moved).await;
    assert!(capture(&moved, Duration::from_millis(200)).await.is_empty(), "on hold: nothing sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcma_tone_in_real_prompt_out() {
    let _serial = serial();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    let prompts = Arc::new(PromptSet::load(&dir, "en").expect("shipped prompts load"));
    let phone = Arc::new(bind().await);
    let (tx, mut events) = mpsc::channel(16);
    let mut cfg = config(Codec::PCMA, Some(phone.local_addr().unwrap()));
    cfg.telephone_event_pt = None;
    let leg = PhoneLeg::start(leg_socket(), cfg, prompts.clone(), tx).expect("leg starts");
    let pcm = pcm_collector(&leg);
    let mut stream = Stream::new();
    stream.g711(0, 8, &sine(&[1000.0], 8000, 8000, 8000.0), alaw_encode);
    stream.send(phone.clone(), leg.local_addr()).await;
    sleep(Duration::from_millis(150)).await;
    let heard = pcm.lock().unwrap().clone();
    assert!(heard.len() > 6400 && tone_share(&heard[800..], 8000, 1000.0) > 0.8, "A-law tone in");

    flush(&phone).await;
    leg.play(Prompt::Joining);
    let started = Instant::now();
    let during = capture(&phone, prompts.duration(Prompt::Joining) - Duration::from_millis(100)).await;
    assert_eq!(next_event(&mut events, Duration::from_secs(2)).await, Some(MediaEvent::PromptDone));
    let took = started.elapsed().as_secs_f64();
    let expected = prompts.duration(Prompt::Joining).as_secs_f64();
    assert!((took - expected).abs() < 0.25, "took {took:.2} s for a {expected:.2} s prompt");
    assert!(during.iter().all(|(p, _)| p[1] & 0x7f == 8 && p.len() == 172), "PCMA, 20 ms");
    let levels = g711_rms(&during, alaw_decode);
    assert!(levels.iter().filter(|&&r| r > 1000.0).count() > levels.len() / 3, "speech is heard");
    let after = capture(&phone, Duration::from_millis(200)).await;
    assert!(g711_rms(&after[2..], alaw_decode).iter().all(|&r| r < 10.0), "silence after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g722_tone_in_prompt_out() {
    let _serial = serial();
    let phone = Arc::new(bind().await);
    let (tx, mut events) = mpsc::channel(16);
    let remote = Some(phone.local_addr().unwrap());
    let leg = PhoneLeg::start(leg_socket(), config(Codec::G722, remote), tone_prompts(), tx)
        .expect("leg starts");
    let pcm = pcm_collector(&leg);
    let mut stream = Stream::new();
    for (slot, payload) in encode_g722(&sine(&[1000.0], 16000, 16000, 8000.0)).iter().enumerate() {
        stream.push(slot as u64, 9, false, stream.ts, payload);
        stream.ts += 160;
    }
    stream.send(phone.clone(), leg.local_addr()).await;
    sleep(Duration::from_millis(150)).await;
    let heard = pcm.lock().unwrap().clone();
    assert!(heard.len() > 12800, "16 kHz audio, got {} samples", heard.len());
    assert!(tone_share(&heard[1600..], 16000, 1000.0) > 0.8, "G.722 tone in");

    flush(&phone).await;
    let idle = capture(&phone, Duration::from_millis(200)).await;
    assert!(idle.iter().all(|(p, _)| p[1] & 0x7f == 9 && p.len() == 172), "G.722, 20 ms");
    let idle_pcm = decode_g722(&idle.into_iter().map(|(p, _)| p).collect::<Vec<_>>());
    assert!(rms(&idle_pcm) < 50.0, "silence when idle: {}", rms(&idle_pcm));
    leg.play(Prompt::Welcome);
    let during = capture(&phone, Duration::from_millis(TONE_PROMPT_MS as u64 - 40)).await;
    assert_eq!(next_event(&mut events, Duration::from_secs(2)).await, Some(MediaEvent::PromptDone));
    let packets: Vec<Vec<u8>> = during.iter().map(|(p, _)| p.clone()).collect();
    let played = decode_g722(&packets);
    assert!(rms(&played) > 4000.0, "prompt heard: rms {}", rms(&played));
    assert!(tone_share(&played[1600..], 16000, 440.0) > 0.5, "it is the 440 Hz prompt");
    assert_continuous(&during);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inband_dtmf_in_the_audio_gives_digits() {
    let _serial = serial();
    let phone = Arc::new(bind().await);
    let (tx, mut events) = mpsc::channel(16);
    let mut cfg = config(Codec::PCMU, Some(phone.local_addr().unwrap()));
    cfg.telephone_event_pt = None;
    cfg.inband_dtmf = true;
    let leg = PhoneLeg::start(leg_socket(), cfg, tone_prompts(), tx).expect("leg starts");
    let mut pcm = vec![0i16; 1600];
    for (low, high) in [(770.0, 1209.0), (697.0, 1336.0), (941.0, 1477.0)] {
        pcm.extend(sine(&[low, high], 8000, 960, 6000.0)); // 120 ms key press
        pcm.extend(vec![0i16; 960]);
    }
    let mut stream = Stream::new();
    stream.g711(0, 0, &pcm, ulaw_encode);
    stream.send(phone.clone(), leg.local_addr()).await;
    let mut digits = Vec::new();
    while let Some(MediaEvent::Digit { digit, source }) =
        next_event(&mut events, Duration::from_millis(700)).await
    {
        assert_eq!(source, DtmfSource::Inband);
        digits.push(digit);
    }
    assert_eq!(digits, ['4', '2', '#']);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packets_are_counted_and_timeout_fires_once() {
    let _serial = serial();
    let phone = bind().await;
    let (tx, mut events) = mpsc::channel(16);
    let mut cfg = config(Codec::PCMU, Some(phone.local_addr().unwrap()));
    cfg.rtp_timeout = Some(Duration::from_millis(300));
    let leg = PhoneLeg::start(leg_socket(), cfg, tone_prompts(), tx).expect("leg starts");
    let to = leg.local_addr();
    let mut wrong_pt = vec![0x80, 18, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
    wrong_pt.extend([0u8; 20]);
    let bad_te = [0x80, TE_PT, 0, 2, 0, 0, 0, 0, 1, 2, 3, 4, 0xff];
    for junk in [&b"hello"[..], &[0x40; 40], &[0x8f; 13], &wrong_pt, &bad_te, &[]] {
        phone.send_to(junk, to).await.unwrap();
    }
    sleep(Duration::from_millis(100)).await;
    let stats = leg.stats();
    assert_eq!((stats.rx_invalid, stats.rx_unexpected_pt), (4, 1), "{stats:?}");
    assert_eq!((stats.rx_packets, stats.rx_dtmf_errors), (1, 1), "{stats:?}");
    assert!(capture(&phone, Duration::from_millis(100)).await.len() >= 3, "still sending");
    assert_eq!(next_event(&mut events, Duration::from_secs(1)).await, Some(MediaEvent::RtpTimeout));
    assert_eq!(next_event(&mut events, Duration::from_millis(700)).await, None, "only once");
}

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux procfs");
    let line = status.lines().find(|l| l.starts_with("Threads:")).expect("a Threads line");
    line[8..].trim().parse().expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_tears_down_pipelines_and_threads() {
    let _serial = serial();
    media::init().unwrap();
    let phone = bind().await;
    let remote = Some(phone.local_addr().unwrap());
    let start = |n: usize| -> Vec<PhoneLeg> {
        (0..n)
            .map(|_| {
                let (tx, _) = mpsc::channel(4);
                let leg = PhoneLeg::start(leg_socket(), config(Codec::PCMU, remote), tone_prompts(), tx);
                leg.expect("leg starts")
            })
            .collect()
    };
    start(1).into_iter().for_each(PhoneLeg::stop); // warm up GStreamer's thread pool
    let (pipelines, threads_before) = (media::active_pipelines(), threads());
    let legs = start(4);
    assert_eq!(media::active_pipelines(), pipelines + 8);
    let mut stream = Stream::new();
    stream.g711(0, 0, &[0i16; 800], ulaw_encode);
    let phone = Arc::new(phone);
    for leg in &legs {
        Stream { packets: stream.packets.clone(), ..Stream::new() }
            .send(phone.clone(), leg.local_addr())
            .await;
    }
    let threads_during = threads();
    legs.into_iter().for_each(PhoneLeg::stop);
    assert_eq!(media::active_pipelines(), pipelines);
    assert!(threads_during >= threads_before + 2, "{threads_before} -> {threads_during}");
    // Stopping returns GStreamer's streaming threads to GLib's pool; the pool lets an idle
    // thread exit after half a second and keeps up to two for reuse.
    let deadline = Instant::now() + Duration::from_secs(3);
    while threads() > threads_before + 2 && Instant::now() < deadline {
        sleep(Duration::from_millis(100)).await;
    }
    let threads_after = threads();
    assert!(threads_after <= threads_before + 2, "{threads_before} -> {threads_after}");
    sleep(Duration::from_millis(100)).await;
    flush(&phone).await;
    assert!(capture(&phone, Duration::from_millis(100)).await.is_empty(), "nothing sent after stop");
}
