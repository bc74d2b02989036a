//! The SIP side of the guessing limit: one [`GuessLimiter`] shared by all calls. A call's
//! wrong room IDs and PINs count against its caller number and its source address (unless the
//! source is a trusted proxy that carries many callers); a call from a locked-out number or
//! source is refused or told so. The counting itself is the sans-IO
//! [`crate::security::guessing`].

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::machine::{CallInput, CallMachine};
use crate::config::{GuessingConfig, LockedCall};
use crate::metrics;
use crate::security::guessing::{GuessLimiter, Key, Limits, Verdict};

const SIDE: &str = "sip";

/// Shared by every call (in the call context).
pub struct SipGuessing {
    limiter: Mutex<GuessLimiter>,
    /// Sources not keyed by address: they carry many callers.
    trusted: Vec<IpNet>,
    pub locked_call: LockedCall,
}

impl SipGuessing {
    pub fn new(config: &GuessingConfig, trusted: Vec<IpNet>) -> Arc<SipGuessing> {
        Arc::new(SipGuessing {
            limiter: Mutex::new(GuessLimiter::new(Limits::from(config))),
            trusted,
            locked_call: config.locked_call,
        })
    }

    /// The guard of one call from `number` (None: anonymous) at `source`.
    pub fn guard(self: &Arc<Self>, number: Option<&str>, source: IpAddr) -> CallGuard {
        let mut keys = vec![Key::caller(number)];
        if !self.trusted.iter().any(|net| net.contains(&source)) {
            keys.push(Key::Source(source));
        }
        CallGuard {
            shared: self.clone(),
            keys,
        }
    }

    /// The limiter; a panic elsewhere cannot leave it half-updated in a way that matters.
    fn limiter(&self) -> MutexGuard<'_, GuessLimiter> {
        self.limiter.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One call's view of the limit.
pub struct CallGuard {
    shared: Arc<SipGuessing>,
    keys: Vec<Key>,
}

impl CallGuard {
    /// How long this call's number or source is still locked out; counts a refused call.
    pub fn locked(&self, now: Instant) -> Option<Duration> {
        let remaining = self.shared.limiter().check(&self.keys, now)?;
        metrics::GUESS_REFUSED.inc(SIDE);
        Some(remaining)
    }

    /// What a locked-out call gets.
    pub fn locked_call(&self) -> LockedCall {
        self.shared.locked_call
    }

    /// Passes a lookup or PIN result on to the machine, counting wrong guesses; when this one
    /// locks the caller out, the machine gets [`CallInput::LockedOut`] instead.
    pub fn screen(&self, machine: &CallMachine, input: CallInput, now: Instant) -> CallInput {
        if !machine.is_wrong_guess(&input) {
            return input;
        }
        metrics::GUESS_WRONG.inc(SIDE);
        match self.shared.limiter().record_wrong(&self.keys, now) {
            Verdict::Allowed { left } => {
                tracing::debug!(left, "wrong room ID or PIN counted");
                input
            }
            Verdict::Locked {
                remaining,
                new_lockouts,
            } => {
                if new_lockouts > 0 {
                    metrics::GUESS_LOCKOUTS.inc(SIDE);
                }
                // Key's Debug masks the number.
                tracing::info!(
                    keys = ?self.keys,
                    lockout_s = remaining.as_secs(),
                    "too many wrong room IDs or PINs: caller locked out"
                );
                CallInput::LockedOut
            }
        }
    }
}
