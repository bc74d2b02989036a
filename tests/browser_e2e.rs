//! End-to-end tests of the conference leg with real peers: a phone (SIP + PCMU RTP from
//! `tests/common`) calls the real `dialbridge` binary, types room 1234, and talks to headless
//! Chromium on the host page (`tests/browser/driver.js`). Audio is proven by tones and spectra
//! on the far side. Each test runs in its own network namespace (ICE never uses loopback), one
//! at a time; only the veth addresses 10.99.0.1 (bridge) / 10.99.0.2 (phone) and loopback exist.
//!
//! Needs root (unshare -n), Chromium and sox (scripts/install-deps.sh), Node.js and the npm
//! packages of tests/browser (scripts/install-browser-deps.sh). A missing tool fails the test.
//! Logs and configs: target/tmp/browser_e2e/<test>/; the host page screenshot:
//! target/e2e/host-page.png. Run: `cargo test --test browser_e2e -- --nocapture`.

mod common;

use common::bridge::Bridge;
use common::browser::{Driver, PageSpectrum};
use common::phone::{MASKED_NUMBER, Phone};
use common::phone_checks::last_second_until;
use common::rtp_phone::Source;
use common::setup::{client_id, inside_netns, join_page, measure_until, phone_ip, start_bridge};
use common::spectrum::Spectrum;
use common::{threads, tools};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A tone counts as present when it stands this far above the spectrum's median (the noise
/// floor). Steady tones through the bridge stand 60-70 dB over it; in G.711 noise the strongest
/// bin near a frequency where nothing is sent reaches about 15 dB.
const TONE_OVER_FLOOR_DB: f64 = 30.0;
/// The onset of a tone in the phone's last second: this far over the floor (speech of the
/// joining prompt reaches about 30 dB near any one frequency).
const ONSET_DB: f64 = 40.0;
/// A frequency counts as silent below this over the floor.
const NO_TONE_BELOW_DB: f64 = 20.0;
const TOLERANCE_HZ: f64 = 30.0;
const PHONE_TONE: Source = Source::Tone {
    hz: 1000.0,
    amplitude: 8000.0,
};

fn phone_hears(s: &Spectrum, hz: f64) -> bool {
    s.level_near(hz) - s.floor_db() > TONE_OVER_FLOOR_DB
}

/// Waits (15 s at most) until the last second of the phone's audio satisfies `onset`, then
/// returns the spectrum of the next 2 s: a window wholly after the change, without the
/// joining prompt or a tone that only just started.
fn phone_spectrum_after(phone: &Phone, onset: impl Fn(&Spectrum) -> bool) -> Spectrum {
    let (last, ok) = last_second_until(phone, Duration::from_secs(15), onset);
    if !ok {
        eprintln!(
            "no onset within 15 s; the last second: {}",
            last.describe(&[440.0, 660.0])
        );
    }
    phone.rtp.spectrum_of_next(Duration::from_secs(2))
}

/// The test folder, a bridge, and Chromium with page "alice" joined to room 1234 as `name`, its
/// microphone playing `tone` (Hz; `None`: silence).
fn bridge_and_alice(test: &str, tone: Option<u32>, name: &str) -> (PathBuf, Bridge, Driver) {
    let dir = tools::named_test_dir(test);
    let bridge = start_bridge(&dir, "bridge", None);
    let mut driver = Driver::start(&dir);
    let query = format!("room=1234&name={name}");
    join_page(&mut driver, &dir, &bridge, "a", tone, "alice", &query);
    (dir, bridge, driver)
}

fn page_hears(s: &PageSpectrum, hz: f64) -> bool {
    (s.dominant_hz - hz).abs() <= TOLERANCE_HZ && s.over_floor(hz) > TONE_OVER_FLOOR_DB
}

