//! The sans-IO side of a joined room: what every plugin machine shares ([`Core`]: the session,
//! transaction bookkeeping, the steps to carry out) and the [`RoomMachine`] trait the session
//! task (`session.rs`) drives. A machine turns Janus messages and the call's commands into
//! [`Step`]s and never touches the socket or the clock.

use std::collections::HashMap;

use serde_json::Value;

use super::client::TransactionIds;
use super::protocol::{ERROR_SESSION_NOT_FOUND, Incoming, Jsep, Request, TrickleCandidate};
use crate::conference::{ConferenceCommand, ConferenceEvent};

/// One thing a machine wants done, in order.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    Send(Request),
    Emit(ConferenceEvent),
}

/// What a request we sent is for, so its answer can be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pending {
    /// Keepalive, trickle, detach, configure: the `ack`/`success` is all there is.
    Quiet(&'static str),
    /// Our offer on the handle that publishes (VideoRoom `publish`, AudioBridge `configure`).
    Publish,
    /// A handle for subscribing to `feed`.
    Attach { feed: u64 },
    /// `join` as subscriber to `feed` on `handle`; Janus answers with its offer.
    Subscribe { feed: u64, handle: u64 },
    /// Our answer for `feed` (`start`).
    Start { feed: u64 },
}

/// The state every machine shares: the session, transaction bookkeeping and whether it is over.
#[derive(Debug)]
pub(super) struct Core {
    pub session_id: u64,
    ids: TransactionIds,
    pending: HashMap<String, Pending>,
    pub steps: Vec<Step>,
    /// A terminal event (Kicked, Closed) was emitted: the driver leaves.
    pub finished: bool,
}

impl Core {
    pub fn new(session_id: u64, ids: TransactionIds) -> Core {
        Core {
            session_id,
            ids,
            pending: HashMap::new(),
            steps: Vec::new(),
            finished: false,
        }
    }

    pub fn emit(&mut self, event: ConferenceEvent) {
        if self.finished {
            return;
        }
        if matches!(
            event,
            ConferenceEvent::Kicked | ConferenceEvent::Closed { .. }
        ) {
            self.finished = true;
        }
        self.steps.push(Step::Emit(event));
    }

    pub fn closed(&mut self, ended: bool, reason: impl Into<String>) {
        self.emit(ConferenceEvent::Closed {
            ended,
            reason: reason.into(),
        });
    }

    /// Janus's reply to our offer (publish/configure): its answer goes to `peer`; anything
    /// else means our audio cannot reach the room, which ends the session.
    pub fn offer_answered(&mut self, message: Incoming, peer: &str) {
        if let Some(reason) = message.failure() {
            return self.closed(false, format!("Janus refused our audio: {reason}"));
        }
        match message.into_plugin_reply() {
            Some((_, Some(jsep))) if jsep.kind == "answer" => {
                self.emit(ConferenceEvent::Description {
                    peer: peer.into(),
                    kind: crate::conference::SdpKind::Answer,
                    sdp: jsep.sdp,
                });
            }
            other => self.closed(false, format!("Janus did not answer our offer: {other:?}")),
        }
    }

    pub fn message(&mut self, handle_id: u64, body: Value, jsep: Option<Jsep>, pending: Pending) {
        let transaction = self.ids.next();
        self.pending.insert(transaction.clone(), pending);
        let session_id = self.session_id;
        self.steps.push(Step::Send(Request::Message {
            transaction,
            session_id,
            handle_id,
            body,
            jsep,
        }));
    }

    pub fn attach(&mut self, plugin: &str, pending: Pending) {
        let transaction = self.ids.next();
        self.pending.insert(transaction.clone(), pending);
        let session_id = self.session_id;
        self.steps.push(Step::Send(Request::Attach {
            transaction,
            session_id,
            plugin: plugin.into(),
        }));
    }

    /// Trickles one of our candidates; an empty one means "no more" (`{"completed":true}`).
    pub fn trickle(&mut self, handle_id: u64, sdp_mline_index: u32, candidate: &str) {
        let candidate = match candidate.trim() {
            "" => TrickleCandidate::Completed { completed: true },
            c => TrickleCandidate::Candidate {
                candidate: c.to_string(),
                sdp_mline_index,
                sdp_mid: None,
            },
        };
        let transaction = self.ids.next();
        self.pending
            .insert(transaction.clone(), Pending::Quiet("trickle"));
        let session_id = self.session_id;
        self.steps.push(Step::Send(Request::Trickle {
            transaction,
            session_id,
            handle_id,
            candidate,
        }));
    }

    pub fn detach(&mut self, handle_id: u64) {
        let transaction = self.ids.next();
        self.pending
            .insert(transaction.clone(), Pending::Quiet("detach"));
        let session_id = self.session_id;
        self.steps.push(Step::Send(Request::Detach {
            transaction,
            session_id,
            handle_id,
        }));
    }

    pub fn keepalive(&mut self) {
        let transaction = self.ids.next();
        self.pending
            .insert(transaction.clone(), Pending::Quiet("keepalive"));
        let session_id = self.session_id;
        self.steps.push(Step::Send(Request::Keepalive {
            transaction,
            session_id,
        }));
    }

