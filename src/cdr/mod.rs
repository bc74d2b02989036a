//! Call detail records: one JSON object per line per call, written once when the call task ends
//! (refused and failed calls included), flushed per record. [`quality`] scores each direction
//! (E-model), [`rtcp`] reads the phone's receiver reports, [`sink`] writes the lines.

pub mod quality;
pub mod rtcp;
pub mod sink;

use serde::Serialize;
use std::time::{SystemTime, UNIX_EPOCH};

pub use quality::Quality;
pub use sink::{CallRecorder, CdrSink};

/// Why a call ended: the `reason` label of `dialbridge_calls_ended_total` and the record's
/// `end_reason`. A closed set, so no peer input can add label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The caller sent BYE (or the session ended from the caller's side).
    CallerHangup,
    /// The caller sent CANCEL before we answered.
    Cancelled,
    /// We refused the INVITE (unusable offer, no RTP port, locked-out caller).
    Rejected,
    /// The IVR gave up: too many wrong entries, no input, or a locked-out caller.
    Ivr,
    /// A host removed the caller from the room.
    Kicked,
    /// The conference closed the room.
    RoomEnded,
    /// Joining failed or the conference broke mid-call.
    ConferenceFailed,
    /// No RTP from the caller for `media.rtp_timeout_s`.
    RtpTimeout,
    /// Our media pipeline failed.
    MediaError,
    /// SIP trouble: no ACK, a failed session refresh, a transport error.
    SipError,
    /// A drain reached its limit: the closing prompt, then BYE.
    Drained,
    /// dialbridge stopped.
    Shutdown,
    /// None of the above (a reason this version does not know yet).
    Other,
}

impl EndReason {
    pub const ALL: [EndReason; 13] = [
        EndReason::CallerHangup,
        EndReason::Cancelled,
        EndReason::Rejected,
        EndReason::Ivr,
        EndReason::Kicked,
        EndReason::RoomEnded,
        EndReason::ConferenceFailed,
        EndReason::RtpTimeout,
        EndReason::MediaError,
        EndReason::SipError,
        EndReason::Drained,
        EndReason::Shutdown,
        EndReason::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            EndReason::CallerHangup => "caller_hangup",
            EndReason::Cancelled => "cancelled",
            EndReason::Rejected => "rejected",
            EndReason::Ivr => "ivr",
            EndReason::Kicked => "kicked",
            EndReason::RoomEnded => "room_ended",
            EndReason::ConferenceFailed => "conference_failed",
            EndReason::RtpTimeout => "rtp_timeout",
            EndReason::MediaError => "media_error",
            EndReason::SipError => "sip_error",
            EndReason::Drained => "drained",
            EndReason::Shutdown => "shutdown",
            EndReason::Other => "other",
        }
    }

    /// Who ended the call: `caller`, `bridge`, `room` or `network`.
    pub fn ended_by(self) -> &'static str {
        match self {
            EndReason::CallerHangup | EndReason::Cancelled => "caller",
            EndReason::Kicked | EndReason::RoomEnded => "room",
            EndReason::ConferenceFailed | EndReason::SipError => "network",
            EndReason::Rejected
            | EndReason::Ivr
            | EndReason::RtpTimeout
            | EndReason::MediaError
            | EndReason::Drained
            | EndReason::Shutdown
            | EndReason::Other => "bridge",
        }
    }

    /// The reason of a call machine's hangup (its `&'static str`s, see `call::machine`).
    pub fn from_machine(reason: &str) -> EndReason {
        match reason {
            "removed by a host" => EndReason::Kicked,
            "the conference ended" => EndReason::RoomEnded,
            "the conference is unreachable" => EndReason::ConferenceFailed,
            "no RTP from the caller" => EndReason::RtpTimeout,
            "the bridge drained for maintenance" => EndReason::Drained,
            "too many wrong entries" | "IVR finished" | "caller is locked out for guessing" => {
                EndReason::Ivr
            }
            _ => EndReason::Other,
        }
    }
}

/// Quality of the four directions; `None` where nothing was measured or reported (the phone
/// sent no RTCP, the call never reached a room).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Directions {
    pub phone_to_bridge: Option<Quality>,
    pub bridge_to_phone: Option<Quality>,
    pub room_to_bridge: Option<Quality>,
    pub bridge_to_room: Option<Quality>,
}

/// One call's record; `docs/operations.md` ("Call records") documents every field.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallRecord {
    pub call_id: String,
    /// The caller's number, masked as `caller_id.mask` says; `None` when none was sent.
    pub caller: Option<String>,
    /// The user part of the Request-URI.
    pub called: String,
    /// The `[[routes]]` number that matched, if any.
    pub route: Option<String>,
    pub room: Option<String>,
    pub backend: String,
    pub codec: Option<String>,
    pub srtp: bool,
    /// DTMF methods the caller used, in first-use order: `rfc4733`, `sip_info`, `inband`.
    pub dtmf_methods: Vec<&'static str>,
    pub invite_time: String,
    pub answer_time: Option<String>,
    pub join_time: Option<String>,
    pub end_time: String,
    pub duration_s: f64,
    pub end_reason: Option<EndReason>,
    pub ended_by: Option<&'static str>,
    /// The SIP status we refused with, for rejected calls.
    pub sip_status: Option<u16>,
    /// Our words for the end (the log line's reason).
    pub detail: String,
    pub quality: Directions,
    #[serde(skip)]
    pub invite_at: Option<SystemTime>,
}

impl CallRecord {
    /// A record for a call whose INVITE arrived now.
    pub fn new(call_id: String, called: String, route: Option<String>, backend: &str) -> Self {
        let now = SystemTime::now();
        CallRecord {
            call_id,
            called,
            route,
            backend: backend.to_string(),
            invite_time: rfc3339(now),
            invite_at: Some(now),
            ..CallRecord::default()
        }
    }

    /// Notes a DTMF method once.
    pub fn dtmf_seen(&mut self, method: &'static str) {
        if !self.dtmf_methods.contains(&method) {
            self.dtmf_methods.push(method);
        }
    }

    /// Sets the end fields (now).
    pub fn finish(&mut self, reason: EndReason, detail: String) {
        let now = SystemTime::now();
        self.end_time = rfc3339(now);
        self.duration_s = self
            .invite_at
            .and_then(|t| now.duration_since(t).ok())
            .map_or(0.0, |d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
        self.end_reason = Some(reason);
        self.ended_by = Some(reason.ended_by());
        self.detail = detail;
    }
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-12-06T23:59:01.250Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_known_instants() {
        let at = |s: u64, ms: u64| UNIX_EPOCH + Duration::from_millis(s * 1000 + ms);
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(at(1_796_601_599, 999)), "2026-12-06T23:59:59.999Z");
    }

    #[test]
    fn every_machine_reason_has_a_kind_and_labels_are_unique() {
        for r in [
            "removed by a host",
            "the conference ended",
            "the conference is unreachable",
            "no RTP from the caller",
            "too many wrong entries",
            "IVR finished",
            "caller is locked out for guessing",
            "the bridge drained for maintenance",
        ] {
            assert_ne!(EndReason::from_machine(r), EndReason::Other, "{r}");
        }
        let mut labels: Vec<_> = EndReason::ALL.iter().map(|r| r.label()).collect();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), EndReason::ALL.len());
        // Every label is one of the metric's (an unknown one fails a debug assertion).
        for r in EndReason::ALL {
            crate::metrics::CALLS_ENDED.inc(r.label());
        }
        let json = serde_json::to_string(&EndReason::CallerHangup).unwrap();
        assert_eq!(json, "\"caller_hangup\"");
    }
}