#[test]
fn phone_to_room_browser_hears_1000_hz() {
    if !inside_netns("phone_to_room_browser_hears_1000_hz") {
        return;
    }
    let start = Instant::now();
    let (_dir, bridge, mut driver) = bridge_and_alice("phone_to_room", None, "Alice");

    let mut phone = Phone::call(phone_ip(), bridge.sip);
    phone.enter_room("1234");
    phone.rtp.wait_prompt("joining", Duration::from_secs(15));
    let joined = Instant::now();
    let phone_id = client_id(&driver.wait_phone_connected("alice", Duration::from_secs(20)));
    eprintln!(
        "TIMING phone peer connected in the page {} ms after the joining prompt",
        joined.elapsed().as_millis()
    );

    phone.rtp.set_source(PHONE_TONE);
    let tone_on = Instant::now();
    let (s, ok) = measure_until(
        Duration::from_secs(15),
        || driver.spectrum("alice", Some(phone_id), 2000, &[1000.0]),
        |s| page_hears(s, 1000.0),
    );
    eprintln!(
        "RESULT phone -> room: the browser hears {:.1} Hz, {:+.1} dB over the floor (RMS {:.3}); measured {} ms after the tone started",
        s.dominant_hz,
        s.over_floor(1000.0),
        s.rms,
        tone_on.elapsed().as_millis()
    );
    assert!(
        ok,
        "the browser does not hear the phone's 1000 Hz tone: {}",
        s.raw
    );
    eprintln!(
        "TIMING phone_to_room total {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn room_to_phone_hears_440_then_440_and_660() {
    if !inside_netns("room_to_phone_hears_440_then_440_and_660") {
        return;
    }
    let start = Instant::now();
    let (dir, bridge, mut driver) = bridge_and_alice("room_to_phone", Some(440), "Alice-440");

    let mut phone = Phone::call(phone_ip(), bridge.sip);
    phone.enter_room("1234");
    driver.wait_phone_connected("alice", Duration::from_secs(20));
    let connected = Instant::now();
    let s = phone_spectrum_after(&phone, |s| {
        (s.dominant_hz() - 440.0).abs() <= TOLERANCE_HZ
            && s.level_near(440.0) - s.floor_db() > ONSET_DB
    });
    eprintln!(
        "RESULT room -> phone (one browser): {} ; window ends {} ms after the page saw the peer connected",
        s.describe(&[440.0, 660.0]),
        connected.elapsed().as_millis()
    );
    let ok = (s.dominant_hz() - 440.0).abs() <= TOLERANCE_HZ
        && phone_hears(&s, 440.0)
        && s.level_near(660.0) - s.floor_db() < NO_TONE_BELOW_DB;
    if !ok {
        phone.rtp.save_wav(&dir.join("phone-received.wav"));
    }
    assert!(
        ok,
        "the phone should hear the browser's 440 Hz and nothing at 660 Hz: {}",
        s.describe(&[440.0, 660.0])
    );

    join_page(
        &mut driver,
        &dir,
        &bridge,
        "b",
        Some(660),
        "bob",
        "room=1234&name=Bob-660",
    );
    driver.wait_phone_connected("bob", Duration::from_secs(20));
    let second = Instant::now();
    let s = phone_spectrum_after(&phone, |s| {
        [440.0, 660.0]
            .iter()
            .all(|&f| s.level_near(f) - s.floor_db() > ONSET_DB)
    });
    eprintln!(
        "RESULT room -> phone (two browsers): {} ; window ends {} ms after Bob's peer connected",
        s.describe(&[440.0, 660.0]),
        second.elapsed().as_millis()
    );
    // Both browsers send at the same level, so the two peaks should be about equal.
    let ok = phone_hears(&s, 440.0)
        && phone_hears(&s, 660.0)
        && (s.level_near(440.0) - s.level_near(660.0)).abs() < 10.0;
    phone.rtp.save_wav(&dir.join("phone-received.wav"));
    assert!(
        ok,
        "the phone should hear 440 and 660 Hz, both clearly and about equally loud: {}",
        s.describe(&[440.0, 660.0])
    );
    eprintln!(
        "TIMING room_to_phone total {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// The phone participant's row once its peer is connected: id, caller text, icon, name.
const PHONE_ROW: &str = "(() => {
    const row = [...document.querySelectorAll('[data-testid=\"participant\"][data-kind=\"phone\"]')]
        .find(r => (r.querySelector('[data-testid=\"peer-state\"]') || {}).textContent === 'connected');
    if (!row) return null;
    const text = (id) => { const e = row.querySelector(`[data-testid=\"${id}\"]`); return e ? e.textContent : null; };
    return { client_id: Number(row.dataset.clientId), caller: text('participant-caller'),
             name: text('participant-name'), phone_icon: !!row.querySelector('[data-testid=\"phone-icon\"]'),
             kick_button: !!row.querySelector('[data-testid=\"kick-button\"]') };
})()";

fn row_gone(id: u64) -> String {
    format!("!document.querySelector('[data-testid=\"participant\"][data-client-id=\"{id}\"]')")
}

#[test]
fn host_page_shows_phone_kicks_it_and_sees_hangup() {
    if !inside_netns("host_page_shows_phone_kicks_it_and_sees_hangup") {
        return;
    }
    let start = Instant::now();
    let dir = tools::named_test_dir("host_page");
    let bridge = start_bridge(&dir, "bridge", None);
    let key = bridge.host_key();
    let mut driver = Driver::start(&dir);
    let query = format!("room=1234&name=Host&host_key={key}");
    let (_, host) = join_page(&mut driver, &dir, &bridge, "a", None, "host", &query);
    assert!(
        host,
        "the page opened with the room's host key should be host"
    );

    let mut phone = Phone::call(phone_ip(), bridge.sip);
    phone.enter_room("1234");
    phone.rtp.wait_prompt("joining", Duration::from_secs(15));
    let row = driver.wait_for("host", PHONE_ROW, Duration::from_secs(20));
    eprintln!("RESULT host page row of the phone participant: {row}");
    assert_eq!(
        row["caller"].as_str(),
        Some(MASKED_NUMBER),
        "masked number on the page: {row}"
    );
    assert_eq!(row["phone_icon"], Value::Bool(true), "phone marking: {row}");
    assert_eq!(
        row["kick_button"],
        Value::Bool(true),
        "a host sees Remove on phone participants: {row}"
    );
    let dial_in = driver.eval(
        "host",
        "document.querySelector('[data-testid=\"dial-in\"]').textContent",
    );
    eprintln!("RESULT host page dial-in text: {dial_in}");
    let shot = tools::artefact_dir().join("host-page.png");
    driver.screenshot("host", &shot);
    println!("screenshot of the host page: {}", shot.display());

    let id = client_id(&row);
    phone.rtp.forget_segments();
    let kicked = Instant::now();
    driver.click(
        "host",
        &format!("[data-testid=\"kick-button\"][data-client-id=\"{id}\"]"),
    );
    let bye = phone.sip.wait_bye(Duration::from_secs(20));
    eprintln!(
        "TIMING host kick -> BYE at the phone: {} ms",
        bye.duration_since(kicked).as_millis()
    );
    phone.rtp.flush_segments();
    let (_, score) = phone.rtp.wait_prompt("removed", Duration::from_secs(2));
    eprintln!("RESULT the kicked caller heard the removed prompt (score {score:.2}) before BYE");
    driver.wait_for("host", &row_gone(id), Duration::from_secs(5));

    let mut second = Phone::call(phone_ip(), bridge.sip);
    second.enter_room("1234");
    second.rtp.wait_prompt("joining", Duration::from_secs(15));
    let row = driver.wait_for("host", PHONE_ROW, Duration::from_secs(20));
    let id = client_id(&row);
    let hangup = Instant::now();
    second.sip.bye(Duration::from_secs(5));
    driver.wait_for("host", &row_gone(id), Duration::from_secs(5));
    let gone = hangup.elapsed();
    eprintln!(
        "TIMING caller BYE -> participant gone from the page: {} ms",
        gone.as_millis()
    );
    assert!(
        gone < Duration::from_secs(2),
        "the participant took {gone:?} to disappear (limit 2 s)"
    );
    eprintln!(
        "TIMING host_page total {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn signaling_server_killed_mid_call() {
    if !inside_netns("signaling_server_killed_mid_call") {
        return;
    }
    let start = Instant::now();
    let dir = tools::named_test_dir("signaling_killed");
    let mut signaling = start_bridge(&dir, "signaling-S", None);
    let mut bridge = start_bridge(&dir, "bridge-B", Some(signaling.ws_url()));
    let mut driver = Driver::start(&dir);
    join_page(
        &mut driver,
        &dir,
        &signaling,
        "a",
        None,
        "alice",
        "room=1234&name=Alice",
    );

    let baseline = tools::thread_census(bridge.pid());
    let mut phone = Phone::call(phone_ip(), bridge.sip);
    phone.enter_room("1234");
    phone.rtp.wait_prompt("joining", Duration::from_secs(15));
    driver.wait_phone_connected("alice", Duration::from_secs(20));
    eprintln!(
        "RESULT bridge B threads before the call: {}; during it: {}",
        threads::census_text(&baseline),
        tools::thread_names_of(bridge.pid())
    );

    phone.rtp.forget_segments();
    let received_before = phone.rtp.packets_received();
    let killed = Instant::now();
    signaling.kill();
    let bye = phone.sip.wait_bye(Duration::from_secs(30));
    eprintln!(
        "TIMING signaling killed -> BYE from B: {} ms",
        bye.duration_since(killed).as_millis()
    );
    phone.rtp.flush_segments();
    let (prompt, score) = phone.rtp.wait_prompt("unreachable", Duration::from_secs(2));
    eprintln!(
        "RESULT the caller heard the unreachable prompt ({:.1} s, peak RMS {:.0}, score {score:.2}); {} RTP packets after the kill",
        prompt.duration().as_secs_f64(),
        prompt.peak_rms(),
        phone.rtp.packets_received() - received_before
    );

    let ended = tools::poll(
        "B's log to say the call ended",
        Duration::from_secs(5),
        Duration::from_millis(50),
        || bridge.log_lines(&["call ended"]).pop(),
        || tools::tail(&bridge.log, 20),
    );
    eprintln!("RESULT B log: {ended}");
    assert!(
        ended.contains("unreachable"),
        "the call should end because the conference is unreachable: {ended}"
    );

    threads::assert_back_to_baseline(&bridge, &baseline, "B");
    bridge.assert_alive();
    eprintln!(
        "TIMING signaling_killed total {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
