//! One WebSocket to Janus, used step by step: connect (subprotocol `janus-protocol`), create a
//! session, attach plugin handles and wait for the reply to each request in turn. Lookups use it
//! for their whole life; a joining call uses it until it is in the room, then hands the socket
//! to the session task (`session.rs`) together with anything unrelated that arrived meanwhile.

use std::time::Duration;

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls::ClientConfig;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use super::kinds::JanusError;
use super::protocol::{Envelope, Incoming, Jsep, PluginData, Request, SUBPROTOCOL, plugin_error};

/// Largest message accepted from Janus, in bytes (an SDP is a few KiB, a room list more).
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

pub(super) use crate::conference::ws::Ws;

/// The API secret and token Janus wants in every request (`None`: not configured).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub api_secret: Option<String>,
    pub token: Option<String>,
}

/// Says which secrets are set, never what they are (options end up in logs).
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |s: &Option<String>| if s.is_some() { "<set>" } else { "<none>" };
        f.debug_struct("Credentials")
            .field("api_secret", &shown(&self.api_secret))
            .field("token", &shown(&self.token))
            .finish()
    }
}

impl Credentials {
    pub(super) fn wrap(&self, request: Request) -> Envelope {
        Envelope {
            request,
            apisecret: self.api_secret.clone(),
            token: self.token.clone(),
        }
    }
}

/// Makes transaction IDs unique per connection (a random prefix keeps logs of several
/// connections apart).
#[derive(Debug)]
pub(super) struct TransactionIds {
    prefix: String,
    next: u64,
}

impl TransactionIds {
    pub fn new() -> TransactionIds {
        TransactionIds {
            prefix: format!("{:08x}", rand::random::<u32>()),
            next: 0,
        }
    }

    pub fn next(&mut self) -> String {
        self.next += 1;
        format!("{}-{}", self.prefix, self.next)
    }
}

/// A plugin's answer to one request: its data and, for offers/answers, the JSEP.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PluginReply {
    pub data: Value,
    pub jsep: Option<Jsep>,
}

/// A connection in its step-by-step phase.
pub(super) struct Client {
    pub ws: Ws,
    pub credentials: Credentials,
    pub ids: TransactionIds,
    /// Messages that answered no request of ours (events for the session task).
    pub stray: Vec<Incoming>,
    url: String,
}

