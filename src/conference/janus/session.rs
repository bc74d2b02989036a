//! A joined Janus room: one task owns the WebSocket, sends a keepalive every
//! [`super::JanusOptions::keepalive`], and drives a plugin machine ([`RoomMachine`]: VideoRoom or
//! AudioBridge, sans-IO, see `machine.rs`), carrying out the [`Step`]s it asks for.
//!
//! Ending: dropping the session's command sender destroys the Janus session (which leaves the
//! room) and closes the socket. A lost socket, a session Janus forgot (error 458, `timeout`)
//! or a Janus restart end in `Closed { ended: false }`; a destroyed room in
//! `Closed { ended: true }`; being kicked in `Kicked`. Nothing follows those.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::client::{Client, Credentials, Ws};
use super::machine::{RoomMachine, Step};
use super::protocol::{Incoming, Request};
use crate::conference::{ConferenceCommand, ConferenceEvent, ConferenceSession};

/// Events waiting for the call actor; when full, reading the socket waits (backpressure).
const EVENT_CAPACITY: usize = 64;
/// Commands waiting to be written; a burst of ICE candidates per peer during setup.
const COMMAND_CAPACITY: usize = 64;
/// How long leaving may take (destroying the session, closing the socket).
const LEAVE_TIMEOUT: Duration = Duration::from_secs(1);
/// The transaction of the final `destroy` (the machine's own IDs all contain a dash).
const LEAVE: &str = "leave";

/// Hands the socket of a joined client to a new session task. `first` goes to the call before
/// anything else (the `Joined` event).
pub(super) fn start(
    client: Client,
    mut machine: Box<dyn RoomMachine>,
    first: ConferenceEvent,
    keepalive: Duration,
) -> ConferenceSession {
    let (command_tx, commands) = mpsc::channel(COMMAND_CAPACITY);
    let (events, event_rx) = mpsc::channel(EVENT_CAPACITY);
    // The machine may have work from joining already (subscriptions to present publishers).
    let mut steps = vec![Step::Emit(first)];
    steps.append(&mut machine.core().steps);
    for message in client.stray {
        machine.handle(message);
        steps.append(&mut machine.core().steps);
    }
    let link = Link {
        ws: client.ws,
        credentials: client.credentials,
        events,
    };
    tokio::spawn(run(link, machine, steps, commands, keepalive));
    ConferenceSession {
        commands: command_tx,
        events: event_rx,
        local_id: None,
    }
}

struct Link {
    ws: Ws,
    credentials: Credentials,
    events: mpsc::Sender<ConferenceEvent>,
}

/// Why the loop stopped.
enum End {
    /// The call is gone or the machine finished: leave politely.
    Leave,
    /// The socket is dead; the call was told.
    Lost,
}

async fn run(
    mut link: Link,
    mut machine: Box<dyn RoomMachine>,
    mut steps: Vec<Step>,
    mut commands: mpsc::Receiver<ConferenceCommand>,
    keepalive: Duration,
) {
    let start = tokio::time::Instant::now() + keepalive;
    let mut tick = tokio::time::interval_at(start, keepalive);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = loop {
        if let Err(end) = link.carry_out(std::mem::take(&mut steps)).await {
            break end;
        }
        if machine.core().finished {
            break End::Leave;
        }
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => machine.on_command(command),
                None => break End::Leave,
            },
            frame = link.ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Some(message) = Incoming::parse(text.as_str()) {
                        machine.handle(message);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    break link.lost(format!("Janus closed the connection ({frame:?})")).await;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break link.lost(format!("connection to Janus lost: {e}")).await,
                None => break link.lost("connection to Janus lost".into()).await,
            },
            _ = tick.tick() => machine.core().keepalive(),
        }
        steps = std::mem::take(&mut machine.core().steps);
    };
    if let End::Leave = end {
        let session_id = machine.core().session_id;
        let destroy = Request::Destroy {
            transaction: LEAVE.into(),
            session_id,
        };
        let frame = Message::text(link.credentials.wrap(destroy).encode());
        let leaving = async {
            let _ = link.ws.send(frame).await;
            // Janus handles requests on a thread pool: closing at once could overtake the
            // destroy. Wait for its answer.
            while let Some(Ok(frame)) = link.ws.next().await {
                let Message::Text(text) = frame else { continue };
                if Incoming::parse(text.as_str()).is_some_and(|m| m.transaction() == Some(LEAVE)) {
                    break;
                }
            }
            let _ = link.ws.close(None).await;
        };
        let _ = tokio::time::timeout(LEAVE_TIMEOUT, leaving).await;
    }
}

impl Link {
    async fn carry_out(&mut self, steps: Vec<Step>) -> Result<(), End> {
        for step in steps {
            match step {
                Step::Send(request) => {
                    let frame = Message::text(self.credentials.wrap(request).encode());
                    if let Err(e) = self.ws.send(frame).await {
                        return Err(self.lost(format!("connection to Janus lost: {e}")).await);
                    }
                }
                Step::Emit(event) => {
                    if self.events.send(event).await.is_err() {
                        return Err(End::Leave); // the call is gone
                    }
                }
            }
        }
        Ok(())
    }

    async fn lost(&mut self, reason: String) -> End {
        tracing::warn!(%reason, "Janus session ends");
        let _ = self
            .events
            .send(ConferenceEvent::Closed {
                ended: false,
                reason,
            })
            .await;
        End::Lost
    }
}
