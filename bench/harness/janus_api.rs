//! A tiny client of the Janus API over WebSocket for the bench's Janus peer: one connection and
//! one session, many plugin handles on it, replies matched to requests by transaction, and a
//! keepalive well inside Janus's `session_timeout`. dialbridge's own Janus client is private to
//! its backend and speaks only what a joining call needs; the bench needs room administration
//! and plain-RTP joins, so it keeps this one of its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::common::tools::lock;

/// Janus's websockets transport only accepts this subprotocol.
const SUBPROTOCOL: &str = "janus-protocol";
/// Keepalive period: under every `session_timeout` the bench starts Janus with (60 s).
const KEEPALIVE: Duration = Duration::from_secs(20);
/// How long a request may wait for its answer (joins of many callers queue up in the plugin).
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);

/// Who waits for the reply to which transaction.
type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// One Janus session on its own WebSocket.
pub struct JanusApi {
    /// Requests to the writer task.
    out: mpsc::UnboundedSender<Value>,
    waiters: Waiters,
    next_transaction: AtomicU64,
    api_secret: String,
    session: u64,
    tasks: Vec<JoinHandle<()>>,
}

impl JanusApi {
    /// Connects to `url` (`ws://…`), creates a session and keeps it alive. Must run inside a
    /// tokio runtime.
    pub async fn connect(url: &str, api_secret: &str) -> Result<JanusApi, String> {
        let mut request = url
            .into_client_request()
            .map_err(|e| format!("bad Janus URL {url}: {e}"))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| format!("cannot connect to Janus at {url}: {e}"))?;
        let (mut sink, stream) = ws.split();
        let (out, mut queue) = mpsc::unbounded_channel::<Value>();
        let writer = tokio::spawn(async move {
            while let Some(request) = queue.recv().await {
                if sink.send(Message::text(request.to_string())).await.is_err() {
                    return;
                }
            }
        });
        let waiters: Waiters = Arc::default();
        let reader = tokio::spawn(dispatch_replies(stream, waiters.clone()));
        let mut api = JanusApi {
            out,
            waiters,
            next_transaction: AtomicU64::new(1),
            api_secret: api_secret.to_string(),
            session: 0,
            tasks: vec![writer, reader],
        };
        let created = api.call(json!({"janus": "create"})).await?;
        api.session = created["data"]["id"]
            .as_u64()
            .ok_or_else(|| format!("Janus created no session: {created}"))?;
        let keepalive = api.keepalive();
        api.tasks.push(keepalive);
        Ok(api)
    }

    /// Attaches a handle to `plugin` (e.g. `janus.plugin.audiobridge`); returns its ID.
    pub async fn attach(&self, plugin: &str) -> Result<u64, String> {
        let reply = self
            .call(json!({"janus": "attach", "plugin": plugin}))
            .await?;
        reply["data"]["id"]
            .as_u64()
            .ok_or_else(|| format!("Janus attached no handle: {reply}"))
    }

    /// Sends a plugin request on `handle` and returns the plugin's data: the synchronous answer,
    /// or for asynchronous requests (`join`) the event that answers it. A plugin error
    /// (`error_code`) becomes `Err`.
    pub async fn message(&self, handle: u64, body: Value) -> Result<Value, String> {
        let what = body["request"].as_str().unwrap_or("?").to_string();
        let reply = self
            .call(json!({"janus": "message", "handle_id": handle, "body": body}))
            .await?;
        let data = &reply["plugindata"]["data"];
        if data.is_null() {
            return Err(format!(
                "Janus answered {what} without plugin data: {reply}"
            ));
        }
        if let Some(code) = data["error_code"].as_u64() {
            return Err(format!("{what} refused: {code} {}", data["error"]));
        }
        Ok(data.clone())
    }

    /// Destroys the session (Janus detaches its handles: their participants leave their rooms)
    /// and closes the connection.
    pub async fn close(self) {
        let _ = self.call(json!({"janus": "destroy"})).await;
    }

    /// Sends `request` with a fresh transaction, the API secret and the session, and waits for
    /// the answer (an `ack` is not one). A Janus core error becomes `Err`.
    async fn call(&self, mut request: Value) -> Result<Value, String> {
        let id = self.next_transaction.fetch_add(1, Ordering::Relaxed);
        let transaction = format!("bench-{id}");
        request["transaction"] = json!(transaction);
        request["apisecret"] = json!(self.api_secret);
        if self.session != 0 {
            request["session_id"] = json!(self.session);
        }
        let what = request["janus"].as_str().unwrap_or("?").to_string();
        let (answer, answered) = oneshot::channel();
        lock(&self.waiters).insert(transaction, answer);
        self.out
            .send(request)
            .map_err(|_| "the Janus connection is gone".to_string())?;
        let reply = tokio::time::timeout(REPLY_TIMEOUT, answered)
            .await
            .map_err(|_| format!("Janus did not answer {what} within {REPLY_TIMEOUT:?}"))?
            .map_err(|_| format!("Janus closed the connection before answering {what}"))?;
        if reply["janus"] == "error" {
            let error = &reply["error"];
            return Err(format!(
                "Janus refused {what}: {} {}",
                error["code"], error["reason"]
            ));
        }
        Ok(reply)
    }

    /// Sends a keepalive every [`KEEPALIVE`]; Janus acks it, which nobody waits for.
    fn keepalive(&self) -> JoinHandle<()> {
        let out = self.out.clone();
        let request = json!({
            "janus": "keepalive",
            "session_id": self.session,
            "apisecret": self.api_secret,
            "transaction": "keepalive",
        });
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEEPALIVE);
            tick.tick().await;
            loop {
                tick.tick().await;
                if out.send(request.clone()).is_err() {
                    return;
                }
            }
        })
    }
}

impl Drop for JanusApi {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

/// Hands each answer to whoever waits for its transaction; acks and events nobody asked for
/// (other participants joining) are dropped. When the connection ends, every waiter learns.
async fn dispatch_replies<S>(mut stream: S, waiters: Waiters)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(Ok(frame)) = stream.next().await {
        let Ok(text) = frame.to_text() else { continue };
        let Ok(reply) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        if reply["janus"] == "ack" {
            continue;
        }
        let Some(transaction) = reply["transaction"].as_str() else {
            continue;
        };
        if let Some(waiter) = lock(&waiters).remove(transaction) {
            let _ = waiter.send(reply);
        }
    }
    lock(&waiters).clear();
}
