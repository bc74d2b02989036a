//! One WebSocket connection: a single task that reads client frames, answers them, and writes
//! queued messages from other participants. Bad input is answered with an `error` and the
//! connection stays open; protocol violations (binary frames, a wrong secret, too many bad
//! messages in a row) get an `error` and then a close frame. A participant removed by a host
//! gets `kicked`, then a normal close frame.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use tokio::sync::{mpsc, oneshot, watch};

use super::SignalingState;
use super::protocol::{
    ClientId, ClientMessage, Envelope, ErrorCode, MAX_MESSAGE_BYTES, PROTOCOL_VERSION, RequestId,
    ServerMessage,
};
use super::rooms::{Joiner, Refusal, constant_time_eq};
use crate::shutdown::stopped;

/// Frames queued for one client (relayed signals, join/leave notices). When full, further
/// unsolicited messages to this client are dropped and counted in
/// `signaling_dropped_messages_total`: a client that does not read must not stall others.
pub const MAILBOX_CAPACITY: usize = 256;

/// Bad messages in a row after which the connection is closed.
pub const MAX_CONSECUTIVE_ERRORS: u32 = 16;

/// What to do after one client frame.
struct Outcome {
    reply: Option<String>,
    close: bool,
}

struct Connection {
    id: ClientId,
    peer: IpAddr,
    authed: bool,
    /// The phone bridge (authenticated with the secret or bridge token): not guess-limited.
    trusted: bool,
    consecutive_errors: u32,
}

/// Serves one upgraded socket until the client leaves, the socket fails, or `shutdown` turns
/// true (or its sender goes away). `_drain` is dropped when this returns, which lets
/// [`super::serve`] wait for all connections.
pub(super) async fn run(
    mut socket: WebSocket,
    peer: IpAddr,
    state: SignalingState,
    mut shutdown: watch::Receiver<bool>,
    _drain: mpsc::Sender<()>,
) {
    let metrics = &state.inner.metrics;
    let (tx, mut mailbox) = mpsc::channel::<Utf8Bytes>(MAILBOX_CAPACITY);
    let (farewell_tx, mut farewell) = oneshot::channel::<Utf8Bytes>();
    let id = state.registry().add_client(tx, farewell_tx);
    metrics.connections_active.fetch_add(1, Ordering::Relaxed);
    metrics.connections_total.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(client = id, "signaling client connected");

    let mut conn = Connection {
        id,
        peer,
        authed: state.secret.is_none(),
        trusted: false,
        consecutive_errors: 0,
    };
    let hello = encode(
        None,
        &ServerMessage::Hello {
            client_id: id,
            version: PROTOCOL_VERSION,
        },
    );
    let mut open = socket.send(Message::Text(hello.into())).await.is_ok();
    while open {
        // A removal is acted on before any further frame of this client is read.
        if let Ok(text) = farewell.try_recv() {
            say_goodbye(&mut socket, Some(text)).await;
            break;
        }
        tokio::select! {
            () = stopped(&mut shutdown) => {
                let frame = CloseFrame { code: close_code::AWAY, reason: "server shutting down".into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                break;
            }
            bye = &mut farewell => {
                // The branch ends the loop, so the finished receiver is never polled again.
                say_goodbye(&mut socket, bye.ok()).await;
                break;
            }
            Some(text) = mailbox.recv() => {
                open = socket.send(Message::Text(text)).await.is_ok();
            }
            incoming = socket.recv() => {
                let outcome = match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Binary(_))) => {
                        conn.refuse(&state, None, (ErrorCode::BinaryFrame, "only JSON text frames are accepted".into()), true)
                    }
                    Some(Ok(Message::Text(text))) => conn.handle_text(&state, text.as_str()),
                };
                if let Some(reply) = outcome.reply {
                    open = socket.send(Message::Text(reply.into())).await.is_ok();
                }
                if outcome.close {
                    let frame = CloseFrame { code: close_code::POLICY, reason: "protocol violation".into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    break;
                }
            }
        }
    }
    state.registry().remove_client(id, metrics);
    metrics.connections_active.fetch_sub(1, Ordering::Relaxed);
    tracing::debug!(client = id, "signaling client disconnected");
}

