//! `[sip.tls]`: SIP over TLS. The listener runs when a certificate and key are given; in register
//! mode a `sips:` registrar (or `;transport=tls`) is reached over TLS, verified against the
//! system's CA roots plus `ca_file`.

use serde::Deserialize;
use std::path::PathBuf;

use crate::tls::CertFiles;

/// `[sip.tls]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipTlsConfig {
    /// PEM certificate chain (server certificate first) of the TLS listener; relative paths are
    /// relative to the config file. Reloaded on SIGHUP without dropping calls. Default: none =
    /// no TLS listener.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`. Default: none.
    pub key: Option<PathBuf>,
    /// TCP port of the TLS listener, on `sip.listen`'s address; 0 picks a free port.
    /// Default: 5061.
    pub port: u16,
    /// PEM file of CA certificates: when set, a TLS peer must present a client certificate one
    /// of them signed (trunks that authenticate by certificate). Default: none = no client
    /// certificate asked for.
    pub client_ca: Option<PathBuf>,
    /// PEM file of extra CA certificates to trust for outgoing TLS (the registrar), next to the
    /// system's roots; for providers with a private CA. Default: none.
    pub ca_file: Option<PathBuf>,
}

impl Default for SipTlsConfig {
    fn default() -> Self {
        SipTlsConfig {
            cert: None,
            key: None,
            port: 5061,
            client_ca: None,
            ca_file: None,
        }
    }
}

impl SipTlsConfig {
    /// The listener's certificate files, when both are set.
    pub fn listener(&self) -> Option<CertFiles> {
        CertFiles::pair(&self.cert, &self.key)
    }
}
