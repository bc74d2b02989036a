//! `[conference.builtin.tls]`: HTTPS and `wss://` for the built-in signaling server and its
//! host page.

use serde::Deserialize;
use std::path::PathBuf;

use crate::tls::CertFiles;

/// `[conference.builtin.tls]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalingTlsConfig {
    /// PEM certificate chain (server certificate first) for `conference.builtin.listen`: with
    /// `key`, the server speaks only HTTPS and `wss://` there. Relative paths are relative to the
    /// config file. Reloaded on SIGHUP. Default: none = plain HTTP and `ws://`.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`. Default: none.
    pub key: Option<PathBuf>,
}

impl SignalingTlsConfig {
    /// The server's certificate files, when both are set.
    pub fn listener(&self) -> Option<CertFiles> {
        CertFiles::pair(&self.cert, &self.key)
    }
}
