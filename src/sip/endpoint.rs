//! The ezk SIP endpoint (UDP + TCP) and the layer that takes requests outside any dialog:
//! new INVITEs go to the server's queue, OPTIONS probes are answered, everything else is refused
//! with the right status.

use super::early::EarlyInvites;
use ezk_sip_core::{Endpoint, IncomingRequest, Layer, MayTake};
use ezk_sip_types::header::typed::{Contact, MaxForwards};
use ezk_sip_types::uri::{NameAddr, SipUri};
use ezk_sip_types::{Method, Name, StatusCode};
use ezk_sip_ua::dialog::DialogLayer;
use ezk_sip_ua::invite::InviteLayer;
use std::net::SocketAddr;
use tokio::sync::mpsc;

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

/// Binds the transports and starts the endpoint. New INVITEs are sent to `invites`; when that
/// queue is full the caller gets 503 at once instead of waiting.
pub async fn start(
    options: EndpointOptions,
    invites: mpsc::Sender<IncomingRequest>,
) -> Result<SipEndpoint, EndpointError> {
    let mut builder = Endpoint::builder();
    builder.user_agent(options.user_agent.clone());
    builder.add_layer(DialogLayer::default());
    builder.add_layer(InviteLayer::default());
    let early = EarlyInvites::default();
    builder.add_layer(EntryLayer {
        invites,
        early: early.clone(),
    });
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

/// Handles what no dialog claimed.
struct EntryLayer {
    invites: mpsc::Sender<IncomingRequest>,
    early: EarlyInvites,
}

/// How often, and how far apart, an unmatched CANCEL looks again for its INVITE.
const CANCEL_RETRIES: usize = 4;
const CANCEL_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(10);

/// Methods we understand somewhere; anything else is 501.
const KNOWN: [Method; 12] = [
    Method::INVITE,
    Method::ACK,
    Method::BYE,
    Method::CANCEL,
    Method::OPTIONS,
    Method::INFO,
    Method::UPDATE,
    Method::PRACK,
    Method::NOTIFY,
    Method::REGISTER,
    Method::SUBSCRIBE,
    Method::REFER,
];

#[async_trait::async_trait]
impl Layer for EntryLayer {
    fn name(&self) -> &'static str {
        "dialbridge-entry"
    }

    async fn receive(&self, endpoint: &Endpoint, request: MayTake<'_, IncomingRequest>) {
        let method = request.line.method.clone();
        let in_dialog = request.base_headers.to.tag.is_some();
        if method == Method::ACK {
            return; // ACKs need no answer
        }
        if method == Method::CANCEL {
            // Ours only when it overtook its INVITE; else ezk answers 481. The endpoint handles
            // each datagram in its own task, so a CANCEL sent right behind its INVITE may even
            // be seen first: give the INVITE a moment to be queued.
            let branch = request.tsx_key.branch().to_string();
            let mut known = self.early.cancel(&branch);
            for _ in 0..CANCEL_RETRIES {
                if known {
                    break;
                }
                tokio::time::sleep(CANCEL_RETRY_DELAY).await;
                known = self.early.cancel(&branch);
            }
            if known {
                let request = request.take();
                let response = endpoint.create_response(&request, StatusCode::OK, None);
                send(endpoint, request, response).await;
            }
            return;
        }
        if let Some(problem) = malformed(&request) {
            tracing::info!(%method, problem, "malformed request: 400");
            return respond(endpoint, request.take(), StatusCode::BAD_REQUEST).await;
        }
        if !KNOWN.contains(&method) {
            return respond(endpoint, request.take(), StatusCode::NOT_IMPLMENTED).await;
        }
        if let Ok(MaxForwards(0)) = request.headers.get_named::<MaxForwards>()
            && method != Method::OPTIONS
        {
            return respond(endpoint, request.take(), StatusCode::TOO_MANY_HOPS).await;
        }
        match method {
            Method::OPTIONS if !in_dialog => {
                let request = request.take();
                let mut response = endpoint.create_response(&request, StatusCode::OK, None);
                for allow in endpoint.allowed() {
                    response.msg.headers.insert_named(allow);
                }
                for supported in endpoint.supported() {
                    response.msg.headers.insert_named(supported);
                }
                response.msg.headers.insert(Name::ACCEPT, "application/sdp");
                send(endpoint, request, response).await;
            }
            Method::INVITE if !in_dialog => {
                let branch = request.tsx_key.branch().to_string();
                self.early.insert(&branch);
                if let Err(e) = self.invites.try_send(request.take()) {
                    self.early.finish(&branch);
                    crate::metrics::CALLS_REJECTED.inc();
                    tracing::warn!("call queue full or closed, answering 503");
                    let invite = match e {
                        mpsc::error::TrySendError::Full(r)
                        | mpsc::error::TrySendError::Closed(r) => r,
                    };
                    respond(endpoint, invite, StatusCode::SERVICE_UNAVAILABLE).await;
                }
            }
            Method::REGISTER | Method::SUBSCRIBE | Method::REFER if !in_dialog => {
                respond(endpoint, request.take(), StatusCode::METHOD_NOT_ALLOWED).await
            }
            _ => {} // ezk answers 481 for requests of unknown dialogs
        }
    }
}

/// What ezk's parser lets through but RFC 3261 calls a bad request.
fn malformed(request: &IncomingRequest) -> Option<&'static str> {
    if request.base_headers.cseq.method != request.line.method {
        return Some("CSeq method differs from the request method");
    }
    let mut lengths = request.headers.get_raw(&Name::CONTENT_LENGTH);
    if let Some(length) = lengths.next() {
        match length.trim().parse::<usize>() {
            Ok(n) if n == request.body.len() => {}
            Ok(_) => return Some("Content-Length differs from the body"),
            Err(_) => return Some("Content-Length is not a number"),
        }
    }
    None
}

async fn respond(endpoint: &Endpoint, request: IncomingRequest, code: StatusCode) {
    super::reject(endpoint, request, code.into_u16()).await
}

async fn send(
    endpoint: &Endpoint,
    mut request: IncomingRequest,
    response: ezk_sip_core::transport::OutgoingResponse,
) {
    if let Err(e) = endpoint
        .create_server_tsx(&mut request)
        .respond(response)
        .await
    {
        tracing::warn!(error = %e, "could not answer {}", request.line.method);
    }
}
