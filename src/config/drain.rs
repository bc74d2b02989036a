//! `[drain]` and `[admin]`: how a graceful drain (SIGTERM, `dialbridge drain`, `POST
//! /admin/drain`) treats running calls, and where the admin HTTP endpoints listen when the
//! built-in signaling server does not carry them.

use std::net::SocketAddr;

use serde::Deserialize;

use super::validate::Problems;

/// The longest drain limit accepted: one day.
const MAX_LIMIT_S: u32 = 86_400;
/// The longest Retry-After accepted: one hour.
const MAX_RETRY_AFTER_S: u32 = 3_600;

/// `[drain]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrainConfig {
    /// How long running calls may go on after a drain starts, in seconds; then they hear the
    /// `closing` prompt and get BYE. 0: at once. Default: 600.
    pub limit_s: u32,
    /// The Retry-After of the 503 that new INVITEs get while draining, in seconds. Default: 60.
    pub retry_after_s: u32,
}

impl Default for DrainConfig {
    fn default() -> Self {
        DrainConfig {
            limit_s: 600,
            retry_after_s: 60,
        }
    }
}

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Where `/healthz`, `/readyz`, `/metrics` and `POST /admin/drain` listen (plain HTTP). Absent
    /// (the default): on the built-in signaling server when it runs, else nowhere.
    pub listen: Option<SocketAddr>,
}

impl AdminConfig {
    /// `listen` must not take the signaling server's address (both would bind it).
    pub(super) fn validate(&self, builtin: &super::BuiltinConfig, p: &mut Problems) {
        if let Some(addr) = self.listen
            && builtin.serve
            && addr == builtin.listen
            && addr.port() != 0
        {
            p.add(
                "admin.listen",
                format!(
                    "{addr} is conference.builtin.listen too; the signaling server serves the \
                     admin endpoints there already: leave admin.listen out or pick another port"
                ),
            );
        }
    }
}

impl DrainConfig {
    pub(super) fn validate(&self, p: &mut Problems) {
        if self.limit_s > MAX_LIMIT_S {
            p.add(
                "drain.limit_s",
                format!(
                    "{} seconds is more than a day; calls would keep an old version running \
                     that long (600 is usual, at most {MAX_LIMIT_S})",
                    self.limit_s
                ),
            );
        }
        if self.retry_after_s == 0 || self.retry_after_s > MAX_RETRY_AFTER_S {
            p.add(
                "drain.retry_after_s",
                format!(
                    "tells callers' proxies when to try again: between 1 and \
                     {MAX_RETRY_AFTER_S} seconds (60 is usual)"
                ),
            );
        }
    }
}
