//! What the phone hears in the namespace SIP tests against a conference (Janus, Nextcloud
//! Talk): a tone standing out and dominating, the room going quiet before a prompt, the
//! bridge's goodbye after a prompt; keys typed with RFC 4733 and waited for.

use std::time::{Duration, Instant};

use super::phone::Phone;
use super::setup::measure_until;
use super::spectrum::Spectrum;

/// A tone counts as heard this far over the spectrum's median (as in `browser_e2e`).
const TONE_OVER_FLOOR_DB: f64 = 30.0;
const ONSET_DB: f64 = 40.0;

/// Looks at the phone's last second of audio every 100 ms until `onset` holds (`timeout` at
/// most); returns the last spectrum and whether it held.
pub fn last_second_until(
    phone: &Phone,
    timeout: Duration,
    onset: impl Fn(&Spectrum) -> bool,
) -> (Spectrum, bool) {
    measure_until(
        timeout,
        || {
            std::thread::sleep(Duration::from_millis(100));
            phone.rtp.spectrum_of_last(Duration::from_secs(1))
        },
        onset,
    )
}

pub fn press(phone: &Phone, keys: &str) {
    phone.rtp.press(keys);
    phone.rtp.wait_keys_sent(Duration::from_secs(10));
}

/// Waits (15 s at most) until a tone stands out in the phone's last second, then asserts that
/// the next 2 s carry `hz` as the dominant tone.
pub fn assert_phone_hears(phone: &Phone, hz: f64) -> Spectrum {
    let started = Instant::now();
    let onset = |s: &Spectrum| s.level_near(hz) - s.floor_db() > ONSET_DB;
    let (last, ok) = last_second_until(phone, Duration::from_secs(15), onset);
    assert!(
        ok,
        "the phone never heard {hz} Hz; the last second: {}",
        last.describe(&[hz])
    );
    let s = phone.rtp.spectrum_of_next(Duration::from_secs(2));
    eprintln!(
        "RESULT the phone hears {}; onset after {:?}",
        s.describe(&[hz, 1000.0]),
        started.elapsed()
    );
    assert!(
        s.level_near(hz) - s.floor_db() > TONE_OVER_FLOOR_DB
            && (s.dominant_hz() - hz).abs() <= 30.0,
        "the phone should hear {hz} Hz: {}",
        s.describe(&[hz])
    );
    s
}

/// Waits until the phone's last second is quiet, so the next prompt is a segment of its own
/// (room audio running straight into a prompt would be one segment).
pub fn wait_quiet(phone: &mut Phone) {
    // Quiet, and the room's last sound closed as a segment of its own, so that a prompt that
    // follows soon is not heard run together with it.
    let (last, ok) = measure_until(
        Duration::from_secs(10),
        || {
            std::thread::sleep(Duration::from_millis(100));
            let spectrum = phone.rtp.spectrum_of_last(Duration::from_secs(1));
            (spectrum, phone.rtp.in_sound())
        },
        |(s, in_sound)| s.rms < 100.0 && !in_sound,
    );
    assert!(
        ok,
        "the room never went quiet: {}",
        last.0.describe(&[440.0])
    );
    phone.rtp.forget_segments();
}

/// The call ends from the bridge's side after `prompt` (checked once the BYE came: no RTP
/// follows to close the prompt's segment).
pub fn wait_goodbye(phone: &mut Phone, prompt: &str, since: Instant) {
    phone.sip.wait_bye(Duration::from_secs(20));
    eprintln!("TIMING BYE {:?} after the cause", since.elapsed());
    phone.rtp.flush_segments();
    phone.rtp.wait_prompt(prompt, Duration::from_secs(2));
    eprintln!("RESULT the phone heard {:?}", phone.rtp.heard);
}
