//! Round trips and real Janus message shapes for `protocol.rs`.
use super::*;
use serde_json::json;

fn round_trip<T>(value: &T) -> T
where
    T: Serialize + for<'de> Deserialize<'de>,
{
    serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
}

#[test]
fn requests_round_trip_and_carry_secrets() {
    let requests = [
        Request::Create {
            transaction: "t1".into(),
        },
        Request::Attach {
            transaction: "t2".into(),
            session_id: 1,
            plugin: "janus.plugin.videoroom".into(),
        },
        Request::Message {
            transaction: "t3".into(),
            session_id: 1,
            handle_id: 2,
            body: json!({"request": "publish"}),
            jsep: Some(Jsep::offer("v=0".into())),
        },
        Request::Message {
            transaction: "t4".into(),
            session_id: 1,
            handle_id: 2,
            body: json!({}),
            jsep: None,
        },
        Request::Trickle {
            transaction: "t5".into(),
            session_id: 1,
            handle_id: 2,
            candidate: TrickleCandidate::Candidate {
                candidate: "candidate:1".into(),
                sdp_mline_index: 0,
                sdp_mid: None,
            },
        },
        Request::Trickle {
            transaction: "t6".into(),
            session_id: 1,
            handle_id: 2,
            candidate: TrickleCandidate::Completed { completed: true },
        },
        Request::Keepalive {
            transaction: "t7".into(),
            session_id: 1,
        },
        Request::Detach {
            transaction: "t8".into(),
            session_id: 1,
            handle_id: 2,
        },
        Request::Destroy {
            transaction: "t9".into(),
            session_id: 1,
        },
    ];
    for request in requests {
        let envelope = Envelope {
            request,
            apisecret: Some("s".into()),
            token: None,
        };
        assert_eq!(round_trip(&envelope), envelope);
    }
}

#[test]
fn wire_format_is_what_janus_expects() {
    let envelope = Envelope {
        request: Request::Trickle {
            transaction: "t".into(),
            session_id: 5,
            handle_id: 6,
            candidate: TrickleCandidate::Candidate {
                candidate: "candidate:1".into(),
                sdp_mline_index: 0,
                sdp_mid: None,
            },
        },
        apisecret: Some("secret".into()),
        token: Some("tok".into()),
    };
    let value: Value = serde_json::from_str(&envelope.encode()).unwrap();
    assert_eq!(
        value,
        json!({"janus": "trickle", "transaction": "t", "session_id": 5, "handle_id": 6,
               "candidate": {"candidate": "candidate:1", "sdpMLineIndex": 0},
               "apisecret": "secret", "token": "tok"})
    );
    let done = Request::Trickle {
        transaction: "t".into(),
        session_id: 5,
        handle_id: 6,
        candidate: TrickleCandidate::Completed { completed: true },
    };
    let value = serde_json::to_value(Envelope {
        request: done,
        apisecret: None,
        token: None,
    })
    .unwrap();
    assert_eq!(value["candidate"], json!({"completed": true}));
    assert!(value.get("apisecret").is_none());
}

