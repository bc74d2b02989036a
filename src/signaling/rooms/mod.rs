//! The room registry: rooms, their members, and a mailbox per connected client. It is plain
//! synchronous code behind one `std::sync::Mutex` (never held across an `.await`): every
//! operation is a few map lookups, and fan-out uses `try_send` of one pre-serialized frame, so
//! the lock is short. It never reads the clock: [`Registry::sweep`] gets `now` from its caller.
//!
//! Membership (join, leave, relay, mute, kick) lives in [`members`].

mod members;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use rand::Rng;
use tokio::sync::{mpsc, oneshot};

use super::metrics::Metrics;
use super::protocol::{ClientId, Envelope, ErrorCode, Participant, ParticipantKind, ServerMessage};
use crate::config::RoomConfig;

/// Who joins, as `join` and `join_or_create` describe them.
#[derive(Debug, Clone, Copy)]
pub struct Joiner<'a> {
    pub pin: Option<&'a str>,
    pub display_name: &'a str,
    pub kind: ParticipantKind,
    /// The masked caller number of a phone participant.
    pub caller: Option<&'a str>,
    pub host_key: Option<&'a str>,
}

/// Most rooms the server keeps; `create_room` beyond this fails with `too_many_rooms`, so a
/// client cannot exhaust memory.
pub const MAX_ROOMS: usize = 10_000;
/// Digits of a room ID the server picks itself (inside the IVR's default 3..=10).
pub const GENERATED_ROOM_DIGITS: u32 = 6;
/// Longest accepted room ID or PIN, in digits.
pub const MAX_DIGITS: usize = 20;
/// Longest accepted room or participant name, in bytes.
pub const MAX_NAME_BYTES: usize = 200;
/// Longest accepted masked caller number, in bytes.
pub const MAX_CALLER_BYTES: usize = 64;
/// Length of a host key: 22 alphanumerics from a CSPRNG, about 130 bits, not guessable.
pub const HOST_KEY_CHARS: usize = 22;

/// A failed request: the error code and a human message.
pub type Refusal = (ErrorCode, String);

/// Text frames queued for one client's connection task.
pub type Mailbox = mpsc::Sender<Utf8Bytes>;

/// The last frame for a client that is being removed (`kicked`); its connection task sends it,
/// then closes. A oneshot, so it cannot be lost to a full mailbox.
pub type Farewell = oneshot::Sender<Utf8Bytes>;

struct Room {
    name: String,
    pin: Option<String>,
    host_key: String,
    /// The connection that created the room over the protocol; it is a host when it joins.
    creator: Option<ClientId>,
    /// Configured rooms are never swept.
    from_config: bool,
    members: BTreeSet<ClientId>,
    /// When [`Registry::sweep`] first saw the room empty.
    empty_since: Option<Instant>,
}

impl Room {
    fn new(name: &str, pin: Option<&str>, creator: Option<ClientId>) -> Room {
        Room {
            name: name.to_string(),
            pin: pin.map(str::to_string),
            host_key: new_host_key(),
            creator,
            from_config: creator.is_none(),
            members: BTreeSet::new(),
            empty_since: None,
        }
    }
}

struct Client {
    mailbox: Mailbox,
    farewell: Option<Farewell>,
    member: Option<Member>,
}

/// A client's place in a room.
struct Member {
    room: String,
    display_name: String,
    kind: ParticipantKind,
    caller: Option<String>,
    muted: bool,
    host: bool,
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

/// A fresh random host key: 22 letters and digits from the thread's CSPRNG.
pub fn new_host_key() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(HOST_KEY_CHARS)
        .map(char::from)
        .collect()
}