/// Sends the `kicked` notice (the registry already took this client out of its room), then a
/// normal close frame.
async fn say_goodbye(socket: &mut WebSocket, notice: Option<Utf8Bytes>) {
    if let Some(text) = notice {
        let _ = socket.send(Message::Text(text)).await;
    }
    let frame = CloseFrame {
        code: close_code::NORMAL,
        reason: "removed by a host".into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

fn encode(request_id: Option<RequestId>, msg: &ServerMessage) -> String {
    serde_json::to_string(&Envelope::new(request_id, msg))
        .expect("server messages always serialize: plain strings, numbers and JSON values")
}

impl Connection {
    fn handle_text(&mut self, state: &SignalingState, text: &str) -> Outcome {
        state
            .inner
            .metrics
            .messages_total
            .fetch_add(1, Ordering::Relaxed);
        match parse(text) {
            Err((request_id, refusal)) => self.refuse(state, request_id, refusal, false),
            Ok(Envelope {
                request_id,
                message,
            }) => match self.dispatch(state, message) {
                Ok(reply) => {
                    self.consecutive_errors = 0;
                    Outcome {
                        reply: reply.map(|r| encode(request_id, &r)),
                        close: false,
                    }
                }
                Err((refusal, close)) => self.refuse(state, request_id, refusal, close),
            },
        }
    }

    fn refuse(
        &mut self,
        state: &SignalingState,
        request_id: Option<RequestId>,
        (mut code, mut message): Refusal,
        mut close: bool,
    ) -> Outcome {
        state
            .inner
            .metrics
            .errors_total
            .fetch_add(1, Ordering::Relaxed);
        self.consecutive_errors += 1;
        if self.consecutive_errors >= MAX_CONSECUTIVE_ERRORS && !close {
            (code, message, close) = (
                ErrorCode::TooManyErrors,
                format!("{message}; too many bad messages in a row"),
                true,
            );
        }
        tracing::debug!(client = self.id, ?code, %message, "signaling request refused");
        Outcome {
            reply: Some(encode(request_id, &ServerMessage::Error { code, message })),
            close,
        }
    }

    /// Runs one request. `Ok(None)`: no reply (a relayed signal). `Err((_, true))`: close after.
    /// Requests that probe room IDs and PINs go through the guessing limit (unless trusted).
    fn dispatch(
        &mut self,
        state: &SignalingState,
        message: ClientMessage,
    ) -> Result<Option<ServerMessage>, (Refusal, bool)> {
        let needs_auth = matches!(
            message,
            ClientMessage::LookupRoom { .. } | ClientMessage::CheckPin { .. }
        );
        if needs_auth && !self.authed {
            return Err((
                (
                    ErrorCode::Unauthorized,
                    "send auth with the shared secret first".into(),
                ),
                false,
            ));
        }
        let guessing = state.guessing.as_ref().filter(|_| !self.trusted);
        let guessing = guessing.filter(|_| super::guard::probes(&message));
        if let Some(refusal) = guessing.and_then(|g| g.refusal(self.peer, Instant::now())) {
            return Err((refusal, false));
        }
        let answer = self.answer(state, message);
        if let Some(g) = guessing {
            g.observe(self.peer, &answer, Instant::now());
        }
        answer
    }

    /// Answers one request that passed the checks of `dispatch`.
    fn answer(
        &mut self,
        state: &SignalingState,
        message: ClientMessage,
    ) -> Result<Option<ServerMessage>, (Refusal, bool)> {
        let metrics = &state.inner.metrics;
        let keep = |r: Result<ServerMessage, Refusal>| r.map(Some).map_err(|e| (e, false));
        match message {
            ClientMessage::Auth { secret } => {
                let matches =
                    |expected: Option<&str>| expected.is_some_and(|e| constant_time_eq(e, &secret));
                let bridge =
                    matches(state.secret.as_deref()) || matches(state.bridge_token.as_deref());
                if state.secret.is_some() && !bridge {
                    return Err(((ErrorCode::Unauthorized, "wrong secret".into()), true));
                }
                self.authed = true;
                self.trusted = bridge;
                Ok(Some(ServerMessage::AuthOk))
            }
            ClientMessage::LookupRoom { room } => keep(state.registry().lookup(&room)),
            ClientMessage::CheckPin { room, pin } => keep(state.registry().check_pin(&room, &pin)),
            ClientMessage::CreateRoom { room, name, pin } => {
                let created =
                    state
                        .registry()
                        .create(self.id, room.as_deref(), &name, pin.as_deref());
                if let Ok(ServerMessage::HostRoomCreated { room, .. }) = &created {
                    tracing::info!(client = self.id, room, name, "room created");
                }
                keep(created)
            }
            ClientMessage::Join {
                room,
                pin,
                display_name,
                kind,
                caller,
                host_key,
            } => {
                let joiner = Joiner {
                    pin: pin.as_deref(),
                    display_name: &display_name,
                    kind,
                    caller: caller.as_deref(),
                    host_key: host_key.as_deref(),
                };
                keep(state.registry().join(self.id, &room, joiner, metrics))
            }
            ClientMessage::JoinOrCreate {
                room,
                pin,
                display_name,
                kind,
                host_key,
            } => {
                let joiner = Joiner {
                    pin: pin.as_deref(),
                    display_name: &display_name,
                    kind,
                    caller: None,
                    host_key: host_key.as_deref(),
                };
                let joined =
                    state
                        .registry()
                        .join_or_create(self.id, room.as_deref(), joiner, metrics);
                if let Ok(ServerMessage::Joined {
                    room, host: true, ..
                }) = &joined
                {
                    tracing::info!(client = self.id, room, "host joined (join_or_create)");
                }
                keep(joined)
            }
            ClientMessage::Leave => keep(state.registry().leave(self.id, metrics)),
            ClientMessage::Signal { to, payload } => state
                .registry()
                .signal(self.id, to, payload, metrics)
                .map(|()| None)
                .map_err(|e| (e, false)),
            ClientMessage::SetMuted { muted } => {
                keep(state.registry().set_muted(self.id, muted, metrics))
            }
            ClientMessage::Mute { client_id } => {
                keep(state.registry().mute(self.id, client_id, metrics))
            }
            ClientMessage::Kick { client_id } => {
                let kicked = state.registry().kick(self.id, client_id, metrics);
                if kicked.is_ok() {
                    tracing::info!(
                        host = self.id,
                        client = client_id,
                        "participant removed by host"
                    );
                }
                keep(kicked)
            }
            ClientMessage::Ping => Ok(Some(ServerMessage::Pong)),
        }
    }
}

/// Parses one text frame, telling apart the kinds of bad input. On error, returns the
/// `request_id` when it could be read, so even errors can be matched to their request.
fn parse(text: &str) -> Result<Envelope<ClientMessage>, (Option<RequestId>, Refusal)> {
    if text.len() > MAX_MESSAGE_BYTES {
        let msg = format!(
            "message is {} bytes, the limit is {MAX_MESSAGE_BYTES}",
            text.len()
        );
        return Err((None, (ErrorCode::TooLarge, msg)));
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| (None, (ErrorCode::BadJson, format!("not valid JSON: {e}"))))?;
    let Some(object) = value.as_object() else {
        return Err((None, (ErrorCode::BadJson, "expected a JSON object".into())));
    };
    let request_id = match object.get("request_id") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or((
            None,
            (
                ErrorCode::BadMessage,
                "request_id must be a non-negative integer".to_string(),
            ),
        ))?),
    };
    match object.get("type").and_then(|t| t.as_str()) {
        None => {
            return Err((
                request_id,
                (
                    ErrorCode::UnknownType,
                    "missing string field \"type\"".into(),
                ),
            ));
        }
        Some(t) if !ClientMessage::TYPES.contains(&t) => {
            return Err((
                request_id,
                (
                    ErrorCode::UnknownType,
                    format!("unknown message type {t:?}"),
                ),
            ));
        }
        Some(_) => {}
    }
    serde_json::from_value(value).map_err(|e| (request_id, (ErrorCode::BadMessage, e.to_string())))
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
