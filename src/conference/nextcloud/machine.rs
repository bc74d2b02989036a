//! The sans-IO side of a call in a Talk room: the internal client has said hello and joined;
//! the machine adds the caller's virtual session, publishes the caller's audio from the
//! internal session (peer [`PUBLISHER`]), subscribes to every other session in the call that
//! has audio (`requestoffer`; peer = its signaling session ID), and turns moderator control
//! messages into the call's events. Server messages and the call's commands go in, [`Step`]s
//! come out; no socket, no clock (the shell calls [`Machine::tick`] now and then).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::protocol::{
    AddSession, ClientMessage, Delivered, Event, FLAG_MUTED, FLAG_TALKING, IN_CALL, Internal,
    JoinedSession, Outgoing, PhoneUser, ROOM_TYPE, Recipient, RemoveSession, ServerMessage,
    UpdateSession, WITH_AUDIO, mute_requested, sdp_of,
};
use crate::conference::{ConferenceCommand, ConferenceEvent, SdpKind};

/// The peer that carries the caller's audio into the room.
pub const PUBLISHER: &str = "publisher";

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    Send(ClientMessage),
    Emit(ConferenceEvent),
}

/// One subscription to another session's audio.
#[derive(Debug, Clone, PartialEq)]
enum Sub {
    /// `requestoffer` sent, no offer yet.
    Requested,
    /// The server refused (the publisher was not sending yet): ask again on the next tick.
    Retry,
    /// Its offer came (with this `sid`) and went to the call.
    Offered { sid: String },
}

/// Who the caller is in the room.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Caller {
    /// Our name of the virtual session (unique per call).
    pub callid: String,
    /// The masked number, shown as number and display name.
    pub number: String,
}

pub(super) struct Machine {
    me: String,
    room: String,
    callid: String,
    flags: u32,
    /// Stream ID of our publisher.
    sid: String,
    /// Our candidates wait until the answer to our offer arrived.
    answered: bool,
    held: Vec<(u32, String)>,
    /// Nextcloud session ID → signaling session ID, from room join events (updates name
    /// users by either, depending on the server version).
    nc_sessions: HashMap<String, String>,
    subs: HashMap<String, Sub>,
    /// Message ID of a `requestoffer` or our offer → the session it was for.
    requests: HashMap<String, String>,
    next_id: u64,
    pub steps: Vec<Step>,
    /// A terminal event went out; the shell leaves.
    pub finished: bool,
}

impl Machine {
    /// The internal client `me` is in `room`: the caller's virtual session is added now.
    pub fn new(me: String, room: String, caller: Caller, joined: &[JoinedSession]) -> Machine {
        let mut machine = Machine {
            me,
            room,
            callid: caller.callid.clone(),
            flags: 0,
            sid: format!("{:08x}", rand::random::<u32>()),
            answered: false,
            held: Vec::new(),
            nc_sessions: HashMap::new(),
            subs: HashMap::new(),
            requests: HashMap::new(),
            next_id: 0,
            steps: Vec::new(),
            finished: false,
        };
        let add = AddSession {
            sessionid: caller.callid.clone(),
            roomid: machine.room.clone(),
            flags: machine.flags,
            user: PhoneUser {
                kind: "phone".into(),
                callid: caller.callid,
                displayname: caller.number.clone(),
                number: caller.number,
            },
        };
        machine.send(ClientMessage::Internal {
            internal: Internal::Add { addsession: add },
        });
        machine.joined(joined);
        machine
    }

    /// How many people (web users and phone callers) a room join event lists besides us.
    pub fn people(joined: &[JoinedSession]) -> usize {
        joined.iter().filter(|s| s.is_person()).count()
    }

    fn send(&mut self, message: ClientMessage) {
        self.steps.push(Step::Send(message));
    }

    fn emit(&mut self, event: ConferenceEvent) {
        if self.finished {
            return;
        }
        self.finished = matches!(
            event,
            ConferenceEvent::Kicked | ConferenceEvent::Closed { .. }
        );
        self.steps.push(Step::Emit(event));
    }

    fn closed(&mut self, ended: bool, reason: impl Into<String>) {
        let reason = reason.into();
        self.emit(ConferenceEvent::Closed { ended, reason });
    }

    fn message_to(&mut self, session: &str, id: Option<String>, data: Value) {
        self.send(ClientMessage::Message {
            id,
            message: Outgoing {
                recipient: Recipient::session(session),
                data,
            },
        });
    }

    fn request_id(&mut self, session: &str) -> String {
        self.next_id += 1;
        let id = format!("m{}", self.next_id);
        self.requests.insert(id.clone(), session.to_string());
        id
    }

    /// The signaling session a `peer` name stands for.
    fn session_of(&self, peer: &str) -> String {
        if peer == PUBLISHER {
            self.me.clone()
        } else {
            peer.to_string()
        }
    }

