//! The VideoRoom plugin (SFU): the call joins as a publisher with its display name, publishes
//! its audio on one PeerConnection (peer [`PUBLISHER`]: we offer, Janus answers), and subscribes
//! to the audio of every other publisher on a handle of its own (peer `feed-<id>`: Janus offers,
//! we answer). The conference leg mixes the feeds.
//!
//! A subscription starts when a publisher shows up (in `joined` or a `publishers` event; before
//! that Janus answers 428 "No such feed") and ends with `unpublished`, `leaving`, `kicked`, a
//! hangup or detach of its handle. Feeds without audio are not subscribed. Our answer to a feed
//! is recvonly (Janus offers sendonly), so our audio goes to Janus once, on the publisher.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::kinds::JanusPlugin;
use super::machine::{Core, Pending, RoomMachine};
use super::protocol::{Incoming, Jsep, TrickleCandidate, plugin_error, publishers};
use crate::conference::{ConferenceCommand, ConferenceEvent, SdpKind};

pub const PLUGIN: &str = JanusPlugin::VideoRoom.package();
/// The peer that carries our audio to Janus.
pub const PUBLISHER: &str = "publisher";

/// The peer name of the subscription to publisher `feed`.
pub fn feed_peer(feed: u64) -> String {
    format!("feed-{feed}")
}

fn peer_feed(peer: &str) -> Option<u64> {
    peer.strip_prefix("feed-")?.parse().ok()
}

/// One subscription, from attaching its handle to its end.
#[derive(Debug)]
struct Feed {
    /// The publisher's audio stream (`None`: all its streams).
    mid: Option<String>,
    handle: Option<u64>,
    /// `PeerJoined` went to the call (Janus's offer came).
    announced: bool,
}

pub(super) struct VideoRoom {
    core: Core,
    room: u64,
    pin: Option<String>,
    me: u64,
    private_id: Option<u64>,
    publisher: u64,
    feeds: HashMap<u64, Feed>,
}

impl VideoRoom {
    /// We joined `room` as publisher `me` on handle `publisher`; `joined` is Janus's `joined`
    /// data (its publishers are subscribed to right away).
    pub(super) fn new(
        core: Core,
        room: u64,
        pin: Option<String>,
        publisher: u64,
        joined: &Value,
    ) -> VideoRoom {
        let mut machine = VideoRoom {
            core,
            room,
            pin,
            me: joined.get("id").and_then(Value::as_u64).unwrap_or_default(),
            private_id: joined.get("private_id").and_then(Value::as_u64),
            publisher,
            feeds: HashMap::new(),
        };
        machine.publishers_appeared(joined);
        machine
    }

    fn publishers_appeared(&mut self, data: &Value) {
        for publisher in publishers(data) {
            if publisher.id == self.me || self.feeds.contains_key(&publisher.id) {
                continue;
            }
            let Some(mid) = publisher.audio_mid() else {
                tracing::debug!(
                    feed = publisher.id,
                    "publisher without audio, not subscribed"
                );
                continue;
            };
            self.feeds.insert(
                publisher.id,
                Feed {
                    mid,
                    handle: None,
                    announced: false,
                },
            );
            self.core
                .attach(PLUGIN, Pending::Attach { feed: publisher.id });
        }
    }

    fn attached(&mut self, feed: u64, handle: u64) {
        let Some(entry) = self.feeds.get_mut(&feed) else {
            self.core.detach(handle); // the publisher left while we attached
            return;
        };
        entry.handle = Some(handle);
        let mut stream = json!({"feed": feed});
        if let Some(mid) = &entry.mid {
            stream["mid"] = json!(mid);
        }
        let mut body = json!({
            "request": "join", "ptype": "subscriber", "room": self.room,
            "autoupdate": false, "streams": [stream],
        });
        if let Some(private_id) = self.private_id {
            body["private_id"] = json!(private_id);
        }
        if let Some(pin) = &self.pin {
            body["pin"] = json!(pin);
        }
        self.core
            .message(handle, body, None, Pending::Subscribe { feed, handle });
    }

