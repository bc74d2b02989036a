//! The room registry: rooms, their members, and a mailbox per connected client. It is plain
//! synchronous code behind one `std::sync::Mutex` (never held across an `.await`): every
//! operation is a few map lookups, and fan-out uses `try_send`, so the lock is short.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;

use rand::Rng;
use tokio::sync::mpsc;

use super::metrics::Metrics;
use super::protocol::{ClientId, Envelope, ErrorCode, Participant, ServerMessage};
use crate::config::RoomConfig;

/// Most rooms the server keeps; `create_room` beyond this fails with `too_many_rooms`, so a
/// client cannot exhaust memory.
pub const MAX_ROOMS: usize = 10_000;
/// Digits of a room ID the server picks itself (inside the IVR's default 3..=10).
pub const GENERATED_ROOM_DIGITS: u32 = 6;
/// Longest accepted room ID or PIN, in digits.
pub const MAX_DIGITS: usize = 20;
/// Longest accepted room or participant name, in bytes.
pub const MAX_NAME_BYTES: usize = 200;

/// A failed request: the error code and a human message.
pub type Refusal = (ErrorCode, String);

/// Text frames queued for one client's connection task.
pub type Mailbox = mpsc::Sender<String>;

struct Room {
    name: String,
    pin: Option<String>,
    members: BTreeSet<ClientId>,
}

struct Client {
    mailbox: Mailbox,
    name: String,
    room: Option<String>,
}

pub struct Registry {
    rooms: HashMap<String, Room>,
    clients: HashMap<ClientId, Client>,
    next_client: ClientId,
}

fn valid_digits(what: &str, s: &str) -> Result<(), Refusal> {
    if s.is_empty() || s.len() > MAX_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err((
            ErrorCode::InvalidValue,
            format!("{what} must be 1 to {MAX_DIGITS} digits"),
        ));
    }
    Ok(())
}

fn valid_name(s: &str) -> Result<(), Refusal> {
    if s.len() > MAX_NAME_BYTES {
        return Err((
            ErrorCode::InvalidValue,
            format!("name is longer than {MAX_NAME_BYTES} bytes"),
        ));
    }
    Ok(())
}

