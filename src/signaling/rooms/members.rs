//! Membership: join (and join-or-create), leave, signal relay, mute and kick.
//!
//! Host actions answer the host with the same message the others get (`participant_updated`,
//! `participant_left`), so each request still has exactly one reply.

use super::{
    Joiner, MAX_CALLER_BYTES, Member, Refusal, Registry, constant_time_eq, deliver, frame,
    valid_digits, valid_name,
};
use crate::signaling::metrics::Metrics;
use crate::signaling::protocol::{ClientId, ErrorCode, ParticipantKind, ServerMessage};

impl Joiner<'_> {
    fn validate(&self) -> Result<(), Refusal> {
        valid_name(self.display_name)?;
        if self.caller.is_some_and(|c| c.len() > MAX_CALLER_BYTES) {
            return Err((
                ErrorCode::InvalidValue,
                format!("caller is longer than {MAX_CALLER_BYTES} bytes"),
            ));
        }
        if self.host_key.is_some() && self.kind != ParticipantKind::Web {
            return Err((
                ErrorCode::Forbidden,
                "only web participants can be hosts".into(),
            ));
        }
        Ok(())
    }
}

fn not_in_room() -> Refusal {
    (ErrorCode::WrongState, "join a room first".into())
}

impl Registry {
    /// Joins client `id` to `room`. The others get `participant_joined`.
    pub fn join(
        &mut self,
        id: ClientId,
        room: &str,
        joiner: Joiner<'_>,
        metrics: &Metrics,
    ) -> Result<ServerMessage, Refusal> {
        valid_digits("room", room)?;
        joiner.validate()?;
        self.ensure_not_joined(id)?;
        let entry = self
            .rooms
            .get(room)
            .ok_or_else(|| (ErrorCode::RoomNotFound, format!("no room {room}")))?;
        if let Some(expected) = &entry.pin
            && !joiner.pin.is_some_and(|p| constant_time_eq(expected, p))
        {
            return Err((ErrorCode::WrongPin, "wrong or missing PIN".to_string()));
        }
        if let Some(key) = joiner.host_key
            && !constant_time_eq(&entry.host_key, key)
        {
            return Err((ErrorCode::Forbidden, "wrong host key".to_string()));
        }
        let host = entry.creator == Some(id) || joiner.host_key.is_some();
        let participants = self.participants(room).unwrap_or_default();
        let (room_name, pin_required) = (entry.name.clone(), entry.pin.is_some());
        let host_key = host.then(|| entry.host_key.clone());
        if let Some(client) = self.clients.get_mut(&id) {
            client.member = Some(Member {
                room: room.to_string(),
                display_name: joiner.display_name.to_string(),
                kind: joiner.kind,
                caller: joiner.caller.map(str::to_string),
                muted: false,
                host,
            });
        }
        if let Some(me) = self.participant(id) {
            let joined = ServerMessage::ParticipantJoined {
                room: room.to_string(),
                participant: me,
            };
            self.broadcast(room, &joined, None, metrics);
        }
        if let Some(entry) = self.rooms.get_mut(room) {
            entry.members.insert(id);
        }
        Ok(ServerMessage::Joined {
            room: room.to_string(),
            name: room_name,
            client_id: id,
            pin_required,
            host,
            host_key,
            participants,
        })
    }

    /// Joins `room`, creating it first (with `joiner.pin` as its PIN) when it does not exist or
    /// `room` is `None`; the creator is its host.
    pub fn join_or_create(
        &mut self,
        id: ClientId,
        room: Option<&str>,
        joiner: Joiner<'_>,
        metrics: &Metrics,
    ) -> Result<ServerMessage, Refusal> {
        // Check everything that could make the join fail before creating anything.
        joiner.validate()?;
        self.ensure_not_joined(id)?;
        let room = match room {
            Some(r) if self.rooms.contains_key(r) => return self.join(id, r, joiner, metrics),
            Some(r) => self.create_room(id, Some(r), "", joiner.pin)?.0,
            None => self.create_room(id, None, "", joiner.pin)?.0,
        };
        // The creator is host anyway; a host key for a room that did not exist means nothing.
        let joiner = Joiner {
            host_key: None,
            ..joiner
        };
        self.join(id, &room, joiner, metrics)
    }

    fn ensure_not_joined(&self, id: ClientId) -> Result<(), Refusal> {
        let client = self
            .clients
            .get(&id)
            .ok_or((ErrorCode::WrongState, "unknown client".to_string()))?;
        match &client.member {
            Some(m) => Err((
                ErrorCode::WrongState,
                format!("already in room {}; leave first", m.room),
            )),
            None => Ok(()),
        }
    }

