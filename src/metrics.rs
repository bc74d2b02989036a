//! Process-wide counters, rendered as Prometheus text on the signaling server's `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// A counter or gauge. Relaxed ordering: these are statistics, not synchronisation.
pub struct Metric {
    name: &'static str,
    help: &'static str,
    value: AtomicI64,
}

impl Metric {
    const fn new(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            value: AtomicI64::new(0),
        }
    }
    pub fn inc(&self) {
        self.value.fetch_add(1, Ordering::Relaxed);
    }
    pub fn dec(&self) {
        self.value.fetch_sub(1, Ordering::Relaxed);
    }
    pub fn set(&self, v: i64) {
        self.value.store(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }
}

pub static CALLS_ACTIVE: Metric = Metric::new("dialbridge_calls_active", "Calls in progress");
pub static CALLS_TOTAL: Metric = Metric::new("dialbridge_calls_total", "Calls answered");
pub static CALLS_JOINED: Metric = Metric::new(
    "dialbridge_calls_joined_total",
    "Calls that entered a valid room (and PIN)",
);
pub static CALLS_REJECTED: Metric = Metric::new(
    "dialbridge_calls_rejected_total",
    "INVITEs answered with an error",
);
pub static DTMF_DROPPED: Metric = Metric::new(
    "dialbridge_dtmf_dropped_total",
    "Digits lost because a call queue was full",
);
pub static REGISTERED: Metric = Metric::new(
    "dialbridge_registered",
    "1 while the registrar holds our binding",
);
pub static REGISTRATIONS: Metric = Metric::new(
    "dialbridge_registrations_total",
    "Successful REGISTER transactions",
);
pub static REGISTRATION_FAILURES: Metric = Metric::new(
    "dialbridge_registration_failures_total",
    "Failed REGISTER attempts",
);

pub static DRAINING: Metric = Metric::new(
    "dialbridge_draining",
    "1 once a drain started: new calls get 503, running calls finish",
);

pub static TASK_PANICS: Metric = Metric::new(
    "dialbridge_panics_total",
    "Panics caught in any task (each is a bug; the log names where)",
);
pub static SIP_LOG_SUPPRESSED: Metric = Metric::new(
    "dialbridge_log_lines_suppressed_total",
    "Log lines about bad network input left out by the per-reason rate limit",
);

/// Counters that share a name and differ in one label, from a closed set of label values (so
/// what a peer sends can never add series).
pub struct Family<const N: usize> {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    values: [&'static str; N],
    counts: [AtomicI64; N],
}

impl<const N: usize> Family<N> {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        label: &'static str,
        values: [&'static str; N],
    ) -> Self {
        Family {
            name,
            help,
            label,
            values,
            counts: [const { AtomicI64::new(0) }; N],
        }
    }

    /// Counts one for `value`; a value outside the set is a bug and counts nothing.
    pub fn inc(&self, value: &str) {
        if let Some(i) = self.values.iter().position(|v| *v == value) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        } else {
            debug_assert!(false, "{} has no label value {value:?}", self.name);
        }
    }

    pub fn get(&self, value: &str) -> i64 {
        self.values
            .iter()
            .position(|v| *v == value)
            .map_or(0, |i| self.counts[i].load(Ordering::Relaxed))
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        for (value, count) in self.values.iter().zip(&self.counts) {
            let n = count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{}{{{}=\"{value}\"}} {n}", self.name, self.label);
        }
    }
}

/// Prometheus histograms that share a name and differ in one label (a closed set, as in
/// [`Family`]), with `B` fixed upper bounds plus `+Inf`.
pub struct Histogram<const N: usize, const B: usize> {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    values: [&'static str; N],
    bounds: [f64; B],
    /// Per label value: a count per bound (not cumulative), then the `+Inf` count.
    counts: [[AtomicU64; B]; N],
    totals: [AtomicU64; N],
    /// f64 bits of the sum per label value.
    sums: [AtomicU64; N],
}

impl<const N: usize, const B: usize> Histogram<N, B> {
    pub const fn new(
        name: &'static str,
        help: &'static str,
        label: &'static str,
        values: [&'static str; N],
        bounds: [f64; B],
    ) -> Self {
        Histogram {
            name,
            help,
            label,
            values,
            bounds,
            counts: [const { [const { AtomicU64::new(0) }; B] }; N],
            totals: [const { AtomicU64::new(0) }; N],
            sums: [const { AtomicU64::new(0) }; N],
        }
    }

    /// Records one observation for `value`; an unknown value (a bug) or NaN counts nothing.
    pub fn observe(&self, value: &str, x: f64) {
        let Some(i) = self.values.iter().position(|v| *v == value) else {
            debug_assert!(false, "{} has no label value {value:?}", self.name);
            return;
        };
        if x.is_nan() {
            return;
        }
        if let Some(b) = self.bounds.iter().position(|bound| x <= *bound) {
            self.counts[i][b].fetch_add(1, Ordering::Relaxed);
        }
        self.totals[i].fetch_add(1, Ordering::Relaxed);
        let _ = self.sums[i].fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
            Some((f64::from_bits(bits) + x).to_bits())
        });
    }

