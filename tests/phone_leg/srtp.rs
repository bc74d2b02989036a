//! The phone leg with SRTP: the test phone encrypts with libsrtp (GStreamer's srtpenc through
//! `media::srtp`, keyed from its own `a=crypto` line) and the leg must decrypt audio and
//! RFC 4733 events, refuse forged and tampered packets (counted, never latched), encrypt what it
//! sends, and take new keys from a re-INVITE.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dialbridge::ivr::dtmf::DtmfSource;
use dialbridge::media::srtp::SrtpSession;
use dialbridge::media::{Codec, MediaEvent, PhoneLeg};
use dialbridge::sip::sdes::{self, LocalKeyMaterial, SrtpAgreement};
use tokio::sync::mpsc;
use tokio::time::sleep;

use super::peer::*;
use super::{config, next_event, pcm_collector, serial, tone_prompts};

/// The leg's keys and the phone's mirror image of them: phone key `phone`, leg key `leg`.
fn keys(phone: u8, leg: u8) -> (SrtpAgreement, SrtpAgreement) {
    let line = |fill: u8| {
        format!(
            "1 AES_CM_128_HMAC_SHA1_80 inline:{}",
            STANDARD.encode([fill; 30])
        )
    };
    let of_leg = sdes::choose(
        [line(phone).as_str()],
        &LocalKeyMaterial::from_bytes([leg; 30]),
    );
    let of_phone = sdes::choose(
        [line(leg).as_str()],
        &LocalKeyMaterial::from_bytes([phone; 30]),
    );
    (of_leg.expect("valid line"), of_phone.expect("valid line"))
}

/// `digits` as RFC 4733 events from slot `first` on (every 300 ms) over 1.2 s of 1000 Hz, each
/// packet encrypted by `phone`. Events carry the timestamp of their slot, so a later stream
/// needs a later `first` to be new digits rather than repeats.
fn secure_stream(phone: &SrtpSession, seq: u16, digits: &str, first: u64) -> Stream {
    let mut stream = Stream {
        seq,
        ..Stream::new()
    };
    stream.g711(0, 0, &tones(&[1000.0], 8000.0, 8000, 0, 9600), ulaw_encode);
    for (i, digit) in digits.chars().enumerate() {
        stream.event(first + 15 * i as u64, digit);
    }
    for (_, packet) in &mut stream.packets {
        *packet = phone.protect(packet).expect("the phone's srtpenc protects");
    }
    stream
}

async fn digits(events: &mut mpsc::Receiver<MediaEvent>, n: usize) -> Vec<char> {
    let mut digits = Vec::new();
    while let Some(event) = next_event(events, Duration::from_millis(1500)).await {
        if let MediaEvent::Digit { digit, source } = event {
            assert_eq!(source, DtmfSource::Rfc4733);
            digits.push(digit);
        }
        if digits.len() == n {
            break;
        }
    }
    digits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srtp_audio_and_events_pass_forgeries_are_counted_and_rekeying_works() {
    let _serial = serial().await;
    let (caller, stranger) = (Arc::new(bind().await), Arc::new(bind().await));
    let (leg_keys, phone_keys) = keys(3, 7);
    let phone = SrtpSession::new(&phone_keys).expect("phone SRTP");
    let mut cfg = config(Codec::PCMU, Some(caller.local_addr().unwrap()));
    cfg.srtp = Some(leg_keys);
    let (tx, mut events) = mpsc::channel(16);
    let leg = PhoneLeg::start(leg_socket(), cfg, tone_prompts(), tx).expect("leg starts");
    let pcm = pcm_collector(&leg);
    let to = leg.local_addr();

    // The caller's encrypted talk and digits; meanwhile a stranger sends plain RTP and the
    // caller's own packets come again with one bit flipped.
    let talk = secure_stream(&phone, 1000, "42#", 10);
    let mut forged = Stream {
        ssrc: 0x0bad_0bad,
        ..Stream::new()
    };
    forged.g711(5, 0, &tones(&[400.0], 8000.0, 8000, 0, 1600), ulaw_encode);
    let mut tampered = Stream::new();
    for (slot, packet) in talk.packets.iter().take(10) {
        let mut bad = packet.clone();
        bad[20] ^= 1;
        tampered.packets.push((slot + 1, bad));
    }
    let (forged_n, tampered_n) = (forged.packets.len(), tampered.packets.len());
    let send = tokio::spawn(async move {
        tokio::join!(
            talk.send(caller.clone(), to),
            forged.send(stranger.clone(), to),
            tampered.send(caller.clone(), to)
        );
        (caller, stranger)
    });
    assert_eq!(digits(&mut events, 3).await, ['4', '2', '#']);
    let (caller, stranger) = send.await.expect("sender");
    sleep(Duration::from_millis(100)).await;
    let stats = leg.stats();
    assert_eq!(
        stats.rx_srtp_rejected,
        (forged_n + tampered_n) as u64,
        "every forged and tampered packet refused: {stats:?}"
    );
    assert_eq!(stats.rx_foreign, 0, "a forgery never reaches the latch");
    let heard = pcm.lock().unwrap().clone();
    assert!(heard.len() > 8000, "the caller's audio was decoded");
    assert!(
        tone_share(&heard[800..], 8000, 1000.0) > 0.8,
        "1000 Hz, none of the 400 Hz"
    );

    // What the leg sends: SRTP the phone can open (PCMU, 160 bytes + 10-byte tag).
    flush(&caller).await;
    let sent = capture(&caller, Duration::from_millis(300)).await;
    assert!(sent.len() >= 10, "the caller still gets packets");
    for (packet, _) in &sent {
        assert_eq!(packet.len(), 12 + 160 + 10);
        let plain = phone
            .unprotect(packet)
            .expect("the leg's SRTP authenticates");
        assert_eq!(plain.len(), 12 + 160);
    }
    assert!(
        capture(&stranger, Duration::from_millis(100))
            .await
            .is_empty()
    );

    // A re-INVITE with a new key of the phone's: the old key no longer opens anything.
    let (new_leg_keys, new_phone_keys) = keys(9, 7);
    leg.update_srtp(new_leg_keys);
    let new_phone = SrtpSession::new(&new_phone_keys).expect("phone SRTP");
    secure_stream(&new_phone, 3000, "7", 50)
        .send(caller.clone(), to)
        .await;
    assert_eq!(digits(&mut events, 1).await, ['7'], "after rekeying");
    let before = leg.stats().rx_srtp_rejected;
    secure_stream(&phone, 5000, "", 0)
        .send(caller.clone(), to)
        .await;
    sleep(Duration::from_millis(100)).await;
    assert_eq!(
        leg.stats().rx_srtp_rejected - before,
        60,
        "old-key packets refused"
    );
}
