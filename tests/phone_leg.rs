//! The phone leg against real GStreamer over loopback UDP: a test socket plays the phone.
//! Tests share process-wide counters (pipelines, threads), so they run one at a time.

mod common;
#[path = "phone_leg/lifecycle.rs"]
mod lifecycle;
#[path = "phone_leg/peer.rs"]
mod peer;
#[path = "phone_leg/srtp.rs"]
mod srtp;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dialbridge::ivr::Prompt;
use dialbridge::ivr::dtmf::DtmfSource;
use dialbridge::media::{Codec, MediaEvent, PhoneLeg, PhoneLegConfig, PromptSet};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};

use peer::*;

/// Serialises the tests: they measure process-wide pipeline and thread counts.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

pub(crate) const TONE_PROMPT_MS: usize = 600;

/// Prompts: Welcome is a 600 ms 440 Hz tone (loud, easy to measure), the rest empty.
pub(crate) fn tone_prompts() -> Arc<PromptSet> {
    let tone = tones(&[440.0], 10000.0, 16000, 0, TONE_PROMPT_MS * 16);
    Arc::new(PromptSet::from_pcm("t", 16000, [(Prompt::Welcome, tone)]))
}

pub(crate) fn config(codec: Codec, remote: Option<SocketAddr>) -> PhoneLegConfig {
    PhoneLegConfig {
        codec,
        payload_type: codec.static_payload_type(),
        telephone_event_pt: Some(TE_PT),
        remote,
        jitter_buffer_ms: 40,
        rtp_timeout: None,
        inband_dtmf: false,
        srtp: None,
    }
}

pub(crate) async fn next_event(
    events: &mut mpsc::Receiver<MediaEvent>,
    within: Duration,
) -> Option<MediaEvent> {
    timeout(within, events.recv()).await.ok().flatten()
}

/// A leg for `codec` that sends to `remote`, with the tone prompts, and its events.
pub(crate) fn start_leg(
    codec: Codec,
    remote: Option<SocketAddr>,
) -> (PhoneLeg, mpsc::Receiver<MediaEvent>) {
    let (tx, events) = mpsc::channel(16);
    let leg = PhoneLeg::start(leg_socket(), config(codec, remote), tone_prompts(), tx)
        .expect("leg starts");
    (leg, events)
}

