//! In-dialog requests ezk's invite usage leaves alone: SIP INFO carrying DTMF, and UPDATE used
//! as a session refresh (RFC 4028 lets the caller refresh with UPDATE instead of re-INVITE).

use crate::ivr::dtmf::{DtmfError, parse_info_body};
use ezk_sip_core::{Endpoint, IncomingRequest, MayTake};
use ezk_sip_types::header::typed::ContentType;
use ezk_sip_types::{Method, StatusCode};
use ezk_sip_ua::dialog::Usage;
use tokio::sync::mpsc;

/// Sends digits from SIP INFO to the call. The channel is the call's bounded SIP event queue;
/// when it is full the digit is counted as dropped (see [`crate::metrics`]) and the INFO still
/// gets 200, because the sender cannot do anything better with an error.
pub struct CallUsage {
    pub digits: mpsc::Sender<char>,
}

#[async_trait::async_trait]
impl Usage for CallUsage {
    fn name(&self) -> &'static str {
        "dialbridge-call"
    }

    async fn receive(&self, endpoint: &Endpoint, request: MayTake<'_, IncomingRequest>) {
        let method = request.line.method.clone();
        if method != Method::INFO && method != Method::UPDATE {
            return;
        }
        let mut request = request.take();
        let code = if method == Method::UPDATE {
            // A refresh without SDP; a media change by UPDATE is not supported.
            if request.body.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::NOT_ACCEPTABLE_HERE
            }
        } else {
            self.info_status(&request)
        };
        let response = endpoint.create_response(&request, code, None);
        if let Err(e) = endpoint
            .create_server_tsx(&mut request)
            .respond(response)
            .await
        {
            tracing::warn!(error = %e, "could not answer in-dialog {method}");
        }
    }
}

impl CallUsage {
    fn info_status(&self, request: &IncomingRequest) -> StatusCode {
        let content_type = request
            .headers
            .get_named::<ContentType>()
            .map(|ct| ct.0.to_string())
            .unwrap_or_default();
        match parse_info_body(&content_type, &request.body) {
            Ok(digit) => {
                if self.digits.try_send(digit).is_err() {
                    crate::metrics::DTMF_DROPPED.inc();
                    tracing::warn!(%digit, "SIP INFO digit dropped: call queue full");
                }
                StatusCode::OK
            }
            // Empty INFO is a keep-alive probe some devices send.
            Err(_) if request.body.is_empty() => StatusCode::OK,
            Err(DtmfError::UnsupportedContentType(ct)) => {
                tracing::debug!(content_type = %ct, "INFO with unsupported content type");
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Err(e) => {
                tracing::info!(error = %e, "INFO with an unreadable DTMF body");
                StatusCode::BAD_REQUEST
            }
        }
    }
}
