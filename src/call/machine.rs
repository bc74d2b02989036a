//! Sans-IO call control for one answered call: it merges digits from every DTMF source, runs the
//! IVR, and, once the caller is in the room, the in-call part: the "you are alone" prompt,
//! self-mute with `*6`, host mute and kick, and the goodbye when the conference ends or breaks.
//! It turns all of that into actions for the actor. No clock, no sockets: time comes in as
//! `now`, so tests drive it with virtual time.

use crate::ivr::Prompt;
use crate::ivr::dtmf::{DigitMerger, DtmfSource};
use crate::ivr::machine::{Ivr, IvrAction, IvrConfig, IvrInput, LookupOutcome, PinOutcome};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Same digit from two sources within this window is one key press.
const DIGIT_MERGE_WINDOW: Duration = Duration::from_millis(300);
/// `*` then `6` within this time toggles self-mute.
const MUTE_KEY_WINDOW: Duration = Duration::from_secs(3);
/// Longest a goodbye prompt may take before we hang up anyway (a lost PromptDone).
const FINAL_PROMPT_GRACE: Duration = Duration::from_secs(15);
/// Pause between the joining prompt and "you are the first participant", so they do not
/// run into one sentence.
const PROMPT_GAP: Duration = Duration::from_millis(700);
/// The in-call key sequence that toggles self-mute (documented in the README).
pub const MUTE_KEYS: &str = "*6";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallInput {
    Digit {
        digit: char,
        source: DtmfSource,
    },
    PromptDone,
    Lookup(LookupOutcome),
    Pin(PinOutcome),
    /// No RTP from the caller for the configured time.
    RtpTimeout,
    /// We are in the room with `peers` others.
    ConferenceJoined {
        peers: usize,
    },
    /// Joining failed, or the conference broke mid-call.
    ConferenceFailed,
    /// The number of others in the room changed.
    PeersChanged {
        peers: usize,
    },
    MutedByHost,
    Kicked,
    /// The conference closed in order.
    ConferenceEnded,
    /// The guessing limit locked this caller out: goodbye, even if IVR attempts remain.
    LockedOut,
    /// The bridge drains and its limit is reached: the closing prompt, then BYE.
    Draining,
}

/// What the call asks its driver to do. `Debug` hides PINs (the actor logs every action).
#[derive(Clone, PartialEq, Eq)]
pub enum CallAction {
    Play(Prompt),
    StopPrompt,
    LookupRoom {
        room: String,
    },
    CheckPin {
        room: String,
        pin: String,
    },
    /// The caller typed a valid room (and PIN): join the conference.
    Join {
        room: String,
        pin: Option<String>,
    },
    /// Stop (true) or resume (false) sending the caller's audio to the room, and tell it.
    SetMuted(bool),
    /// End the call from our side with BYE.
    Hangup {
        reason: &'static str,
    },
}

impl std::fmt::Debug for CallAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const HIDDEN: &str = "<hidden>";
        match self {
            CallAction::Play(prompt) => f.debug_tuple("Play").field(prompt).finish(),
            CallAction::StopPrompt => f.write_str("StopPrompt"),
            CallAction::LookupRoom { room } => {
                f.debug_struct("LookupRoom").field("room", room).finish()
            }
            CallAction::CheckPin { room, .. } => f
                .debug_struct("CheckPin")
                .field("room", room)
                .field("pin", &HIDDEN)
                .finish(),
            CallAction::Join { room, pin } => f
                .debug_struct("Join")
                .field("room", room)
                .field("pin", &pin.as_ref().map(|_| HIDDEN))
                .finish(),
            CallAction::SetMuted(muted) => f.debug_tuple("SetMuted").field(muted).finish(),
            CallAction::Hangup { reason } => {
                f.debug_struct("Hangup").field("reason", reason).finish()
            }
        }
    }
}

