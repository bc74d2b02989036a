//! Unit tests of the IVR machine: a harness drives one [`Ivr`] in virtual time and checks the
//! actions it asks for, step by step.

use super::*;
use IvrAction::*;

/// Drives an [`Ivr`] in virtual time, in seconds from the start.
struct Harness {
    t0: Instant,
    ivr: Ivr,
}

impl Harness {
    fn new(config: IvrConfig) -> Self {
        let t0 = Instant::now();
        Self {
            t0,
            ivr: Ivr::new(config, t0),
        }
    }

    fn direct(room: &str) -> Self {
        let t0 = Instant::now();
        Self {
            t0,
            ivr: Ivr::new_direct(IvrConfig::default(), room.into(), t0),
        }
    }

    fn at(&self, secs: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(secs)
    }

    fn drain(&mut self) -> Vec<IvrAction> {
        std::iter::from_fn(|| self.ivr.poll_action()).collect()
    }

    fn input(&mut self, secs: f64, input: IvrInput) -> Vec<IvrAction> {
        self.ivr.handle(input, self.at(secs));
        self.drain()
    }

    /// Types `keys` one per 0.5 s from `secs` on.
    fn keys(&mut self, secs: f64, keys: &str) -> Vec<IvrAction> {
        for (i, key) in keys.chars().enumerate() {
            self.ivr
                .handle(IvrInput::Digit(key), self.at(secs + 0.5 * i as f64));
        }
        self.drain()
    }

    fn done(&mut self, secs: f64) -> Vec<IvrAction> {
        self.input(secs, IvrInput::PromptDone)
    }

    fn lookup(&mut self, secs: f64, outcome: LookupOutcome) -> Vec<IvrAction> {
        self.input(secs, IvrInput::RoomLookup(outcome))
    }

    fn pin(&mut self, secs: f64, outcome: PinOutcome) -> Vec<IvrAction> {
        self.input(secs, IvrInput::PinChecked(outcome))
    }

    fn timeout(&mut self, secs: f64) -> Vec<IvrAction> {
        self.ivr.handle_timeout(self.at(secs));
        self.drain()
    }

    fn state(&self) -> IvrState {
        self.ivr.state()
    }
}

const ROOM: IvrState = IvrState::Collecting {
    what: Entry::RoomId,
};
const PIN: IvrState = IvrState::Collecting { what: Entry::Pin };
const NO_PIN: LookupOutcome = LookupOutcome::Found {
    pin_required: false,
};
const WITH_PIN: LookupOutcome = LookupOutcome::Found { pin_required: true };

fn lookup(room: &str) -> IvrAction {
    LookupRoom { room: room.into() }
}

fn join(room: &str, pin: Option<&str>) -> IvrAction {
    Join {
        room: room.into(),
        pin: pin.map(Into::into),
    }
}

#[test]
fn happy_path_and_joined_ignores_digits() {
    let mut h = Harness::new(IvrConfig::default());
    assert_eq!(h.drain(), [Play(Prompt::Welcome)]);
    assert_eq!(h.state(), ROOM);
    assert_eq!(h.done(6.0), []);
    assert_eq!(h.keys(7.0, "1234#"), [lookup("1234")]);
    assert_eq!(h.state(), IvrState::Looking);
    assert_eq!(
        h.lookup(10.0, NO_PIN),
        [Play(Prompt::Joining), join("1234", None)]
    );
    assert_eq!(h.state(), IvrState::Joined);
    assert_eq!(h.keys(11.0, "5#*"), []);
    assert_eq!(h.done(12.0), []);
    assert_eq!(h.state(), IvrState::Joined);
    assert_eq!(h.ivr.poll_timeout(), None);
    assert_eq!(h.timeout(500.0), []);
}

#[test]
fn wrong_pin_then_right() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    assert_eq!(h.keys(1.0, "1234#"), [StopPrompt, lookup("1234")]);
    assert_eq!(h.lookup(4.0, WITH_PIN), [Play(Prompt::EnterPin)]);
    assert_eq!(h.state(), PIN);
    h.done(6.0);
    let check = |pin: &str| CheckPin {
        room: "1234".into(),
        pin: pin.into(),
    };
    assert_eq!(h.keys(7.0, "99#"), [check("99")]);
    assert_eq!(h.state(), IvrState::CheckingPin);
    assert_eq!(h.pin(9.0, PinOutcome::Wrong), [Play(Prompt::WrongPin)]);
    assert_eq!((h.state(), h.ivr.attempts()), (PIN, 1));
    h.done(11.0);
    assert_eq!(h.keys(12.0, "4321#"), [check("4321")]);
    assert_eq!(
        h.pin(15.0, PinOutcome::Correct),
        [Play(Prompt::Joining), join("1234", Some("4321"))]
    );
    assert_eq!(h.state(), IvrState::Joined);
}

