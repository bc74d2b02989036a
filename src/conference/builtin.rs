//! [`BuiltinBackend`]: the conference backend that talks to dialbridge's own signaling server
//! ([`crate::signaling`]) as a WebSocket client.
//!
//! All calls share one connection. Each request gets a `request_id`; one task owns the socket
//! and hands each reply to the request with the same ID, so many calls can wait at once. The
//! connection is opened on first use and again on the first request after it dropped. Every
//! request (connecting included) has a deadline; a server that is down, refuses, or does not
//! answer in time yields [`ConferenceError::Unreachable`], never a hang.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use rustls::ClientConfig;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::builtin_wire::{AUTH_REQUEST_ID, Ws, connect, encode, unexpected};
use super::{ConferenceBackend, ConferenceError, ConferenceSession, JoinRequest, RoomLookup};
use crate::signaling::protocol::{ClientMessage, Envelope, RequestId, ServerMessage};

/// Default deadline of one request, connecting included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// Requests waiting for the connection task to write them. When full, callers wait (within
/// their deadline): this bounds memory when the server is slow.
const REQUEST_QUEUE: usize = 256;

type Reply = Result<ServerMessage, ConferenceError>;

struct Request {
    id: RequestId,
    message: ClientMessage,
    reply: oneshot::Sender<Reply>,
}

/// A client of the built-in signaling server. `Send + Sync`: share it (e.g. in an `Arc`)
/// between all calls.
pub struct BuiltinBackend {
    url: String,
    secret: Option<String>,
    /// Verifies a `wss://` server; `None`: the system's CA roots.
    tls: Option<Arc<ClientConfig>>,
    timeout: Duration,
    next_id: AtomicU64,
    /// The queue into the current connection's task; `None` or closed means reconnect. An async
    /// mutex, so concurrent callers wait for one connection attempt instead of each making one.
    conn: Mutex<Option<mpsc::Sender<Request>>>,
}

impl BuiltinBackend {
    /// A backend for the server at `url` (e.g. `ws://127.0.0.1:8080/ws`); `secret` is sent
    /// with `auth` after connecting (an empty secret counts as none). Does not connect yet.
    pub fn new(url: String, secret: Option<String>) -> BuiltinBackend {
        BuiltinBackend {
            url,
            secret: secret.filter(|s| !s.is_empty()),
            tls: None,
            timeout: REQUEST_TIMEOUT,
            next_id: AtomicU64::new(AUTH_REQUEST_ID + 1),
            conn: Mutex::new(None),
        }
    }

    /// How a `wss://` server's certificate is verified (default: against the system's CA
    /// roots, see [`crate::tls::client_config`]). Verification cannot be turned off.
    pub fn with_tls(mut self, tls: Arc<ClientConfig>) -> BuiltinBackend {
        self.tls = Some(tls);
        self
    }

    /// Changes the per-request deadline (default [`REQUEST_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> BuiltinBackend {
        self.timeout = timeout;
        self
    }

    /// Creates a room; `None` lets the server pick the ID. Returns the room ID.
    pub async fn create_room(
        &self,
        room: Option<&str>,
        name: &str,
        pin: Option<&str>,
    ) -> Result<String, ConferenceError> {
        let message = ClientMessage::CreateRoom {
            room: room.map(str::to_string),
            name: name.to_string(),
            pin: pin.map(str::to_string),
        };
        match self.request(message).await? {
            ServerMessage::RoomCreated { room } => Ok(room),
            other => Err(unexpected(&other)),
        }
    }

    async fn request(&self, message: ClientMessage) -> Reply {
        match tokio::time::timeout(self.timeout, self.request_untimed(message)).await {
            Ok(reply) => reply,
            Err(_) => {
                // The connection may be half dead; the next request starts a fresh one. If
                // another caller is connecting right now, leave it be.
                if let Ok(mut conn) = self.conn.try_lock() {
                    *conn = None;
                }
                Err(ConferenceError::Unreachable(format!(
                    "no answer from {} within {} ms",
                    self.url,
                    self.timeout.as_millis()
                )))
            }
        }
    }

    async fn request_untimed(&self, message: ClientMessage) -> Reply {
        let queue = self.connection().await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (reply, answer) = oneshot::channel();
        let closed = || ConferenceError::Unreachable(format!("connection to {} closed", self.url));
        queue
            .send(Request { id, message, reply })
            .await
            .map_err(|_| closed())?;
        match answer.await.map_err(|_| closed())?? {
            ServerMessage::Error { code, message } => Err(ConferenceError::Protocol(format!(
                "server refused the request ({code:?}): {message}"
            ))),
            other => Ok(other),
        }
    }

    async fn connection(&self) -> Result<mpsc::Sender<Request>, ConferenceError> {
        let mut conn = self.conn.lock().await;
        if let Some(queue) = conn.as_ref()
            && !queue.is_closed()
        {
            return Ok(queue.clone());
        }
        *conn = None;
        let ws = connect(&self.url, self.secret.as_deref(), self.tls.as_ref()).await?;
        let (queue, requests) = mpsc::channel(REQUEST_QUEUE);
        tokio::spawn(run_connection(ws, requests));
        *conn = Some(queue.clone());
        Ok(queue)
    }
}