    pub fn handle(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Event { event } => self.event(event),
            ServerMessage::Message { message } => self.delivered(message, false),
            ServerMessage::Control { control } => self.delivered(control, true),
            ServerMessage::Error { id, error } => {
                let session = id.and_then(|id| self.requests.remove(&id));
                match session {
                    Some(s) if s == self.me => self.closed(
                        false,
                        format!("the signaling server refused our audio: {}", error.message),
                    ),
                    Some(s) => {
                        tracing::debug!(session = %s, code = %error.code, "offer request refused; retrying later");
                        self.subs.insert(s, Sub::Retry);
                    }
                    None => {
                        tracing::warn!(code = %error.code, message = %error.message, "signaling error")
                    }
                }
            }
            ServerMessage::Bye { bye } => self.closed(
                true,
                format!(
                    "the signaling server said goodbye ({})",
                    bye.unwrap_or_default()
                ),
            ),
            ServerMessage::Room { room, .. } if room.roomid.is_empty() => {
                self.closed(true, "the internal client was taken out of the room")
            }
            _ => {}
        }
    }

    fn event(&mut self, event: Event) {
        match (event.target.as_str(), event.kind.as_str()) {
            ("room", "join") => self.joined(&event.join),
            ("room", "leave") => {
                for session in event.leave {
                    self.nc_sessions.retain(|_, s| *s != session);
                    if let Some(Sub::Offered { .. }) = self.subs.remove(&session) {
                        self.emit(ConferenceEvent::PeerLeft { peer: session });
                    }
                }
            }
            ("room", "disinvite") => self.closed(true, "the room was closed or we were disinvited"),
            ("participants", "update") => {
                let Some(update) = event.update else { return };
                for p in update.changed.iter().chain(&update.users) {
                    let known = self.nc_sessions.values().any(|s| *s == p.session_id);
                    let session = if p.internal || known {
                        Some(p.session_id.clone())
                    } else {
                        self.nc_sessions.get(&p.session_id).cloned()
                    };
                    let Some(session) = session else { continue };
                    let with_audio = p.in_call & (IN_CALL | WITH_AUDIO) == IN_CALL | WITH_AUDIO;
                    if with_audio && !p.is_virtual {
                        self.subscribe(&session);
                    } else if p.in_call & IN_CALL == 0
                        && let Some(Sub::Offered { .. }) = self.subs.remove(&session)
                    {
                        self.emit(ConferenceEvent::PeerLeft { peer: session });
                    }
                }
            }
            _ => {}
        }
    }

    fn joined(&mut self, sessions: &[JoinedSession]) {
        for s in sessions {
            if let Some(nc) = &s.roomsessionid {
                self.nc_sessions.insert(nc.clone(), s.sessionid.clone());
            }
        }
    }

    fn subscribe(&mut self, session: &str) {
        if session == self.me
            || matches!(
                self.subs.get(session),
                Some(Sub::Requested | Sub::Offered { .. })
            )
        {
            return;
        }
        self.subs.insert(session.to_string(), Sub::Requested);
        let id = self.request_id(session);
        let data = json!({"type": "requestoffer", "roomType": ROOM_TYPE});
        self.message_to(session, Some(id), data);
    }

    /// Asks again for offers the server refused (publishers not sending yet).
    pub fn tick(&mut self) {
        let again: Vec<String> = self
            .subs
            .iter()
            .filter(|(_, s)| **s == Sub::Retry)
            .map(|(id, _)| id.clone())
            .collect();
        for session in again {
            self.subs.remove(&session);
            self.subscribe(&session);
        }
    }

    fn delivered(&mut self, delivered: Delivered, control: bool) {
        let sender = delivered.sender.map(|s| s.sessionid).unwrap_or_default();
        let data = delivered.data;
        let kind = data.get("type").and_then(Value::as_str).unwrap_or_default();
        match kind {
            "answer" if sender == self.me => {
                let Some(sdp) = sdp_of(&data) else { return };
                self.answered = true;
                self.emit(ConferenceEvent::Description {
                    peer: PUBLISHER.into(),
                    kind: SdpKind::Answer,
                    sdp,
                });
                for (index, candidate) in std::mem::take(&mut self.held) {
                    self.candidate_to(PUBLISHER, index, candidate);
                }
            }
            "offer" if sender != self.me && self.subs.contains_key(&sender) => {
                let Some(sdp) = sdp_of(&data) else { return };
                let sid = data.get("sid").and_then(Value::as_str).unwrap_or_default();
                let fresh = !matches!(self.subs.get(&sender), Some(Sub::Offered { .. }));
                self.subs
                    .insert(sender.clone(), Sub::Offered { sid: sid.into() });
                if fresh {
                    self.emit(ConferenceEvent::PeerJoined {
                        peer: sender.clone(),
                    });
                }
                self.emit(ConferenceEvent::Description {
                    peer: sender,
                    kind: SdpKind::Offer,
                    sdp,
                });
            }
            "candidate" => {
                let peer = if sender == self.me {
                    PUBLISHER.to_string()
                } else {
                    sender
                };
                let c = &data["payload"]["candidate"];
                if let Some(candidate) = c.get("candidate").and_then(Value::as_str) {
                    let index = c.get("sdpMLineIndex").and_then(Value::as_u64).unwrap_or(0);
                    self.emit(ConferenceEvent::Candidate {
                        peer,
                        sdp_mline_index: index as u32,
                        candidate: candidate.into(),
                    });
                }
            }
            // Moderator actions addressed to the caller's virtual session.
            "mute" if mute_requested(&data) => {
                self.set_flags(FLAG_MUTED);
                self.emit(ConferenceEvent::MutedByHost);
            }
            "hangup" => self.emit(ConferenceEvent::Kicked),
            other => tracing::debug!(kind = other, control, %sender, "signaling message ignored"),
        }
    }

    fn set_flags(&mut self, flags: u32) {
        if flags == self.flags {
            return;
        }
        self.flags = flags;
        let update = UpdateSession {
            sessionid: self.callid.clone(),
            roomid: self.room.clone(),
            flags,
        };
        self.send(ClientMessage::Internal {
            internal: Internal::Update {
                updatesession: update,
            },
        });
    }

    fn candidate_to(&mut self, peer: &str, index: u32, candidate: String) {
        let session = self.session_of(peer);
        let sid = self.sid_of(peer);
        let data = json!({"type": "candidate", "roomType": ROOM_TYPE, "sid": sid,
            "payload": {"candidate": {"candidate": candidate, "sdpMLineIndex": index,
                                      "sdpMid": index.to_string()}}});
        self.message_to(&session, None, data);
    }

    fn sid_of(&self, peer: &str) -> String {
        match self.subs.get(peer) {
            Some(Sub::Offered { sid }) => sid.clone(),
            _ => self.sid.clone(),
        }
    }

    pub fn on_command(&mut self, command: ConferenceCommand) {
        match command {
            ConferenceCommand::Description {
                peer,
                kind: SdpKind::Offer,
                sdp,
            } if peer == PUBLISHER => {
                let me = self.me.clone();
                let id = self.request_id(&me);
                let data = json!({"type": "offer", "roomType": ROOM_TYPE, "sid": self.sid,
                    "payload": {"type": "offer", "sdp": sdp, "nick": "Phone"}});
                self.message_to(&me, Some(id), data);
            }
            ConferenceCommand::Description {
                peer,
                kind: SdpKind::Answer,
                sdp,
            } => {
                let Some(Sub::Offered { sid }) = self.subs.get(&peer) else {
                    return tracing::debug!(%peer, "answer for a session that is gone");
                };
                let data = json!({"type": "answer", "roomType": ROOM_TYPE, "sid": sid,
                    "payload": {"type": "answer", "sdp": sdp}});
                self.message_to(&peer, None, data);
            }
            ConferenceCommand::Description { peer, kind, .. } => {
                tracing::warn!(%peer, ?kind, "description that fits no Talk peer dropped");
            }
            ConferenceCommand::Candidate {
                peer,
                sdp_mline_index,
                candidate,
            } => {
                if peer == PUBLISHER && !self.answered {
                    self.held.push((sdp_mline_index, candidate));
                } else if peer == PUBLISHER || self.subs.contains_key(&peer) {
                    self.candidate_to(&peer, sdp_mline_index, candidate);
                }
            }
            // spreed-signaling has no end-of-candidates message.
            ConferenceCommand::CandidatesDone { .. } => {}
            // A muted caller is not talking; talking while muted is not shown.
            ConferenceCommand::SetMuted(true) => self.set_flags(FLAG_MUTED),
            ConferenceCommand::SetMuted(false) => self.set_flags(self.flags & !FLAG_MUTED),
            ConferenceCommand::SetTalking(_) if self.flags & FLAG_MUTED != 0 => {}
            ConferenceCommand::SetTalking(true) => self.set_flags(self.flags | FLAG_TALKING),
            ConferenceCommand::SetTalking(false) => self.set_flags(self.flags & !FLAG_TALKING),
        }
    }

    /// What leaving sends: the virtual session goes, then the internal client says bye.
    pub fn leave(&mut self) -> Vec<ClientMessage> {
        let remove = RemoveSession {
            sessionid: self.callid.clone(),
            roomid: self.room.clone(),
        };
        vec![
            ClientMessage::Internal {
                internal: Internal::Remove {
                    removesession: remove,
                },
            },
            ClientMessage::Bye { bye: json!({}) },
        ]
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