/// Where the caller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// In the IVR, or waiting for the conference to take us.
    Ivr,
    InRoom {
        muted: bool,
        star_at: Option<Instant>,
    },
    /// A goodbye prompt plays; hang up when it is done (or at the deadline).
    Leaving {
        reason: &'static str,
        deadline: Instant,
    },
}

pub struct CallMachine {
    ivr: Ivr,
    merger: DigitMerger,
    actions: VecDeque<CallAction>,
    phase: Phase,
    /// A prompt of ours is playing (so "alone" waits for the joining prompt to finish).
    prompt_playing: bool,
    /// Say "you are the first participant" when the current prompt ends.
    alone_pending: bool,
    /// When to say it (the prompt before it has ended).
    alone_at: Option<Instant>,
    ended: bool,
}

impl CallMachine {
    /// A call that starts in the IVR, or — for a called number routed straight to a room —
    /// with the lookup of `direct_room`.
    pub fn new(config: IvrConfig, direct_room: Option<String>, now: Instant) -> Self {
        let ivr = match direct_room {
            Some(room) => Ivr::new_direct(config, room, now),
            None => Ivr::new(config, now),
        };
        let mut machine = Self {
            ivr,
            merger: DigitMerger::new(DIGIT_MERGE_WINDOW),
            actions: VecDeque::new(),
            phase: Phase::Ivr,
            prompt_playing: false,
            alone_pending: false,
            alone_at: None,
            ended: false,
        };
        machine.drain_ivr();
        machine
    }

    /// A call from a caller who is locked out for guessing: it plays only the `locked` prompt,
    /// then hangs up.
    pub fn locked_out(config: IvrConfig, now: Instant) -> Self {
        let mut machine = Self::new(config, None, now);
        // The IVR's greeting is never carried out; the IVR stays unused.
        machine.actions.clear();
        machine.leave(Prompt::Locked, "caller is locked out for guessing", now);
        machine
    }

    /// Whether `input`, a lookup or PIN check result, says the caller guessed wrong (see
    /// [`Ivr::is_wrong_guess`]); the driver counts these against the guessing limit.
    pub fn is_wrong_guess(&self, input: &CallInput) -> bool {
        if self.phase != Phase::Ivr || self.ended {
            return false;
        }
        match input {
            CallInput::Lookup(o) => self.ivr.is_wrong_guess(&IvrInput::RoomLookup(*o)),
            CallInput::Pin(o) => self.ivr.is_wrong_guess(&IvrInput::PinChecked(*o)),
            _ => false,
        }
    }

    pub fn handle(&mut self, input: CallInput, now: Instant) {
        if self.ended {
            return;
        }
        let ivr_input = match input {
            CallInput::Digit { digit, source } => match self.merger.accept(source, digit, now) {
                Some(digit) if matches!(self.phase, Phase::InRoom { .. }) => {
                    return self.in_call_key(digit, now);
                }
                Some(digit) => IvrInput::Digit(digit),
                None => return,
            },
            CallInput::PromptDone => {
                self.prompt_playing = false;
                if let Phase::Leaving { reason, .. } = self.phase {
                    return self.end(reason);
                }
                if self.alone_pending {
                    self.alone_pending = false;
                    self.alone_at = Some(now + PROMPT_GAP);
                }
                IvrInput::PromptDone
            }
            CallInput::Lookup(outcome) => IvrInput::RoomLookup(outcome),
            CallInput::Pin(outcome) => IvrInput::PinChecked(outcome),
            CallInput::RtpTimeout => return self.end("no RTP from the caller"),
            CallInput::ConferenceJoined { peers } => {
                self.phase = Phase::InRoom {
                    muted: false,
                    star_at: None,
                };
                if peers == 0 {
                    self.say_alone();
                }
                return;
            }
            CallInput::PeersChanged { .. } => return,
            CallInput::MutedByHost => {
                if let Phase::InRoom { muted: false, .. } = self.phase {
                    self.phase = Phase::InRoom {
                        muted: true,
                        star_at: None,
                    };
                    self.actions.push_back(CallAction::SetMuted(true));
                    self.play(Prompt::Muted);
                }
                return;
            }
            CallInput::Kicked => return self.leave(Prompt::Removed, "removed by a host", now),
            CallInput::ConferenceEnded => {
                return self.leave(Prompt::Ended, "the conference ended", now);
            }
            CallInput::ConferenceFailed => {
                return self.leave(Prompt::Unreachable, "the conference is unreachable", now);
            }
            CallInput::LockedOut => {
                return self.leave(Prompt::Goodbye, "too many wrong entries", now);
            }
            CallInput::Draining => {
                return self.leave(Prompt::Closing, "the bridge drained for maintenance", now);
            }
        };
        if matches!(self.phase, Phase::Leaving { .. }) {
            return;
        }
        self.ivr.handle(ivr_input, now);
        self.drain_ivr();
    }

