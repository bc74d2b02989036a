//! Admission control for new INVITEs, sans-IO: token buckets per source address and overall,
//! and a count of the calls each source holds. It runs before anything costs work (an RTP
//! port, a pipeline, a conference join, even a queue slot), so one flooding source cannot make
//! the bridge deaf to everybody else. Time comes in as `now`; the I/O shell is
//! [`AdmissionControl`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::config::{LimitsConfig, OverLimit};

/// Sources tracked at once. When full, sources that hold no call and whose bucket has refilled
/// are forgotten first, then the longest-quiet ones; a spoofed-source flood costs at most this
/// many entries (~100 bytes each).
pub const MAX_TRACKED_SOURCES: usize = 8192;

/// Why an INVITE was turned away; the label of `dialbridge_sip_invites_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The source sent more new INVITEs than its rate allows.
    SourceRate,
    /// All sources together sent more than the overall rate allows.
    GlobalRate,
    /// The source already holds `max_calls_per_source` calls.
    SourceCalls,
}

impl Refusal {
    pub const ALL: [Refusal; 3] = [
        Refusal::SourceRate,
        Refusal::GlobalRate,
        Refusal::SourceCalls,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Refusal::SourceRate => "source_rate",
            Refusal::GlobalRate => "global_rate",
            Refusal::SourceCalls => "source_calls",
        }
    }
}

/// What to do with a new INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Admit,
    /// Answer 503 with this Retry-After.
    Reject(Refusal, Duration),
    /// Send nothing: the source was told once already.
    Drop(Refusal),
}

/// A token bucket: `rate` tokens a second up to `burst`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: u32, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(burst),
            at: now,
        }
    }

    fn refill(&mut self, rate: f64, burst: u32, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(burst));
        self.at = now;
    }

    fn take(&mut self, rate: f64, burst: u32, now: Instant) -> bool {
        self.refill(rate, burst, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct Source {
    bucket: Bucket,
    /// Calls admitted from this source and not ended yet.
    calls: u32,
    /// Refused since the source was last within its rate (its bucket full again): with
    /// `OverLimit::Drop` only the first refusal is answered.
    over: bool,
    last_seen: Instant,
}

/// The admission state machine.
#[derive(Debug)]
pub struct Admission {
    limits: LimitsConfig,
    trusted: Vec<IpNet>,
    global: Bucket,
    sources: HashMap<IpAddr, Source>,
}

impl Admission {
    /// `default_trusted` applies when `limits.trusted_sources` is not set (the trunk allow
    /// list in trunk mode).
    pub fn new(limits: LimitsConfig, default_trusted: &[IpNet], now: Instant) -> Self {
        let trusted = limits
            .trusted_sources
            .clone()
            .unwrap_or_else(|| default_trusted.to_vec());
        Admission {
            global: Bucket::full(limits.invite_burst, now),
            limits,
            trusted,
            sources: HashMap::new(),
        }
    }

    /// Decides on a new INVITE from `source`. An admitted INVITE counts as a call of its source
    /// until [`Admission::release`].
    pub fn admit(&mut self, source: IpAddr, now: Instant) -> Decision {
        let retry = Duration::from_secs(self.limits.retry_after_s.into());
        if self.trusted.iter().any(|net| net.contains(&source)) {
            let (rate, burst) = (self.limits.invite_rate, self.limits.invite_burst);
            if !self.global.take(rate, burst, now) {
                return Decision::Reject(Refusal::GlobalRate, retry);
            }
            return Decision::Admit;
        }
        if !self.sources.contains_key(&source) && self.sources.len() >= MAX_TRACKED_SOURCES {
            self.evict(now);
        }
        let l = &self.limits;
        let entry = self.sources.entry(source).or_insert_with(|| Source {
            bucket: Bucket::full(l.invite_burst_per_source, now),
            calls: 0,
            over: false,
            last_seen: now,
        });
        entry.last_seen = now;
        let (rate, burst) = (l.invite_rate_per_source, l.invite_burst_per_source);
        entry.bucket.refill(rate, burst, now);
        if entry.bucket.tokens >= f64::from(burst) {
            entry.over = false;
        }
        let refusal =
            if !entry
                .bucket
                .take(l.invite_rate_per_source, l.invite_burst_per_source, now)
            {
                Some(Refusal::SourceRate)
            } else if entry.calls >= l.max_calls_per_source {
                Some(Refusal::SourceCalls)
            } else if !self.global.take(l.invite_rate, l.invite_burst, now) {
                // Not this source's fault: always answered, never dropped.
                return Decision::Reject(Refusal::GlobalRate, retry);
            } else {
                None
            };
        match refusal {
            None => {
                entry.calls += 1;
                Decision::Admit
            }
            Some(r) if entry.over && l.over_limit == OverLimit::Drop => Decision::Drop(r),
            Some(r) => {
                entry.over = true;
                Decision::Reject(r, retry)
            }
        }
    }

    /// A call admitted from `source` ended (or never started).
    pub fn release(&mut self, source: IpAddr) {
        if let Some(s) = self.sources.get_mut(&source) {
            s.calls = s.calls.saturating_sub(1);
        }
    }

    /// Sources tracked now (for tests and the bound above).
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }

    /// Calls held by `source` as counted here.
    pub fn calls_of(&self, source: IpAddr) -> u32 {
        self.sources.get(&source).map_or(0, |s| s.calls)
    }

    fn evict(&mut self, now: Instant) {
        let (rate, burst) = (
            self.limits.invite_rate_per_source,
            self.limits.invite_burst_per_source,
        );
        self.sources.retain(|_, s| {
            let mut b = s.bucket;
            b.refill(rate, burst, now);
            s.calls > 0 || b.tokens < f64::from(burst)
        });
        if self.sources.len() < MAX_TRACKED_SOURCES {
            return;
        }
        // Still full of active sources: forget the quietest one that holds no call.
        let quietest = self
            .sources
            .iter()
            .filter(|(_, s)| s.calls == 0)
            .min_by_key(|(_, s)| s.last_seen)
            .map(|(ip, _)| *ip);
        if let Some(ip) = quietest {
            self.sources.remove(&ip);
        }
    }
}

/// The shared, clocked shell around [`Admission`]: the entry layer asks it, and each admitted
/// call holds a [`SourceTicket`] that gives the source's call back when dropped (panics included).
#[derive(Clone)]
pub struct AdmissionControl(Arc<Mutex<Admission>>);

impl AdmissionControl {
    pub fn new(limits: LimitsConfig, default_trusted: &[IpNet]) -> Self {
        AdmissionControl(Arc::new(Mutex::new(Admission::new(
            limits,
            default_trusted,
            Instant::now(),
        ))))
    }

    fn lock(&self) -> MutexGuard<'_, Admission> {
        // Every update is a few field writes; a panic cannot leave it half done.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The decision for a new INVITE; with `Admit`, the ticket that holds the source's call.
    pub fn admit(&self, source: IpAddr) -> Result<SourceTicket, Decision> {
        match self.lock().admit(source, Instant::now()) {
            Decision::Admit => Ok(SourceTicket {
                control: self.clone(),
                source,
            }),
            other => Err(other),
        }
    }

    pub fn tracked(&self) -> usize {
        self.lock().tracked()
    }
}

/// One admitted call of a source; dropping it releases the call.
pub struct SourceTicket {
    control: AdmissionControl,
    source: IpAddr,
}

impl Drop for SourceTicket {
    fn drop(&mut self) {
        self.control.lock().release(self.source);
    }
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
