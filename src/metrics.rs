//! Process-wide counters, rendered as Prometheus text on the signaling server's `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, Ordering};

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

const ALL: [&Metric; 8] = [
    &CALLS_ACTIVE,
    &CALLS_TOTAL,
    &CALLS_JOINED,
    &CALLS_REJECTED,
    &DTMF_DROPPED,
    &REGISTERED,
    &REGISTRATIONS,
    &REGISTRATION_FAILURES,
];

/// Prometheus text exposition of every metric, plus the live GStreamer pipeline count.
pub fn render() -> String {
    let mut out = String::new();
    for m in ALL {
        let _ = writeln!(out, "# HELP {} {}\n{} {}", m.name, m.help, m.name, m.get());
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
