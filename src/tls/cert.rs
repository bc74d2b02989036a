//! The server certificate and its crypto provider: [`CertFiles`] (a chain and key on disk) and
//! [`ServerCert`], the rustls resolver whose certificate a reload swaps for new connections.

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::files::{TlsError, read_certs, read_key};

/// The one crypto provider every config uses. ring, because aws-lc-rs (rustls' other choice,
/// with post-quantum key exchange) needs cmake and a C toolchain setup the build avoids.
#[allow(deprecated)]
pub(super) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
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
