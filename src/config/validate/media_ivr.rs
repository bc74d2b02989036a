//! The `[media]` and `[ivr]` checks: codecs, the RTP port range, digit counts, timeouts, and
//! that each prompt language (of `ivr` and of every route) has its folder.

use std::collections::HashSet;
use std::path::Path;

use super::Problems;
use crate::config::Config;

pub(super) fn media(c: &Config, p: &mut Problems) {
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
    if m.opus_complexity > 10 {
        p.add(
            "media.opus_complexity",
            format!(
                "{} is not an Opus complexity; use 0 (cheapest) to 10 (best quality, the default)",
                m.opus_complexity
            ),
        );
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

pub(super) fn ivr(c: &Config, base: &Path, p: &mut Problems) {
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
