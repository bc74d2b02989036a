//! ezk reports input it cannot use only as `log` records, one per datagram ("Failed to get base
//! headers for incoming message", "Incoming SIP message contained invalid ..."). This logger
//! sits in front of tracing's `log` bridge: those records become a count in
//! `dialbridge_sip_malformed_total{reason}` and a warning at most once per interval per reason
//! ([`crate::ratelog`]); ezk's other warnings are rate-limited the same way; everything else
//! passes through unchanged.

use crate::sip::screen::Malformed;
use log::{Level, Log, Metadata, Record};

const EZK: &str = "ezk_sip_core";

/// The `log` logger of the process (see `main.rs`).
pub struct EzkInputLog {
    pub inner: tracing_log::LogTracer,
}

impl Log for EzkInputLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        is_ezk_warning(metadata) || self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !is_ezk_warning(record.metadata()) {
            // ezk quotes whole SIP messages at trace level: SDES keys must not reach the log.
            if record.target().starts_with("ezk") && self.inner.enabled(record.metadata()) {
                let text = record.args().to_string();
                if let std::borrow::Cow::Owned(clean) = crate::sip::sdes::redact_keys(&text) {
                    return self.inner.log(
                        &Record::builder()
                            .args(format_args!("{clean}"))
                            .metadata(record.metadata().clone())
                            .module_path(record.module_path())
                            .file(record.file())
                            .line(record.line())
                            .build(),
                    );
                }
            }
            return self.inner.log(record);
        }
        let message = record.args().to_string();
        match classify(record.target(), &message) {
            Some(reason) => {
                crate::metrics::SIP_MALFORMED.inc(reason.label());
                crate::warn_limited!(reason.label(), what = reason.describe(), detail = %message, "dropped SIP input");
            }
            None => {
                crate::warn_limited!("ezk", target = record.target(), "{message}");
            }
        }
    }

    fn flush(&self) {}
}

fn is_ezk_warning(metadata: &Metadata<'_>) -> bool {
    metadata.level() <= Level::Warn && metadata.target().starts_with(EZK)
}

/// Which kind of bad input an ezk warning is about; `None` for warnings about anything else.
pub fn classify(target: &str, message: &str) -> Option<Malformed> {
    let module = target.strip_prefix(EZK)?;
    if module.starts_with("::transport::parse")
        || module.starts_with("::transport::streaming::decode")
    {
        return Some(Malformed::Unparsable);
    }
    if module.starts_with("::transport::streaming") && message.contains("TLS handshake") {
        return Some(Malformed::TlsHandshake);
    }
    if module.starts_with("::endpoint") {
        if message.starts_with("Failed to get base headers")
            || message.starts_with("Failed to get tsx key")
        {
            return Some(Malformed::BaseHeaders);
        }
        if message.contains("orphaned response") {
            return Some(Malformed::OrphanResponse);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ezk_input_warnings_are_classified() {
        let parse = "ezk_sip_core::transport::parse";
        assert_eq!(
            classify(parse, "Incoming SIP messages is incomplete"),
            Some(Malformed::Unparsable)
        );
        assert_eq!(
            classify(
                "ezk_sip_core::endpoint",
                "Failed to get base headers for incoming message, missing Via"
            ),
            Some(Malformed::BaseHeaders)
        );
        assert_eq!(
            classify(
                "ezk_sip_core::endpoint",
                "the received message is an orphaned response"
            ),
            Some(Malformed::OrphanResponse)
        );
        assert_eq!(
            classify(
                "ezk_sip_core::transport::streaming",
                "Error accepting connection, TLS handshake with 10.0.0.1:4000 timed out"
            ),
            Some(Malformed::TlsHandshake)
        );
        assert_eq!(
            classify(
                "ezk_sip_core::transaction::server",
                "Failed to retransmit message"
            ),
            None
        );
        assert_eq!(
            classify("dialbridge::sip", "Incoming SIP messages is incomplete"),
            None
        );
    }

    #[test]
    fn every_reason_has_a_metric_label() {
        for reason in Malformed::ALL {
            crate::metrics::SIP_MALFORMED.inc(reason.label());
            assert!(
                crate::metrics::SIP_MALFORMED.get(reason.label()) >= 1,
                "{reason:?}"
            );
        }
    }
}