    /// Handles what is the same for every plugin. Returns the message (and what it answers,
    /// if it answers one of our requests) when the plugin machine must look at it.
    pub fn common(&mut self, message: Incoming) -> Option<(Incoming, Option<Pending>)> {
        let pending = message.transaction().and_then(|t| match &message {
            // An ack only settles requests that get nothing else; the rest wait for their event.
            Incoming::Ack { .. } => match self.pending.get(t) {
                Some(Pending::Quiet(_)) => self.pending.remove(t),
                _ => None,
            },
            _ => self.pending.remove(t),
        });
        match message {
            Incoming::Ack { .. } | Incoming::Other => None,
            Incoming::Error { ref error, .. } if error.code == ERROR_SESSION_NOT_FOUND => {
                self.closed(false, format!("Janus lost our session: {}", error.reason));
                None
            }
            Incoming::Error { ref error, .. }
                if matches!(pending, None | Some(Pending::Quiet(_))) =>
            {
                tracing::warn!(code = error.code, reason = %error.reason, ?pending, "Janus refused a request");
                None
            }
            Incoming::Timeout { .. } => {
                self.closed(false, "Janus timed our session out");
                None
            }
            Incoming::Webrtcup { sender } => {
                tracing::debug!(handle = sender, "Janus: PeerConnection up");
                None
            }
            Incoming::Media {
                sender,
                kind,
                receiving,
            } => {
                tracing::debug!(handle = sender, %kind, receiving, "Janus: media state");
                None
            }
            Incoming::Slowlink { sender } => {
                tracing::debug!(handle = sender, "Janus reports a slow link");
                None
            }
            Incoming::Success { .. } if matches!(pending, Some(Pending::Quiet(_))) => None,
            message => Some((message, pending)),
        }
    }
}

/// A plugin's view of a joined room.
pub(super) trait RoomMachine: Send + 'static {
    fn core(&mut self) -> &mut Core;
    /// A Janus message that `Core::common` left over.
    fn on_message(&mut self, message: Incoming, pending: Option<Pending>);
    fn on_command(&mut self, command: ConferenceCommand);

    fn handle(&mut self, message: Incoming) {
        if let Some((message, pending)) = self.core().common(message) {
            self.on_message(message, pending);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conference::janus::protocol::CoreError;

    fn core() -> Core {
        Core::new(7, TransactionIds::new())
    }

    fn sent(core: &mut Core) -> Vec<Request> {
        core.steps
            .drain(..)
            .filter_map(|s| match s {
                Step::Send(r) => Some(r),
                Step::Emit(_) => None,
            })
            .collect()
    }

    #[test]
    fn acks_settle_only_quiet_requests() {
        let mut core = core();
        core.keepalive();
        core.message(
            3,
            serde_json::json!({"request": "publish"}),
            None,
            Pending::Publish,
        );
        let requests = sent(&mut core);
        let (keepalive, publish) = (
            requests[0].transaction().to_string(),
            requests[1].transaction().to_string(),
        );
        assert_eq!(
            core.common(Incoming::Ack {
                transaction: Some(keepalive)
            }),
            None
        );
        assert_eq!(
            core.common(Incoming::Ack {
                transaction: Some(publish.clone())
            }),
            None
        );
        assert_eq!(
            core.pending.len(),
            1,
            "the publish still waits for its event"
        );
        let event = Incoming::Event {
            transaction: Some(publish),
            sender: 3,
            plugindata: None,
            jsep: None,
        };
        assert_eq!(
            core.common(event.clone()),
            Some((event, Some(Pending::Publish)))
        );
        assert!(core.pending.is_empty());
    }

    #[test]
    fn session_loss_and_timeout_close_once() {
        let mut core = core();
        core.keepalive();
        let t = sent(&mut core)[0].transaction().to_string();
        let error = CoreError {
            code: ERROR_SESSION_NOT_FOUND,
            reason: "No such session 7".into(),
        };
        assert_eq!(
            core.common(Incoming::Error {
                transaction: Some(t),
                error
            }),
            None
        );
        assert_eq!(core.common(Incoming::Timeout { session_id: 7 }), None);
        assert!(core.finished);
        assert!(
            matches!(
                &core.steps[..],
                [Step::Emit(ConferenceEvent::Closed { ended: false, .. })]
            ),
            "{:?}",
            core.steps
        );
    }

    #[test]
    fn empty_candidate_means_completed() {
        let mut core = core();
        core.trickle(3, 0, "");
        core.trickle(3, 0, "candidate:1 1 UDP 1 10.0.0.1 9 typ host");
        let requests = sent(&mut core);
        assert!(matches!(
            &requests[0],
            Request::Trickle {
                candidate: TrickleCandidate::Completed { completed: true },
                ..
            }
        ));
        assert!(matches!(
            &requests[1],
            Request::Trickle {
                candidate: TrickleCandidate::Candidate { .. },
                handle_id: 3,
                ..
            }
        ));
    }
}
