//! The AudioBridge plugin (an audio mixer): the call joins with its display name and sends its
//! audio on one PeerConnection (peer [`MIXER`]: we offer with `configure`, Janus answers); Janus
//! sends back the mix of everyone else. Others joining or leaving need no PeerConnection, so
//! they are not peers here.
//!
//! A `kicked` naming us is [`ConferenceEvent::Kicked`]; a `participants` update that shows us
//! muted when we did not mute ourselves is [`ConferenceEvent::MutedByHost`]; `destroyed` ends
//! the conference. [`ConferenceCommand::SetMuted`] sets our `muted` flag, which hosts see.

use serde_json::{Value, json};

use super::machine::{Core, Pending, RoomMachine};
use super::protocol::{Incoming, Jsep, TrickleCandidate, plugin_error};
use crate::conference::{ConferenceCommand, ConferenceEvent, SdpKind};

/// The one peer: Janus's mixer.
pub const MIXER: &str = "audiobridge";
pub(super) struct AudioBridge {
    core: Core,
    me: u64,
    handle: u64,
    self_muted: bool,
    /// `MutedByHost` was sent and we have not unmuted since.
    host_muted: bool,
}

impl AudioBridge {
    /// We joined as participant `me` on `handle`.
    pub(super) fn new(core: Core, me: u64, handle: u64) -> AudioBridge {
        AudioBridge {
            core,
            me,
            handle,
            self_muted: false,
            host_muted: false,
        }
    }

    fn room_event(&mut self, data: &Value) {
        match data
            .get("audiobridge")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "destroyed" => return self.core.closed(true, "the Janus room was destroyed"),
            "left" => return self.core.closed(true, "Janus took us out of the room"),
            "event" => {}
            _ => return,
        }
        if let Some((code, reason)) = plugin_error(data) {
            tracing::warn!(code, %reason, "AudioBridge error");
        }
        if data.get("kicked").and_then(Value::as_u64) == Some(self.me) {
            return self.core.emit(ConferenceEvent::Kicked);
        }
        let participants = data.get("participants").and_then(Value::as_array);
        let me = participants
            .into_iter()
            .flatten()
            .find(|p| p.get("id").and_then(Value::as_u64) == Some(self.me));
        let muted = me.and_then(|p| p.get("muted")).and_then(Value::as_bool) == Some(true);
        if muted && !self.self_muted && !self.host_muted {
            self.host_muted = true;
            self.core.emit(ConferenceEvent::MutedByHost);
        }
    }
}

impl RoomMachine for AudioBridge {
    fn core(&mut self) -> &mut Core {
        &mut self.core
    }

    fn on_message(&mut self, message: Incoming, pending: Option<Pending>) {
        match (message, pending) {
            (message, Some(Pending::Publish)) => self.core.offer_answered(message, MIXER),
            (
                Incoming::Event {
                    sender,
                    plugindata: Some(p),
                    ..
                },
                None,
            ) if sender == self.handle => {
                self.room_event(&p.data);
            }
            (Incoming::Hangup { sender, reason }, _) if sender == self.handle => {
                self.core
                    .closed(false, format!("Janus dropped our audio (hangup: {reason})"));
            }
            (Incoming::Detached { sender }, _) if sender == self.handle => {
                self.core
                    .closed(false, "Janus dropped our audio (handle detached)");
            }
            (
                Incoming::Trickle {
                    sender,
                    candidate:
                        TrickleCandidate::Candidate {
                            candidate,
                            sdp_mline_index,
                            ..
                        },
                },
                _,
            ) if sender == self.handle => {
                self.core.emit(ConferenceEvent::Candidate {
                    peer: MIXER.into(),
                    sdp_mline_index,
                    candidate,
                });
            }
            (message, pending) => {
                tracing::debug!(?message, ?pending, "AudioBridge message ignored")
            }
        }
    }

    fn on_command(&mut self, command: ConferenceCommand) {
        match command {
            ConferenceCommand::Description {
                peer,
                kind: SdpKind::Offer,
                sdp,
            } if peer == MIXER => {
                let body = json!({"request": "configure", "muted": self.self_muted});
                self.core
                    .message(self.handle, body, Some(Jsep::offer(sdp)), Pending::Publish);
            }
            ConferenceCommand::Description { peer, kind, .. } => {
                tracing::warn!(%peer, ?kind, "description that fits no AudioBridge peer dropped");
            }
            ConferenceCommand::Candidate {
                peer,
                sdp_mline_index,
                candidate,
            } if peer == MIXER => {
                self.core.trickle(self.handle, sdp_mline_index, &candidate);
            }
            ConferenceCommand::Candidate { peer, .. } => {
                tracing::debug!(%peer, "candidate for no peer")
            }
            // An empty candidate is Janus's "completed".
            ConferenceCommand::CandidatesDone { peer } if peer == MIXER => {
                self.core.trickle(self.handle, 0, "");
            }
            ConferenceCommand::CandidatesDone { .. } | ConferenceCommand::SetTalking(_) => {}
            ConferenceCommand::SetMuted(muted) => {
                self.self_muted = muted;
                if !muted {
                    self.host_muted = false;
                }
                let body = json!({"request": "configure", "muted": muted});
                self.core
                    .message(self.handle, body, None, Pending::Quiet("configure"));
            }
        }
    }
}

#[cfg(test)]
#[path = "audiobridge_tests.rs"]
mod tests;