#[test]
fn three_wrong_ids_say_goodbye_then_hang_up() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    for round in 0..3 {
        let t = 10.0 * f64::from(round);
        h.done(t + 1.0);
        assert_eq!(h.keys(t + 2.0, "999#"), [lookup("999")]);
        let expected = if round < 2 {
            Prompt::WrongId
        } else {
            Prompt::Goodbye
        };
        assert_eq!(h.lookup(t + 5.0, LookupOutcome::NotFound), [Play(expected)]);
    }
    assert_eq!(h.state(), IvrState::Ending);
    assert_eq!(h.ivr.poll_timeout(), Some(h.at(25.0) + HANGUP_GRACE));
    assert_eq!(h.keys(26.0, "123#"), []);
    assert_eq!(h.done(27.0), [Hangup]);
    assert_eq!(h.state(), IvrState::Done);
    assert_eq!(h.ivr.poll_timeout(), None);
    assert_eq!(h.done(28.0), []);
}

#[test]
fn id_and_pin_attempts_count_together() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    h.keys(1.0, "111#");
    assert_eq!(
        h.lookup(2.0, LookupOutcome::NotFound),
        [Play(Prompt::WrongId)]
    );
    h.keys(3.0, "222#");
    h.lookup(4.0, WITH_PIN);
    h.keys(5.0, "0#");
    assert_eq!(h.pin(6.0, PinOutcome::Wrong), [Play(Prompt::WrongPin)]);
    h.keys(7.0, "1#");
    assert_eq!(h.pin(8.0, PinOutcome::Wrong), [Play(Prompt::Goodbye)]);
    assert_eq!(h.ivr.attempts(), 3);
}

#[test]
fn star_restarts_the_entry_and_stops_the_prompt() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    assert_eq!(h.keys(1.0, "*"), [StopPrompt]);
    assert_eq!(h.keys(2.0, "99*1234#"), [lookup("1234")]);
}

#[test]
fn typing_interrupts_the_prompt_once() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    assert_eq!(h.keys(1.0, "1"), [StopPrompt]);
    assert_eq!(h.keys(1.5, "2"), []);
    // A stray PromptDone for the stopped prompt changes nothing.
    assert_eq!(h.done(2.0), []);
    assert_eq!(h.keys(3.0, "3#"), [lookup("123")]);
}

#[test]
fn other_keys_are_ignored() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    assert_eq!(h.keys(1.0, "AxD"), []);
    assert_eq!(h.keys(3.0, "12B3#"), [StopPrompt, lookup("123")]);
}

#[test]
fn inter_digit_timeout_submits() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    h.keys(1.0, "4567");
    assert_eq!(h.ivr.poll_timeout(), Some(h.at(2.5 + 5.0)));
    assert_eq!(h.timeout(7.0), []);
    assert_eq!(h.timeout(7.5), [lookup("4567")]);
    assert_eq!(h.ivr.poll_timeout(), Some(h.at(120.0)));
}

#[test]
fn short_and_empty_entries_are_wrong_attempts() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    assert_eq!(h.keys(1.0, "12#"), [StopPrompt, Play(Prompt::WrongId)]);
    assert_eq!((h.state(), h.ivr.attempts()), (ROOM, 1));
    assert_eq!(h.keys(3.0, "#"), [StopPrompt, Play(Prompt::WrongId)]);
    assert_eq!(h.ivr.attempts(), 2);
    // A short entry ended by the inter-digit timeout counts the same.
    h.done(4.0);
    h.keys(5.0, "7");
    assert_eq!(h.timeout(10.0), [Play(Prompt::Goodbye)]);
}

#[test]
fn empty_pin_is_a_wrong_attempt() {
    let mut h = Harness::direct("1234");
    h.drain();
    h.lookup(1.0, WITH_PIN);
    assert_eq!(h.keys(2.0, "#"), [StopPrompt, Play(Prompt::WrongPin)]);
    assert_eq!((h.state(), h.ivr.attempts()), (PIN, 1));
}

#[test]
fn max_digits_submit_by_themselves() {
    let config = IvrConfig {
        room_id_max_digits: 5,
        pin_max_digits: 4,
        ..IvrConfig::default()
    };
    let mut h = Harness::new(config);
    h.drain();
    assert_eq!(h.keys(1.0, "12345"), [StopPrompt, lookup("12345")]);
    h.lookup(4.0, WITH_PIN);
    h.done(5.0);
    let check = CheckPin {
        room: "12345".into(),
        pin: "9876".into(),
    };
    assert_eq!(h.keys(6.0, "9876"), [check]);
}

