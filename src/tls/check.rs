//! What `check-config` says about a certificate and its key: missing or unreadable files, a key
//! that belongs to another certificate, a certificate outside its validity period, or one that
//! expires soon.

use super::cert::CertFiles;
use super::files::{TlsError, read_certs};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Certificates that expire within this time get a warning.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

/// One finding, in words a telephony admin understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertFinding {
    /// The bridge cannot serve TLS with these files.
    Problem(String),
    /// It can, but someone should act soon.
    Warning(String),
}

/// Checks `files` as of `now`.
pub fn check_files(files: &CertFiles, now: SystemTime) -> Vec<CertFinding> {
    let mut findings = Vec::new();
    if let Err(e) = files.load() {
        findings.push(CertFinding::Problem(explain(&e)));
        if !matches!(e, TlsError::KeyMismatch { .. } | TlsError::BadKey { .. }) {
            return findings;
        }
    }
    let Ok(chain) = read_certs(&files.cert) else {
        return findings;
    };
    let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    match x509_parser::parse_x509_certificate(&chain[0]) {
        Err(_) => findings.push(CertFinding::Problem(format!(
            "{} does not hold a readable X.509 certificate",
            files.cert.display()
        ))),
        Ok((_, cert)) => {
            let validity = cert.validity();
            let (from, until) = (validity.not_before, validity.not_after);
            let path = files.cert.display();
            if now_s < from.timestamp() {
                findings.push(CertFinding::Problem(format!(
                    "the certificate in {path} is not valid before {from}; check the clock or \
                     the certificate"
                )));
            } else if now_s > until.timestamp() {
                findings.push(CertFinding::Problem(format!(
                    "the certificate in {path} expired on {until} ({} days ago); renew it and \
                     send SIGHUP to load the new one",
                    (now_s - until.timestamp()) / 86_400
                )));
            } else if until.timestamp() - now_s < EXPIRY_WARNING.as_secs() as i64 {
                findings.push(CertFinding::Warning(format!(
                    "the certificate in {path} expires on {until}, in {} days",
                    (until.timestamp() - now_s) / 86_400
                )));
            }
        }
    }
    findings
}

fn explain(e: &TlsError) -> String {
    match e {
        TlsError::Read { what, path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            format!("the {what} file {} does not exist", path.display())
        }
        TlsError::KeyMismatch { cert, key } => format!(
            "the private key in {} does not belong to the certificate in {} (was the key of \
             another certificate given?)",
            key.display(),
            cert.display()
        ),
        other => other.to_string(),
    }
}