pub(crate) fn pcm_collector(leg: &PhoneLeg) -> Arc<Mutex<Vec<i16>>> {
    let pcm = Arc::new(Mutex::new(Vec::new()));
    let sink = pcm.clone();
    leg.set_pcm_tap(Some(Box::new(move |s: &[i16]| {
        sink.lock().unwrap().extend_from_slice(s)
    })));
    pcm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcmu_digits_tone_prompt_and_silence() {
    let _serial = serial().await;
    let phone = Arc::new(bind().await);
    let (leg, mut events) = start_leg(Codec::PCMU, Some(phone.local_addr().unwrap()));
    let pcm = pcm_collector(&leg);

    // The phone: 1.2 s of 1000 Hz with "4", "2", "#" as RFC 4733 events in between.
    let mut stream = Stream::new();
    stream.g711(0, 0, &tones(&[1000.0], 8000.0, 8000, 0, 9600), ulaw_encode);
    for (i, digit) in "42#".chars().enumerate() {
        stream.event(10 + 15 * i as u64, digit);
    }
    let sender = tokio::spawn(stream.send(phone.clone(), leg.local_addr()));

    // Before any prompt: silence, continuously.
    let idle = capture(&phone, Duration::from_millis(400)).await;
    assert!(idle.len() >= 15, "a packet every 20 ms, got {}", idle.len());
    assert!(
        g711_rms(&idle, ulaw_decode).iter().all(|&r| r < 10.0),
        "silence when idle"
    );
    assert!(
        idle.iter()
            .all(|(p, _)| p.len() == 12 + 160 && p[1] & 0x7f == 0),
        "PCMU, 20 ms"
    );

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
    assert!(
        heard.len() > 8000,
        "about 1.2 s of decoded audio, got {}",
        heard.len()
    );
    assert!(
        tone_share(&heard[800..], 8000, 1000.0) > 0.8,
        "the 1000 Hz tone came through"
    );

    // A prompt: loud packets, then PromptDone, then silence again; one continuous stream.
    flush(&phone).await;
    leg.play(Prompt::Welcome);
    let started = Instant::now();
    let during = capture(&phone, Duration::from_millis(TONE_PROMPT_MS as u64 - 60)).await;
    assert_eq!(
        next_event(&mut events, Duration::from_secs(2)).await,
        Some(MediaEvent::PromptDone)
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(TONE_PROMPT_MS as u64 - 40),
        "real-time: {took:?}"
    );
    let loud = g711_rms(&during, ulaw_decode)
        .iter()
        .filter(|&&r| r > 3000.0)
        .count();
    assert!(
        loud + 2 >= during.len() && loud >= 20,
        "{loud} of {} packets loud",
        during.len()
    );
    let after = capture(&phone, Duration::from_millis(200)).await;
    let mut all = during;
    all.extend(after);
    assert_continuous(&all);
    let levels = g711_rms(&all, ulaw_decode);
    let last_loud = levels
        .iter()
        .rposition(|&r| r > 3000.0)
        .expect("loud packets");
    let loud = levels.iter().filter(|&&r| r > 3000.0).count();
    assert!(
        loud.abs_diff(TONE_PROMPT_MS / 20) <= 1,
        "{loud} loud packets for a 600 ms prompt"
    );
    assert!(
        levels[last_loud + 2..].iter().all(|&r| r < 10.0),
        "silence after: {levels:?}"
    );
    assert_eq!(leg.stats().rx_unexpected_pt, 0);
    leg.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_prompt_silences_within_a_packet_without_prompt_done() {
    let _serial = serial().await;
    let phone = bind().await;
    let remote = Some(phone.local_addr().unwrap());
    let (leg, mut events) = start_leg(Codec::PCMU, remote);
    leg.play(Prompt::Welcome);
    sleep(Duration::from_millis(200)).await;
    leg.stop_prompt();
    flush(&phone).await;
    sleep(Duration::from_millis(40)).await;
    let after = capture(&phone, Duration::from_millis(300)).await;
    assert!(
        g711_rms(&after, ulaw_decode).iter().all(|&r| r < 10.0),
        "stopped at once"
    );
    assert_eq!(
        next_event(&mut events, Duration::from_millis(600)).await,
        None,
        "no PromptDone"
    );
    // Replacing: only the second play reports done.
    leg.play(Prompt::Welcome);
    sleep(Duration::from_millis(100)).await;
    leg.play(Prompt::Goodbye);
    assert_eq!(
        next_event(&mut events, Duration::from_secs(1)).await,
        Some(MediaEvent::PromptDone)
    );
    assert_eq!(
        next_event(&mut events, Duration::from_millis(800)).await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcma_tone_in_real_prompt_out() {
    let _serial = serial().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    let prompts = Arc::new(PromptSet::load(&dir, "en").expect("shipped prompts load"));
    let phone = Arc::new(bind().await);
    let (tx, mut events) = mpsc::channel(16);
    let mut cfg = config(Codec::PCMA, Some(phone.local_addr().unwrap()));
    cfg.telephone_event_pt = None;
    let leg = PhoneLeg::start(leg_socket(), cfg, prompts.clone(), tx).expect("leg starts");
    let pcm = pcm_collector(&leg);
    let mut stream = Stream::new();
    stream.g711(0, 8, &tones(&[1000.0], 8000.0, 8000, 0, 8000), alaw_encode);
    stream.send(phone.clone(), leg.local_addr()).await;
    sleep(Duration::from_millis(150)).await;
    let heard = pcm.lock().unwrap().clone();
    assert!(
        heard.len() > 6400 && tone_share(&heard[800..], 8000, 1000.0) > 0.8,
        "A-law tone in"
    );

    flush(&phone).await;
    leg.play(Prompt::Joining);
    let started = Instant::now();
    let during = capture(
        &phone,
        prompts.duration(Prompt::Joining) - Duration::from_millis(100),
    )
    .await;
    assert_eq!(
        next_event(&mut events, Duration::from_secs(2)).await,
        Some(MediaEvent::PromptDone)
    );
    let took = started.elapsed().as_secs_f64();
    let expected = prompts.duration(Prompt::Joining).as_secs_f64();
    assert!(
        (took - expected).abs() < 0.25,
        "took {took:.2} s for a {expected:.2} s prompt"
    );
    assert!(
        during
            .iter()
            .all(|(p, _)| p[1] & 0x7f == 8 && p.len() == 172),
        "PCMA, 20 ms"
    );
    let levels = g711_rms(&during, alaw_decode);
    assert!(
        levels.iter().filter(|&&r| r > 1000.0).count() > levels.len() / 3,
        "speech is heard"
    );
    let after = capture(&phone, Duration::from_millis(200)).await;
    assert!(
        g711_rms(&after[2..], alaw_decode).iter().all(|&r| r < 10.0),
        "silence after"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g722_tone_in_prompt_out() {
    let _serial = serial().await;
    let phone = Arc::new(bind().await);
    let remote = Some(phone.local_addr().unwrap());
    let (leg, mut events) = start_leg(Codec::G722, remote);
    let pcm = pcm_collector(&leg);
    let mut stream = Stream::new();
    for (slot, payload) in encode_g722(&tones(&[1000.0], 8000.0, 16000, 0, 16000))
        .iter()
        .enumerate()
    {
        stream.push(slot as u64, 9, false, stream.ts, payload);
        stream.ts += 160;
    }
    stream.send(phone.clone(), leg.local_addr()).await;
    sleep(Duration::from_millis(150)).await;
    let heard = pcm.lock().unwrap().clone();
    assert!(
        heard.len() > 12800,
        "16 kHz audio, got {} samples",
        heard.len()
    );
    assert!(
        tone_share(&heard[1600..], 16000, 1000.0) > 0.8,
        "G.722 tone in"
    );

    flush(&phone).await;
    let idle = capture(&phone, Duration::from_millis(200)).await;
    assert!(
        idle.iter().all(|(p, _)| p[1] & 0x7f == 9 && p.len() == 172),
        "G.722, 20 ms"
    );
    let idle_pcm = decode_g722(&idle.into_iter().map(|(p, _)| p).collect::<Vec<_>>());
    assert!(
        rms(&idle_pcm) < 50.0,
        "silence when idle: {}",
        rms(&idle_pcm)
    );
    leg.play(Prompt::Welcome);
    let during = capture(&phone, Duration::from_millis(TONE_PROMPT_MS as u64 - 40)).await;
    assert_eq!(
        next_event(&mut events, Duration::from_secs(2)).await,
        Some(MediaEvent::PromptDone)
    );
    let packets: Vec<Vec<u8>> = during.iter().map(|(p, _)| p.clone()).collect();
    let played = decode_g722(&packets);
    assert!(rms(&played) > 4000.0, "prompt heard: rms {}", rms(&played));
    assert!(
        tone_share(&played[1600..], 16000, 440.0) > 0.5,
        "it is the 440 Hz prompt"
    );
    assert_continuous(&during);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inband_dtmf_in_the_audio_gives_digits() {
    let _serial = serial().await;
    let phone = Arc::new(bind().await);
    let (tx, mut events) = mpsc::channel(16);
    let mut cfg = config(Codec::PCMU, Some(phone.local_addr().unwrap()));
    cfg.telephone_event_pt = None;
    cfg.inband_dtmf = true;
    let leg = PhoneLeg::start(leg_socket(), cfg, tone_prompts(), tx).expect("leg starts");
    let mut pcm = vec![0i16; 1600];
    for (low, high) in [(770.0, 1209.0), (697.0, 1336.0), (941.0, 1477.0)] {
        pcm.extend(tones(&[low, high], 6000.0, 8000, 0, 960)); // 120 ms key press
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