#[test]
fn silence_repeats_the_question_as_an_attempt() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    assert_eq!(h.ivr.poll_timeout(), Some(h.at(120.0)));
    h.done(8.0);
    assert_eq!(h.ivr.poll_timeout(), Some(h.at(13.0)));
    assert_eq!(h.timeout(13.0), [Play(Prompt::Welcome)]);
    assert_eq!(h.ivr.attempts(), 1);
    h.done(20.0);
    assert_eq!(h.timeout(25.0), [Play(Prompt::Welcome)]);
    h.done(32.0);
    assert_eq!(h.timeout(37.0), [Play(Prompt::Goodbye)]);
    assert_eq!(h.state(), IvrState::Ending);
}

#[test]
fn overall_timeout_says_goodbye_and_hangs_up_without_prompt_done() {
    let config = IvrConfig {
        overall_timeout: Duration::from_secs(12),
        ..IvrConfig::default()
    };
    let mut h = Harness::new(config);
    h.drain();
    h.done(3.0);
    h.keys(7.0, "1");
    h.keys(11.0, "*");
    assert_eq!(h.ivr.poll_timeout(), Some(h.at(12.0)));
    assert_eq!(h.timeout(12.0), [Play(Prompt::Goodbye)]);
    assert_eq!(h.ivr.poll_timeout(), Some(h.at(12.0) + HANGUP_GRACE));
    assert_eq!(h.timeout(26.0), []);
    assert_eq!(h.timeout(27.0), [Hangup]);
    assert_eq!(h.state(), IvrState::Done);
}

#[test]
fn overall_timeout_stops_a_playing_prompt_and_a_pending_lookup() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    assert_eq!(h.timeout(120.0), [StopPrompt, Play(Prompt::Goodbye)]);

    let mut h = Harness::direct("1234");
    h.drain();
    assert_eq!(h.timeout(120.0), [Play(Prompt::Goodbye)]);
    assert_eq!(h.lookup(121.0, NO_PIN), []);
    assert_eq!(h.state(), IvrState::Ending);
}

#[test]
fn direct_route() {
    let mut h = Harness::direct("777");
    assert_eq!(h.drain(), [lookup("777")]);
    assert_eq!(h.state(), IvrState::Looking);
    assert_eq!(
        h.lookup(1.0, NO_PIN),
        [Play(Prompt::Joining), join("777", None)]
    );

    let mut h = Harness::direct("777");
    h.drain();
    assert_eq!(h.lookup(1.0, WITH_PIN), [Play(Prompt::EnterPin)]);
    h.keys(2.0, "42#");
    assert_eq!(
        h.pin(3.0, PinOutcome::Correct),
        [Play(Prompt::Joining), join("777", Some("42"))]
    );

    // A stale route falls back to asking for the room, without costing an attempt.
    let mut h = Harness::direct("777");
    h.drain();
    assert_eq!(
        h.lookup(1.0, LookupOutcome::NotFound),
        [Play(Prompt::Welcome)]
    );
    assert_eq!((h.state(), h.ivr.attempts()), (ROOM, 0));
}

#[test]
fn unreachable_conference_ends_the_call() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    h.keys(1.0, "1234#");
    assert_eq!(
        h.lookup(2.0, LookupOutcome::Unreachable),
        [Play(Prompt::Unreachable)]
    );
    assert_eq!(h.state(), IvrState::Ending);
    assert_eq!(h.done(5.0), [Hangup]);

    let mut h = Harness::direct("1234");
    h.drain();
    h.lookup(1.0, WITH_PIN);
    h.keys(2.0, "1#");
    assert_eq!(
        h.pin(3.0, PinOutcome::Unreachable),
        [Play(Prompt::Unreachable)]
    );
    assert_eq!(h.timeout(3.0 + 15.0), [Hangup]);
}

#[test]
fn digits_during_lookup_are_ignored() {
    let mut h = Harness::new(IvrConfig::default());
    h.drain();
    h.keys(1.0, "1234#");
    assert_eq!(h.keys(4.0, "55#*"), []);
    assert_eq!(h.state(), IvrState::Looking);
    assert_eq!(h.pin(5.0, PinOutcome::Correct), []);
    assert_eq!(
        h.lookup(6.0, NO_PIN),
        [Play(Prompt::Joining), join("1234", None)]
    );
}