#[test]
fn parses_what_janus_sends() {
    let create = r#"{"janus":"success","transaction":"a","data":{"id":4215117112345}}"#;
    assert_eq!(
        Incoming::parse(create),
        Some(Incoming::Success {
            transaction: Some("a".into()),
            sender: None,
            data: Some(IdData { id: 4215117112345 }),
            plugindata: None
        })
    );
    let event = r#"{
       "janus": "event", "session_id": 1, "sender": 2, "transaction": "b",
       "plugindata": {"plugin": "janus.plugin.videoroom", "data": {"videoroom": "event", "configured": "ok"}},
       "jsep": {"type": "answer", "sdp": "v=0\r\n"}
    }"#;
    let Some(Incoming::Event {
        transaction,
        sender: 2,
        plugindata: Some(p),
        jsep: Some(jsep),
    }) = Incoming::parse(event)
    else {
        panic!("not an event")
    };
    assert_eq!(
        (
            transaction.as_deref(),
            p.data["configured"].as_str(),
            jsep.kind.as_str()
        ),
        (Some("b"), Some("ok"), "answer")
    );
    let error = r#"{"janus":"error","session_id":1,"transaction":"c","error":{"code":458,"reason":"No such session 1"}}"#;
    assert!(matches!(
        Incoming::parse(error),
        Some(Incoming::Error {
            error: CoreError { code: 458, .. },
            ..
        })
    ));
    let trickle = r#"{"janus":"trickle","session_id":1,"sender":2,"candidate":{"completed":true}}"#;
    assert_eq!(
        Incoming::parse(trickle),
        Some(Incoming::Trickle {
            sender: 2,
            candidate: TrickleCandidate::Completed { completed: true }
        })
    );
    let trickle = r#"{"janus":"trickle","sender":2,"candidate":{"sdpMid":"0","sdpMLineIndex":0,"candidate":"candidate:1 1 udp 1 10.0.0.1 9 typ host"}}"#;
    assert!(matches!(
        Incoming::parse(trickle),
        Some(Incoming::Trickle {
            candidate: TrickleCandidate::Candidate { .. },
            ..
        })
    ));
    for (text, expected) in [
        (
            r#"{"janus":"ack","session_id":1,"transaction":"d"}"#,
            Incoming::Ack {
                transaction: Some("d".into()),
            },
        ),
        (
            r#"{"janus":"webrtcup","session_id":1,"sender":2}"#,
            Incoming::Webrtcup { sender: 2 },
        ),
        (
            r#"{"janus":"hangup","session_id":1,"sender":2,"reason":"DTLS alert"}"#,
            Incoming::Hangup {
                sender: 2,
                reason: "DTLS alert".into(),
            },
        ),
        (
            r#"{"janus":"media","sender":2,"mid":"0","type":"audio","receiving":true}"#,
            Incoming::Media {
                sender: 2,
                kind: "audio".into(),
                receiving: true,
            },
        ),
        (
            r#"{"janus":"timeout","session_id":9}"#,
            Incoming::Timeout { session_id: 9 },
        ),
        (
            r#"{"janus":"detached","sender":2}"#,
            Incoming::Detached { sender: 2 },
        ),
        (r#"{"janus":"server_info","name":"x"}"#, Incoming::Other),
    ] {
        assert_eq!(Incoming::parse(text), Some(expected.clone()), "{text}");
        assert_eq!(round_trip(&expected), expected);
    }
    assert_eq!(Incoming::parse("not json"), None);
    assert_eq!(
        Incoming::parse(r#"{"janus":"event"}"#),
        None,
        "an event without sender"
    );
}

#[test]
fn reads_plugin_errors() {
    assert_eq!(
        plugin_error(
            &json!({"videoroom": "event", "error_code": 433, "error": "Unauthorized (wrong pin)"})
        ),
        Some((433, "Unauthorized (wrong pin)".into()))
    );
    assert_eq!(plugin_error(&json!({"videoroom": "joined"})), None);
}

#[test]
fn reads_videoroom_publishers() {
    let data = json!({"videoroom": "event", "publishers": [
        {"id": 1, "display": "A", "streams": [{"type": "video", "mid": "0"}, {"type": "audio", "mid": "1", "codec": "opus"}]},
        {"id": 2, "streams": [{"type": "video", "mid": "0"}]},
        {"id": 3, "streams": [{"type": "audio", "mid": "0", "disabled": true}]},
        {"id": 4},
        {"id": 5, "dummy": true, "streams": [{"type": "audio", "mid": "0"}]},
    ]});
    let list = publishers(&data);
    let mids: Vec<_> = list.iter().map(|p| (p.id, p.audio_mid())).collect();
    assert_eq!(
        mids,
        [
            (1, Some(Some("1".into()))),
            (2, None),
            (3, None),
            (4, Some(None)),
            (5, None)
        ]
    );
    assert_eq!(round_trip(&list[0]), list[0]);
    assert!(publishers(&json!({"publishers": "nonsense"})).is_empty());
    assert!(publishers(&json!({})).is_empty());
}

#[test]
fn failures_and_replies() {
    let data = |d: Value| {
        Some(PluginData {
            plugin: "p".into(),
            data: d,
        })
    };
    let refused = Incoming::Event {
        transaction: None,
        sender: 1,
        plugindata: data(json!({"error_code": 426, "error": "No such room"})),
        jsep: None,
    };
    assert_eq!(refused.failure().as_deref(), Some("No such room (426)"));
    let fine = Incoming::Event {
        transaction: None,
        sender: 1,
        plugindata: data(json!({"ok": 1})),
        jsep: Some(Jsep::answer("v=0".into())),
    };
    assert_eq!(fine.failure(), None);
    assert_eq!(
        fine.into_plugin_reply(),
        Some((json!({"ok": 1}), Some(Jsep::answer("v=0".into()))))
    );
    let core = Incoming::Error {
        transaction: None,
        error: CoreError {
            code: 403,
            reason: "Unauthorized request".into(),
        },
    };
    assert_eq!(
        core.failure().as_deref(),
        Some("Unauthorized request (403)")
    );
    assert_eq!(core.into_plugin_reply(), None);
}
