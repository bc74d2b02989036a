//! Logs about bad input from the network, at most one line per reason per interval. Each line
//! says how many like it were left out since the last one, so a flood of garbage costs a few
//! lines a minute instead of one per datagram (the log itself must not be a way to fill a disk).
//! Everything left out is still counted, in the metric of its reason and in
//! `dialbridge_log_lines_suppressed_total`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shortest time between two lines of one reason.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Per-reason state, sans-IO.
#[derive(Debug, Default)]
pub struct RateLog {
    reasons: HashMap<&'static str, (Instant, u64)>,
}

impl RateLog {
    /// `Some(left_out)` when a line for `reason` may be written now (`left_out` lines of this
    /// reason were not written since the last one); `None` when this one is left out.
    pub fn admit(&mut self, reason: &'static str, now: Instant) -> Option<u64> {
        match self.reasons.get_mut(reason) {
            Some((last, left_out)) if now.saturating_duration_since(*last) < INTERVAL => {
                *left_out += 1;
                None
            }
            Some((last, left_out)) => {
                *last = now;
                Some(std::mem::take(left_out))
            }
            None => {
                self.reasons.insert(reason, (now, 0));
                Some(0)
            }
        }
    }
}

static LOG: Mutex<Option<RateLog>> = Mutex::new(None);

/// The process-wide decision for `reason` (reasons are `'static`, so the map stays small).
pub fn admit(reason: &'static str) -> Option<u64> {
    let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    let decision = log
        .get_or_insert_with(RateLog::default)
        .admit(reason, Instant::now());
    if decision.is_none() {
        crate::metrics::SIP_LOG_SUPPRESSED.inc();
    }
    decision
}

/// `tracing::warn!` at most once per [`INTERVAL`] per reason, with the count left out.
#[macro_export]
macro_rules! warn_limited {
    ($reason:expr, $($rest:tt)+) => {
        if let Some(left_out) = $crate::ratelog::admit($reason) {
            tracing::warn!(reason = $reason, left_out, $($rest)+);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_left_out() {
        let t0 = Instant::now();
        let mut log = RateLog::default();
        assert_eq!(log.admit("a", t0), Some(0));
        assert_eq!(log.admit("a", t0 + Duration::from_secs(1)), None);
        assert_eq!(log.admit("a", t0 + Duration::from_secs(2)), None);
        assert_eq!(
            log.admit("b", t0 + Duration::from_secs(2)),
            Some(0),
            "reasons are separate"
        );
        assert_eq!(log.admit("a", t0 + INTERVAL), Some(2));
        assert_eq!(log.admit("a", t0 + INTERVAL), None);
    }
}
