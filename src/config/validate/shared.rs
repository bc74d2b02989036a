//! Checks more than one section needs: digits-only IDs, a certificate and its key, a CA file.

use super::Problems;

pub(super) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn check_now(files: &crate::tls::CertFiles) -> Vec<crate::tls::CertFinding> {
    crate::tls::check_files(files, std::time::SystemTime::now())
}

/// A server certificate and key: both or neither, and usable.
pub(super) fn cert_pair(
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
pub(super) fn ca_file(field: &str, path: &Option<std::path::PathBuf>, p: &mut Problems) {
    if let Some(path) = path
        && let Err(e) = crate::tls::read_certs(path)
    {
        p.add(field, e.to_string());
    }
}
