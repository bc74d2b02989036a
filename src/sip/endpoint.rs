//! The ezk SIP endpoint (UDP + TCP) with the dialog and invite layers and our entry layer
//! ([`super::entry`]) for requests outside any dialog.

use super::early::EarlyInvites;
use super::entry::{EntryLayer, EntryOptions};
use ezk_sip_core::Endpoint;
use ezk_sip_types::Method;
use ezk_sip_types::header::typed::Contact;
use ezk_sip_types::uri::{NameAddr, SipUri};
use ezk_sip_ua::dialog::DialogLayer;
use ezk_sip_ua::invite::InviteLayer;
use std::net::SocketAddr;

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
}

/// A running endpoint and the address callers reach it on.
pub struct SipEndpoint {
    pub endpoint: Endpoint,
    /// The bound UDP address (TCP listens on the same port when enabled).
    pub local: SocketAddr,
    /// Our Contact for dialogs: the public address when configured, else the bound one.
    pub contact: Contact,
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
    let endpoint = builder.build();

    let contact_uri = match &options.public_host {
        Some(host) => format!("sip:{host}:{}", local.port())
            .parse::<SipUri>()
            .unwrap_or_else(|_| SipUri::new(local.into())),
        None => SipUri::new(local.into()),
    };
    let contact = Contact::new(NameAddr::uri(contact_uri));
    Ok(SipEndpoint {
        endpoint,
        local,
        contact,
        early,
    })
}
