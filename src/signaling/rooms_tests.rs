//! The registry on its own: lookups, PINs, room creation, joins and relays.

use super::*;

fn registry() -> Registry {
    Registry::new(&[
        RoomConfig {
            id: "1234".into(),
            name: "Demo".into(),
            pin: None,
        },
        RoomConfig {
            id: "5678".into(),
            name: "Pin".into(),
            pin: Some("2468".into()),
        },
    ])
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
    assert_eq!(
        r.lookup("9").unwrap(),
        ServerMessage::RoomInfo {
            room: "9".into(),
            exists: false,
            pin_required: false
        }
    );
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
}

#[test]
fn create_rooms() {
    let mut r = registry();
    assert_eq!(
        r.create(Some("1234"), "", None).unwrap_err().0,
        ErrorCode::RoomExists
    );
    assert_eq!(
        r.create(Some("77"), "", Some("1x")).unwrap_err().0,
        ErrorCode::InvalidValue
    );
    assert_eq!(
        r.create(Some("77"), &"n".repeat(201), None).unwrap_err().0,
        ErrorCode::InvalidValue
    );
    r.create(Some("77"), "Mine", Some("1")).unwrap();
    assert_eq!(r.room_name("77"), Some("Mine"));
    let ServerMessage::RoomCreated { room } = r.create(None, "", None).unwrap() else {
        panic!()
    };
    assert_eq!(room.len(), GENERATED_ROOM_DIGITS as usize);
    assert_eq!(r.room_count(), 4);
}

#[test]
fn join_leave_and_signal() {
    let m = Metrics::default();
    let mut r = registry();
    let (tx1, mut rx1) = mpsc::channel(8);
    let (tx2, mut rx2) = mpsc::channel(8);
    let a = r.add_client(tx1);
    let b = r.add_client(tx2);
    assert_eq!(
        r.join(a, "5678", Some("1"), "A", &m).unwrap_err().0,
        ErrorCode::WrongPin
    );
    assert_eq!(
        r.join(a, "4444", None, "A", &m).unwrap_err().0,
        ErrorCode::RoomNotFound
    );
    assert_eq!(
        r.signal(a, b, serde_json::json!(1), &m).unwrap_err().0,
        ErrorCode::WrongState
    );
    r.join(a, "1234", None, "A", &m).unwrap();
    assert_eq!(
        r.join(a, "1234", None, "A", &m).unwrap_err().0,
        ErrorCode::WrongState
    );
    assert_eq!(
        r.signal(a, b, serde_json::json!(1), &m).unwrap_err().0,
        ErrorCode::NoSuchParticipant
    );
    let joined = r.join(b, "1234", None, "B", &m).unwrap();
    assert!(
        matches!(joined, ServerMessage::Joined { participants, .. } if participants.len() == 1)
    );
    assert!(rx1.try_recv().unwrap().contains("participant_joined"));
    r.signal(b, a, serde_json::json!({"sdp": "x"}), &m).unwrap();
    assert!(rx1.try_recv().unwrap().contains("\"from\":2"));
    assert_eq!(r.participant_count(), 2);
    r.remove_client(a, &m);
    assert!(rx2.try_recv().unwrap().contains("participant_left"));
    assert_eq!(r.participant_count(), 1);
    assert_eq!(
        r.leave(b, &m).unwrap(),
        ServerMessage::Left {
            room: "1234".into()
        }
    );
}

#[test]
fn full_mailbox_drops_and_counts() {
    let m = Metrics::default();
    let mut r = registry();
    let (tx1, _rx1) = mpsc::channel(1);
    let (tx2, _rx2) = mpsc::channel(1);
    let a = r.add_client(tx1);
    let b = r.add_client(tx2);
    r.join(a, "1234", None, "A", &m).unwrap();
    r.join(b, "1234", None, "B", &m).unwrap();
    r.signal(b, a, serde_json::json!(1), &m).unwrap();
    assert_eq!(m.dropped_messages.load(Ordering::Relaxed), 1);
}

#[test]
fn secret_comparison() {
    assert!(constant_time_eq("abc", "abc"));
    assert!(!constant_time_eq("abc", "abd"));
    assert!(!constant_time_eq("abc", "ab"));
}
