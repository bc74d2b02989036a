//! Callers of one bridge in the same built-in room hear each other in-process, without a
//! PeerConnection between them (`src/media/conference/local.rs`): three phones, each sending its
//! own tone, each hear the other two; the bridge counts six one-way links. When one hangs up,
//! the other two keep hearing each other and stop hearing it. No WebRTC peer is in the room, so
//! this runs on loopback.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::metrics::wait_for;
use common::phone::Phone;
use common::phone_checks::{last_second_until, press};
use common::rtp_phone::Source;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const TONES: [f64; 3] = [440.0, 1000.0, 1700.0];
/// A tone counts as heard this far (dB) over the spectrum's median.
const HEARD_DB: f64 = 30.0;
/// A tone counts as absent this far (dB) below the weakest tone heard (the median of a clean
/// G.711 spectrum can be near digital silence, so it is no scale for absence).
const ABSENT_DB: f64 = 40.0;

fn dial_in(bridge: &Bridge, tone: f64) -> Phone {
    let phone = Phone::call(LOCALHOST, bridge.sip);
    phone.rtp.wait_sound(Duration::from_secs(20));
    press(&phone, "1234#");
    phone.rtp.set_source(Source::Tone {
        hz: tone,
        amplitude: 6000.0,
    });
    phone
}

/// Waits (15 s at most) until `phone` hears each of `heard` and none of `silent`.
fn assert_hears(phone: &Phone, who: usize, heard: &[f64], silent: &[f64]) {
    let (s, ok) = last_second_until(phone, Duration::from_secs(15), |s| {
        let weakest = heard
            .iter()
            .map(|&hz| s.level_near(hz))
            .fold(f64::INFINITY, f64::min);
        weakest - s.floor_db() > HEARD_DB
            && silent
                .iter()
                .all(|&hz| s.level_near(hz) < weakest - ABSENT_DB)
    });
    let all: Vec<f64> = TONES.to_vec();
    assert!(
        ok,
        "caller {who} should hear {heard:?} and not {silent:?}: {}",
        s.describe(&all)
    );
}

#[test]
fn callers_in_one_room_hear_each_other_without_webrtc() {
    let dir = common::tools::named_test_dir("local_room");
    let bridge = Bridge::start(&dir, &Config::trunk());
    let mut phones: Vec<Phone> = TONES.iter().map(|&hz| dial_in(&bridge, hz)).collect();
    for (i, phone) in phones.iter().enumerate() {
        let (own, others): (Vec<f64>, Vec<f64>) = TONES.iter().partition(|&&hz| hz == TONES[i]);
        assert_hears(phone, i, &others, &own);
    }
    wait_links(&bridge, 6);

    let mut gone = phones.pop().expect("three phones");
    gone.sip.bye(Duration::from_secs(5));
    let left = &TONES[2..];
    assert_hears(&phones[0], 0, &TONES[1..2], left);
    assert_hears(&phones[1], 1, &TONES[..1], left);
    wait_links(&bridge, 2);
}

/// Waits (5 s at most) until the bridge counts `links` one-way in-process links.
fn wait_links(bridge: &Bridge, links: u32) {
    let wanted = links.to_string();
    let timeout = Duration::from_secs(5);
    wait_for(
        bridge.signaling,
        "dialbridge_local_links",
        &wanted,
        timeout,
        |v| v == f64::from(links),
    );
}