    fn subscribed(&mut self, feed: u64, handle: u64, message: Incoming) {
        if !self.feeds.contains_key(&feed) {
            self.core.detach(handle);
            return;
        }
        if let Some(reason) = message.failure() {
            tracing::warn!(feed, %reason, "Janus refused the subscription");
            return self.end_feed(feed, true);
        }
        match message.into_plugin_reply() {
            Some((_, Some(jsep))) if jsep.kind == "offer" => {
                if let Some(entry) = self.feeds.get_mut(&feed) {
                    entry.announced = true;
                }
                let peer = feed_peer(feed);
                self.core
                    .emit(ConferenceEvent::PeerJoined { peer: peer.clone() });
                self.core.emit(ConferenceEvent::Description {
                    peer,
                    kind: SdpKind::Offer,
                    sdp: jsep.sdp,
                });
            }
            other => {
                tracing::warn!(feed, ?other, "subscription without an offer");
                self.end_feed(feed, true);
            }
        }
    }

    /// The subscription to `feed` is over (its publisher left, or it failed).
    fn end_feed(&mut self, feed: u64, detach: bool) {
        let Some(entry) = self.feeds.remove(&feed) else {
            return;
        };
        if let (true, Some(handle)) = (detach, entry.handle) {
            self.core.detach(handle);
        }
        if entry.announced {
            self.core.emit(ConferenceEvent::PeerLeft {
                peer: feed_peer(feed),
            });
        }
    }

    /// Janus closed the PeerConnection or the handle `handle`.
    fn gone(&mut self, handle: u64, why: &str, detach: bool) {
        if handle == self.publisher {
            self.core
                .closed(false, format!("Janus dropped our audio ({why})"));
        } else if let Some(feed) = self.feed_of(handle) {
            self.end_feed(feed, detach);
        }
    }

    fn feed_of(&self, handle: u64) -> Option<u64> {
        self.feeds
            .iter()
            .find(|(_, f)| f.handle == Some(handle))
            .map(|(id, _)| *id)
    }

    fn peer_of(&self, handle: u64) -> Option<String> {
        if handle == self.publisher {
            return Some(PUBLISHER.into());
        }
        self.feed_of(handle).map(feed_peer)
    }

    fn handle_of(&self, peer: &str) -> Option<u64> {
        if peer == PUBLISHER {
            return Some(self.publisher);
        }
        self.feeds.get(&peer_feed(peer)?)?.handle
    }

    /// An event on our publisher handle: the room talking.
    fn room_event(&mut self, data: &Value) {
        let kind = data
            .get("videoroom")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if kind == "destroyed" {
            return self.core.closed(true, "the Janus room was destroyed");
        }
        if kind != "event" {
            return;
        }
        if let Some((code, reason)) = plugin_error(data) {
            tracing::warn!(code, %reason, "VideoRoom error");
        }
        self.publishers_appeared(data);
        for key in ["unpublished", "leaving", "kicked"] {
            match data.get(key) {
                Some(Value::Number(id)) => {
                    if let Some(feed) = id.as_u64() {
                        self.end_feed(feed, true);
                    }
                }
                Some(Value::String(ok)) if key == "leaving" && ok == "ok" => {
                    if data.get("reason").and_then(Value::as_str) == Some("kicked") {
                        return self.core.emit(ConferenceEvent::Kicked);
                    }
                    return self.core.closed(true, "Janus took us out of the room");
                }
                _ => {}
            }
        }
        let muted = data.get("moderation").and_then(Value::as_str) == Some("muted");
        if muted && data.get("id").and_then(Value::as_u64) == Some(self.me) {
            self.core.emit(ConferenceEvent::MutedByHost);
        }
    }
}

impl RoomMachine for VideoRoom {
    fn core(&mut self) -> &mut Core {
        &mut self.core
    }

