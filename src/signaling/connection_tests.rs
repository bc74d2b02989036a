use super::*;

fn code(text: &str) -> (Option<RequestId>, ErrorCode) {
    let (id, (code, _)) = parse(text).unwrap_err();
    (id, code)
}

#[test]
fn parse_sorts_bad_input() {
    assert_eq!(code("{"), (None, ErrorCode::BadJson));
    assert_eq!(code("[1]"), (None, ErrorCode::BadJson));
    assert_eq!(
        code(r#"{"request_id":5}"#),
        (Some(5), ErrorCode::UnknownType)
    );
    assert_eq!(
        code(r#"{"type":"fly","request_id":6}"#),
        (Some(6), ErrorCode::UnknownType)
    );
    assert_eq!(
        code(r#"{"type":"lookup_room","request_id":7}"#),
        (Some(7), ErrorCode::BadMessage)
    );
    assert_eq!(
        code(r#"{"type":"ping","request_id":-1}"#),
        (None, ErrorCode::BadMessage)
    );
    let big = format!(
        r#"{{"type":"ping","pad":"{}"}}"#,
        "x".repeat(MAX_MESSAGE_BYTES)
    );
    assert_eq!(code(&big), (None, ErrorCode::TooLarge));
}

#[test]
fn parse_accepts_requests() {
    let env = parse(r#"{"type":"check_pin","room":"1","pin":"2","request_id":9}"#).unwrap();
    assert_eq!(env.request_id, Some(9));
    assert_eq!(
        env.message,
        ClientMessage::CheckPin {
            room: "1".into(),
            pin: "2".into()
        }
    );
}
