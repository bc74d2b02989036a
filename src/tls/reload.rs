//! SIGHUP reloads the server certificates: a renewed certificate is used for new connections
//! while calls on the old ones go on.

use super::cert::ServerCert;
use std::sync::Arc;

/// Reloads `certs` on every SIGHUP until `stop` completes; a failed reload keeps the old
/// certificate and says why.
pub async fn reload_on_sighup(certs: Vec<Arc<ServerCert>>, stop: impl Future<Output = ()>) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        tracing::warn!("cannot watch SIGHUP: certificates are not reloaded");
        return;
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            Some(()) = hangups.recv() => reload(&certs),
            _ = &mut stop => return,
        }
    }
}

fn reload(certs: &[Arc<ServerCert>]) {
    for cert in certs {
        let path = cert.files().cert.display().to_string();
        match cert.reload() {
            Ok(()) => {
                crate::metrics::TLS_RELOADS.inc("ok");
                tracing::info!(cert = %path, "TLS certificate reloaded");
            }
            Err(e) => {
                crate::metrics::TLS_RELOADS.inc("failed");
                tracing::error!(cert = %path, error = %e, "TLS certificate not reloaded; the old one stays in use");
            }
        }
    }
}