    fn on_message(&mut self, message: Incoming, pending: Option<Pending>) {
        match (message, pending) {
            (
                Incoming::Success {
                    data: Some(data), ..
                },
                Some(Pending::Attach { feed }),
            ) => self.attached(feed, data.id),
            (message, Some(Pending::Attach { feed })) => {
                tracing::warn!(feed, ?message, "cannot attach a subscriber handle");
                self.end_feed(feed, false);
            }
            (message, Some(Pending::Publish)) => self.core.offer_answered(message, PUBLISHER),
            (message, Some(Pending::Subscribe { feed, handle })) => {
                self.subscribed(feed, handle, message)
            }
            (message, Some(Pending::Start { feed })) => {
                if let Some(reason) = message.failure() {
                    tracing::warn!(feed, %reason, "Janus refused our answer");
                    self.end_feed(feed, true);
                }
            }
            (
                Incoming::Event {
                    sender,
                    plugindata: Some(p),
                    ..
                },
                None,
            ) => {
                if sender == self.publisher {
                    self.room_event(&p.data);
                } else if p.data.get("left").is_some()
                    && let Some(feed) = self.feed_of(sender)
                {
                    self.end_feed(feed, true);
                }
            }
            (Incoming::Hangup { sender, reason }, _) => {
                self.gone(sender, &format!("hangup: {reason}"), true)
            }
            (Incoming::Detached { sender }, _) => self.gone(sender, "handle detached", false),
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
            ) => {
                if let Some(peer) = self.peer_of(sender) {
                    self.core.emit(ConferenceEvent::Candidate {
                        peer,
                        sdp_mline_index,
                        candidate,
                    });
                }
            }
            (message, pending) => tracing::debug!(?message, ?pending, "VideoRoom message ignored"),
        }
    }

    fn on_command(&mut self, command: ConferenceCommand) {
        match command {
            ConferenceCommand::Description {
                peer,
                kind: SdpKind::Offer,
                sdp,
            } if peer == PUBLISHER => {
                let body = json!({"request": "publish"});
                self.core.message(
                    self.publisher,
                    body,
                    Some(Jsep::offer(sdp)),
                    Pending::Publish,
                );
            }
            ConferenceCommand::Description {
                peer,
                kind: SdpKind::Answer,
                sdp,
            } => {
                let feed = peer_feed(&peer);
                match feed.and_then(|f| self.feeds.get(&f).map(|e| (f, e))) {
                    Some((
                        feed,
                        Feed {
                            handle: Some(handle),
                            announced: true,
                            ..
                        },
                    )) => {
                        let (feed, handle) = (feed, *handle);
                        let body = json!({"request": "start"});
                        self.core.message(
                            handle,
                            body,
                            Some(Jsep::answer(sdp)),
                            Pending::Start { feed },
                        );
                    }
                    _ => tracing::debug!(%peer, "answer for a feed that is gone"),
                }
            }
            ConferenceCommand::Description { peer, kind, .. } => {
                tracing::warn!(%peer, ?kind, "description that fits no VideoRoom peer dropped");
            }
            ConferenceCommand::Candidate {
                peer,
                sdp_mline_index,
                candidate,
            } => match self.handle_of(&peer) {
                Some(handle) => self.core.trickle(handle, sdp_mline_index, &candidate),
                None => tracing::debug!(%peer, "candidate for a peer that is gone"),
            },
            // An empty candidate is Janus's "completed".
            ConferenceCommand::CandidatesDone { peer } => {
                if let Some(handle) = self.handle_of(&peer) {
                    self.core.trickle(handle, 0, "");
                }
            }
            // The call stops sending audio itself; VideoRoom has no self-mute flag to show.
            ConferenceCommand::SetMuted(muted) => {
                tracing::debug!(muted, "VideoRoom: mute is local only")
            }
            ConferenceCommand::SetTalking(_) => {}
        }
    }
}

#[cfg(test)]
#[path = "videoroom_tests.rs"]
mod tests;
