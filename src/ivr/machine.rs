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
//!
//! The types the driver and the IVR exchange live in `machine/messages.rs`, the unit tests in
//! `machine_tests.rs`.

mod messages;

pub use messages::{Entry, IvrAction, IvrConfig, IvrInput, IvrState, LookupOutcome, PinOutcome};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Prompt;

/// How long to wait for the goodbye (or unreachable) prompt before hanging up anyway.
pub const HANGUP_GRACE: Duration = Duration::from_secs(15);

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
#[path = "machine_tests.rs"]
mod tests;
