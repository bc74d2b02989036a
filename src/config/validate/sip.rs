//! The `[sip]` checks: trunk or register mode, the registrar, session timers, `[sip.tls]`,
//! and the warning about SRTP keys that travel over SIP without TLS.

use super::Problems;
use super::shared::{ca_file, cert_pair};
use crate::config::{Config, SipMode};

/// SDES keys travel in the SDP: over plain UDP/TCP SIP anyone who sees the signalling can
/// decrypt the audio, so SRTP without `[sip.tls]` protects less than it seems.
pub(super) fn srtp_without_tls(c: &Config, p: &mut Problems) {
    use crate::sip::sdes::SrtpPolicy;
    if c.sip.tls.listener().is_some() {
        return;
    }
    let fields = std::iter::once(("media.srtp".to_string(), c.media.srtp)).chain(
        c.routes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((format!("routes[{i}].srtp"), r.srtp?))),
    );
    for (field, policy) in fields {
        if policy == SrtpPolicy::Required {
            p.add(
                field,
                "SRTP is required but [sip.tls] is not set: the SRTP keys travel in the SIP \
                 messages, readable by anyone who sees them; configure [sip.tls] and have \
                 callers use sips: or ;transport=tls",
            );
        }
    }
}

pub(super) fn sip_tls(t: &crate::config::SipTlsConfig, p: &mut Problems) {
    cert_pair("sip.tls", &t.cert, &t.key, p);
    if t.listener().is_none() && t.client_ca.is_some() {
        p.add(
            "sip.tls.client_ca",
            "client certificates are checked by the TLS listener, which needs sip.tls.cert and \
             sip.tls.key",
        );
    }
    ca_file("sip.tls.client_ca", &t.client_ca, p);
    ca_file("sip.tls.ca_file", &t.ca_file, p);
}

pub(super) fn sip(c: &Config, p: &mut Problems) {
    let s = &c.sip;
    if s.session_expires_s < 90 {
        p.add(
            "sip.session_expires_s",
            format!(
                "{} seconds is below the RFC 4028 minimum of 90; providers reject it with \
                 422 Session Interval Too Small (1800 is usual)",
                s.session_expires_s
            ),
        );
    }
    let r = &s.register;
    if s.mode == SipMode::Register {
        if r.registrar.is_empty() {
            p.add(
                "sip.register.registrar",
                "register mode needs the registrar URI, e.g. \"sip:sip.example.com\"",
            );
        }
        if r.username.is_empty() {
            p.add(
                "sip.register.username",
                "register mode needs the account user name",
            );
        }
        if r.password.is_empty() {
            p.add(
                "sip.register.password",
                format!(
                    "register mode needs the account password; set {} in the environment \
                     (or sip.register.password)",
                    crate::config::ENV_SIP_PASSWORD
                ),
            );
        }
    }
    if !r.registrar.is_empty() {
        let lower = r.registrar.to_ascii_lowercase();
        let host = lower
            .strip_prefix("sips:")
            .or_else(|| lower.strip_prefix("sip:"));
        match host {
            None => p.add(
                "sip.register.registrar",
                format!(
                    "{:?} is not a SIP URI; write it as \"sip:host\" or \"sips:host\", \
                     e.g. \"sip:sip.example.com\"",
                    r.registrar
                ),
            ),
            Some(h) if h.trim().is_empty() => p.add(
                "sip.register.registrar",
                "the registrar URI has no host, e.g. \"sip:sip.example.com\"",
            ),
            Some(_) => {}
        }
    }
    if s.mode == SipMode::Register {
        if r.expires_s == 0 {
            p.add(
                "sip.register.expires_s",
                "a registration lifetime of 0 seconds unregisters at once; 300 is usual",
            );
        }
        if r.retry_min_s == 0 {
            p.add(
                "sip.register.retry_min_s",
                "0 seconds would retry a failing registration in a tight loop; use at least 1",
            );
        }
        if r.retry_min_s > r.retry_max_s {
            p.add(
                "sip.register.retry_max_s",
                format!(
                    "the longest retry wait ({} s) is shorter than the first one ({} s)",
                    r.retry_max_s, r.retry_min_s
                ),
            );
        }
    }
    let t = &s.trunk;
    if s.mode == SipMode::Trunk && t.allow.is_empty() && t.username.is_empty() {
        p.add(
            "sip.trunk.allow",
            "trunk mode with an empty allow list and no username: nobody could call in; list \
             the provider's or PBX's addresses, e.g. allow = [\"192.0.2.10\"]",
        );
    }
    if s.mode == SipMode::Trunk && !t.username.is_empty() && t.password.is_empty() {
        p.add(
            "sip.trunk.password",
            format!(
                "sip.trunk.username is set, so INVITEs must authenticate, but there is no \
                 password; set {} in the environment (or sip.trunk.password)",
                crate::config::ENV_TRUNK_PASSWORD
            ),
        );
    }
}
