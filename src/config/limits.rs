//! `[limits]`: how many calls the bridge holds and how fast it takes new ones. The rates are the
//! admission control in front of everything else (see `sip::admission`): an INVITE beyond them
//! costs one stateless 503 (or nothing), never an RTP port, a pipeline or a conference join.

use ipnet::IpNet;
use serde::Deserialize;

use super::parse::de_opt_allow_list;

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Simultaneous calls; more get 503. Default: 200.
    pub max_calls: usize,
    /// Simultaneous calls from one source address (answered, ringing or waiting for the ACK);
    /// more get 503. Default: 20. Trusted sources are not limited.
    pub max_calls_per_source: u32,
    /// New INVITEs per second from one source address, on average. Default: 5.
    pub invite_rate_per_source: f64,
    /// New INVITEs one source may send at once after a quiet spell. Default: 10.
    pub invite_burst_per_source: u32,
    /// New INVITEs per second from all sources together. Default: 50.
    pub invite_rate: f64,
    /// New INVITEs at once from all sources together. Default: 100.
    pub invite_burst: u32,
    /// What a source beyond its own rate gets: "reject" answers every such INVITE with 503 and
    /// Retry-After; "drop" answers the first one so and then drops the rest silently until the
    /// source is back within its rate (scanners get nothing to count). Default: "drop".
    pub over_limit: OverLimit,
    /// The Retry-After of a 503 for too many calls or INVITEs, in seconds. Default: 5.
    pub retry_after_s: u32,
    /// Sources the per-source limits do not apply to (a PBX or a provider's proxy that carries
    /// many calls); the overall rate and `max_calls` still apply. Default: in trunk mode the
    /// addresses in `sip.trunk.allow` (the trunk carries every call), in register mode none.
    /// Set it (even to `[]`) to choose yourself.
    #[serde(deserialize_with = "de_opt_allow_list")]
    pub trusted_sources: Option<Vec<IpNet>>,
}

/// What a source beyond its own INVITE rate gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverLimit {
    Reject,
    Drop,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_calls: 200,
            max_calls_per_source: 20,
            invite_rate_per_source: 5.0,
            invite_burst_per_source: 10,
            invite_rate: 50.0,
            invite_burst: 100,
            over_limit: OverLimit::Drop,
            retry_after_s: 5,
            trusted_sources: None,
        }
    }
}
