//! Sans-IO call control for one answered call: it merges digits from every DTMF source, runs the
//! IVR, and turns the IVR's wishes and media events into actions for the actor. No clock, no
//! sockets: time comes in as `now`, so tests drive it with virtual time.

use crate::ivr::Prompt;
use crate::ivr::dtmf::{DigitMerger, DtmfSource};
use crate::ivr::machine::{IvrAction, IvrConfig, IvrInput, Ivr, LookupOutcome, PinOutcome};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Same digit from two sources within this window is one key press.
const DIGIT_MERGE_WINDOW: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallInput {
    Digit { digit: char, source: DtmfSource },
    PromptDone,
    Lookup(LookupOutcome),
    Pin(PinOutcome),
    /// No RTP from the caller for the configured time.
    RtpTimeout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallAction {
    Play(Prompt),
    StopPrompt,
    LookupRoom { room: String },
    CheckPin { room: String, pin: String },
    /// The caller typed a valid room (and PIN): join the conference.
    Join { room: String, pin: Option<String> },
    /// End the call from our side with BYE.
    Hangup { reason: &'static str },
}

pub struct CallMachine {
    ivr: Ivr,
    merger: DigitMerger,
    actions: VecDeque<CallAction>,
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
            ended: false,
        };
        machine.drain_ivr();
        machine
    }

    pub fn handle(&mut self, input: CallInput, now: Instant) {
        if self.ended {
            return;
        }
        let ivr_input = match input {
            CallInput::Digit { digit, source } => match self.merger.accept(source, digit, now) {
                Some(digit) => IvrInput::Digit(digit),
                None => return,
            },
            CallInput::PromptDone => IvrInput::PromptDone,
            CallInput::Lookup(outcome) => IvrInput::RoomLookup(outcome),
            CallInput::Pin(outcome) => IvrInput::PinChecked(outcome),
            CallInput::RtpTimeout => {
                self.end("no RTP from the caller");
                return;
            }
        };
        self.ivr.handle(ivr_input, now);
        self.drain_ivr();
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ended {
            return;
        }
        self.ivr.handle_timeout(now);
        self.drain_ivr();
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ended { None } else { self.ivr.poll_timeout() }
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
                IvrAction::Play(prompt) => CallAction::Play(prompt),
                IvrAction::StopPrompt => CallAction::StopPrompt,
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
        IvrConfig { room_id_min_digits: 3, ..IvrConfig::default() }
    }

    #[test]
    fn a_digit_sent_by_rtp_and_inband_counts_once() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(config(), None, t0);
        assert_eq!(drain(&mut m), vec![CallAction::Play(Prompt::Welcome)]);
        m.handle(CallInput::PromptDone, t0);
        for (i, d) in "1234".chars().enumerate() {
            let t = t0 + Duration::from_millis(400 * i as u64);
            m.handle(CallInput::Digit { digit: d, source: DtmfSource::Rfc4733 }, t);
            m.handle(CallInput::Digit { digit: d, source: DtmfSource::Inband }, t + Duration::from_millis(20));
        }
        m.handle(CallInput::Digit { digit: '#', source: DtmfSource::Rfc4733 }, t0 + Duration::from_secs(2));
        assert_eq!(drain(&mut m), vec![CallAction::LookupRoom { room: "1234".into() }]);
    }

    #[test]
    fn direct_route_looks_up_the_room_and_joins() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(config(), Some("1234".into()), t0);
        assert_eq!(drain(&mut m), vec![CallAction::LookupRoom { room: "1234".into() }]);
        m.handle(CallInput::Lookup(LookupOutcome::Found { pin_required: false }), t0);
        let actions = drain(&mut m);
        assert!(actions.contains(&CallAction::Join { room: "1234".into(), pin: None }), "{actions:?}");
    }

    #[test]
    fn rtp_timeout_hangs_up_once_and_then_ignores_input() {
        let t0 = Instant::now();
        let mut m = CallMachine::new(config(), None, t0);
        drain(&mut m);
        m.handle(CallInput::RtpTimeout, t0);
        assert_eq!(drain(&mut m), vec![CallAction::Hangup { reason: "no RTP from the caller" }]);
        m.handle(CallInput::Digit { digit: '1', source: DtmfSource::SipInfo }, t0);
        m.handle_timeout(t0 + Duration::from_secs(1000));
        assert_eq!(drain(&mut m), vec![]);
        assert_eq!(m.poll_timeout(), None);
    }
}