/// Owns one connection: writes queued requests, routes replies by `request_id`. Ends when the
/// socket fails or closes, or when the backend drops the queue; then every waiting request
/// fails (its reply sender is dropped) and the next request reconnects.
async fn run_connection(mut ws: Ws, mut requests: mpsc::Receiver<Request>) {
    let mut pending: HashMap<RequestId, oneshot::Sender<Reply>> = HashMap::new();
    loop {
        tokio::select! {
            request = requests.recv() => {
                let Some(Request { id, message, reply }) = request else { break };
                if reply.is_closed() {
                    continue; // the caller gave up while queued
                }
                if ws.send(Message::text(encode(&Envelope::new(Some(id), message)))).await.is_err() {
                    break;
                }
                if pending.len() >= 1024 {
                    pending.retain(|_, waiting| !waiting.is_closed()); // callers that timed out
                }
                pending.insert(id, reply);
            }
            frame = ws.next() => match frame {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Text(text))) => route_reply(text.as_str(), &mut pending),
                Some(Ok(_)) => {}
            }
        }
    }
    tracing::debug!(waiting = pending.len(), "signaling connection ended");
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}

fn route_reply(text: &str, pending: &mut HashMap<RequestId, oneshot::Sender<Reply>>) {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        tracing::warn!("signaling server sent something that is not JSON");
        return;
    };
    // Unsolicited messages (hello, room events) carry no request_id; this client ignores them.
    let Some(id) = value.get("request_id").and_then(|v| v.as_u64()) else {
        return;
    };
    let Some(waiting) = pending.remove(&id) else {
        return;
    };
    let reply = serde_json::from_value::<Envelope<ServerMessage>>(value)
        .map(|env| env.message)
        .map_err(|e| ConferenceError::Protocol(format!("cannot read the server's reply: {e}")));
    let _ = waiting.send(reply);
}

#[async_trait]
impl ConferenceBackend for BuiltinBackend {
    async fn lookup_room(&self, room: &str) -> Result<RoomLookup, ConferenceError> {
        match self
            .request(ClientMessage::LookupRoom {
                room: room.to_string(),
            })
            .await?
        {
            ServerMessage::RoomInfo { exists: false, .. } => Ok(RoomLookup::NotFound),
            ServerMessage::RoomInfo { pin_required, .. } => Ok(RoomLookup::Found { pin_required }),
            other => Err(unexpected(&other)),
        }
    }

    async fn check_pin(&self, room: &str, pin: &str) -> Result<bool, ConferenceError> {
        let message = ClientMessage::CheckPin {
            room: room.to_string(),
            pin: pin.to_string(),
        };
        match self.request(message).await? {
            ServerMessage::PinResult { ok, .. } => Ok(ok),
            other => Err(unexpected(&other)),
        }
    }

    async fn join(&self, request: JoinRequest) -> Result<ConferenceSession, ConferenceError> {
        let (url, secret, tls) = (&self.url, self.secret.as_deref(), self.tls.as_ref());
        super::builtin_session::join(url, secret, tls, request, self.timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn backend_is_shareable() {
        assert_send_sync::<BuiltinBackend>();
    }

    #[tokio::test]
    async fn nothing_listening_is_unreachable() {
        // Bind then drop to find a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let backend = BuiltinBackend::new(format!("ws://127.0.0.1:{port}/ws"), None);
        let err = backend.lookup_room("1234").await.unwrap_err();
        assert!(matches!(err, ConferenceError::Unreachable(_)), "{err}");
    }

    #[test]
    fn replies_are_routed_by_request_id() {
        let mut pending = HashMap::new();
        let (tx, mut rx) = oneshot::channel();
        pending.insert(7, tx);
        route_reply(
            r#"{"type":"hello","client_id":1,"version":1}"#,
            &mut pending,
        );
        route_reply(r#"{"type":"pong","request_id":8}"#, &mut pending);
        assert_eq!(pending.len(), 1);
        route_reply(r#"{"type":"new_thing","request_id":7}"#, &mut pending);
        assert!(matches!(
            rx.try_recv().unwrap(),
            Err(ConferenceError::Protocol(_))
        ));
    }
}
