//! TLS material for the SIP listener and the signaling server, and the client side of `sips:`
//! and `wss://`.
//!
//! - [`ServerCert`]: a certificate chain and key read from PEM files, handed to rustls through a
//!   resolver so that [`ServerCert::reload`] (on SIGHUP) swaps it for new connections while the
//!   running ones keep theirs. A reload that fails keeps the old certificate.
//! - [`server_config`]: rustls server settings, optionally demanding a client certificate signed
//!   by a given CA (trunks that authenticate with certificates).
//! - [`client_config`]: verification on by default, against the system's roots plus an optional
//!   private CA file.
//! - [`pinned_client_config`]: the bridge's own `wss://` connection to its in-process
//!   signaling server, trusting exactly the certificate that server serves.
//! - [`check_files`]: what `check-config` says about a certificate/key pair, in words.
//!
//! One crypto provider (ring) for everything; secrets (keys) never reach a log line.

mod cert;
mod check;
mod files;
mod pinned;
mod reload;

use cert::provider;
pub use cert::{CertFiles, ServerCert};
pub use check::{CertFinding, check_files};
pub use files::{TlsError, read_certs, read_key};
pub use pinned::pinned_client_config;
pub use reload::reload_on_sighup;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ServerConfig};
use std::path::Path;
use std::sync::Arc;

/// Server settings over `cert`; with `client_ca`, peers must present a certificate it signed.
pub fn server_config(
    cert: Arc<ServerCert>,
    client_ca: Option<&Path>,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TlsError> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        Some(path) => {
            let roots = Arc::new(ca_roots(path)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| TlsError::BadCa {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(cert);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Client settings that verify the server: the system's roots plus `ca_file` when given.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    // A system store that cannot be read is not fatal when a CA file is given; without one every
    // connection fails verification with an error that names the server.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        roots.extend(ca_roots(path)?.roots);
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn ca_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(read_certs(path)?);
    if added == 0 {
        return Err(TlsError::BadCa {
            path: path.to_path_buf(),
            reason: "no certificate in it parses as a CA".into(),
        });
    }
    Ok(roots)
}
