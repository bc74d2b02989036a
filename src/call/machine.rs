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
mod tests {
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
}
