//! Unit tests for the sans-IO call control in [`super`]: virtual time, no network; each test
//! drives a `CallMachine` with inputs and checks the actions it emits.

use super::*;

fn drain(m: &mut CallMachine) -> Vec<CallAction> {
    std::iter::from_fn(|| m.poll_action()).collect()
}

fn config() -> IvrConfig {
    IvrConfig {
        room_id_min_digits: 3,
        ..IvrConfig::default()
    }
}

#[test]
fn a_digit_sent_by_rtp_and_inband_counts_once() {
    let t0 = Instant::now();
    let mut m = CallMachine::new(config(), None, t0);
    assert_eq!(drain(&mut m), vec![CallAction::Play(Prompt::Welcome)]);
    m.handle(CallInput::PromptDone, t0);
    for (i, d) in "1234".chars().enumerate() {
        let t = t0 + Duration::from_millis(400 * i as u64);
        m.handle(
            CallInput::Digit {
                digit: d,
                source: DtmfSource::Rfc4733,
            },
            t,
        );
        m.handle(
            CallInput::Digit {
                digit: d,
                source: DtmfSource::Inband,
            },
            t + Duration::from_millis(20),
        );
    }
    m.handle(
        CallInput::Digit {
            digit: '#',
            source: DtmfSource::Rfc4733,
        },
        t0 + Duration::from_secs(2),
    );
    assert_eq!(
        drain(&mut m),
        vec![CallAction::LookupRoom {
            room: "1234".into()
        }]
    );
}

#[test]
fn direct_route_looks_up_the_room_and_joins() {
    let t0 = Instant::now();
    let mut m = CallMachine::new(config(), Some("1234".into()), t0);
    assert_eq!(
        drain(&mut m),
        vec![CallAction::LookupRoom {
            room: "1234".into()
        }]
    );
    m.handle(
        CallInput::Lookup(LookupOutcome::Found {
            pin_required: false,
        }),
        t0,
    );
    let actions = drain(&mut m);
    assert!(
        actions.contains(&CallAction::Join {
            room: "1234".into(),
            pin: None
        }),
        "{actions:?}"
    );
}

/// A caller in room 1234 (no PIN) with `peers` others, joining prompt finished.
fn in_room(peers: usize, t0: Instant) -> CallMachine {
    let mut m = CallMachine::new(config(), Some("1234".into()), t0);
    m.handle(
        CallInput::Lookup(LookupOutcome::Found {
            pin_required: false,
        }),
        t0,
    );
    m.handle(CallInput::ConferenceJoined { peers }, t0);
    m.handle(CallInput::PromptDone, t0);
    drain(&mut m);
    m
}

#[test]
fn alone_prompt_waits_for_the_joining_prompt() {
    let t0 = Instant::now();
    let mut m = CallMachine::new(config(), Some("1234".into()), t0);
    m.handle(
        CallInput::Lookup(LookupOutcome::Found {
            pin_required: false,
        }),
        t0,
    );
    assert!(drain(&mut m).contains(&CallAction::Play(Prompt::Joining)));
    m.handle(CallInput::ConferenceJoined { peers: 0 }, t0);
    assert_eq!(drain(&mut m), vec![]);
    m.handle(CallInput::PromptDone, t0);
    assert_eq!(drain(&mut m), vec![], "a short pause first");
    let at = m.poll_timeout().expect("the pause has a deadline");
    assert_eq!(at, t0 + PROMPT_GAP);
    m.handle_timeout(at);
    assert_eq!(drain(&mut m), vec![CallAction::Play(Prompt::Alone)]);
}

#[test]
fn no_alone_prompt_with_company() {
    let t0 = Instant::now();
    let mut m = in_room(2, t0);
    m.handle(CallInput::PromptDone, t0);
    assert_eq!(drain(&mut m), vec![]);
}

#[test]
fn star_six_toggles_mute_and_other_keys_do_nothing() {
    let t0 = Instant::now();
    let mut m = in_room(1, t0);
    let key = |m: &mut CallMachine, d, ms| {
        m.handle(
            CallInput::Digit {
                digit: d,
                source: DtmfSource::Rfc4733,
            },
            t0 + Duration::from_millis(ms),
        )
    };
    key(&mut m, '6', 0);
    key(&mut m, '1', 500);
    assert_eq!(drain(&mut m), vec![]);
    key(&mut m, '*', 1000);
    key(&mut m, '6', 1500);
    assert_eq!(
        drain(&mut m),
        vec![CallAction::SetMuted(true), CallAction::Play(Prompt::Muted)]
    );
    key(&mut m, '*', 2000);
    key(&mut m, '6', 2000 + MUTE_KEY_WINDOW.as_millis() as u64 + 1);
    assert_eq!(drain(&mut m), vec![], "too slow: not a toggle");
    key(&mut m, '*', 9000);
    key(&mut m, '6', 9100);
    assert_eq!(
        drain(&mut m),
        vec![
            CallAction::SetMuted(false),
            CallAction::Play(Prompt::Unmuted)
        ]
    );
}

#[test]
fn host_mute_mutes_once() {
    let t0 = Instant::now();
    let mut m = in_room(1, t0);
    m.handle(CallInput::MutedByHost, t0);
    assert_eq!(
        drain(&mut m),
        vec![CallAction::SetMuted(true), CallAction::Play(Prompt::Muted)]
    );
    m.handle(CallInput::MutedByHost, t0);
    assert_eq!(drain(&mut m), vec![]);
}

