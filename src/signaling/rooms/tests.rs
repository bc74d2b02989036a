//! The registry on its own: lookups, PINs, room creation, joins, relays, host actions, sweeps.

use super::*;
use crate::signaling::protocol::ParticipantKind::{Phone, Web};

fn registry() -> Registry {
    Registry::new(&[
        RoomConfig {
            id: "1234".into(),
            name: "Demo".into(),
            pin: None,
            host_key: None,
        },
        RoomConfig {
            id: "5678".into(),
            name: "Pin".into(),
            pin: Some("2468".into()),
            host_key: None,
        },
    ])
}

fn web(name: &str) -> Joiner<'_> {
    Joiner {
        pin: None,
        display_name: name,
        kind: Web,
        caller: None,
        host_key: None,
    }
}

/// A client with its mailbox and farewell receivers.
struct Peer {
    id: ClientId,
    rx: mpsc::Receiver<Utf8Bytes>,
    farewell: oneshot::Receiver<Utf8Bytes>,
}

impl Peer {
    fn new(r: &mut Registry, capacity: usize) -> Peer {
        let (tx, rx) = mpsc::channel(capacity);
        let (ftx, farewell) = oneshot::channel();
        let id = r.add_client(tx, ftx);
        Peer { id, rx, farewell }
    }

    fn next(&mut self) -> serde_json::Value {
        serde_json::from_str(&self.rx.try_recv().expect("a queued message")).unwrap()
    }
}

#[test]
fn lookup_and_pins() {
    let r = registry();
    assert_eq!(
        r.lookup("5678").unwrap(),
        ServerMessage::RoomInfo {
            room: "5678".into(),
            exists: true,
            pin_required: true
        }
    );
    assert!(matches!(
        r.lookup("9").unwrap(),
        ServerMessage::RoomInfo { exists: false, .. }
    ));
    assert_eq!(r.lookup("12a").unwrap_err().0, ErrorCode::InvalidValue);
    let ok = |room: &str, pin: &str| {
        matches!(
            r.check_pin(room, pin).unwrap(),
            ServerMessage::PinResult { ok: true, .. }
        )
    };
    assert!(ok("5678", "2468"));
    assert!(!ok("5678", "2469"));
    assert!(ok("1234", "anything"));
    assert!(!ok("9999", "2468"));
    assert_eq!(r.host_key("1234").unwrap().len(), HOST_KEY_CHARS);
    assert_ne!(r.host_key("1234"), r.host_key("5678"));
}

#[test]
fn create_rooms() {
    let mut r = registry();
    let err = |r: &mut Registry, room, name: &str, pin| r.create(9, room, name, pin).unwrap_err().0;
    assert_eq!(err(&mut r, Some("1234"), "", None), ErrorCode::RoomExists);
    assert_eq!(
        err(&mut r, Some("77"), "", Some("1x")),
        ErrorCode::InvalidValue
    );
    assert_eq!(
        err(&mut r, Some("77"), &"n".repeat(201), None),
        ErrorCode::InvalidValue
    );
    let ServerMessage::HostRoomCreated { room, host_key } =
        r.create(9, Some("77"), "Mine", Some("1")).unwrap()
    else {
        panic!()
    };
    assert_eq!((room.as_str(), r.room_name("77")), ("77", Some("Mine")));
    assert_eq!(r.host_key("77"), Some(host_key.as_str()));
    let ServerMessage::HostRoomCreated { room, .. } = r.create(9, None, "", None).unwrap() else {
        panic!()
    };
    assert_eq!(room.len(), GENERATED_ROOM_DIGITS as usize);
    assert_eq!(r.room_count(), 4);
}

