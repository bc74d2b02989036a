//! Room-ID guessing over the phone is stopped (`[guessing]`, docs/security.md): sipp
//! calls in and types unknown room IDs by RFC 4733 until the bridge says goodbye and hangs up,
//! although the IVR would allow more attempts. The next call from that number or that source
//! hears the `locked` prompt (or gets 403), a call of the guesser already waiting in the IVR gets
//! no further try, while another number from another source still reaches the IVR. `/metrics`
//! counts it all.

mod common;

use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::metrics;
use common::rtp::RtpPeer;
use common::sipp::{self, Offer, Sipp};
use common::tools;

/// Longest wait for one prompt to be heard completely (welcome is 5.8 s).
const PROMPT: Duration = Duration::from_secs(15);
const SETTLE: Duration = Duration::from_secs(5);
/// Wrong entries before the lockout; the IVR itself would allow 10.
const MAX_WRONG: u32 = 3;

/// Trunk calls from 127.0.0.1 and 127.0.0.2, both keyed by source address (no trusted
/// sources), a lockout that outlasts the test, and `locked_call`. A quiet caller is asked again
/// only after 30 s, so a call can wait in the IVR while another one guesses.
fn config(locked_call: &str) -> Config {
    let mut c = Config::trunk().allow(&["127.0.0.1/32", "127.0.0.2/32"]);
    c.inter_digit_timeout_s = 30;
    c.ivr_toml = "max_attempts = 10\n".into();
    c.extra_toml = format!(
        "[limits]\ntrusted_sources = []\n\n\
         [guessing]\nmax_wrong = {MAX_WRONG}\nlockout_s = 600\nlockout_max_s = 600\n\
         locked_call = \"{locked_call}\"\n"
    );
    c
}

fn sip_metric(bridge: &Bridge, name: &str) -> f64 {
    metrics::scrape(bridge.signaling).get(&format!("{name}{{side=\"sip\"}}"))
}

/// Calls as `number` and types `wrong` unknown room IDs; the last one must end the call with
/// goodbye and a BYE from the bridge.
fn guess_until_hung_up(bridge: &Bridge, dir: &std::path::Path, number: &str, wrong: u32) {
    let call = Caller::dial(dir, "uac_bridge_hangs_up.xml", bridge.sip, &[0], |s| {
        s.caller(number).log_name(&format!("guesser_{number}"))
    });
    call.rtp.expect_prompt("welcome", PROMPT);
    for i in 1..=wrong {
        call.rtp.send_digits(&format!("9{i:02}#"));
        let heard = if i < wrong { "wrong_id" } else { "goodbye" };
        call.rtp.expect_prompt(heard, PROMPT);
    }
    // The scenario ends once the bridge's BYE was received and answered.
    call.sipp.finish().assert_success();
}

/// A call the bridge answers, plays `locked` to and hangs up.
fn hears_locked(bridge: &Bridge, dir: &std::path::Path, number: &str, source: &str, log: &str) {
    let call = Caller::dial(dir, "uac_bridge_hangs_up.xml", bridge.sip, &[0], |s| {
        s.caller(number).local_ip(source).log_name(log)
    });
    call.rtp.expect_prompt("locked", PROMPT);
    call.sipp.finish().assert_success();
}

#[test]
fn a_room_id_guessing_run_is_stopped_and_the_number_hears_locked() {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &config("announce"));
    // A second call of the guesser waits in the IVR meanwhile.
    let parallel = Caller::dial(&dir, "uac_bridge_hangs_up.xml", bridge.sip, &[0], |s| {
        s.caller("4930111").log_name("parallel")
    });
    parallel.rtp.expect_prompt("welcome", PROMPT);

    guess_until_hung_up(&bridge, &dir, "4930111", MAX_WRONG);
    assert_eq!(sip_metric(&bridge, "dialbridge_guess_wrong_total"), 3.0);
    assert_eq!(sip_metric(&bridge, "dialbridge_guess_lockouts_total"), 1.0);
    assert_eq!(sip_metric(&bridge, "dialbridge_guess_refused_total"), 0.0);

    // The waiting call may not try even a room that exists: goodbye, and the bridge hangs up.
    parallel.rtp.send_digits("1234#");
    parallel.rtp.expect_prompt("goodbye", PROMPT);
    parallel.sipp.finish().assert_success();
    assert_eq!(sip_metric(&bridge, "dialbridge_guess_refused_total"), 1.0);

    // The same number again, and the same number from another source: locked by number.
    hears_locked(&bridge, &dir, "4930111", "127.0.0.1", "again_same_source");
    hears_locked(&bridge, &dir, "4930111", "127.0.0.2", "again_other_source");
    assert_eq!(sip_metric(&bridge, "dialbridge_guess_refused_total"), 3.0);

    // Another number from another source reaches the IVR and may join.
    let call = Caller::dial(&dir, "uac_call.xml", bridge.sip, &[0], |s| {
        s.caller("4930222").local_ip("127.0.0.2").log_name("other")
    });
    call.rtp.expect_prompt("welcome", PROMPT);
    call.rtp.send_digits("1234#");
    call.rtp.expect_prompt("joining", PROMPT);
    call.hang_up();
    metrics::wait_idle(bridge.signaling, SETTLE);
    let m = metrics::scrape(bridge.signaling);
    assert_eq!(m.get("dialbridge_calls_joined_total"), 1.0);
    assert_eq!(m.get("dialbridge_guess_refused_total{side=\"sip\"}"), 3.0);
    assert_eq!(m.get("dialbridge_guess_wrong_total{side=\"web\"}"), 0.0);
}

#[test]
fn with_reject_a_locked_number_or_source_gets_403() {
    let dir = tools::test_dir();
    let bridge = Bridge::start(&dir, &config("reject"));
    guess_until_hung_up(&bridge, &dir, "4930333", MAX_WRONG);

    let scenario = sipp::scenario_from_template(
        &dir,
        "uac_reject.xml",
        &sipp::refusal("403", "RTP/AVP", "SIP/2.0"),
    );
    // The locked number from another source, then another number from the locked source.
    for (number, source) in [("4930333", "127.0.0.2"), ("4930444", "127.0.0.1")] {
        let rtp = RtpPeer::new();
        Sipp::new(&dir, &scenario, bridge.sip)
            .offer(&Offer::with_dtmf(rtp.port(), &[0]))
            .caller(number)
            .local_ip(source)
            .log_name(&format!("refused_{number}"))
            .timeout(Duration::from_secs(20))
            .run()
            .assert_success();
        assert_eq!(rtp.stats().packets, 0, "a refused call must not get media");
    }
    assert_eq!(sip_metric(&bridge, "dialbridge_guess_refused_total"), 2.0);
    assert_eq!(sip_metric(&bridge, "dialbridge_guess_lockouts_total"), 1.0);
    metrics::wait_idle(bridge.signaling, SETTLE);
}
