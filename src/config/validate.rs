//! The checks behind [`Config::validate`]: each finds one kind of mistake and says, in a
//! telephony admin's words, what is wrong and how to fix it. All problems are collected.

use std::path::Path;

use super::Config;
pub(super) use super::problems::{ConfigProblem, Problems};

mod conference;
mod media_ivr;
mod nextcloud;
mod shared;
mod sip;

use shared::check_now;

pub(super) fn validate(c: &Config, base: &Path) -> Vec<ConfigProblem> {
    let mut p = Problems::default();
    sip::sip(c, &mut p);
    media_ivr::media(c, &mut p);
    media_ivr::ivr(c, base, &mut p);
    conference::rooms_and_routes(c, &mut p);
    conference::conference(c, &mut p);
    if c.limits.max_calls == 0 {
        p.add(
            "limits.max_calls",
            "0 would turn every call away with 503; allow at least 1 call",
        );
    }
    limits(&c.limits, &mut p);
    sip::sip_tls(&c.sip.tls, &mut p);
    c.guessing.validate(&mut p);
    c.drain.validate(&mut p);
    c.admin.validate(&c.conference.builtin, &mut p);
    c.cdr.validate(&mut p);
    p.0
}

/// What works today but needs an admin soon (a certificate about to expire).
pub(super) fn warnings(c: &Config) -> Vec<ConfigProblem> {
    let mut p = Problems::default();
    sip::srtp_without_tls(c, &mut p);
    let servers = [
        ("sip.tls.cert", c.sip.tls.listener()),
        (
            "conference.builtin.tls.cert",
            c.conference.builtin.tls.listener(),
        ),
    ];
    for (field, files) in servers {
        for finding in files.iter().flat_map(check_now) {
            if let crate::tls::CertFinding::Warning(message) = finding {
                p.add(field, message);
            }
        }
    }
    if c.sip.mode == super::SipMode::Register && c.limits.trusted_sources.is_none() {
        p.add(
            "limits.trusted_sources",
            "in register mode every call comes from the provider's proxy: list its address(es) \
             here, or one caller guessing room IDs locks out every caller (and the per-source \
             call limits apply to all of them together)",
        );
    }
    let builtin = &c.conference.builtin;
    let serves = builtin.serve && c.conference.backend == super::ConferenceBackendKind::Builtin;
    if builtin.tls.listener().is_some() && !serves {
        p.add(
            "conference.builtin.tls",
            "this process runs no signaling server (conference.builtin.serve = false or another \
             backend), so this certificate is not used",
        );
    }
    p.0
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

fn limits(l: &super::LimitsConfig, p: &mut Problems) {
    if l.max_calls_per_source == 0 {
        p.add(
            "limits.max_calls_per_source",
            "0 would turn every call away with 503; allow at least 1 call per source",
        );
    }
    for (field, rate, burst) in [
        (
            "limits.invite_rate_per_source",
            l.invite_rate_per_source,
            l.invite_burst_per_source,
        ),
        ("limits.invite_rate", l.invite_rate, l.invite_burst),
    ] {
        if !(rate.is_finite() && rate > 0.0) {
            p.add(
                field,
                "must be a number of new calls per second above 0 (e.g. 5)",
            );
        }
        if burst == 0 {
            let burst_field = field.replace("rate", "burst");
            p.add(
                burst_field,
                "0 would turn every call away; allow a burst of at least 1",
            );
        }
    }
}