impl Registry {
    /// Starts with the configured rooms. Invalid entries are kept as they are; `check-config`
    /// reports them.
    pub fn new(rooms: &[RoomConfig]) -> Registry {
        let rooms = rooms
            .iter()
            .map(|r| {
                let room = Room {
                    name: r.name.clone(),
                    pin: r.pin.clone(),
                    members: BTreeSet::new(),
                };
                (r.id.clone(), room)
            })
            .collect();
        Registry {
            rooms,
            clients: HashMap::new(),
            next_client: 1,
        }
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub fn participant_count(&self) -> usize {
        self.rooms.values().map(|r| r.members.len()).sum()
    }

    /// A new connection; its frames go to `mailbox`.
    pub fn add_client(&mut self, mailbox: Mailbox) -> ClientId {
        let id = self.next_client;
        self.next_client += 1;
        self.clients.insert(
            id,
            Client {
                mailbox,
                name: String::new(),
                room: None,
            },
        );
        id
    }

    /// A connection ended: leave its room (telling the others) and forget it.
    pub fn remove_client(&mut self, id: ClientId, metrics: &Metrics) {
        let _ = self.leave(id, metrics);
        self.clients.remove(&id);
    }

    pub fn lookup(&self, room: &str) -> Result<ServerMessage, Refusal> {
        valid_digits("room", room)?;
        let found = self.rooms.get(room);
        Ok(ServerMessage::RoomInfo {
            room: room.to_string(),
            exists: found.is_some(),
            pin_required: found.is_some_and(|r| r.pin.is_some()),
        })
    }

    /// A missing room answers `ok: false`, like a wrong PIN, so PIN checks reveal nothing more.
    pub fn check_pin(&self, room: &str, pin: &str) -> Result<ServerMessage, Refusal> {
        valid_digits("room", room)?;
        let ok = match self.rooms.get(room) {
            None => false,
            Some(r) => r.pin.as_deref().is_none_or(|p| constant_time_eq(p, pin)),
        };
        Ok(ServerMessage::PinResult {
            room: room.to_string(),
            ok,
        })
    }

    pub fn create(
        &mut self,
        room: Option<&str>,
        name: &str,
        pin: Option<&str>,
    ) -> Result<ServerMessage, Refusal> {
        if let Some(room) = room {
            valid_digits("room", room)?;
        }
        if let Some(pin) = pin {
            valid_digits("pin", pin)?;
        }
        valid_name(name)?;
        if self.rooms.len() >= MAX_ROOMS {
            return Err((
                ErrorCode::TooManyRooms,
                format!("the server already holds {MAX_ROOMS} rooms"),
            ));
        }
        let id = match room {
            Some(r) if self.rooms.contains_key(r) => {
                return Err((ErrorCode::RoomExists, format!("room {r} already exists")));
            }
            Some(r) => r.to_string(),
            None => self.free_id()?,
        };
        let entry = Room {
            name: name.to_string(),
            pin: pin.map(str::to_string),
            members: BTreeSet::new(),
        };
        self.rooms.insert(id.clone(), entry);
        Ok(ServerMessage::RoomCreated { room: id })
    }

    fn free_id(&self) -> Result<String, Refusal> {
        let lo = 10u64.pow(GENERATED_ROOM_DIGITS - 1);
        let mut rng = rand::rng();
        (0..1000)
            .map(|_| rng.random_range(lo..lo * 10).to_string())
            .find(|id| !self.rooms.contains_key(id))
            .ok_or_else(|| (ErrorCode::TooManyRooms, "no free room ID left".to_string()))
    }

    pub fn join(
        &mut self,
        id: ClientId,
        room: &str,
        pin: Option<&str>,
        name: &str,
        metrics: &Metrics,
    ) -> Result<ServerMessage, Refusal> {
        valid_digits("room", room)?;
        valid_name(name)?;
        let client = self
            .clients
            .get(&id)
            .ok_or((ErrorCode::WrongState, "unknown client".to_string()))?;
        if let Some(current) = &client.room {
            return Err((
                ErrorCode::WrongState,
                format!("already in room {current}; leave first"),
            ));
        }
        let entry = self
            .rooms
            .get(room)
            .ok_or_else(|| (ErrorCode::RoomNotFound, format!("no room {room}")))?;
        if let Some(expected) = &entry.pin
            && !pin.is_some_and(|p| constant_time_eq(expected, p))
        {
            return Err((ErrorCode::WrongPin, "wrong or missing PIN".to_string()));
        }
        let participants = entry
            .members
            .iter()
            .filter_map(|m| {
                self.clients.get(m).map(|c| Participant {
                    client_id: *m,
                    name: c.name.clone(),
                })
            })
            .collect();
        let room_name = entry.name.clone();
        let me = Participant {
            client_id: id,
            name: name.to_string(),
        };
        self.broadcast(
            room,
            &ServerMessage::ParticipantJoined {
                room: room.to_string(),
                participant: me,
            },
            metrics,
        );
        if let Some(entry) = self.rooms.get_mut(room) {
            entry.members.insert(id);
        }
        if let Some(client) = self.clients.get_mut(&id) {
            client.room = Some(room.to_string());
            client.name = name.to_string();
        }
        Ok(ServerMessage::Joined {
            room: room.to_string(),
            name: room_name,
            client_id: id,
            participants,
        })
    }

    pub fn leave(&mut self, id: ClientId, metrics: &Metrics) -> Result<ServerMessage, Refusal> {
        let room = self
            .clients
            .get_mut(&id)
            .and_then(|c| c.room.take())
            .ok_or((ErrorCode::WrongState, "not in a room".to_string()))?;
        if let Some(entry) = self.rooms.get_mut(&room) {
            entry.members.remove(&id);
        }
        self.broadcast(
            &room,
            &ServerMessage::ParticipantLeft {
                room: room.clone(),
                client_id: id,
            },
            metrics,
        );
        Ok(ServerMessage::Left { room })
    }

    /// Relays `payload` to `to`, who must be in the sender's room. No reply on success.
    pub fn signal(
        &mut self,
        from: ClientId,
        to: ClientId,
        payload: serde_json::Value,
        metrics: &Metrics,
    ) -> Result<(), Refusal> {
        let room = self
            .clients
            .get(&from)
            .and_then(|c| c.room.clone())
            .ok_or((
                ErrorCode::WrongState,
                "join a room before sending signals".to_string(),
            ))?;
        let target = self
            .clients
            .get(&to)
            .filter(|c| c.room.as_deref() == Some(room.as_str()))
            .ok_or_else(|| {
                (
                    ErrorCode::NoSuchParticipant,
                    format!("participant {to} is not in room {room}"),
                )
            })?;
        deliver(
            &target.mailbox,
            &ServerMessage::Signal { from, payload },
            metrics,
        );
        Ok(())
    }

    fn broadcast(&self, room: &str, msg: &ServerMessage, metrics: &Metrics) {
        let Some(entry) = self.rooms.get(room) else {
            return;
        };
        for member in &entry.members {
            if let Some(c) = self.clients.get(member) {
                deliver(&c.mailbox, msg, metrics);
            }
        }
    }

    #[cfg(test)]
    fn room_name(&self, room: &str) -> Option<&str> {
        self.rooms.get(room).map(|r| r.name.as_str())
    }
}

/// Queues an unsolicited message; a full or closed mailbox drops it and counts the drop.
fn deliver(mailbox: &Mailbox, msg: &ServerMessage, metrics: &Metrics) {
    let text = serde_json::to_string(&Envelope::new(None, msg))
        .expect("server messages always serialize: plain strings, numbers and JSON values");
    if mailbox.try_send(text).is_err() {
        metrics.dropped_messages.fetch_add(1, Ordering::Relaxed);
    }
}

/// Compares secrets without leaking the position of the first difference through timing.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "rooms_tests.rs"]
mod tests;
