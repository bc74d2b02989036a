//! `[guessing]`: how many wrong room IDs and PINs one caller number or source address may try
//! before it is locked out for a while. Applies to phone callers (through the IVR) and to web
//! clients of the built-in signaling server alike; `crate::security::guessing` does the
//! counting.

use serde::Deserialize;

use super::problems::Problems;

/// `[guessing]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuessingConfig {
    /// Wrong room-ID or PIN entries within `window_s` before a lockout. Default: 5.
    pub max_wrong: u32,
    /// Seconds over which wrong entries add up. Default: 600.
    pub window_s: u32,
    /// First lockout, in seconds; each further lockout of the same caller or source doubles it.
    /// Default: 60.
    pub lockout_s: u32,
    /// Longest lockout, in seconds. Default: 3600.
    pub lockout_max_s: u32,
    /// What a call from a locked-out number or source gets: "announce" answers, plays the
    /// `locked` prompt and hangs up; "reject" refuses it with 403 before answering.
    /// Default: "announce".
    pub locked_call: LockedCall,
}

/// What a call from a locked-out number or source gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockedCall {
    /// Answer, play the `locked` prompt, then BYE.
    #[default]
    Announce,
    /// 403 Forbidden before answering.
    Reject,
}

impl Default for GuessingConfig {
    fn default() -> Self {
        GuessingConfig {
            max_wrong: 5,
            window_s: 600,
            lockout_s: 60,
            lockout_max_s: 3600,
            locked_call: LockedCall::Announce,
        }
    }
}

impl GuessingConfig {
    /// The checks of `[guessing]`, for `Config::validate`.
    pub(super) fn validate(&self, p: &mut Problems) {
        let zeros = [
            (
                "guessing.max_wrong",
                self.max_wrong,
                "0 would lock every caller out before the first try; allow at least 1 wrong \
                 entry (5 is usual)",
            ),
            (
                "guessing.window_s",
                self.window_s,
                "wrong entries must add up over some time; 600 seconds is usual",
            ),
            (
                "guessing.lockout_s",
                self.lockout_s,
                "a lockout of 0 seconds stops nobody; 60 is usual",
            ),
        ];
        for (field, value, why) in zeros {
            if value == 0 {
                p.add(field, why);
            }
        }
        if self.lockout_max_s < self.lockout_s {
            p.add(
                "guessing.lockout_max_s",
                format!(
                    "the longest lockout ({} s) is shorter than the first one \
                     (guessing.lockout_s = {} s); make it at least as long",
                    self.lockout_max_s, self.lockout_s
                ),
            );
        }
    }
}
