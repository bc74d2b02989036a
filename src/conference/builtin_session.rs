//! One call's membership in a built-in signaling room: its own WebSocket (the server knows a
//! participant by its connection), a `join` as a phone participant, then one task that turns
//! commands into `signal`/`set_muted` messages and server messages into [`ConferenceEvent`]s.
//! Dropping the session's command sender leaves the room and closes the socket.
//!
//! Signal payloads follow the page's convention (docs/signaling-protocol.md):
//! `{"sdp":{"type":"offer","sdp":"…"}}` and `{"ice":{"candidate":"…","sdpMLineIndex":0}}`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::ClientConfig;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::builtin_wire::{Ws, connect, encode, exchange, unexpected};
use super::{
    ConferenceCommand, ConferenceError, ConferenceEvent, ConferenceSession, JoinRequest, SdpKind,
};
use crate::signaling::protocol::{
    ClientId, ClientMessage, Envelope, ParticipantKind, ServerMessage,
};

/// Events waiting for the call actor; when full, reading the socket waits (backpressure).
const EVENT_CAPACITY: usize = 64;
/// Commands waiting to be written; the actor sends a few per peer during setup.
const COMMAND_CAPACITY: usize = 64;
const JOIN_REQUEST_ID: u64 = 1;

/// Connects and joins; fails with `Protocol` when the server refuses (e.g. wrong PIN).
pub(super) async fn join(
    url: &str,
    secret: Option<&str>,
    tls: Option<&Arc<ClientConfig>>,
    request: JoinRequest,
    timeout: Duration,
) -> Result<ConferenceSession, ConferenceError> {
    let joined = tokio::time::timeout(timeout, connect_and_join(url, secret, tls, request)).await;
    let (ws, me, peers) =
        joined.map_err(|_| ConferenceError::Unreachable(format!("{url}: join timed out")))??;
    let (command_tx, commands) = mpsc::channel(COMMAND_CAPACITY);
    let (events, event_rx) = mpsc::channel(EVENT_CAPACITY);
    let peers: Vec<String> = peers
        .into_iter()
        .filter(|p| *p != me)
        .map(|p| p.to_string())
        .collect();
    let others = peers.len();
    // Cannot fail: the receiver is in our hands until we return it.
    let _ = events.try_send(ConferenceEvent::Joined { peers, others });
    tokio::spawn(run(ws, me, commands, events));
    Ok(ConferenceSession {
        commands: command_tx,
        events: event_rx,
        local_id: Some(me.to_string()),
    })
}

async fn connect_and_join(
    url: &str,
    secret: Option<&str>,
    tls: Option<&Arc<ClientConfig>>,
    request: JoinRequest,
) -> Result<(Ws, ClientId, Vec<ClientId>), ConferenceError> {
    let mut ws = connect(url, secret, tls).await?;
    let join = ClientMessage::Join {
        room: request.room,
        pin: request.pin,
        display_name: request.display_name,
        kind: ParticipantKind::Phone,
        caller: request.caller,
        host_key: None,
    };
    let request = Envelope::new(Some(JOIN_REQUEST_ID), join);
    match exchange(&mut ws, url, "while joining", request).await? {
        ServerMessage::Joined {
            client_id,
            participants,
            ..
        } => Ok((
            ws,
            client_id,
            participants.into_iter().map(|p| p.client_id).collect(),
        )),
        ServerMessage::Error { message, .. } => Err(ConferenceError::Protocol(format!(
            "join refused: {message}"
        ))),
        other => Err(unexpected(&other)),
    }
}

async fn run(
    mut ws: Ws,
    me: ClientId,
    mut commands: mpsc::Receiver<ConferenceCommand>,
    events: mpsc::Sender<ConferenceEvent>,
) {
    let closed = loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else {
                    let _ = ws.send(Message::text(encode(&Envelope::new(None, ClientMessage::Leave)))).await;
                    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                    return; // the call is gone: nobody to tell
                };
                let Some(message) = to_message(command) else { continue };
                if let Err(e) = ws.send(Message::text(encode(&Envelope::new(None, message)))).await {
                    break ConferenceEvent::Closed { ended: false, reason: format!("signaling connection lost: {e}") };
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let Some(event) = to_event(text.as_str(), me) else { continue };
                    let kicked = event == ConferenceEvent::Kicked;
                    if events.send(event).await.is_err() || kicked {
                        return;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let ended = frame.as_ref().is_some_and(|f| f.code == CloseCode::Away);
                    break ConferenceEvent::Closed { ended, reason: format!("signaling server closed the connection ({frame:?})") };
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break ConferenceEvent::Closed { ended: false, reason: format!("signaling connection lost: {e}") },
                None => break ConferenceEvent::Closed { ended: false, reason: "signaling connection lost".into() },
            }
        }
    };
    let _ = events.send(closed).await;
}

