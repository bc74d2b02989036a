//! A sans-IO limit on guessing room IDs and PINs. Each wrong entry is recorded against a few
//! [`Key`]s (the caller's number, the source address); once one key has `max_wrong` wrong
//! entries within `window`, it is locked out for `lockout`, and every further lockout of the
//! same key doubles that, up to `lockout_max`.
//!
//! A right entry deliberately resets nothing: a guesser who knows one room must not be able to
//! clear his count by entering it between guesses. Time comes in as `now`; there is no clock
//! inside, so tests drive it with virtual time. Memory is bounded: at most `capacity` keys are
//! kept; when full, expired keys go first, then the least recently active unlocked key.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::GuessingConfig;

/// Keys kept by default: a few hundred bytes each, so a full table stays a few megabytes.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The key every caller without a number (anonymous, withheld) shares.
const ANONYMOUS_CALLER: &str = "anonymous";

/// Who a wrong entry is counted against.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A caller number (normalised: trimmed, lower case).
    Caller(String),
    /// A source address (a phone's SIP source, or a web client's).
    Source(IpAddr),
}

impl Key {
    /// The key of a caller number; callers without one share a single key, so withholding the
    /// number does not give a fresh count per call.
    pub fn caller(number: Option<&str>) -> Key {
        match number.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => Key::Caller(n.to_lowercase()),
            None => Key::Caller(ANONYMOUS_CALLER.into()),
        }
    }
}

/// Debug hides the number: keys may end up in logs, numbers must not.
impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Caller(n) => write!(f, "Caller({})", crate::sip::identity::mask_number(n, 2)),
            Key::Source(ip) => write!(f, "Source({ip})"),
        }
    }
}

/// The numbers of `[guessing]` as durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_wrong: u32,
    pub window: Duration,
    pub lockout: Duration,
    pub lockout_max: Duration,
}

impl From<&GuessingConfig> for Limits {
    fn from(c: &GuessingConfig) -> Limits {
        let secs = |s: u32| Duration::from_secs(s.into());
        Limits {
            max_wrong: c.max_wrong.max(1),
            window: secs(c.window_s),
            lockout: secs(c.lockout_s),
            lockout_max: secs(c.lockout_max_s.max(c.lockout_s)),
        }
    }
}

/// What a wrong entry led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Still allowed; `left` more wrong entries lock the first key out.
    Allowed { left: u32 },
    /// At least one key is locked out for `remaining`; `new_lockouts` keys were locked by this
    /// very entry (0 when they already were).
    Locked {
        remaining: Duration,
        new_lockouts: u32,
    },
}

#[derive(Debug)]
struct Entry {
    /// Times of the wrong entries within the window, oldest first; at most `max_wrong`.
    wrong: VecDeque<Instant>,
    /// Lockouts so far; the next one lasts `lockout * 2^lockouts`.
    lockouts: u32,
    locked_until: Option<Instant>,
    last_active: Instant,
}

impl Entry {
    fn locked(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .filter(|&until| until > now)
            .map(|until| until - now)
    }

    /// Nothing left to remember: no lockout running, no wrong entry in the window, and the last
    /// lockout (whose length the next one doubles) ended more than `lockout_max` ago.
    fn expired(&self, limits: &Limits, now: Instant) -> bool {
        let window_over = self.wrong.back().is_none_or(|&t| now >= t + limits.window);
        let lock_over = self
            .locked_until
            .is_none_or(|until| now >= until + limits.lockout_max);
        window_over && lock_over
    }
}

/// The limiter: one table of keys. Not shared by itself; put it behind a mutex.
#[derive(Debug)]
pub struct GuessLimiter {
    limits: Limits,
    capacity: usize,
    entries: HashMap<Key, Entry>,
}

impl GuessLimiter {
    pub fn new(limits: Limits) -> GuessLimiter {
        GuessLimiter::with_capacity(limits, DEFAULT_CAPACITY)
    }

    /// A limiter that remembers at most `capacity` keys (at least 1).
    pub fn with_capacity(limits: Limits, capacity: usize) -> GuessLimiter {
        GuessLimiter {
            limits,
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    /// The longest lockout still running among `keys`, or `None` when none is locked out.
    pub fn check(&self, keys: &[Key], now: Instant) -> Option<Duration> {
        keys.iter()
            .filter_map(|k| self.entries.get(k)?.locked(now))
            .max()
    }

    /// Records one wrong room ID or PIN against every key in `keys`.
    pub fn record_wrong(&mut self, keys: &[Key], now: Instant) -> Verdict {
        let mut remaining: Option<Duration> = None;
        let mut new_lockouts = 0;
        let mut left = self.limits.max_wrong;
        for key in keys {
            let limits = self.limits;
            let entry = self.entry(key, now);
            entry.last_active = now;
            if let Some(r) = entry.locked(now) {
                remaining = remaining.max(Some(r));
                continue;
            }
            while entry
                .wrong
                .front()
                .is_some_and(|&t| now >= t + limits.window)
            {
                entry.wrong.pop_front();
            }
            entry.wrong.push_back(now);
            let count = entry.wrong.len() as u32;
            if count >= limits.max_wrong {
                let lockout = lockout_length(&limits, entry.lockouts);
                entry.lockouts = entry.lockouts.saturating_add(1);
                entry.locked_until = Some(now + lockout);
                entry.wrong.clear();
                new_lockouts += 1;
                remaining = remaining.max(Some(lockout));
            } else {
                left = left.min(limits.max_wrong - count);
            }
        }
        match remaining {
            Some(remaining) => Verdict::Locked {
                remaining,
                new_lockouts,
            },
            None => Verdict::Allowed { left },
        }
    }

    /// Keys remembered now (for tests and the bounded-memory promise).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry of `key` (a fresh one when the old one expired), making room for it first
    /// when the table is full.
    fn entry(&mut self, key: &Key, now: Instant) -> &mut Entry {
        let limits = self.limits;
        if self
            .entries
            .get(key)
            .is_some_and(|e| e.expired(&limits, now))
        {
            self.entries.remove(key);
        }
        if !self.entries.contains_key(key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        self.entries.entry(key.clone()).or_insert_with(|| Entry {
            wrong: VecDeque::new(),
            lockouts: 0,
            locked_until: None,
            last_active: now,
        })
    }

    /// Drops expired keys; if none was, the least recently active one, unlocked ones first
    /// (so flooding the table with fresh keys cannot easily free a locked one).
    fn make_room(&mut self, now: Instant) {
        let limits = self.limits;
        self.entries.retain(|_, e| !e.expired(&limits, now));
        if self.entries.len() < self.capacity {
            return;
        }
        let victim = self
            .entries
            .iter()
            .min_by_key(|(_, e)| (e.locked(now).is_some(), e.last_active))
            .map(|(k, _)| k.clone());
        if let Some(k) = victim {
            self.entries.remove(&k);
        }
    }
}

/// `lockout * 2^earlier`, at most `lockout_max`.
fn lockout_length(limits: &Limits, earlier: u32) -> Duration {
    let factor = 1u32.checked_shl(earlier.min(31)).unwrap_or(u32::MAX);
    limits
        .lockout
        .checked_mul(factor)
        .unwrap_or(limits.lockout_max)
        .min(limits.lockout_max)
}

#[cfg(test)]
#[path = "guessing_tests.rs"]
mod tests;