    /// `*6` toggles self-mute; other keys in the room do nothing.
    fn in_call_key(&mut self, digit: char, now: Instant) {
        let Phase::InRoom { muted, star_at } = self.phase else {
            return;
        };
        let toggle =
            digit == '6' && star_at.is_some_and(|t| now.duration_since(t) <= MUTE_KEY_WINDOW);
        let star_at = (digit == '*').then_some(now);
        if toggle {
            self.phase = Phase::InRoom {
                muted: !muted,
                star_at: None,
            };
            self.actions.push_back(CallAction::SetMuted(!muted));
            self.play(if muted {
                Prompt::Unmuted
            } else {
                Prompt::Muted
            });
        } else {
            self.phase = Phase::InRoom { muted, star_at };
        }
    }

    fn say_alone(&mut self) {
        if self.prompt_playing {
            self.alone_pending = true;
        } else {
            self.play(Prompt::Alone);
        }
    }

    fn play(&mut self, prompt: Prompt) {
        self.prompt_playing = true;
        self.actions.push_back(CallAction::Play(prompt));
    }

    /// Plays a goodbye prompt, then hangs up.
    fn leave(&mut self, prompt: Prompt, reason: &'static str, now: Instant) {
        if matches!(self.phase, Phase::Leaving { .. }) {
            return;
        }
        self.alone_pending = false;
        self.alone_at = None;
        self.phase = Phase::Leaving {
            reason,
            deadline: now + FINAL_PROMPT_GRACE,
        };
        self.play(prompt);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ended {
            return;
        }
        if let Phase::Leaving { reason, deadline } = self.phase {
            if now >= deadline {
                self.end(reason);
            }
            return;
        }
        if let Some(at) = self.alone_at
            && now >= at
        {
            self.alone_at = None;
            self.play(Prompt::Alone);
            return;
        }
        self.ivr.handle_timeout(now);
        self.drain_ivr();
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            _ if self.ended => None,
            Phase::Leaving { deadline, .. } => Some(deadline),
            Phase::InRoom { .. } => self.alone_at,
            Phase::Ivr => self.ivr.poll_timeout(),
        }
    }

    pub fn poll_action(&mut self) -> Option<CallAction> {
        self.actions.pop_front()
    }

    fn end(&mut self, reason: &'static str) {
        self.ended = true;
        self.actions.push_back(CallAction::Hangup { reason });
    }

    fn drain_ivr(&mut self) {
        while let Some(action) = self.ivr.poll_action() {
            let action = match action {
                IvrAction::Play(prompt) => {
                    self.prompt_playing = true;
                    CallAction::Play(prompt)
                }
                IvrAction::StopPrompt => {
                    self.prompt_playing = false;
                    CallAction::StopPrompt
                }
                IvrAction::LookupRoom { room } => CallAction::LookupRoom { room },
                IvrAction::CheckPin { room, pin } => CallAction::CheckPin { room, pin },
                IvrAction::Join { room, pin } => CallAction::Join { room, pin },
                IvrAction::Hangup => {
                    self.end("IVR finished");
                    continue;
                }
            };
            self.actions.push_back(action);
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
