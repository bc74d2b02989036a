//! The IVR as a sans-IO state machine: it greets the caller, reads the room ID and, where the
//! room has one, the PIN, and decides when to join or hang up. It never reads the clock or does
//! IO: the driver feeds [`IvrInput`]s and deadlines with `now`, then drains [`IvrAction`]s.
//!
//! Contract with the driver:
//! - `Play(p)` starts a prompt; the player answers `PromptDone` when it played to the end.
//!   `StopPrompt` ends the current prompt silently: no `PromptDone` for a stopped prompt. A new
//!   `Play` while a prompt plays is always preceded by `StopPrompt`.
//! - `LookupRoom` is answered with `RoomLookup`, `CheckPin` with `PinChecked`. Answers that come
//!   when nothing is pending (say after the overall timeout) are ignored.
//! - After `Join` the IVR is finished and ignores digits; the call layer owns in-call keys.
//! - `Hangup` is the last action; it comes once the goodbye prompt is done, or after
//!   [`HANGUP_GRACE`] if the player never reports it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Prompt;

/// How long to wait for the goodbye (or unreachable) prompt before hanging up anyway.
pub const HANGUP_GRACE: Duration = Duration::from_secs(15);

/// IVR limits. The defaults match `[ivr]` in `dialbridge.example.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrConfig {
    /// Room IDs shorter than this are a wrong attempt without asking the conference.
    pub room_id_min_digits: usize,
    /// The room ID entry ends by itself at this many digits.
    pub room_id_max_digits: usize,
    /// The PIN entry ends by itself at this many digits.
    pub pin_max_digits: usize,
    /// Wrong entries (room IDs, PINs and unanswered questions together) before goodbye.
    pub max_attempts: u32,
    /// Quiet time that ends an entry, or after a prompt without any key, repeats the question.
    pub inter_digit_timeout: Duration,
    /// Time from the start of the IVR until the caller is sent away.
    pub overall_timeout: Duration,
}

impl Default for IvrConfig {
    fn default() -> Self {
        Self {
            room_id_min_digits: 3,
            room_id_max_digits: 10,
            pin_max_digits: 10,
            max_attempts: 3,
            inter_digit_timeout: Duration::from_secs(5),
            overall_timeout: Duration::from_secs(120),
        }
    }
}

/// What the driver tells the IVR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrInput {
    /// A key press (already merged across DTMF sources).
    Digit(char),
    /// The last `Play` played to its end.
    PromptDone,
    RoomLookup(LookupOutcome),
    PinChecked(PinOutcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupOutcome {
    Found { pin_required: bool },
    NotFound,
    Unreachable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOutcome {
    Correct,
    Wrong,
    Unreachable,
}

/// What the IVR asks the driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrAction {
    Play(Prompt),
    StopPrompt,
    LookupRoom { room: String },
    CheckPin { room: String, pin: String },
    Join { room: String, pin: Option<String> },
    Hangup,
}

/// Which entry the caller is typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    RoomId,
    Pin,
}

impl Entry {
    /// The prompt that asks for this entry.
    fn question(self) -> Prompt {
        match self {
            Entry::RoomId => Prompt::Welcome,
            Entry::Pin => Prompt::EnterPin,
        }
    }
}

/// Where the IVR is, for logs and tests. Carries no digits, so it is safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvrState {
    Collecting {
        what: Entry,
    },
    /// Waiting for the room lookup.
    Looking,
    /// Waiting for the PIN check.
    CheckingPin,
    /// `Join` was emitted; the IVR is finished.
    Joined,
    /// Playing goodbye or unreachable; `Hangup` follows.
    Ending,
    /// `Hangup` was emitted.
    Done,
}

/// The internal state, with the data each step needs.
#[derive(Debug)]
enum Phase {
    Collecting {
        what: Entry,
        digits: String,
        /// Time of the last key of a non-empty entry: the inter-digit timer.
        last_key: Option<Instant>,
        /// Since when the caller has been silent with an empty entry and no prompt playing.
        quiet_since: Option<Instant>,
    },
    Looking {
        room: String,
        direct: bool,
    },
    CheckingPin {
        room: String,
        pin: String,
    },
    Joined,
    Ending {
        hangup_at: Instant,
    },
    Done,
}

/// One caller's IVR session.
#[derive(Debug)]
pub struct Ivr {
    config: IvrConfig,
    phase: Phase,
    /// The room found by the lookup, while the PIN is collected or checked.
    room: String,
    attempts: u32,
    prompt_playing: bool,
    deadline: Instant,
    actions: VecDeque<IvrAction>,
}

