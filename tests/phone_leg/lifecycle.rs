//! Addresses, hold, bad input, timeouts and teardown.

use std::sync::Arc;
use std::time::Duration;

use dialbridge::media::{self, Codec, MediaEvent, PhoneLeg};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

use super::peer::*;
use super::{config, next_event, pcm_collector, serial, start_leg, tone_prompts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symmetric_rtp_follows_the_latest_source() {
    let _serial = serial().await;
    let sdp_address = bind().await;
    let (phone_a, phone_b) = (Arc::new(bind().await), Arc::new(bind().await));
    let remote = Some(sdp_address.local_addr().unwrap());
    let (leg, _events) = start_leg(Codec::PCMU, remote);
    assert!(
        capture(&sdp_address, Duration::from_millis(200))
            .await
            .len()
            >= 5,
        "SDP address first"
    );

    let silence = vec![0i16; 1600];
    for phone in [&phone_a, &phone_b] {
        let mut stream = Stream::new();
        stream.g711(0, 0, &silence, ulaw_encode);
        stream.send(phone.clone(), leg.local_addr()).await;
        flush(phone).await;
        let got = capture(phone, Duration::from_millis(200)).await;
        assert!(
            got.len() >= 5,
            "outbound follows the latest source, got {}",
            got.len()
        );
        assert!(
            got.iter().all(|(_, from)| *from == leg.local_addr()),
            "sent from the RTP port"
        );
    }
    flush(&phone_a).await;
    assert!(
        capture(&phone_a, Duration::from_millis(200))
            .await
            .is_empty(),
        "not to the old one"
    );

    // A re-INVITE to a new address drops the latch; hold stops sending.
    let moved = bind().await;
    leg.update_remote(Some(moved.local_addr().unwrap()), false);
    sleep(Duration::from_millis(50)).await;
    flush(&moved).await;
    assert!(
        capture(&moved, Duration::from_millis(200)).await.len() >= 5,
        "new SDP address"
    );
    leg.update_remote(Some(moved.local_addr().unwrap()), true);
    sleep(Duration::from_millis(50)).await;
    flush(&moved).await;
    assert!(
        capture(&moved, Duration::from_millis(200)).await.is_empty(),
        "on hold: nothing sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_take_over_the_stream() {
    let _serial = serial().await;
    let (caller, stranger) = (Arc::new(bind().await), Arc::new(bind().await));
    let remote = Some(caller.local_addr().unwrap());
    let (leg, _events) = start_leg(Codec::PCMU, remote);
    let pcm = pcm_collector(&leg);
    // The caller talks (1000 Hz) while a stranger sends 400 Hz with its own SSRC from another
    // port, starting 100 ms later.
    let mut talk = Stream::new();
    talk.g711(0, 0, &tones(&[1000.0], 8000.0, 8000, 0, 8000), ulaw_encode);
    let mut noise = Stream {
        ssrc: 0x0bad_0bad,
        ..Stream::new()
    };
    noise.g711(5, 0, &tones(&[400.0], 8000.0, 8000, 0, 6400), ulaw_encode);
    let to = leg.local_addr();
    tokio::join!(
        talk.send(caller.clone(), to),
        noise.send(stranger.clone(), to)
    );
    sleep(Duration::from_millis(100)).await;
    let stats = leg.stats();
    assert_eq!(
        stats.rx_foreign, 40,
        "every stranger packet dropped: {stats:?}"
    );
    let heard = pcm.lock().unwrap().clone();
    assert!(heard.len() >= 7000, "the caller's audio was decoded");
    assert!(
        tone_share(&heard, 8000, 1000.0) > 0.8,
        "and nothing of the stranger's"
    );
    flush(&stranger).await;
    flush(&caller).await;
    assert!(
        capture(&stranger, Duration::from_millis(200))
            .await
            .is_empty(),
        "nothing is sent to the stranger"
    );
    assert!(
        capture(&caller, Duration::from_millis(200)).await.len() >= 5,
        "the caller still gets its audio"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_packets_are_counted_and_timeout_fires_once() {
    let _serial = serial().await;
    let phone = bind().await;
    let (tx, mut events) = mpsc::channel(16);
    let mut cfg = config(Codec::PCMU, Some(phone.local_addr().unwrap()));
    cfg.rtp_timeout = Some(Duration::from_millis(300));
    let leg = PhoneLeg::start(leg_socket(), cfg, tone_prompts(), tx).expect("leg starts");
    let to = leg.local_addr();
    let mut wrong_pt = vec![0x80, 18, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
    wrong_pt.extend([0u8; 20]);
    let bad_te = [0x80, TE_PT, 0, 2, 0, 0, 0, 0, 1, 2, 3, 4, 0xff];
    for junk in [
        &b"hello"[..],
        &[0x40; 40],
        &[0x8f; 13],
        &wrong_pt,
        &bad_te,
        &[],
    ] {
        phone.send_to(junk, to).await.unwrap();
    }
    sleep(Duration::from_millis(100)).await;
    let stats = leg.stats();
    assert_eq!(
        (stats.rx_invalid, stats.rx_unexpected_pt),
        (4, 1),
        "{stats:?}"
    );
    assert_eq!(
        (stats.rx_packets, stats.rx_dtmf_errors),
        (1, 1),
        "{stats:?}"
    );
    assert!(
        capture(&phone, Duration::from_millis(100)).await.len() >= 3,
        "still sending"
    );
    // Comfort noise (a phone with voice activity detection) keeps the call alive.
    let comfort_noise = [0x80, 13, 0, 3, 0, 0, 0, 0, 1, 2, 3, 4, 0x40];
    for _ in 0..6 {
        phone.send_to(&comfort_noise, to).await.unwrap();
        sleep(Duration::from_millis(100)).await;
    }
    assert!(
        events.try_recv().is_err(),
        "no timeout while comfort noise arrives"
    );
    assert_eq!(leg.stats().rx_packets, 7);
    assert_eq!(
        next_event(&mut events, Duration::from_secs(1)).await,
        Some(MediaEvent::RtpTimeout)
    );
    assert_eq!(
        next_event(&mut events, Duration::from_millis(700)).await,
        None,
        "only once"
    );
}

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux procfs");
    let line = status
        .lines()
        .find(|l| l.starts_with("Threads:"))
        .expect("a Threads line");
    line[8..].trim().parse().expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_tears_down_pipelines_and_threads() {
    const LEGS: usize = 4;
    let _serial = serial().await;
    media::init().unwrap();
    let phone = bind().await;
    let remote = Some(phone.local_addr().unwrap());
    let start = |n: usize, codec: Codec| -> Vec<PhoneLeg> {
        (0..n)
            .map(|_| {
                let (tx, _) = mpsc::channel(4);
                let leg = PhoneLeg::start(leg_socket(), config(codec, remote), tone_prompts(), tx);
                leg.expect("leg starts")
            })
            .collect()
    };
    start(1, Codec::G722).into_iter().for_each(PhoneLeg::stop); // warm up GStreamer's thread pool
    let pipelines = media::active_pipelines();
    // G.722 runs in two pipelines per leg, G.711 in Rust without any.
    let g722 = start(LEGS, Codec::G722);
    assert_eq!(media::active_pipelines(), pipelines + 2 * LEGS);
    g722.into_iter().for_each(PhoneLeg::stop);
    assert_eq!(media::active_pipelines(), pipelines);
    let threads_before = threads();
    let legs = start(LEGS, Codec::PCMU);
    assert_eq!(media::active_pipelines(), pipelines);
    let mut stream = Stream::new();
    stream.g711(0, 0, &[0i16; 800], ulaw_encode);
    let phone = Arc::new(phone);
    for leg in &legs {
        Stream {
            packets: stream.packets.clone(),
            ..Stream::new()
        }
        .send(phone.clone(), leg.local_addr())
        .await;
    }
    let threads_during = threads();
    legs.into_iter().for_each(PhoneLeg::stop);
    assert_eq!(media::active_pipelines(), pipelines);
    // A phone leg decodes and encodes on its tokio task: no streaming thread per leg.
    assert!(
        threads_during < threads_before + LEGS,
        "four legs cost threads: {threads_before} -> {threads_during}"
    );
    // Stopping returns GStreamer's streaming threads to GLib's pool; the pool lets an idle
    // thread exit after half a second and keeps up to two for reuse.
    let deadline = Instant::now() + Duration::from_secs(3);
    while threads() > threads_before + 2 && Instant::now() < deadline {
        sleep(Duration::from_millis(100)).await;
    }
    let threads_after = threads();
    assert!(
        threads_after <= threads_before + 2,
        "{threads_before} -> {threads_after}"
    );
    sleep(Duration::from_millis(100)).await;
    flush(&phone).await;
    assert!(
        capture(&phone, Duration::from_millis(100)).await.is_empty(),
        "nothing sent after stop"
    );
}
