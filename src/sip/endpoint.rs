//! The ezk SIP endpoint (UDP + TCP, and TLS when a certificate is configured) with the dialog
//! and invite layers and our entry layer ([`super::entry`]) for requests outside any dialog.

use super::early::EarlyInvites;
use super::entry::{EntryLayer, EntryOptions};
use ezk_sip_core::Endpoint;
use ezk_sip_core::transport::TpHandle;
use ezk_sip_types::Method;
use ezk_sip_types::header::typed::Contact;
use ezk_sip_types::uri::{NameAddr, SipUri};
use ezk_sip_ua::dialog::DialogLayer;
use ezk_sip_ua::invite::InviteLayer;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("cannot listen for SIP on UDP {addr}: {source}")]
    BindUdp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen for SIP on TCP {addr}: {source}")]
    BindTcp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot listen for SIP on TLS {addr}: {source}")]
    BindTls {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running endpoint and the address callers reach it on.
pub struct SipEndpoint {
    pub endpoint: Endpoint,
    /// The bound UDP address (TCP listens on the same port when enabled).
    pub local: SocketAddr,
    /// The TLS listener's address, when it runs.
    pub tls_local: Option<SocketAddr>,
    /// Our Contacts for dialogs and registration.
    pub contacts: Contacts,
    /// INVITEs queued for the server, for CANCELs that overtake them.
    pub early: EarlyInvites,
}

/// Options for [`start`].
pub struct EndpointOptions {
    pub listen: SocketAddr,
    pub tcp: bool,
    /// Host (IP or name) to put in Contact instead of the bound IP (NAT).
    pub public_host: Option<String>,
    pub user_agent: String,
    pub tls: TlsOptions,
}

/// SIP over TLS: the listener (when a certificate is configured) and outgoing connections.
pub struct TlsOptions {
    /// Server settings and port of the listener; `None` = outgoing TLS only.
    pub listen: Option<(Arc<rustls::ServerConfig>, u16)>,
    /// Client settings for `sips:` / `;transport=tls` targets (the registrar).
    pub client: Arc<rustls::ClientConfig>,
}

/// The Contact to put in a dialog or REGISTER: one per transport family.
#[derive(Debug, Clone)]
pub struct Contacts {
    /// For UDP and TCP: the public address when configured, else the bound one.
    pub plain: Contact,
    /// For TLS (`;transport=tls` on the TLS port), when the listener runs.
    pub tls: Option<Contact>,
    /// For requests to a `sips:` URI, which want a `sips:` Contact (RFC 3261 12.1.1).
    pub sips: Option<Contact>,
}

impl Contacts {
    /// The Contact for a dialog whose request came on `transport` for `request_uri`: a TLS
    /// call must be reached over TLS again.
    pub fn for_request(&self, transport: &TpHandle, request_uri: &SipUri) -> &Contact {
        match (&self.tls, &self.sips) {
            (_, Some(sips)) if request_uri.sips => sips,
            (Some(tls), _) if transport.name() == "TLS" => tls,
            _ => &self.plain,
        }
    }
}

/// Binds the transports and starts the endpoint; admitted INVITEs go where `entry` says.
pub async fn start(
    options: EndpointOptions,
    entry: EntryOptions,
) -> Result<SipEndpoint, EndpointError> {
    let mut builder = Endpoint::builder();
    builder.user_agent(options.user_agent.clone());
    builder.add_layer(DialogLayer::default());
    builder.add_layer(InviteLayer::default());
    let early = EarlyInvites::default();
    builder.add_layer(EntryLayer::new(entry, early.clone()));
    builder.add_allow(Method::OPTIONS);
    builder.add_allow(Method::INFO);
    builder.add_accept(ezk_sip_types::header::typed::Accept(
        bytesstr::BytesStr::from_static("application/sdp"),
    ));

    let addr = options.listen;
    let udp = builder
        .bind_udp(addr)
        .await
        .map_err(|source| EndpointError::BindUdp { addr, source })?;
    let local = udp.bound();
    if options.tcp {
        let tcp_addr = SocketAddr::new(local.ip(), local.port());
        builder
            .listen_tcp(tcp_addr)
            .await
            .map_err(|source| EndpointError::BindTcp {
                addr: tcp_addr,
                source,
            })?;
    }
    builder.use_rustls_connector(tokio_rustls::TlsConnector::from(options.tls.client));
    let mut tls_local = None;
    if let Some((config, port)) = options.tls.listen {
        let addr = SocketAddr::new(local.ip(), port);
        tls_local = Some(bind_tls(&mut builder, addr, config).await?);
    }
    let endpoint = builder.build();

    let host = options.public_host.clone();
    let contacts = Contacts {
        plain: contact("sip", host.as_deref(), local, ""),
        tls: tls_local.map(|tls| contact("sip", host.as_deref(), tls, ";transport=tls")),
        sips: tls_local.map(|tls| contact("sips", host.as_deref(), tls, "")),
    };
    Ok(SipEndpoint {
        endpoint,
        local,
        tls_local,
        contacts,
        early,
    })
}

/// Listens for TLS on `addr` and returns the bound address.
async fn bind_tls(
    builder: &mut ezk_sip_core::EndpointBuilder,
    addr: SocketAddr,
    config: Arc<rustls::ServerConfig>,
) -> Result<SocketAddr, EndpointError> {
    builder
        .listen_rustls(addr, tokio_rustls::TlsAcceptor::from(config))
        .await
        .map_err(|source| EndpointError::BindTls { addr, source })
}

fn contact(scheme: &str, public_host: Option<&str>, bound: SocketAddr, params: &str) -> Contact {
    let uri = match public_host {
        Some(host) => format!("{scheme}:{host}:{}{params}", bound.port()),
        None => format!("{scheme}:{bound}{params}"),
    };
    let uri = uri
        .parse::<SipUri>()
        .unwrap_or_else(|_| SipUri::new(bound.into()));
    Contact::new(NameAddr::uri(uri))
}