#[test]
fn join_leave_and_signal() {
    let m = Metrics::default();
    let mut r = registry();
    let mut a = Peer::new(&mut r, 8);
    let mut b = Peer::new(&mut r, 8);
    let with_pin = Joiner {
        pin: Some("1"),
        ..web("A")
    };
    assert_eq!(
        r.join(a.id, "5678", with_pin, &m).unwrap_err().0,
        ErrorCode::WrongPin
    );
    assert_eq!(
        r.join(a.id, "4444", web("A"), &m).unwrap_err().0,
        ErrorCode::RoomNotFound
    );
    let signal = |r: &mut Registry, from, to| r.signal(from, to, serde_json::json!(1), &m);
    assert_eq!(
        signal(&mut r, a.id, b.id).unwrap_err().0,
        ErrorCode::WrongState
    );
    r.join(a.id, "1234", web("A"), &m).unwrap();
    assert_eq!(
        r.join(a.id, "1234", web("A"), &m).unwrap_err().0,
        ErrorCode::WrongState
    );
    assert_eq!(
        signal(&mut r, a.id, b.id).unwrap_err().0,
        ErrorCode::NoSuchParticipant
    );
    let phone = Joiner {
        kind: Phone,
        caller: Some("+49 ••• 89"),
        ..web("B")
    };
    let ServerMessage::Joined {
        participants, host, ..
    } = r.join(b.id, "1234", phone, &m).unwrap()
    else {
        panic!()
    };
    assert_eq!(participants.len(), 1);
    assert_eq!((participants[0].client_id, host), (a.id, false));
    let joined = a.next();
    assert_eq!(joined["type"], "participant_joined");
    assert_eq!(joined["participant"]["caller"], "+49 ••• 89");
    assert_eq!(joined["participant"]["kind"], "phone");
    r.signal(b.id, a.id, serde_json::json!({"sdp": "x"}), &m)
        .unwrap();
    assert_eq!(a.next()["from"], b.id);
    assert_eq!(r.participant_count(), 2);
    r.remove_client(a.id, &m);
    assert_eq!(b.next()["type"], "participant_left");
    assert_eq!(r.participant_count(), 1);
    assert_eq!(
        r.leave(b.id, &m).unwrap(),
        ServerMessage::Left {
            room: "1234".into()
        }
    );
    assert_eq!(r.participants("1234"), Some(vec![]));
}

#[test]
fn hosts_mute_and_kick() {
    let m = Metrics::default();
    let mut r = registry();
    let key = r.host_key("1234").unwrap().to_string();
    let mut host = Peer::new(&mut r, 8);
    let mut guest = Peer::new(&mut r, 8);
    let mut phone = Peer::new(&mut r, 8);
    let wrong = Joiner {
        host_key: Some("nope"),
        ..web("H")
    };
    assert_eq!(
        r.join(host.id, "1234", wrong, &m).unwrap_err().0,
        ErrorCode::Forbidden
    );
    let phone_host = Joiner {
        host_key: Some(&key),
        kind: Phone,
        ..web("P")
    };
    assert_eq!(
        r.join(phone.id, "1234", phone_host, &m).unwrap_err().0,
        ErrorCode::Forbidden
    );
    let as_host = Joiner {
        host_key: Some(&key),
        ..web("H")
    };
    let joined = r.join(host.id, "1234", as_host, &m).unwrap();
    assert!(
        matches!(joined, ServerMessage::Joined { host: true, host_key: Some(k), .. } if k == key)
    );
    r.join(guest.id, "1234", web("G"), &m).unwrap();
    r.join(
        phone.id,
        "1234",
        Joiner {
            kind: Phone,
            ..web("P")
        },
        &m,
    )
    .unwrap();
    while host.rx.try_recv().is_ok() || guest.rx.try_recv().is_ok() {}

    assert_eq!(
        r.mute(guest.id, phone.id, &m).unwrap_err().0,
        ErrorCode::Forbidden
    );
    assert_eq!(
        r.kick(guest.id, phone.id, &m).unwrap_err().0,
        ErrorCode::Forbidden
    );
    assert_eq!(
        r.mute(host.id, host.id, &m).unwrap_err().0,
        ErrorCode::InvalidValue
    );
    assert_eq!(
        r.mute(host.id, 999, &m).unwrap_err().0,
        ErrorCode::NoSuchParticipant
    );

    let reply = r.mute(host.id, phone.id, &m).unwrap();
    assert!(
        matches!(&reply, ServerMessage::ParticipantUpdated { participant, .. } if participant.muted)
    );
    assert_eq!(
        phone.next(),
        serde_json::json!({"type":"muted","by":host.id})
    );
    assert_eq!(phone.next()["type"], "participant_updated");
    assert_eq!(guest.next()["participant"]["muted"], true);
    assert!(host.rx.try_recv().is_err(), "the host's copy is the reply");

    let reply = r.kick(host.id, phone.id, &m).unwrap();
    assert!(
        matches!(reply, ServerMessage::ParticipantLeft { client_id, .. } if client_id == phone.id)
    );
    let bye: serde_json::Value = serde_json::from_str(&phone.farewell.try_recv().unwrap()).unwrap();
    assert_eq!(bye, serde_json::json!({"type":"kicked","by":host.id}));
    assert_eq!(guest.next()["type"], "participant_left");
    assert_eq!(r.participants("1234").unwrap().len(), 2);
    assert_eq!(
        r.kick(host.id, phone.id, &m).unwrap_err().0,
        ErrorCode::NoSuchParticipant
    );

    let reply = r.set_muted(guest.id, true, &m).unwrap();
    assert!(
        matches!(reply, ServerMessage::ParticipantUpdated { participant, .. } if participant.muted)
    );
    assert_eq!(host.next()["participant"]["client_id"], guest.id);
}

