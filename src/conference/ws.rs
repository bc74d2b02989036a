//! Opening the WebSocket to a conference server (the built-in signaling server or Janus): over
//! TLS for `wss://` URLs, the server's certificate always verified, and a failure explained in
//! words (an untrusted CA, a certificate for another host, an expired one).

use std::sync::Arc;

use rustls::{CertificateError, ClientConfig};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, error::TlsError};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `request`'s URL. `tls` verifies `wss://` servers; `None` means the system's roots
/// only. The error says why, without the URL (the caller names it).
pub(crate) async fn open(
    request: impl IntoClientRequest + Unpin,
    config: WebSocketConfig,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<Ws, String> {
    let tls = match tls {
        Some(tls) => tls.clone(),
        None => crate::tls::client_config(None).map_err(|e| e.to_string())?,
    };
    let connector = Some(Connector::Rustls(tls));
    tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, connector)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| explain(&e))
}

/// A connection error in words; certificate problems say what to fix.
fn explain(e: &tungstenite::Error) -> String {
    let rustls_error = match e {
        tungstenite::Error::Tls(TlsError::Rustls(e)) => Some(&**e),
        tungstenite::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    let Some(rustls_error) = rustls_error else {
        return e.to_string();
    };
    let rustls::Error::InvalidCertificate(cert) = rustls_error else {
        return format!("TLS handshake failed: {rustls_error}");
    };
    let why = match cert {
        CertificateError::UnknownIssuer => "it is not signed by a CA this bridge trusts (the \
             system's CA roots and conference.ca_file; set conference.ca_file to the server's \
             private CA)"
            .to_string(),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("it is not valid for the host name in the URL ({cert})")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("it has expired ({cert})")
        }
        other => other.to_string(),
    };
    format!("TLS certificate verification failed: the server's certificate was refused: {why}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_say_what_to_fix() {
        let wrapped = |e: rustls::Error| {
            tungstenite::Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        };
        let unknown = explain(&wrapped(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        )));
        assert!(
            unknown.contains("verification failed") && unknown.contains("conference.ca_file"),
            "{unknown}"
        );
        let name = explain(&wrapped(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName,
        )));
        assert!(name.contains("host name"), "{name}");
        let plain = explain(&tungstenite::Error::ConnectionClosed);
        assert!(!plain.contains("TLS"), "{plain}");
    }
}