    /// Leaves the room; the others get `participant_left`.
    pub fn leave(&mut self, id: ClientId, metrics: &Metrics) -> Result<ServerMessage, Refusal> {
        let room = self.detach(id).ok_or_else(not_in_room)?;
        let left = ServerMessage::ParticipantLeft {
            room: room.clone(),
            client_id: id,
        };
        self.broadcast(&room, &left, None, metrics);
        Ok(ServerMessage::Left { room })
    }

    /// Takes `id` out of its room without telling anyone; returns the room.
    fn detach(&mut self, id: ClientId) -> Option<String> {
        let member = self.clients.get_mut(&id)?.member.take()?;
        if let Some(entry) = self.rooms.get_mut(&member.room) {
            entry.members.remove(&id);
        }
        Some(member.room)
    }

    fn room_of(&self, id: ClientId) -> Option<&Member> {
        self.clients.get(&id)?.member.as_ref()
    }

    /// Relays `payload` to `to`, who must be in the sender's room. No reply on success.
    pub fn signal(
        &mut self,
        from: ClientId,
        to: ClientId,
        payload: serde_json::Value,
        metrics: &Metrics,
    ) -> Result<(), Refusal> {
        let room = &self
            .room_of(from)
            .ok_or((
                ErrorCode::WrongState,
                "join a room before sending signals".to_string(),
            ))?
            .room;
        let target = self.target(room, to)?;
        if let Some(client) = self.clients.get(&target) {
            deliver(
                &client.mailbox,
                frame(&ServerMessage::Signal { from, payload }),
                metrics,
            );
        }
        Ok(())
    }

    /// `to` if it is a member of `room`.
    fn target(&self, room: &str, to: ClientId) -> Result<ClientId, Refusal> {
        match self.room_of(to) {
            Some(m) if m.room == room => Ok(to),
            _ => Err((
                ErrorCode::NoSuchParticipant,
                format!("participant {to} is not in room {room}"),
            )),
        }
    }

    /// Sets the mute state of `id` and tells everyone: the others by broadcast, `id` by the
    /// returned reply.
    pub fn set_muted(
        &mut self,
        id: ClientId,
        muted: bool,
        metrics: &Metrics,
    ) -> Result<ServerMessage, Refusal> {
        self.update_muted(id, muted, Some(id), metrics)
    }

    fn update_muted(
        &mut self,
        id: ClientId,
        muted: bool,
        except: Option<ClientId>,
        metrics: &Metrics,
    ) -> Result<ServerMessage, Refusal> {
        let member = self
            .clients
            .get_mut(&id)
            .and_then(|c| c.member.as_mut())
            .ok_or_else(not_in_room)?;
        member.muted = muted;
        let room = member.room.clone();
        let participant = self.participant(id).ok_or_else(not_in_room)?;
        let updated = ServerMessage::ParticipantUpdated {
            room: room.clone(),
            participant,
        };
        self.broadcast(&room, &updated, except, metrics);
        Ok(updated)
    }

    /// Checks that `actor` is a host and `target` another member of its room.
    fn host_action(&self, actor: ClientId, target: ClientId, what: &str) -> Result<(), Refusal> {
        let me = self.room_of(actor).ok_or_else(not_in_room)?;
        if !me.host {
            return Err((
                ErrorCode::Forbidden,
                format!("only a host of room {} may {what} others", me.room),
            ));
        }
        if actor == target {
            return Err((
                ErrorCode::InvalidValue,
                format!("cannot {what} yourself; use set_muted or leave"),
            ));
        }
        self.target(&me.room, target).map(|_| ())
    }

    /// Host `actor` mutes `target`, who gets `muted`; everyone gets `participant_updated`.
    pub fn mute(
        &mut self,
        actor: ClientId,
        target: ClientId,
        metrics: &Metrics,
    ) -> Result<ServerMessage, Refusal> {
        self.host_action(actor, target, "mute")?;
        if let Some(client) = self.clients.get(&target) {
            deliver(
                &client.mailbox,
                frame(&ServerMessage::Muted { by: actor }),
                metrics,
            );
        }
        self.update_muted(target, true, Some(actor), metrics)
    }

    /// Host `actor` removes `target`: it gets `kicked` and its connection closes; everyone else
    /// gets `participant_left`.
    pub fn kick(
        &mut self,
        actor: ClientId,
        target: ClientId,
        metrics: &Metrics,
    ) -> Result<ServerMessage, Refusal> {
        self.host_action(actor, target, "remove")?;
        let room = self.detach(target).ok_or_else(not_in_room)?;
        let notice = frame(&ServerMessage::Kicked { by: actor });
        if let Some(client) = self.clients.get_mut(&target) {
            match client.farewell.take() {
                Some(farewell) => {
                    let _ = farewell.send(notice);
                }
                None => deliver(&client.mailbox, notice, metrics),
            }
        }
        let left = ServerMessage::ParticipantLeft {
            room: room.clone(),
            client_id: target,
        };
        self.broadcast(&room, &left, Some(actor), metrics);
        Ok(left)
    }
}
