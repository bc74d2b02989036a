//! Getting into rooms, for both plugins, as step-by-step requests on a [`Client`]: room lookups,
//! PIN checks, and the join that hands a plugin machine to the session task.
//!
//! PINs: `exists`, then `list`, whose entries say `pin_required` (private rooms are not
//! listed). To check a PIN, and to learn whether a private room has one, we let Janus judge
//! it with a `join` that Janus refuses right after its PIN check, so nobody ever joins (a real
//! join and leave would show hosts a participant coming and going; AudioBridge announces every
//! join). The order of Janus's checks was read in the 1.1.2 sources (VideoRoom's `access_room`
//! runs for every `join` before the participant type is looked at; AudioBridge's `join` checks
//! room and PIN before its other parameters) and is exercised against a real Janus by
//! tests/janus.rs. An answer we cannot read is an error, never a guess.

use serde_json::{Value, json};

use super::audiobridge::{self, AudioBridge};
use super::client::{Client, PluginReply, TransactionIds};
use super::kinds::{JanusError, JanusPlugin};
use super::machine::{Core, RoomMachine};
use super::videoroom::{self, VideoRoom};
use crate::conference::{ConferenceEvent, JoinRequest, RoomLookup};

const VIDEOROOM_NO_SUCH_ROOM: u32 = 426;
const VIDEOROOM_MISSING_ELEMENT: u32 = 429;
const VIDEOROOM_UNAUTHORIZED: u32 = 433;
const AUDIOBRIDGE_INVALID_ELEMENT: u32 = 484;
const AUDIOBRIDGE_NO_SUCH_ROOM: u32 = 485;
const AUDIOBRIDGE_UNAUTHORIZED: u32 = 489;

/// A `join` that only gets as far as Janus's room and PIN check. VideoRoom: as a subscriber
/// naming no feed (refused with 429). AudioBridge: with `quality` 0 (refused with 484).
pub fn pin_probe(plugin: JanusPlugin, room: u64, pin: &str) -> Value {
    match plugin {
        JanusPlugin::VideoRoom => {
            json!({"request": "join", "ptype": "subscriber", "room": room, "pin": pin})
        }
        JanusPlugin::AudioBridge => {
            json!({"request": "join", "room": room, "pin": pin, "quality": 0})
        }
    }
}

/// Reads the answer to [`pin_probe`]: `Ok(true)` when Janus accepted the PIN, `Ok(false)` for a
/// wrong PIN or no such room.
pub fn probe_verdict(
    plugin: JanusPlugin,
    reply: Result<PluginReply, JanusError>,
) -> Result<bool, JanusError> {
    let Err(error) = reply else {
        // A Janus that let us in anyway: the PIN passed (the session is destroyed after this).
        return Ok(true);
    };
    let JanusError::Plugin { code, reason } = &error else {
        return Err(error);
    };
    let about_pin = reason.contains("pin");
    match (plugin, *code) {
        (JanusPlugin::VideoRoom, VIDEOROOM_UNAUTHORIZED | VIDEOROOM_NO_SUCH_ROOM) => Ok(false),
        (JanusPlugin::VideoRoom, VIDEOROOM_MISSING_ELEMENT) if !about_pin => Ok(true),
        (JanusPlugin::AudioBridge, AUDIOBRIDGE_NO_SUCH_ROOM) => Ok(false),
        (JanusPlugin::AudioBridge, AUDIOBRIDGE_UNAUTHORIZED) if about_pin => Ok(false),
        (JanusPlugin::AudioBridge, AUDIOBRIDGE_INVALID_ELEMENT) if reason.contains("quality") => {
            Ok(true)
        }
        _ => Err(error),
    }
}

/// Asks Janus whether `pin` opens `room`, on a handle of its own.
pub async fn probe(
    client: &mut Client,
    session: u64,
    plugin: JanusPlugin,
    room: u64,
    pin: &str,
) -> Result<bool, JanusError> {
    let handle = client.attach(session, plugin.package()).await?;
    let reply = client
        .message(session, handle, pin_probe(plugin, room, pin), None)
        .await;
    probe_verdict(plugin, reply)
}

