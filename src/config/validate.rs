//! The checks behind [`Config::validate`]: each finds one kind of mistake and says, in a
//! telephony admin's words, what is wrong and how to fix it. All problems are collected.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use super::{Config, SipMode};

/// One thing wrong with a config. Displays as `field: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted path of the field, e.g. `sip.register.registrar` or `routes[1].room`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Default)]
pub(super) struct Problems(Vec<ConfigProblem>);

impl Problems {
    pub(super) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            field: field.into(),
            message: message.into(),
        });
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn validate(c: &Config, base: &Path) -> Vec<ConfigProblem> {
    let mut p = Problems::default();
    sip(c, &mut p);
    media(c, &mut p);
    ivr(c, base, &mut p);
    rooms_and_routes(c, &mut p);
    conference(c, &mut p);
    if c.limits.max_calls == 0 {
        p.add(
            "limits.max_calls",
            "0 would turn every call away with 503; allow at least 1 call",
        );
    }
    limits(&c.limits, &mut p);
    sip_tls(&c.sip.tls, &mut p);
    c.guessing.validate(&mut p);
    p.0
}

/// What works today but needs an admin soon (a certificate about to expire).
pub(super) fn warnings(c: &Config) -> Vec<ConfigProblem> {
    let mut p = Problems::default();
    srtp_without_tls(c, &mut p);
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

fn check_now(files: &crate::tls::CertFiles) -> Vec<crate::tls::CertFinding> {
    crate::tls::check_files(files, std::time::SystemTime::now())
}

/// SDES keys travel in the SDP: over plain UDP/TCP SIP anyone who sees the signalling can
/// decrypt the audio, so SRTP without `[sip.tls]` protects less than it seems.
fn srtp_without_tls(c: &Config, p: &mut Problems) {
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

/// A server certificate and key: both or neither, and usable.
fn cert_pair(
    section: &str,
    cert: &Option<std::path::PathBuf>,
    key: &Option<std::path::PathBuf>,
    p: &mut Problems,
) {
    match (cert, key) {
        (Some(_), None) => p.add(
            format!("{section}.key"),
            "a TLS certificate needs its private key file",
        ),
        (None, Some(_)) => p.add(
            format!("{section}.cert"),
            "a TLS private key needs its certificate file",
        ),
        _ => {}
    }
    for finding in crate::tls::CertFiles::pair(cert, key)
        .iter()
        .flat_map(check_now)
    {
        if let crate::tls::CertFinding::Problem(message) = finding {
            p.add(format!("{section}.cert"), message);
        }
    }
}

/// A CA file must hold at least one certificate.
fn ca_file(field: &str, path: &Option<std::path::PathBuf>, p: &mut Problems) {
    if let Some(path) = path
        && let Err(e) = crate::tls::read_certs(path)
    {
        p.add(field, e.to_string());
    }
}

fn sip_tls(t: &super::SipTlsConfig, p: &mut Problems) {
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

fn sip(c: &Config, p: &mut Problems) {
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
                    super::ENV_SIP_PASSWORD
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
                super::ENV_TRUNK_PASSWORD
            ),
        );
    }
}

fn media(c: &Config, p: &mut Problems) {
    let m = &c.media;
    if m.codecs.is_empty() {
        p.add(
            "media.codecs",
            "no codecs: no call could be answered; use e.g. [\"G722\", \"PCMA\", \"PCMU\"]",
        );
    }
    let mut seen = HashSet::new();
    for codec in &m.codecs {
        if !seen.insert(*codec) {
            p.add(
                "media.codecs",
                format!("{codec} is listed twice; list each codec once"),
            );
        }
    }
    let (lo, hi) = (m.rtp_port_min, m.rtp_port_max);
    if (lo == 0) != (hi == 0) {
        p.add(
            "media.rtp_port_min",
            format!(
                "only one end of the RTP port range is 0 ({lo}..{hi}); set both to 0 to let the \
                 OS choose, or give a real range like 10000..20000"
            ),
        );
    } else if lo > hi {
        p.add(
            "media.rtp_port_min",
            format!(
                "the RTP port range is backwards: rtp_port_min {lo} is above rtp_port_max {hi}"
            ),
        );
    }
}

fn ivr(c: &Config, base: &Path, p: &mut Problems) {
    let i = &c.ivr;
    if i.room_id_min_digits == 0 {
        p.add("ivr.room_id_min_digits", "a room ID needs at least 1 digit");
    }
    if i.room_id_max_digits == 0 {
        p.add("ivr.room_id_max_digits", "a room ID needs at least 1 digit");
    }
    if i.room_id_min_digits > i.room_id_max_digits {
        p.add(
            "ivr.room_id_min_digits",
            format!(
                "room IDs cannot have at least {} and at most {} digits; min must not be above max",
                i.room_id_min_digits, i.room_id_max_digits
            ),
        );
    }
    if i.pin_max_digits == 0 {
        p.add(
            "ivr.pin_max_digits",
            "callers could not type any PIN; allow at least 1 digit",
        );
    }
    if i.max_attempts == 0 {
        p.add(
            "ivr.max_attempts",
            "0 attempts would hang up on every caller before they type anything; 3 is usual",
        );
    }
    if i.inter_digit_timeout_s == 0 {
        p.add(
            "ivr.inter_digit_timeout_s",
            "0 seconds gives callers no time between key presses; 5 is usual",
        );
    }
    if i.overall_timeout_s == 0 {
        p.add(
            "ivr.overall_timeout_s",
            "0 seconds sends every caller away at once; 120 is usual",
        );
    }
    let dir = if i.prompts_dir.is_absolute() {
        i.prompts_dir.clone()
    } else {
        base.join(&i.prompts_dir)
    };
    check_language(&dir, &i.language, "ivr.language", p);
    for (n, route) in c.routes.iter().enumerate() {
        if let Some(lang) = &route.language {
            check_language(&dir, lang, &format!("routes[{n}].language"), p);
        }
    }
}

