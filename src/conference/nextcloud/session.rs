//! The I/O shell of a call in a Talk room: opens the WebSocket (`ws.rs` one level up), says
//! hello as internal client and joins the room step by step, then one task owns the socket and
//! drives the [`Machine`], carrying out its steps. Dropping the session's command sender
//! removes the caller's virtual session and says bye; a lost socket ends in
//! `Closed { ended: false }` (the caller hears that the conference cannot be reached).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::auth;
use super::machine::{Caller, Machine, PUBLISHER, Step};
use super::options::NextcloudOptions;
use super::protocol::{
    ClientMessage, HelloAuth, HelloRequest, InternalParams, JoinedSession, RoomRequest,
    ServerMessage,
};
use crate::conference::ws::{self, Ws};
use crate::conference::{ConferenceCommand, ConferenceEvent, ConferenceSession};

/// Events waiting for the call actor; when full, reading the socket waits (backpressure).
const EVENT_CAPACITY: usize = 64;
/// Commands waiting to be written; a burst of ICE candidates per peer during setup.
const COMMAND_CAPACITY: usize = 64;
/// How often refused offer requests are retried (a publisher that was not sending yet).
const RETRY: Duration = Duration::from_secs(2);
/// How long leaving may take (bye and its answer).
const LEAVE_TIMEOUT: Duration = Duration::from_secs(1);
/// Largest message accepted from the signaling server, in bytes.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// The internal client is in the room.
pub(super) struct Joined {
    ws: Ws,
    me: String,
    sessions: Vec<JoinedSession>,
    stray: Vec<ServerMessage>,
}

async fn send(ws: &mut Ws, message: &ClientMessage) -> Result<(), String> {
    let text = serde_json::to_string(message).expect("client messages always encode");
    ws.send(Message::text(text))
        .await
        .map_err(|e| format!("connection lost: {e}"))
}

async fn next(ws: &mut Ws) -> Result<ServerMessage, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                if let Some(message) = ServerMessage::parse(text.as_str()) {
                    return Ok(message);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("closed by the server ({frame:?})"));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("connection lost: {e}")),
            None => return Err("connection lost".into()),
        }
    }
}

/// Hello as internal client, then join room `token`. Errors are in words; the caller adds
/// the deadline.
pub(super) async fn join(options: &NextcloudOptions, token: &str) -> Result<Joined, String> {
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(MAX_MESSAGE_BYTES);
    let mut ws = ws::open(options.signaling_url.as_str(), config, Some(&options.tls)).await?;
    let random = auth::random();
    let hello = ClientMessage::Hello {
        id: "hello".into(),
        hello: HelloRequest {
            version: "1.0".into(),
            auth: HelloAuth {
                kind: "internal".into(),
                params: InternalParams {
                    token: auth::internal_token(&options.internal_secret, &random),
                    random,
                    backend: options.backend_url.clone(),
                },
            },
        },
    };
    send(&mut ws, &hello).await?;
    let me = loop {
        match next(&mut ws).await? {
            ServerMessage::Hello { hello, .. } => break hello.sessionid,
            ServerMessage::Error { error, .. } => {
                return Err(format!("hello refused: {} ({})", error.message, error.code));
            }
            _ => {}
        }
    };
    let room = ClientMessage::Room {
        id: "room".into(),
        room: RoomRequest {
            roomid: token.into(),
            sessionid: String::new(),
        },
    };
    send(&mut ws, &room).await?;
    let mut stray = Vec::new();
    loop {
        match next(&mut ws).await? {
            ServerMessage::Room { room, .. } if room.roomid == token => break,
            ServerMessage::Error { error, .. } => {
                return Err(format!(
                    "joining the room refused: {} ({})",
                    error.message, error.code
                ));
            }
            other => stray.push(other),
        }
    }
    // The join event that lists us comes with (or after) the ones for those already there.
    let mut sessions = Vec::new();
    loop {
        match next(&mut ws).await? {
            ServerMessage::Event { event } if event.target == "room" && event.kind == "join" => {
                let us = event.join.iter().any(|s| s.sessionid == me);
                sessions.extend(event.join.into_iter().filter(|s| s.sessionid != me));
                if us {
                    break;
                }
            }
            other => stray.push(other),
        }
    }
    Ok(Joined {
        ws,
        me,
        sessions,
        stray,
    })
}

/// Hands a joined internal client to a new session task; the call hears `Joined` first.
/// `has_call`: Talk says someone is in the call, though their join events may come only after
/// ours (the server sends those of the others after the newcomer's own).
pub(super) fn start(
    joined: Joined,
    room: String,
    caller: Caller,
    has_call: bool,
) -> ConferenceSession {
    let (command_tx, commands) = mpsc::channel(COMMAND_CAPACITY);
    let (events, event_rx) = mpsc::channel(EVENT_CAPACITY);
    let others = Machine::people(&joined.sessions).max(usize::from(has_call));
    let mut machine = Machine::new(joined.me, room, caller, &joined.sessions);
    let first = ConferenceEvent::Joined {
        peers: vec![PUBLISHER.into()],
        others,
    };
    let mut steps = vec![Step::Emit(first)];
    steps.append(&mut machine.steps);
    for message in joined.stray {
        machine.handle(message);
        steps.append(&mut machine.steps);
    }
    tokio::spawn(run(joined.ws, events, machine, steps, commands));
    ConferenceSession {
        commands: command_tx,
        events: event_rx,
        local_id: None,
    }
}

async fn run(
    mut ws: Ws,
    events: mpsc::Sender<ConferenceEvent>,
    mut machine: Machine,
    mut steps: Vec<Step>,
    mut commands: mpsc::Receiver<ConferenceCommand>,
) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + RETRY, RETRY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let lost = loop {
        if let Err(lost) = carry_out(&mut ws, &events, std::mem::take(&mut steps)).await {
            break lost;
        }
        if machine.finished {
            break None;
        }
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => machine.on_command(command),
                None => break None,
            },
            message = next(&mut ws) => match message {
                Ok(message) => machine.handle(message),
                Err(reason) => break Some(reason),
            },
            _ = tick.tick() => machine.tick(),
        }
        steps = std::mem::take(&mut machine.steps);
    };
    match lost {
        Some(reason) => {
            tracing::warn!(%reason, "Talk signaling connection ends");
            let reason = format!("connection to the signaling server lost: {reason}");
            let _ = events
                .send(ConferenceEvent::Closed {
                    ended: false,
                    reason,
                })
                .await;
        }
        None => {
            let leaving = async {
                for message in machine.leave() {
                    send(&mut ws, &message).await?;
                }
                while !matches!(next(&mut ws).await?, ServerMessage::Bye { .. }) {}
                let _ = ws.close(None).await;
                Ok::<_, String>(())
            };
            let _ = tokio::time::timeout(LEAVE_TIMEOUT, leaving).await;
        }
    }
}

/// Carries out steps; `Err(Some(reason))` when the socket broke, `Err(None)` when the call
/// is gone (then we leave politely).
async fn carry_out(
    ws: &mut Ws,
    events: &mpsc::Sender<ConferenceEvent>,
    steps: Vec<Step>,
) -> Result<(), Option<String>> {
    for step in steps {
        match step {
            Step::Send(message) => send(ws, &message).await.map_err(Some)?,
            Step::Emit(event) => events.send(event).await.map_err(|_| None)?,
        }
    }
    Ok(())
}