impl Registry {
    /// Starts with the configured rooms, each with its configured host key or else a fresh
    /// one nobody is told. Keys are never logged. Invalid entries are kept as they are;
    /// `check-config` reports them.
    pub fn new(rooms: &[RoomConfig]) -> Registry {
        let rooms = rooms
            .iter()
            .map(|r| {
                let mut room = Room::new(&r.name, r.pin.as_deref(), None);
                if let Some(key) = &r.host_key {
                    room.host_key = key.clone();
                }
                tracing::info!(room = %r.id, host_key_configured = r.host_key.is_some(), "configured room ready");
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

    /// The key that makes a `web` participant host of `room`.
    pub fn host_key(&self, room: &str) -> Option<&str> {
        self.rooms.get(room).map(|r| r.host_key.as_str())
    }

    /// Everyone in `room`, ordered by client ID; `None` if there is no such room.
    pub fn participants(&self, room: &str) -> Option<Vec<Participant>> {
        let entry = self.rooms.get(room)?;
        Some(
            entry
                .members
                .iter()
                .filter_map(|m| self.participant(*m))
                .collect(),
        )
    }

    fn participant(&self, id: ClientId) -> Option<Participant> {
        let m = self.clients.get(&id)?.member.as_ref()?;
        Some(Participant {
            client_id: id,
            display_name: m.display_name.clone(),
            kind: m.kind,
            muted: m.muted,
            caller: m.caller.clone(),
            host: m.host,
        })
    }

    /// A new connection; its frames go to `mailbox`, a removal notice to `farewell`.
    pub fn add_client(&mut self, mailbox: Mailbox, farewell: Farewell) -> ClientId {
        let id = self.next_client;
        self.next_client += 1;
        let client = Client {
            mailbox,
            farewell: Some(farewell),
            member: None,
        };
        self.clients.insert(id, client);
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

    /// `create_room` from client `creator`: answers with the room ID and its host key.
    pub fn create(
        &mut self,
        creator: ClientId,
        room: Option<&str>,
        name: &str,
        pin: Option<&str>,
    ) -> Result<ServerMessage, Refusal> {
        let (room, host_key) = self.create_room(creator, room, name, pin)?;
        Ok(ServerMessage::HostRoomCreated { room, host_key })
    }

    fn create_room(
        &mut self,
        creator: ClientId,
        room: Option<&str>,
        name: &str,
        pin: Option<&str>,
    ) -> Result<(String, String), Refusal> {
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
        let entry = Room::new(name, pin, Some(creator));
        let host_key = entry.host_key.clone();
        self.rooms.insert(id.clone(), entry);
        Ok((id, host_key))
    }

    fn free_id(&self) -> Result<String, Refusal> {
        let lo = 10u64.pow(GENERATED_ROOM_DIGITS - 1);
        let mut rng = rand::rng();
        (0..1000)
            .map(|_| rng.random_range(lo..lo * 10).to_string())
            .find(|id| !self.rooms.contains_key(id))
            .ok_or_else(|| (ErrorCode::TooManyRooms, "no free room ID left".to_string()))
    }

    /// Removes rooms created over the protocol that have been empty for `ttl`, counting from the
    /// first sweep that saw them empty; configured rooms stay. Returns the removed IDs.
    pub fn sweep(&mut self, now: Instant, ttl: Duration) -> Vec<String> {
        let mut removed = Vec::new();
        for (id, room) in &mut self.rooms {
            if room.from_config || !room.members.is_empty() {
                room.empty_since = None;
                continue;
            }
            let since = *room.empty_since.get_or_insert(now);
            if now.saturating_duration_since(since) >= ttl {
                removed.push(id.clone());
            }
        }
        for id in &removed {
            self.rooms.remove(id);
        }
        removed
    }

    /// Queues `msg` for every member of `room` except `except`; serialized once.
    fn broadcast(
        &self,
        room: &str,
        msg: &ServerMessage,
        except: Option<ClientId>,
        metrics: &Metrics,
    ) {
        let Some(entry) = self.rooms.get(room) else {
            return;
        };
        let text = frame(msg);
        for member in entry.members.iter().filter(|m| Some(**m) != except) {
            if let Some(c) = self.clients.get(member) {
                deliver(&c.mailbox, text.clone(), metrics);
            }
        }
    }

    #[cfg(test)]
    fn room_name(&self, room: &str) -> Option<&str> {
        self.rooms.get(room).map(|r| r.name.as_str())
    }
}

/// One unsolicited server message as a text frame.
pub fn frame(msg: &ServerMessage) -> Utf8Bytes {
    serde_json::to_string(&Envelope::new(None, msg))
        .expect("server messages always serialize: plain strings, numbers and JSON values")
        .into()
}

/// Queues an unsolicited frame; a full or closed mailbox drops it and counts the drop.
fn deliver(mailbox: &Mailbox, text: Utf8Bytes, metrics: &Metrics) {
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
mod tests;