impl Ivr {
    /// An IVR that welcomes the caller and asks for the room ID.
    pub fn new(config: IvrConfig, now: Instant) -> Self {
        let mut ivr = Self::blank(config, now);
        ivr.ask(Entry::RoomId, Prompt::Welcome);
        ivr
    }

    /// An IVR for a number routed straight to `room`: it looks the room up at once and asks
    /// only for a PIN if the room has one. If the room is gone, it falls back to asking for a
    /// room ID, so a stale route still lets callers in.
    pub fn new_direct(config: IvrConfig, room: String, now: Instant) -> Self {
        let mut ivr = Self::blank(config, now);
        ivr.actions
            .push_back(IvrAction::LookupRoom { room: room.clone() });
        ivr.phase = Phase::Looking { room, direct: true };
        ivr
    }

    fn blank(config: IvrConfig, now: Instant) -> Self {
        let deadline = now + config.overall_timeout;
        Self {
            config,
            phase: Phase::Done,
            room: String::new(),
            attempts: 0,
            prompt_playing: false,
            deadline,
            actions: VecDeque::new(),
        }
    }

    pub fn handle(&mut self, input: IvrInput, now: Instant) {
        match input {
            IvrInput::Digit(key) => self.on_digit(key, now),
            IvrInput::PromptDone => self.on_prompt_done(now),
            IvrInput::RoomLookup(outcome) => self.on_lookup(outcome, now),
            IvrInput::PinChecked(outcome) => self.on_pin_checked(outcome, now),
        }
    }

    /// Acts on a passed deadline; call it when [`Ivr::poll_timeout`] is reached.
    pub fn handle_timeout(&mut self, now: Instant) {
        let waiting = matches!(
            self.phase,
            Phase::Collecting { .. } | Phase::Looking { .. } | Phase::CheckingPin { .. }
        );
        if waiting && now >= self.deadline {
            self.end(Prompt::Goodbye, now);
            return;
        }
        let idt = self.config.inter_digit_timeout;
        match &self.phase {
            Phase::Collecting {
                last_key: Some(at), ..
            } if now >= *at + idt => self.submit(now),
            Phase::Collecting {
                what,
                quiet_since: Some(at),
                ..
            } if now >= *at + idt => {
                let what = *what;
                self.wrong_attempt(what, what.question(), now);
            }
            Phase::Ending { hangup_at } if now >= *hangup_at => self.hang_up(),
            _ => {}
        }
    }