/// Does `room` exist, and does it want a PIN?
pub async fn lookup(
    client: &mut Client,
    session: u64,
    handle: u64,
    plugin: JanusPlugin,
    room: u64,
) -> Result<RoomLookup, JanusError> {
    let exists = client
        .message(
            session,
            handle,
            json!({"request": "exists", "room": room}),
            None,
        )
        .await?;
    if exists.data.get("exists").and_then(Value::as_bool) != Some(true) {
        return Ok(RoomLookup::NotFound);
    }
    let list = client
        .message(session, handle, json!({"request": "list"}), None)
        .await?;
    let rooms = list
        .data
        .get("list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let entry = rooms
        .into_iter()
        .find(|r| r.get("room").and_then(Value::as_u64) == Some(room));
    if let Some(pin_required) = entry
        .and_then(|r| r.get("pin_required"))
        .and_then(Value::as_bool)
    {
        return Ok(RoomLookup::Found { pin_required });
    }
    // A private room: does Janus let us in without a PIN?
    let open = probe(client, session, plugin, room, "").await?;
    Ok(RoomLookup::Found {
        pin_required: !open,
    })
}

/// Joins `room` on a new handle: as a publisher with our display name (VideoRoom) or as a
/// participant (AudioBridge). Returns the plugin machine and the `Joined` event for the call.
pub async fn join(
    client: &mut Client,
    session: u64,
    plugin: JanusPlugin,
    room: u64,
    request: &JoinRequest,
) -> Result<(Box<dyn RoomMachine>, ConferenceEvent), JanusError> {
    let handle = client.attach(session, plugin.package()).await?;
    let (mut body, tag) = match plugin {
        JanusPlugin::VideoRoom => (
            json!({"request": "join", "ptype": "publisher"}),
            "videoroom",
        ),
        JanusPlugin::AudioBridge => (json!({"request": "join"}), "audiobridge"),
    };
    body["room"] = json!(room);
    body["display"] = json!(request.display_name);
    if let Some(pin) = &request.pin {
        body["pin"] = json!(pin);
    }
    let joined = client.message(session, handle, body, None).await?.data;
    if joined.get(tag).and_then(Value::as_str) != Some("joined") {
        return Err(JanusError::Unexpected(format!("reply to join: {joined}")));
    }
    let core = Core::new(session, TransactionIds::new());
    Ok(match plugin {
        JanusPlugin::VideoRoom => {
            let machine = VideoRoom::new(core, room, request.pin.clone(), handle, &joined);
            (
                Box::new(machine),
                ConferenceEvent::Joined {
                    peers: vec![videoroom::PUBLISHER.into()],
                    others: count(&joined, "publishers"),
                },
            )
        }
        JanusPlugin::AudioBridge => {
            let me = joined.get("id").and_then(Value::as_u64).unwrap_or_default();
            let machine = AudioBridge::new(core, me, handle);
            (
                Box::new(machine),
                ConferenceEvent::Joined {
                    peers: vec![audiobridge::MIXER.into()],
                    others: count(&joined, "participants"),
                },
            )
        }
    })
}

/// Length of the list `key` in a join reply (other publishers / participants).
fn count(joined: &Value, key: &str) -> usize {
    joined
        .get(key)
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: u32, reason: &str) -> Result<PluginReply, JanusError> {
        Err(JanusError::Plugin {
            code,
            reason: reason.into(),
        })
    }

    #[test]
    fn videoroom_probe_verdicts() {
        let verdict = |r| probe_verdict(JanusPlugin::VideoRoom, r);
        assert!(!verdict(refused(433, "Unauthorized (wrong pin)")).unwrap());
        assert!(!verdict(refused(426, "No such room (1)")).unwrap());
        assert!(verdict(refused(429, "Missing mandatory element (feed)")).unwrap());
        assert!(
            verdict(refused(429, "Missing mandatory element (pin)")).is_err(),
            "cannot tell: an error"
        );
        assert!(verdict(refused(499, "?")).is_err());
        assert!(
            verdict(Err(JanusError::Janus {
                code: 403,
                reason: "Unauthorized request".into()
            }))
            .is_err()
        );
        assert!(
            verdict(Ok(PluginReply {
                data: json!({"videoroom": "attached"}),
                jsep: None
            }))
            .unwrap()
        );
    }

    #[test]
    fn audiobridge_probe_verdicts() {
        let verdict = |r| probe_verdict(JanusPlugin::AudioBridge, r);
        assert!(!verdict(refused(489, "Unauthorized (wrong pin)")).unwrap());
        assert!(!verdict(refused(485, "No such room (1)")).unwrap());
        let quality = "Invalid element (quality should be a positive integer between 1 and 10)";
        assert!(verdict(refused(484, quality)).unwrap());
        assert!(verdict(refused(489, "Unauthorized (not in the allowed list)")).is_err());
        assert!(verdict(refused(483, "Missing mandatory element (group)")).is_err());
    }

    #[test]
    fn probes_carry_the_pin_and_stop_short() {
        let v = pin_probe(JanusPlugin::VideoRoom, 7, "12");
        assert_eq!(
            (v["ptype"].as_str(), v["pin"].as_str(), v.get("streams")),
            (Some("subscriber"), Some("12"), None)
        );
        let a = pin_probe(JanusPlugin::AudioBridge, 7, "12");
        assert_eq!(
            (a["quality"].as_u64(), a["pin"].as_str()),
            (Some(0), Some("12"))
        );
    }
}
