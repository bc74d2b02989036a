//! Graceful drain, sans-IO: accepting → draining (until the limit) → closing (goodbyes) → done.
//! [`Drain`] takes requests, the call count and the time, and says what the supervisor must do;
//! it never reads the clock. [`shell`] carries out its actions; [`http`] has the admin endpoints
//! and the `dialbridge drain` client.

pub mod http;
pub mod shell;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long the goodbye may take before the remaining calls are hung up without it: the
/// closing prompt is about 6 s, and a call machine gives a goodbye at most 15 s.
pub const GOODBYE_GRACE: Duration = Duration::from_secs(20);
/// How long calls hung up at once may take to send their BYEs before they are dropped.
pub const HANGUP_GRACE: Duration = Duration::from_secs(5);

/// Who asks, and for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Stop taking calls and let the running ones finish (SIGTERM, the admin endpoint).
    Drain,
    /// Hang up everything now (SIGINT, or a second SIGTERM).
    StopNow,
}

/// What the supervisor must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainAction {
    /// Answer new INVITEs and OPTIONS 503, turn `/readyz` not-ready, unregister.
    StopAccepting,
    /// The limit is reached: every call plays the closing prompt, then BYE.
    SayGoodbye,
    /// Every call hangs up now with BYE, no prompt.
    HangUpNow,
    /// Nothing is left to wait for: leave (exit status 0).
    Exit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Accepting,
    /// Calls run on until `deadline`.
    Draining {
        deadline: Instant,
    },
    /// Goodbyes are playing; whatever is left at `deadline` is hung up.
    Closing {
        deadline: Instant,
    },
    /// Calls are hanging up; whatever is left at `deadline` is dropped.
    Stopping {
        deadline: Instant,
    },
    Done,
}

pub struct Drain {
    limit: Duration,
    phase: Phase,
    calls: usize,
    actions: VecDeque<DrainAction>,
}

impl Drain {
    /// `limit`: how long running calls may go on once a drain starts.
    pub fn new(limit: Duration) -> Drain {
        Drain {
            limit,
            phase: Phase::Accepting,
            calls: 0,
            actions: VecDeque::new(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// A drain or stop request. A second drain request changes nothing (the drain already runs
    /// to its limit); a stop request always hangs up at once.
    pub fn request(&mut self, request: Request, now: Instant) {
        match (self.phase, request) {
            (Phase::Done | Phase::Stopping { .. }, _) => {}
            (Phase::Draining { .. } | Phase::Closing { .. }, Request::Drain) => {}
            (Phase::Accepting, Request::Drain) => {
                self.actions.push_back(DrainAction::StopAccepting);
                self.phase = Phase::Draining {
                    deadline: now + self.limit,
                };
                self.check_empty();
            }
            (phase, Request::StopNow) => {
                if phase == Phase::Accepting {
                    self.actions.push_back(DrainAction::StopAccepting);
                }
                self.stop_now(now);
            }
        }
    }

    /// The number of calls the supervisor holds now.
    pub fn calls_changed(&mut self, calls: usize) {
        self.calls = calls;
        self.check_empty();
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Draining { deadline } if now >= deadline => {
                self.actions.push_back(DrainAction::SayGoodbye);
                self.phase = Phase::Closing {
                    deadline: now + GOODBYE_GRACE,
                };
            }
            Phase::Closing { deadline } if now >= deadline => self.stop_now(now),
            Phase::Stopping { deadline } if now >= deadline => self.finish(),
            _ => {}
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Draining { deadline }
            | Phase::Closing { deadline }
            | Phase::Stopping { deadline } => Some(deadline),
            Phase::Accepting | Phase::Done => None,
        }
    }

    pub fn poll_action(&mut self) -> Option<DrainAction> {
        self.actions.pop_front()
    }

    fn stop_now(&mut self, now: Instant) {
        self.actions.push_back(DrainAction::HangUpNow);
        self.phase = Phase::Stopping {
            deadline: now + HANGUP_GRACE,
        };
        self.check_empty();
    }

    fn check_empty(&mut self) {
        if self.calls == 0 && !matches!(self.phase, Phase::Accepting | Phase::Done) {
            self.finish();
        }
    }

    fn finish(&mut self) {
        self.phase = Phase::Done;
        self.actions.push_back(DrainAction::Exit);
    }
}

#[cfg(test)]
mod tests;