    /// The next deadline, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let idt = self.config.inter_digit_timeout;
        match &self.phase {
            Phase::Collecting {
                last_key,
                quiet_since,
                ..
            } => {
                let entry = last_key.or(*quiet_since).map(|at| at + idt);
                Some(entry.map_or(self.deadline, |at| at.min(self.deadline)))
            }
            Phase::Looking { .. } | Phase::CheckingPin { .. } => Some(self.deadline),
            Phase::Ending { hangup_at } => Some(*hangup_at),
            Phase::Joined | Phase::Done => None,
        }
    }

    /// The next action to carry out, oldest first.
    pub fn poll_action(&mut self) -> Option<IvrAction> {
        self.actions.pop_front()
    }

    pub fn state(&self) -> IvrState {
        match &self.phase {
            Phase::Collecting { what, .. } => IvrState::Collecting { what: *what },
            Phase::Looking { .. } => IvrState::Looking,
            Phase::CheckingPin { .. } => IvrState::CheckingPin,
            Phase::Joined => IvrState::Joined,
            Phase::Ending { .. } => IvrState::Ending,
            Phase::Done => IvrState::Done,
        }
    }

    /// Wrong entries so far (room IDs, PINs and unanswered questions).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether `input` answers a guess of the caller's with "wrong": a room ID the caller typed
    /// that does not exist, or a wrong PIN. A routed number's room that is gone is no guess.
    pub fn is_wrong_guess(&self, input: &IvrInput) -> bool {
        matches!(
            (&self.phase, input),
            (
                Phase::Looking { direct: false, .. },
                IvrInput::RoomLookup(LookupOutcome::NotFound),
            ) | (
                Phase::CheckingPin { .. },
                IvrInput::PinChecked(PinOutcome::Wrong)
            )
        )
    }

    fn on_digit(&mut self, key: char, now: Instant) {
        if !matches!(key, '0'..='9' | '*' | '#') {
            return;
        }
        let Phase::Collecting {
            what,
            digits,
            last_key,
            quiet_since,
        } = &mut self.phase
        else {
            return;
        };
        if self.prompt_playing {
            self.prompt_playing = false;
            self.actions.push_back(IvrAction::StopPrompt);
        }
        match key {
            '*' => {
                digits.clear();
                *last_key = None;
                *quiet_since = Some(now);
            }
            '#' => self.submit(now),
            _ => {
                digits.push(key);
                *last_key = Some(now);
                *quiet_since = None;
                let max = match what {
                    Entry::RoomId => self.config.room_id_max_digits,
                    Entry::Pin => self.config.pin_max_digits,
                };
                if digits.len() >= max {
                    self.submit(now);
                }
            }
        }
    }

    fn on_prompt_done(&mut self, now: Instant) {
        if !std::mem::take(&mut self.prompt_playing) {
            return;
        }
        match &mut self.phase {
            Phase::Collecting {
                digits,
                quiet_since,
                ..
            } if digits.is_empty() => {
                *quiet_since = Some(now);
            }
            Phase::Ending { .. } => self.hang_up(),
            _ => {}
        }
    }

    fn on_lookup(&mut self, outcome: LookupOutcome, now: Instant) {
        let Phase::Looking { room, direct } = &mut self.phase else {
            return;
        };
        let (room, direct) = (std::mem::take(room), *direct);
        match outcome {
            LookupOutcome::Found {
                pin_required: false,
            } => self.join(room, None),
            LookupOutcome::Found { pin_required: true } => {
                self.room = room;
                self.ask(Entry::Pin, Prompt::EnterPin);
            }
            LookupOutcome::NotFound if direct => self.ask(Entry::RoomId, Prompt::Welcome),
            LookupOutcome::NotFound => self.wrong_attempt(Entry::RoomId, Prompt::WrongId, now),
            LookupOutcome::Unreachable => self.end(Prompt::Unreachable, now),
        }
    }

    fn on_pin_checked(&mut self, outcome: PinOutcome, now: Instant) {
        let Phase::CheckingPin { room, pin } = &mut self.phase else {
            return;
        };
        let (room, pin) = (std::mem::take(room), std::mem::take(pin));
        match outcome {
            PinOutcome::Correct => self.join(room, Some(pin)),
            PinOutcome::Wrong => self.wrong_attempt(Entry::Pin, Prompt::WrongPin, now),
            PinOutcome::Unreachable => self.end(Prompt::Unreachable, now),
        }
    }

    /// Ends the current entry: look the room up, check the PIN, or count a wrong attempt.
    fn submit(&mut self, now: Instant) {
        let Phase::Collecting { what, digits, .. } = &mut self.phase else {
            return;
        };
        let (what, digits) = (*what, std::mem::take(digits));
        match what {
            Entry::RoomId if digits.len() < self.config.room_id_min_digits => {
                self.wrong_attempt(Entry::RoomId, Prompt::WrongId, now);
            }
            Entry::RoomId => {
                self.actions.push_back(IvrAction::LookupRoom {
                    room: digits.clone(),
                });
                self.phase = Phase::Looking {
                    room: digits,
                    direct: false,
                };
            }
            Entry::Pin if digits.is_empty() => {
                self.wrong_attempt(Entry::Pin, Prompt::WrongPin, now)
            }
            Entry::Pin => {
                let room = self.room.clone();
                self.actions.push_back(IvrAction::CheckPin {
                    room: room.clone(),
                    pin: digits.clone(),
                });
                self.phase = Phase::CheckingPin { room, pin: digits };
            }
        }
    }

    /// Counts a wrong attempt; tells the caller with `prompt` and asks again, or says goodbye.
    fn wrong_attempt(&mut self, what: Entry, prompt: Prompt, now: Instant) {
        self.attempts += 1;
        if self.attempts >= self.config.max_attempts {
            self.end(Prompt::Goodbye, now);
        } else {
            self.ask(what, prompt);
        }
    }

    /// Plays `prompt` and collects `what` from scratch.
    fn ask(&mut self, what: Entry, prompt: Prompt) {
        self.play(prompt);
        self.phase = Phase::Collecting {
            what,
            digits: String::new(),
            last_key: None,
            quiet_since: None,
        };
    }

    fn join(&mut self, room: String, pin: Option<String>) {
        self.play(Prompt::Joining);
        self.actions.push_back(IvrAction::Join { room, pin });
        self.phase = Phase::Joined;
    }

    /// Plays the last words; `Hangup` follows when they are done.
    fn end(&mut self, prompt: Prompt, now: Instant) {
        self.play(prompt);
        self.phase = Phase::Ending {
            hangup_at: now + HANGUP_GRACE,
        };
    }

    fn hang_up(&mut self) {
        self.prompt_playing = false;
        self.actions.push_back(IvrAction::Hangup);
        self.phase = Phase::Done;
    }

    fn play(&mut self, prompt: Prompt) {
        if self.prompt_playing {
            self.actions.push_back(IvrAction::StopPrompt);
        }
        self.prompt_playing = true;
        self.actions.push_back(IvrAction::Play(prompt));
    }
}

#[cfg(test)]
mod tests {
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
}