#[test]
fn join_or_create_makes_the_creator_host() {
    let m = Metrics::default();
    let mut r = registry();
    let a = Peer::new(&mut r, 8);
    let b = Peer::new(&mut r, 8);
    let creator = Joiner {
        pin: Some("42"),
        ..web("A")
    };
    let joined = r.join_or_create(a.id, Some("900"), creator, &m).unwrap();
    assert!(matches!(
        joined,
        ServerMessage::Joined {
            host: true,
            pin_required: true,
            ..
        }
    ));
    assert_eq!(
        r.join_or_create(b.id, Some("900"), web("B"), &m)
            .unwrap_err()
            .0,
        ErrorCode::WrongPin
    );
    let second = Joiner {
        pin: Some("42"),
        ..web("B")
    };
    let joined = r.join_or_create(b.id, Some("900"), second, &m).unwrap();
    assert!(matches!(joined, ServerMessage::Joined { host: false, .. }));
    let c = Peer::new(&mut r, 8);
    let fresh = r.join_or_create(c.id, None, web("C"), &m).unwrap();
    assert!(matches!(fresh, ServerMessage::Joined { host: true, room, .. } if room.len() == 6));
    // create_room on a connection makes that connection host when it joins.
    let d = Peer::new(&mut r, 8);
    r.create(d.id, Some("901"), "", None).unwrap();
    let joined = r
        .join(
            d.id,
            "901",
            Joiner {
                kind: Phone,
                ..web("D")
            },
            &m,
        )
        .unwrap();
    assert!(matches!(
        joined,
        ServerMessage::Joined {
            host: true,
            host_key: Some(_),
            ..
        }
    ));
}

#[test]
fn empty_created_rooms_are_swept_configured_rooms_stay() {
    let m = Metrics::default();
    let mut r = registry();
    let ttl = Duration::from_secs(60);
    let t0 = Instant::now();
    let a = Peer::new(&mut r, 8);
    r.join_or_create(a.id, Some("900"), web("A"), &m).unwrap();
    r.create(a.id, Some("901"), "", None).unwrap();
    assert!(r.sweep(t0, ttl).is_empty());
    assert_eq!(r.sweep(t0 + ttl, ttl), vec!["901".to_string()]);
    r.leave(a.id, &m).unwrap();
    assert!(
        r.sweep(t0 + ttl * 2, ttl).is_empty(),
        "the clock starts at the first empty sweep"
    );
    assert!(
        r.sweep(t0 + ttl * 3 - Duration::from_secs(1), ttl)
            .is_empty()
    );
    assert_eq!(r.sweep(t0 + ttl * 3, ttl), vec!["900".to_string()]);
    assert!(r.sweep(t0 + ttl * 10, ttl).is_empty());
    assert_eq!(r.room_count(), 2);
}

#[test]
fn full_mailbox_drops_and_counts() {
    let m = Metrics::default();
    let mut r = registry();
    let a = Peer::new(&mut r, 1);
    let b = Peer::new(&mut r, 1);
    r.join(a.id, "1234", web("A"), &m).unwrap();
    r.join(b.id, "1234", web("B"), &m).unwrap();
    r.signal(b.id, a.id, serde_json::json!(1), &m).unwrap();
    assert_eq!(m.dropped_messages.load(Ordering::Relaxed), 1);
}

#[test]
fn secret_comparison() {
    assert!(constant_time_eq("abc", "abc"));
    assert!(!constant_time_eq("abc", "abd"));
    assert!(!constant_time_eq("abc", "ab"));
}