#[test]
fn kick_end_and_failure_say_goodbye_then_hang_up() {
    for (input, prompt) in [
        (CallInput::Kicked, Prompt::Removed),
        (CallInput::ConferenceEnded, Prompt::Ended),
        (CallInput::ConferenceFailed, Prompt::Unreachable),
        (CallInput::Draining, Prompt::Closing),
    ] {
        let t0 = Instant::now();
        let mut m = in_room(1, t0);
        m.handle(input.clone(), t0);
        assert_eq!(drain(&mut m), vec![CallAction::Play(prompt)], "{input:?}");
        m.handle(
            CallInput::Digit {
                digit: '*',
                source: DtmfSource::SipInfo,
            },
            t0,
        );
        assert_eq!(drain(&mut m), vec![]);
        m.handle(CallInput::PromptDone, t0);
        assert!(
            matches!(drain(&mut m)[..], [CallAction::Hangup { .. }]),
            "{input:?}"
        );
    }
}

#[test]
fn goodbye_prompt_has_a_deadline() {
    let t0 = Instant::now();
    let mut m = in_room(1, t0);
    m.handle(CallInput::ConferenceFailed, t0);
    drain(&mut m);
    let deadline = m.poll_timeout().expect("a deadline while leaving");
    m.handle_timeout(deadline);
    assert!(matches!(drain(&mut m)[..], [CallAction::Hangup { .. }]));
}

#[test]
fn failed_join_during_the_ivr_says_unreachable() {
    let t0 = Instant::now();
    let mut m = CallMachine::new(config(), Some("1234".into()), t0);
    m.handle(
        CallInput::Lookup(LookupOutcome::Found {
            pin_required: false,
        }),
        t0,
    );
    drain(&mut m);
    m.handle(CallInput::ConferenceFailed, t0);
    assert_eq!(drain(&mut m), vec![CallAction::Play(Prompt::Unreachable)]);
}

#[test]
fn rtp_timeout_hangs_up_once_and_then_ignores_input() {
    let t0 = Instant::now();
    let mut m = CallMachine::new(config(), None, t0);
    drain(&mut m);
    m.handle(CallInput::RtpTimeout, t0);
    assert_eq!(
        drain(&mut m),
        vec![CallAction::Hangup {
            reason: "no RTP from the caller"
        }]
    );
    m.handle(
        CallInput::Digit {
            digit: '1',
            source: DtmfSource::SipInfo,
        },
        t0,
    );
    m.handle_timeout(t0 + Duration::from_secs(1000));
    assert_eq!(drain(&mut m), vec![]);
    assert_eq!(m.poll_timeout(), None);
}

/// Types `room#` after the welcome prompt.
fn type_room(m: &mut CallMachine, room: &str, t0: Instant) {
    drain(m);
    for d in room.chars().chain(['#']) {
        let digit = CallInput::Digit {
            digit: d,
            source: DtmfSource::Rfc4733,
        };
        m.handle(digit, t0);
    }
}

#[test]
fn an_unknown_typed_room_or_a_wrong_pin_is_a_wrong_guess() {
    let t0 = Instant::now();
    let mut m = CallMachine::new(config(), None, t0);
    type_room(&mut m, "999", t0);
    let not_found = CallInput::Lookup(LookupOutcome::NotFound);
    assert!(m.is_wrong_guess(&not_found));
    let found = CallInput::Lookup(LookupOutcome::Found { pin_required: true });
    assert!(!m.is_wrong_guess(&found));
    m.handle(found, t0);
    type_room(&mut m, "1111", t0);
    assert!(m.is_wrong_guess(&CallInput::Pin(PinOutcome::Wrong)));
    assert!(!m.is_wrong_guess(&CallInput::Pin(PinOutcome::Correct)));
    assert!(!m.is_wrong_guess(&CallInput::Pin(PinOutcome::Unreachable)));
    // A routed number whose room is gone: the caller guessed nothing.
    let direct = CallMachine::new(config(), Some("4242".into()), t0);
    assert!(!direct.is_wrong_guess(&not_found));
}

#[test]
fn locked_out_in_the_ivr_says_goodbye_even_with_attempts_left() {
    let t0 = Instant::now();
    let mut m = CallMachine::new(config(), None, t0);
    type_room(&mut m, "999", t0);
    drain(&mut m);
    m.handle(CallInput::LockedOut, t0);
    assert_eq!(drain(&mut m), vec![CallAction::Play(Prompt::Goodbye)]);
    m.handle(CallInput::PromptDone, t0);
    assert!(matches!(drain(&mut m)[..], [CallAction::Hangup { .. }]));
}

#[test]
fn a_locked_out_caller_hears_only_the_locked_prompt() {
    let t0 = Instant::now();
    let mut m = CallMachine::locked_out(config(), t0);
    assert_eq!(drain(&mut m), vec![CallAction::Play(Prompt::Locked)]);
    type_room(&mut m, "1234", t0);
    assert_eq!(drain(&mut m), vec![], "keys do nothing");
    m.handle(CallInput::PromptDone, t0);
    assert!(matches!(drain(&mut m)[..], [CallAction::Hangup { .. }]));
}

#[test]
fn a_drain_in_the_ivr_says_closing_and_hangs_up_at_the_grace_deadline() {
    let t0 = Instant::now();
    let mut m = CallMachine::new(config(), None, t0);
    drain(&mut m);
    m.handle(CallInput::Draining, t0);
    assert_eq!(drain(&mut m), vec![CallAction::Play(Prompt::Closing)]);
    m.handle(CallInput::Draining, t0);
    assert_eq!(drain(&mut m), vec![], "a second drain changes nothing");
    // The prompt's end was lost: the goodbye deadline hangs up all the same.
    let deadline = m.poll_timeout().expect("a leaving call has a deadline");
    m.handle_timeout(deadline);
    assert!(matches!(drain(&mut m)[..], [CallAction::Hangup { .. }]));
}