fn to_message(command: ConferenceCommand) -> Option<ClientMessage> {
    let (peer, payload) = match command {
        ConferenceCommand::SetMuted(muted) => return Some(ClientMessage::SetMuted { muted }),
        // Browsers take the end of candidates from ICE itself.
        ConferenceCommand::CandidatesDone { .. } | ConferenceCommand::SetTalking(_) => return None,
        ConferenceCommand::Description { peer, kind, sdp } => {
            let kind = match kind {
                SdpKind::Offer => "offer",
                SdpKind::Answer => "answer",
            };
            (peer, json!({ "sdp": { "type": kind, "sdp": sdp } }))
        }
        ConferenceCommand::Candidate {
            peer,
            sdp_mline_index,
            candidate,
        } => (
            peer,
            json!({ "ice": { "candidate": candidate, "sdpMLineIndex": sdp_mline_index } }),
        ),
    };
    let to = peer.parse().ok()?;
    Some(ClientMessage::Signal { to, payload })
}

/// Server messages the call cares about; `None` for the rest (and for garbage, which is logged).
fn to_event(text: &str, me: ClientId) -> Option<ConferenceEvent> {
    let message = match serde_json::from_str::<Envelope<ServerMessage>>(text) {
        Ok(envelope) => envelope.message,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable message from the signaling server");
            return None;
        }
    };
    match message {
        ServerMessage::ParticipantJoined { participant, .. } if participant.client_id != me => {
            Some(ConferenceEvent::PeerJoined {
                peer: participant.client_id.to_string(),
            })
        }
        ServerMessage::ParticipantLeft { client_id, .. } if client_id != me => {
            Some(ConferenceEvent::PeerLeft {
                peer: client_id.to_string(),
            })
        }
        ServerMessage::Signal { from, payload } => signal_event(from.to_string(), &payload),
        ServerMessage::Muted { .. } => Some(ConferenceEvent::MutedByHost),
        ServerMessage::Kicked { .. } => Some(ConferenceEvent::Kicked),
        ServerMessage::Error { message, .. } => {
            tracing::warn!(%message, "signaling server reported an error");
            None
        }
        _ => None,
    }
}

fn signal_event(peer: String, payload: &Value) -> Option<ConferenceEvent> {
    if let Some(sdp) = payload.get("sdp") {
        let kind = match sdp.get("type")?.as_str()? {
            "offer" => SdpKind::Offer,
            "answer" => SdpKind::Answer,
            _ => return None,
        };
        let sdp = sdp.get("sdp")?.as_str()?.to_string();
        return Some(ConferenceEvent::Description { peer, kind, sdp });
    }
    let ice = payload.get("ice")?;
    let candidate = ice.get("candidate")?.as_str()?.to_string();
    let sdp_mline_index = ice
        .get("sdpMLineIndex")
        .and_then(Value::as_u64)
        .unwrap_or(0) as u32;
    Some(ConferenceEvent::Candidate {
        peer,
        sdp_mline_index,
        candidate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_map_both_ways() {
        let offer = ConferenceCommand::Description {
            peer: "7".into(),
            kind: SdpKind::Offer,
            sdp: "v=0".into(),
        };
        let Some(ClientMessage::Signal { to, payload }) = to_message(offer) else {
            panic!("not a signal")
        };
        assert_eq!(to, 7);
        assert_eq!(
            signal_event("7".into(), &payload),
            Some(ConferenceEvent::Description {
                peer: "7".into(),
                kind: SdpKind::Offer,
                sdp: "v=0".into()
            })
        );
        let ice = ConferenceCommand::Candidate {
            peer: "7".into(),
            sdp_mline_index: 0,
            candidate: "candidate:1".into(),
        };
        let Some(ClientMessage::Signal { payload, .. }) = to_message(ice) else {
            panic!("not a signal")
        };
        assert_eq!(
            signal_event("7".into(), &payload),
            Some(ConferenceEvent::Candidate {
                peer: "7".into(),
                sdp_mline_index: 0,
                candidate: "candidate:1".into()
            })
        );
    }

    #[test]
    fn junk_is_ignored_not_fatal() {
        assert_eq!(
            to_message(ConferenceCommand::Description {
                peer: "x".into(),
                kind: SdpKind::Answer,
                sdp: String::new()
            }),
            None
        );
        assert_eq!(
            signal_event("1".into(), &json!({"sdp": {"type": "pranswer", "sdp": ""}})),
            None
        );
        assert_eq!(signal_event("1".into(), &json!({"nothing": 1})), None);
        assert_eq!(to_event("not json", 1), None);
        assert_eq!(
            to_event(r#"{"type":"participant_left","room":"1","client_id":1}"#, 1),
            None
        );
        assert_eq!(
            to_event(r#"{"type":"participant_left","room":"1","client_id":2}"#, 1),
            Some(ConferenceEvent::PeerLeft { peer: "2".into() })
        );
    }
}