impl Client {
    /// `tls` verifies a `wss://` Janus (`None`: the system's CA roots).
    pub async fn connect(
        url: &str,
        credentials: Credentials,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Result<Client, JanusError> {
        let unreachable =
            |e: String| JanusError::Unreachable(format!("cannot connect to {url}: {e}"));
        let mut request = url
            .into_client_request()
            .map_err(|e| unreachable(e.to_string()))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let ws = crate::conference::ws::open(request, config, tls)
            .await
            .map_err(unreachable)?;
        tracing::debug!(url, "connected to Janus");
        Ok(Client {
            ws,
            credentials,
            ids: TransactionIds::new(),
            stray: Vec::new(),
            url: url.to_string(),
        })
    }

    /// Sends `request` and returns Janus's answer to it: `success`, or for asynchronous plugin
    /// requests the `event` (an `ack` before or after it is skipped). Core errors become
    /// [`JanusError::Janus`].
    pub async fn call(&mut self, request: Request) -> Result<Incoming, JanusError> {
        let transaction = request.transaction().to_string();
        let frame = Message::text(self.credentials.wrap(request).encode());
        self.ws.send(frame).await.map_err(|e| self.lost(&e))?;
        loop {
            let message = self.next_message().await?;
            if message.transaction() != Some(transaction.as_str()) {
                self.stray.push(message);
                continue;
            }
            return match message {
                Incoming::Ack { .. } => continue,
                Incoming::Error { error, .. } => Err(JanusError::Janus {
                    code: error.code,
                    reason: error.reason,
                }),
                other => Ok(other),
            };
        }
    }

    async fn next_message(&mut self) -> Result<Incoming, JanusError> {
        loop {
            let frame = match self.ws.next().await {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Err(self.lost(&e)),
                None => {
                    return Err(JanusError::Unreachable(format!(
                        "{}: connection closed",
                        self.url
                    )));
                }
            };
            match frame {
                Message::Text(text) => {
                    if let Some(message) = Incoming::parse(text.as_str()) {
                        return Ok(message);
                    }
                }
                Message::Close(frame) => {
                    return Err(JanusError::Unreachable(format!(
                        "{}: Janus closed the connection ({frame:?})",
                        self.url
                    )));
                }
                _ => {}
            }
        }
    }

    fn lost(&self, e: &tungstenite::Error) -> JanusError {
        JanusError::Unreachable(format!("{}: connection lost: {e}", self.url))
    }

    /// Creates a Janus session; returns its ID.
    pub async fn create_session(&mut self) -> Result<u64, JanusError> {
        let transaction = self.ids.next();
        id_of(self.call(Request::Create { transaction }).await?, "create")
    }

    /// Attaches to `plugin` (e.g. `janus.plugin.videoroom`); returns the handle ID.
    pub async fn attach(&mut self, session_id: u64, plugin: &str) -> Result<u64, JanusError> {
        let transaction = self.ids.next();
        let reply = self
            .call(Request::Attach {
                transaction,
                session_id,
                plugin: plugin.to_string(),
            })
            .await?;
        id_of(reply, "attach")
    }

    /// Sends a plugin request and returns the plugin's answer; an `error_code` in it becomes
    /// [`JanusError::Plugin`].
    pub async fn message(
        &mut self,
        session_id: u64,
        handle_id: u64,
        body: Value,
        jsep: Option<Jsep>,
    ) -> Result<PluginReply, JanusError> {
        let transaction = self.ids.next();
        let reply = self
            .call(Request::Message {
                transaction,
                session_id,
                handle_id,
                body,
                jsep,
            })
            .await?;
        let (plugindata, jsep) = match reply {
            Incoming::Success { plugindata, .. } => (plugindata, None),
            Incoming::Event {
                plugindata, jsep, ..
            } => (plugindata, jsep),
            other => {
                return Err(JanusError::Unexpected(format!(
                    "reply to a plugin request: {other:?}"
                )));
            }
        };
        let Some(PluginData { data, .. }) = plugindata else {
            return Err(JanusError::Unexpected(
                "plugin reply without plugindata".into(),
            ));
        };
        if let Some((code, reason)) = plugin_error(&data) {
            return Err(JanusError::Plugin { code, reason });
        }
        Ok(PluginReply { data, jsep })
    }

    /// Destroys the session (Janus detaches its handles, which leaves rooms) and closes the
    /// socket; best effort, bounded by `wait`.
    pub async fn close(mut self, session_id: Option<u64>, wait: Duration) {
        let closing = async {
            if let Some(session_id) = session_id {
                let transaction = self.ids.next();
                if let Err(e) = self
                    .call(Request::Destroy {
                        transaction,
                        session_id,
                    })
                    .await
                {
                    tracing::debug!(error = %e, "destroying the Janus session failed");
                }
            }
            let _ = self.ws.close(None).await;
        };
        let _ = tokio::time::timeout(wait, closing).await;
    }
}

fn id_of(reply: Incoming, what: &str) -> Result<u64, JanusError> {
    match reply {
        Incoming::Success {
            data: Some(data), ..
        } => Ok(data.id),
        other => Err(JanusError::Unexpected(format!(
            "reply to {what}: {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_are_unique() {
        let mut ids = TransactionIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert!(a.ends_with("-1") && b.ends_with("-2"), "{a} {b}");
    }

    #[test]
    fn credentials_go_into_every_request() {
        let credentials = Credentials {
            api_secret: Some("s".into()),
            token: None,
        };
        let envelope = credentials.wrap(Request::Keepalive {
            transaction: "t".into(),
            session_id: 1,
        });
        assert_eq!(envelope.apisecret.as_deref(), Some("s"));
        assert!(envelope.encode().contains(r#""apisecret":"s""#));
        assert_eq!(
            format!("{credentials:?}"),
            r#"Credentials { api_secret: "<set>", token: "<none>" }"#
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let result = Client::connect(
            &format!("ws://127.0.0.1:{port}"),
            Credentials::default(),
            None,
        )
        .await;
        assert!(matches!(result, Err(JanusError::Unreachable(_))));
    }
}