    /// Observations so far for `value`.
    pub fn count(&self, value: &str) -> u64 {
        self.values
            .iter()
            .position(|v| *v == value)
            .map_or(0, |i| self.totals[i].load(Ordering::Relaxed))
    }

    fn render(&self, out: &mut String) {
        let (name, label) = (self.name, self.label);
        let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} histogram", self.help);
        for (i, value) in self.values.iter().enumerate() {
            let mut cumulative = 0;
            for (b, bound) in self.bounds.iter().enumerate() {
                cumulative += self.counts[i][b].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{label}=\"{value}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let total = self.totals[i].load(Ordering::Relaxed);
            let sum = f64::from_bits(self.sums[i].load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "{name}_bucket{{{label}=\"{value}\",le=\"+Inf\"}} {total}\n\
                 {name}_sum{{{label}=\"{value}\"}} {sum}\n{name}_count{{{label}=\"{value}\"}} {total}"
            );
        }
    }
}

/// Malformed SIP by [`crate::sip::screen::Malformed`] label.
pub static SIP_MALFORMED: Family<8> = Family::new(
    "dialbridge_sip_malformed_total",
    "SIP messages dropped or answered 400 as malformed",
    "reason",
    [
        "unparsable",
        "base_headers",
        "cseq_method",
        "content_length",
        "duplicate_header",
        "via",
        "orphan_response",
        "tls_handshake",
    ],
);

/// Certificate reloads on SIGHUP ([`crate::tls::reload_on_sighup`]).
pub static TLS_RELOADS: Family<2> = Family::new(
    "dialbridge_tls_reloads_total",
    "TLS certificate reloads on SIGHUP, by result",
    "result",
    ["ok", "failed"],
);

/// INVITEs turned away before they cost anything, by [`crate::sip::admission::Refusal`] label
/// and the later gates (trunk allow list, call cap, call queue).
pub static SIP_INVITES_REFUSED: Family<7> = Family::new(
    "dialbridge_sip_invites_refused_total",
    "New INVITEs refused (503/403) or dropped by admission control",
    "reason",
    [
        "source_rate",
        "global_rate",
        "source_calls",
        "max_calls",
        "not_allowed",
        "queue_full",
        "draining",
    ],
);

/// Wrong room IDs and PINs, by side: `sip` (phone callers) or `web` (signaling clients).
pub static GUESS_WRONG: Family<2> = Family::new(
    "dialbridge_guess_wrong_total",
    "Wrong room IDs and PINs entered (phone callers: sip; signaling clients: web)",
    "side",
    ["sip", "web"],
);

/// Guessers locked out, by side: one per wrong entry that started a lockout (of the caller's
/// number, source address, or both).
pub static GUESS_LOCKOUTS: Family<2> = Family::new(
    "dialbridge_guess_lockouts_total",
    "Lockouts started by too many wrong room IDs or PINs (of a number, an address, or both)",
    "side",
    ["sip", "web"],
);

/// Calls, room lookups and PIN checks turned away because their number or address is locked
/// out, by side.
pub static GUESS_REFUSED: Family<2> = Family::new(
    "dialbridge_guess_refused_total",
    "Calls and lookups of calls in progress (sip), room or PIN requests (web) refused during a guessing lockout",
    "side",
    ["sip", "web"],
);

/// Answered calls by the phone leg's media security.
pub static CALLS_MEDIA: Family<2> = Family::new(
    "dialbridge_calls_media_total",
    "Answered calls by phone-leg media security",
    "media",
    ["srtp", "rtp"],
);

/// Calls by why they ended ([`crate::cdr::EndReason`] labels), refused ones included.
pub static CALLS_ENDED: Family<13> = Family::new(
    "dialbridge_calls_ended_total",
    "Calls that reached a call task, by why they ended",
    "reason",
    [
        "caller_hangup",
        "cancelled",
        "rejected",
        "ivr",
        "kicked",
        "room_ended",
        "conference_failed",
        "rtp_timeout",
        "media_error",
        "sip_error",
        "drained",
        "shutdown",
        "other",
    ],
);

/// DTMF digits the calls took, by how they came.
pub static DTMF_DIGITS: Family<3> = Family::new(
    "dialbridge_dtmf_digits_total",
    "DTMF digits received, by method",
    "method",
    ["rfc4733", "sip_info", "inband"],
);

/// The four directions of a call's audio, the label of the quality histograms.
const DIRECTIONS: [&str; 4] = [
    "phone_to_bridge",
    "bridge_to_phone",
    "room_to_bridge",
    "bridge_to_room",
];

/// A per-direction quality histogram.
const fn by_direction(name: &'static str, help: &'static str, bounds: [f64; 8]) -> Histogram<4, 8> {
    Histogram::new(name, help, "direction", DIRECTIONS, bounds)
}

/// E-model MOS per call and direction, at call end.
pub static CALL_MOS: Histogram<4, 8> = by_direction(
    "dialbridge_call_mos",
    "Estimated MOS (ITU-T G.107 E-model) per call and direction",
    [1.0, 2.0, 2.5, 3.0, 3.5, 4.0, 4.2, 4.4],
);
/// Interarrival jitter per call and direction, in ms.
pub static CALL_JITTER_MS: Histogram<4, 8> = by_direction(
    "dialbridge_call_jitter_ms",
    "Interarrival jitter (RFC 3550) per call and direction, in ms",
    [1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0],
);
/// Packet loss per call and direction, as a ratio (0..1).
pub static CALL_LOSS_RATIO: Histogram<4, 8> = by_direction(
    "dialbridge_call_loss_ratio",
    "Packet loss ratio per call and direction",
    [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
);

pub static SRTP_REJECTED: Metric = Metric::new(
    "dialbridge_srtp_rejected_packets_total",
    "Inbound SRTP packets dropped: failed authentication, replayed, or not SRTP",
);

pub static LOCAL_LINKS: Metric = Metric::new(
    "dialbridge_local_links",
    "Callers of this bridge hearing another caller of the same room in-process, without WebRTC",
);

const ALL: [&Metric; 13] = [
    &CALLS_ACTIVE,
    &CALLS_TOTAL,
    &CALLS_JOINED,
    &CALLS_REJECTED,
    &DTMF_DROPPED,
    &REGISTERED,
    &REGISTRATIONS,
    &REGISTRATION_FAILURES,
    &DRAINING,
    &TASK_PANICS,
    &SIP_LOG_SUPPRESSED,
    &SRTP_REJECTED,
    &LOCAL_LINKS,
];

/// Prometheus text exposition of every metric, plus the live GStreamer pipeline count.
pub fn render() -> String {
    let mut out = String::new();
    for m in ALL {
        let _ = writeln!(out, "# HELP {} {}\n{} {}", m.name, m.help, m.name, m.get());
    }
    SIP_MALFORMED.render(&mut out);
    SIP_INVITES_REFUSED.render(&mut out);
    TLS_RELOADS.render(&mut out);
    for family in [&GUESS_WRONG, &GUESS_LOCKOUTS, &GUESS_REFUSED] {
        family.render(&mut out);
    }
    CALLS_MEDIA.render(&mut out);
    CALLS_ENDED.render(&mut out);
    DTMF_DIGITS.render(&mut out);
    for histogram in [&CALL_MOS, &CALL_JITTER_MS, &CALL_LOSS_RATIO] {
        histogram.render(&mut out);
    }
    let _ = writeln!(
        out,
        "# HELP dialbridge_pipelines_active Live GStreamer pipelines\ndialbridge_pipelines_active {}",
        crate::media::active_pipelines()
    );
    let _ = writeln!(
        out,
        "# HELP dialbridge_media_events_dropped_total Media events (digits, prompt ends) lost to a full call queue\ndialbridge_media_events_dropped_total {}",
        crate::media::dropped_events()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_renders_cumulative_buckets_sum_and_count() {
        static H: Histogram<2, 3> =
            Histogram::new("t_h", "test", "direction", ["a", "b"], [1.0, 2.0, 5.0]);
        H.observe("a", 0.5);
        H.observe("a", 1.5);
        H.observe("a", 9.0);
        H.observe("a", f64::NAN);
        let mut out = String::new();
        H.render(&mut out);
        assert!(out.contains("# TYPE t_h histogram"), "{out}");
        assert!(
            out.contains("t_h_bucket{direction=\"a\",le=\"1\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("t_h_bucket{direction=\"a\",le=\"2\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("t_h_bucket{direction=\"a\",le=\"5\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("t_h_bucket{direction=\"a\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("t_h_sum{direction=\"a\"} 11\n"), "{out}");
        assert!(out.contains("t_h_count{direction=\"b\"} 0\n"), "{out}");
        assert_eq!(H.count("a"), 3);
    }
}
