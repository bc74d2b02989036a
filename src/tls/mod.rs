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

mod check;
mod files;
mod pinned;
mod reload;

pub use check::{CertFinding, check_files};
pub use files::{read_certs, read_key};
pub use pinned::pinned_client_config;
pub use reload::reload_on_sighup;

use rustls::RootCertStore;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} file {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate (expected a \"BEGIN CERTIFICATE\" block)")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (expected a \"BEGIN PRIVATE KEY\" block)")]
    NoKey { path: PathBuf },
    #[error("the private key in {key} cannot be used: {reason}")]
    BadKey { key: PathBuf, reason: String },
    #[error("the private key in {key} does not belong to the certificate in {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("the CA file {path} holds no usable certificate: {reason}")]
    BadCa { path: PathBuf, reason: String },
    #[error("TLS settings rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The one crypto provider every config uses. ring, because aws-lc-rs (rustls' other choice,
/// with post-quantum key exchange) needs cmake and a C toolchain setup the build avoids.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Paths of a certificate chain and its private key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    /// Both paths, or `None` when either is unset.
    pub fn pair(cert: &Option<PathBuf>, key: &Option<PathBuf>) -> Option<CertFiles> {
        Some(CertFiles {
            cert: cert.clone()?,
            key: key.clone()?,
        })
    }

    /// Reads and pairs the chain and key; the key must sign for the leaf certificate.
    pub fn load(&self) -> Result<Arc<CertifiedKey>, TlsError> {
        let chain = read_certs(&self.cert)?;
        let key = read_key(&self.key)?;
        let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                cert: self.cert.clone(),
                key: self.key.clone(),
            },
            other => TlsError::BadKey {
                key: self.key.clone(),
                reason: other.to_string(),
            },
        })?;
        Ok(Arc::new(certified))
    }
}

/// A server certificate that can be swapped while connections run.
#[derive(Debug)]
pub struct ServerCert {
    files: CertFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ServerCert {
    pub fn load(files: CertFiles) -> Result<Arc<ServerCert>, TlsError> {
        let current = RwLock::new(files.load()?);
        Ok(Arc::new(ServerCert { files, current }))
    }

    /// Reads the files again; on error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = self.files.load()?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    pub fn files(&self) -> &CertFiles {
        &self.files
    }

    /// The leaf certificate served now.
    pub fn leaf(&self) -> rustls_pki_types::CertificateDer<'static> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current
            .cert
            .first()
            .cloned()
            .expect("read_certs refuses a file without certificates, so a leaf exists")
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

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
