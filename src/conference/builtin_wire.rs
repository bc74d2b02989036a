//! The built-in signaling server's wire steps shared by the backend's request connection and
//! each call's room connection: connect (and authenticate), one request/reply exchange, and
//! encoding a client message. Both `builtin.rs` and `builtin_session.rs` build on this file.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::ClientConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::ConferenceError;
pub(super) use super::ws::Ws;
use crate::signaling::protocol::{ClientMessage, Envelope, RequestId, ServerMessage};

/// Largest reply accepted from the server, in bytes.
const MAX_REPLY_BYTES: usize = 1024 * 1024;

/// The `request_id` of the `auth` request sent right after connecting.
pub(super) const AUTH_REQUEST_ID: RequestId = 0;

pub(super) fn unexpected(msg: &ServerMessage) -> ConferenceError {
    ConferenceError::Protocol(format!("unexpected reply {msg:?}"))
}

/// Opens the WebSocket and, with a secret, authenticates before any request is sent.
pub(super) async fn connect(
    url: &str,
    secret: Option<&str>,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<Ws, ConferenceError> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_REPLY_BYTES))
        .max_frame_size(Some(MAX_REPLY_BYTES));
    let mut ws = super::ws::open(url, config, tls)
        .await
        .map_err(|e| ConferenceError::Unreachable(format!("cannot connect to {url}: {e}")))?;
    tracing::debug!(url, "connected to the signaling server");
    let Some(secret) = secret else { return Ok(ws) };
    let auth = Envelope::new(
        Some(AUTH_REQUEST_ID),
        ClientMessage::Auth {
            secret: secret.to_string(),
        },
    );
    match exchange(&mut ws, url, "during auth", auth).await? {
        ServerMessage::AuthOk => Ok(ws),
        ServerMessage::Error { message, .. } => Err(ConferenceError::Protocol(format!(
            "{url} refused the signaling secret: {message}"
        ))),
        other => Err(unexpected(&other)),
    }
}

/// Sends one request on a connection nobody else reads yet and waits for its reply, skipping
/// the server's `hello` and anything else without the request's ID. `during` names the step
/// for the error when the connection drops.
pub(super) async fn exchange(
    ws: &mut Ws,
    url: &str,
    during: &str,
    request: Envelope<ClientMessage>,
) -> Result<ServerMessage, ConferenceError> {
    let lost =
        |e: String| ConferenceError::Unreachable(format!("{url}: connection lost {during}: {e}"));
    let id = request.request_id;
    ws.send(Message::text(encode(&request)))
        .await
        .map_err(|e| lost(e.to_string()))?;
    loop {
        let frame = ws
            .next()
            .await
            .ok_or_else(|| lost("closed".into()))?
            .map_err(|e| lost(e.to_string()))?;
        let Message::Text(text) = frame else { continue };
        let Ok(reply) = serde_json::from_str::<Envelope<ServerMessage>>(text.as_str()) else {
            continue;
        };
        if reply.request_id == id {
            return Ok(reply.message);
        }
    }
}

pub(super) fn encode(envelope: &Envelope<ClientMessage>) -> String {
    serde_json::to_string(envelope)
        .expect("client messages always serialize: strings and JSON values")
}