fn check_language(dir: &Path, lang: &str, field: &str, p: &mut Problems) {
    let simple = !lang.is_empty()
        && lang
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !simple {
        p.add(
            field,
            format!("{lang:?} is not a language name like \"en\" or \"de\""),
        );
    } else if !dir.join(lang).is_dir() {
        p.add(
            field,
            format!(
                "no prompts for language {lang:?}: the folder {} does not exist (check \
                 ivr.prompts_dir)",
                dir.join(lang).display()
            ),
        );
    }
}

fn rooms_and_routes(c: &Config, p: &mut Problems) {
    let i = &c.ivr;
    let mut ids = HashSet::new();
    for (n, room) in c.conference.builtin.rooms.iter().enumerate() {
        let f = format!("conference.builtin.rooms[{n}]");
        if !is_digits(&room.id) {
            p.add(
                format!("{f}.id"),
                format!(
                    "room ID {:?} must be digits only, since callers type it on the keypad",
                    room.id
                ),
            );
        } else {
            let len = room.id.len() as u32;
            if len < i.room_id_min_digits || len > i.room_id_max_digits {
                p.add(
                    format!("{f}.id"),
                    format!(
                        "room ID {} has {len} digits, but the IVR accepts {} to {} \
                         (ivr.room_id_min_digits/max_digits), so callers could not reach it",
                        room.id, i.room_id_min_digits, i.room_id_max_digits
                    ),
                );
            }
            if room
                .host_key
                .as_ref()
                .is_some_and(|k| k.chars().count() < 16)
            {
                p.add(
                    format!("{f}.host_key"),
                    "a host key needs at least 16 characters, or it can be guessed",
                );
            }
            if !ids.insert(room.id.as_str()) {
                p.add(
                    format!("{f}.id"),
                    format!("room ID {} is defined twice", room.id),
                );
            }
        }
        if let Some(pin) = &room.pin {
            if !is_digits(pin) {
                p.add(
                    format!("{f}.pin"),
                    "a PIN must be digits only, since callers type it on the keypad (leave the \
                     line out for a room without PIN)",
                );
            } else if pin.len() as u32 > i.pin_max_digits {
                p.add(
                    format!("{f}.pin"),
                    format!("the PIN has {} digits but callers can type at most {} (ivr.pin_max_digits)", pin.len(), i.pin_max_digits),
                );
            }
        }
    }
    let mut numbers = HashSet::new();
    for (n, route) in c.routes.iter().enumerate() {
        let f = format!("routes[{n}]");
        if route.number.trim().is_empty() {
            p.add(
                format!("{f}.number"),
                "a route needs the called number it applies to",
            );
        } else if !numbers.insert(route.number.as_str()) {
            p.add(
                format!("{f}.number"),
                format!(
                    "number {:?} has more than one route; only the first would ever be used",
                    route.number
                ),
            );
        }
        if let Some(room) = &route.room
            && !is_digits(room)
        {
            p.add(
                format!("{f}.room"),
                format!("room {room:?} must be a numeric room ID"),
            );
        }
    }
}

fn is_ws_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("ws://") || lower.starts_with("wss://")
}

fn conference(c: &Config, p: &mut Problems) {
    ca_file("conference.ca_file", &c.conference.ca_file, p);
    let tls = &c.conference.builtin.tls;
    cert_pair("conference.builtin.tls", &tls.cert, &tls.key, p);
    if c.conference.backend == super::ConferenceBackendKind::Janus {
        let url = &c.conference.janus.url;
        if url.trim().is_empty() {
            p.add(
                "conference.janus.url",
                "backend = \"janus\" needs the WebSocket address of Janus, e.g. \"ws://10.0.0.7:8188\"",
            );
        } else if !is_ws_url(url) {
            p.add(
                "conference.janus.url",
                format!("{url:?} is not a WebSocket URL; it starts with ws:// or wss://"),
            );
        }
        return; // the built-in server is not used
    }
    let b = &c.conference.builtin;
    if !b.serve && b.url.trim().is_empty() {
        p.add(
            "conference.builtin.url",
            "serve = false means the signaling server runs elsewhere, so its WebSocket URL is \
             needed, e.g. \"ws://10.0.0.5:8080/ws\"",
        );
    } else if !b.url.is_empty() && !is_ws_url(&b.url) {
        p.add(
            "conference.builtin.url",
            format!(
                "{:?} is not a WebSocket URL; it starts with ws:// or wss://",
                b.url
            ),
        );
    }
}

#[cfg(test)]
mod janus_tests {
    use crate::config::{ConferenceBackendKind, Config};

    #[test]
    fn janus_backend_needs_a_ws_url() {
        let mut c = Config::demo();
        c.conference.backend = ConferenceBackendKind::Janus;
        let problems = c.validate_with_base(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(
            problems.iter().any(|p| p.field == "conference.janus.url"),
            "{problems:?}"
        );
        c.conference.janus.url = "http://janus:8188".into();
        let problems = c.validate_with_base(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(
            problems.iter().any(|p| p.field == "conference.janus.url"),
            "{problems:?}"
        );
        c.conference.janus.url = "wss://janus.example:8989".into();
        assert_eq!(
            c.validate_with_base(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))),
            vec![]
        );
        c.conference.janus.url = "ws://127.0.0.1:8188".into();
        assert_eq!(
            c.validate_with_base(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))),
            vec![]
        );
    }
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
