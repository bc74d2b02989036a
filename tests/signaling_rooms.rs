//! Rooms on the real signaling server (port 0, real WebSocket clients): joins and leaves,
//! signal relay, hosts muting and removing participants, bad input, a burst of a thousand
//! clients, the sweep of empty rooms, and the host page.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialbridge::config::RoomConfig;
use dialbridge::signaling::{self, SignalingState};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

struct Server {
    addr: SocketAddr,
    state: SignalingState,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(state: SignalingState) -> Server {
        let listener = signaling::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(signaling::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            state,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }

    /// Connects and returns the socket with the client ID from `hello`.
    async fn client(&self) -> (Ws, u64) {
        let (mut ws, _) = tokio_tungstenite::connect_async(signaling::ws_url(self.addr))
            .await
            .unwrap();
        let hello = recv(&mut ws).await;
        assert_eq!(hello["type"], "hello");
        let id = hello["client_id"].as_u64().unwrap();
        (ws, id)
    }

    /// A client already in `room`, with its ID.
    async fn member(&self, room: &str, extra: Value) -> (Ws, u64) {
        let (mut ws, id) = self.client().await;
        let mut join =
            json!({"type":"join","room":room,"display_name":format!("c{id}"),"kind":"web"});
        join.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = ask(&mut ws, join).await;
        assert_eq!(r["type"], "joined", "{r}");
        (ws, id)
    }
}

fn state() -> SignalingState {
    let rooms = vec![
        RoomConfig {
            id: "1234".into(),
            name: "Demo".into(),
            pin: None,
            host_key: None,
        },
        RoomConfig {
            id: "5678".into(),
            name: "With PIN".into(),
            pin: Some("2468".into()),
            host_key: None,
        },
    ];
    SignalingState::new(&rooms, Arc::new(String::new))
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time");
        match frame {
            None => return json!({"type": "_closed", "code": null}),
            Some(Err(e)) => return json!({"type": "_closed", "error": e.to_string()}),
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(Message::Close(c))) => {
                return json!({"type": "_closed", "code": c.map(|c| u16::from(c.code))});
            }
            Some(Ok(_)) => continue,
        }
    }
}

async fn send(ws: &mut Ws, msg: Value) {
    ws.send(Message::text(msg.to_string())).await.unwrap();
}

async fn ask(ws: &mut Ws, msg: Value) -> Value {
    send(ws, msg).await;
    recv(ws).await
}

/// Nothing arrives within a short while.
async fn quiet(ws: &mut Ws) {
    let got = tokio::time::timeout(Duration::from_millis(100), ws.next()).await;
    assert!(got.is_err(), "unexpected message: {got:?}");
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    common::metrics::http_get_async(addr, path, WAIT).await
}

#[tokio::test]
async fn joins_leaves_and_the_participant_list() {
    let server = Server::start(state()).await;
    let (mut a, a_id) = server.member("1234", json!({"display_name":"Alice"})).await;
    let (mut b, b_id) = server.client().await;
    let r = ask(
        &mut b,
        json!({"type":"join","room":"1234","display_name":"Phone","kind":"phone","caller":"+49 30 ••• 89","request_id":7}),
    )
    .await;
    assert_eq!(
        r,
        json!({"type":"joined","room":"1234","name":"Demo","client_id":b_id,"pin_required":false,
               "host":false,"request_id":7,"participants":[
                   {"client_id":a_id,"display_name":"Alice","kind":"web","muted":false,"host":false}]})
    );
    let phone = json!({"client_id":b_id,"display_name":"Phone","kind":"phone","muted":false,
                       "caller":"+49 30 ••• 89","host":false});
    assert_eq!(
        recv(&mut a).await,
        json!({"type":"participant_joined","room":"1234","participant":phone})
    );
    let (mut c, c_id) = server.member("1234", json!({})).await;
    assert_eq!(recv(&mut a).await["participant"]["client_id"], c_id);
    assert_eq!(recv(&mut b).await["participant"]["client_id"], c_id);
    let ids: Vec<u64> = server
        .state
        .participants("1234")
        .unwrap()
        .iter()
        .map(|p| p.client_id)
        .collect();
    assert_eq!(ids, vec![a_id, b_id, c_id]);

    assert_eq!(
        ask(&mut b, json!({"type":"leave"})).await,
        json!({"type":"left","room":"1234"})
    );
    for ws in [&mut a, &mut c] {
        assert_eq!(
            recv(ws).await,
            json!({"type":"participant_left","room":"1234","client_id":b_id})
        );
    }
    assert_eq!(
        ask(&mut b, json!({"type":"leave"})).await["code"],
        "wrong_state"
    );
    // Joining again after leaving works, on the same connection.
    let r = ask(
        &mut b,
        json!({"type":"join","room":"1234","display_name":"B","kind":"web"}),
    )
    .await;
    assert_eq!(r["participants"].as_array().unwrap().len(), 2);
    drop(c);
    assert_eq!(recv(&mut a).await["type"], "participant_joined");
    assert_eq!(recv(&mut a).await["client_id"], c_id);
    server.stop().await;
}

#[tokio::test]
async fn signals_are_relayed_only_between_members() {
    let server = Server::start(state()).await;
    let (mut early, _) = server.client().await;
    let (mut a, a_id) = server.member("1234", json!({})).await;
    let r = ask(
        &mut early,
        json!({"type":"signal","to":a_id,"payload":{},"request_id":1}),
    )
    .await;
    assert_eq!(
        (r["code"].as_str(), r["request_id"].as_u64()),
        (Some("wrong_state"), Some(1))
    );
    quiet(&mut a).await;

    let (mut b, b_id) = server.member("1234", json!({})).await;
    assert_eq!(recv(&mut a).await["type"], "participant_joined");
    // The newcomer (b) offers; a answers; both trickle candidates.
    let offer = json!({"sdp":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}});
    let answer = json!({"sdp":{"type":"answer","sdp":"v=0\r\n"}});
    let ice = json!({"ice":{"candidate":"candidate:1 1 UDP 2122260223 10.9.0.2 40000 typ host","sdpMLineIndex":0}});
    send(&mut b, json!({"type":"signal","to":a_id,"payload":offer})).await;
    send(&mut b, json!({"type":"signal","to":a_id,"payload":ice})).await;
    assert_eq!(
        recv(&mut a).await,
        json!({"type":"signal","from":b_id,"payload":offer})
    );
    assert_eq!(
        recv(&mut a).await,
        json!({"type":"signal","from":b_id,"payload":ice})
    );
    send(&mut a, json!({"type":"signal","to":b_id,"payload":answer})).await;
    assert_eq!(
        recv(&mut b).await,
        json!({"type":"signal","from":a_id,"payload":answer})
    );

    // Members of other rooms and unknown IDs are not reachable.
    let (mut other, other_id) = server.member("5678", json!({"pin":"2468"})).await;
    let r = ask(&mut a, json!({"type":"signal","to":other_id,"payload":1})).await;
    assert_eq!(r["code"], "no_such_participant");
    let r = ask(&mut a, json!({"type":"signal","to":999_999,"payload":1})).await;
    assert_eq!(r["code"], "no_such_participant");
    quiet(&mut other).await;
    server.stop().await;
}

#[tokio::test]
async fn hosts_mute_and_remove_others_guests_cannot() {
    let server = Server::start(state()).await;
    let key = server
        .state
        .host_key("1234")
        .expect("configured rooms have a host key");
    let (mut host, host_id) = server.client().await;
    let r = ask(
        &mut host,
        json!({"type":"join","room":"1234","display_name":"Host","kind":"web","host_key":"wrong"}),
    )
    .await;
    assert_eq!(r["code"], "forbidden");
    let r = ask(
        &mut host,
        json!({"type":"join","room":"1234","display_name":"Host","kind":"web","host_key":key}),
    )
    .await;
    assert_eq!(
        (r["host"].as_bool(), r["host_key"].as_str()),
        (Some(true), Some(key.as_str()))
    );
    let (mut guest, guest_id) = server.member("1234", json!({})).await;
    let (mut phone, phone_id) = server
        .member("1234", json!({"kind":"phone","caller":"+1 ••• 42"}))
        .await;
    let r = ask(
        &mut phone,
        json!({"type":"join","room":"5678","pin":"2468","kind":"phone"}),
    )
    .await;
    assert_eq!(r["code"], "wrong_state", "already in a room");
    for _ in 0..2 {
        assert_eq!(recv(&mut host).await["type"], "participant_joined");
    }
    assert_eq!(recv(&mut guest).await["type"], "participant_joined");

    for action in ["mute", "kick"] {
        let r = ask(&mut guest, json!({"type":action,"client_id":phone_id})).await;
        assert_eq!(r["code"], "forbidden", "{action}");
    }
    let r = ask(&mut host, json!({"type":"kick","client_id":host_id})).await;
    assert_eq!(r["code"], "invalid_value");

    let r = ask(
        &mut host,
        json!({"type":"mute","client_id":phone_id,"request_id":5}),
    )
    .await;
    assert_eq!(
        (r["type"].as_str(), r["request_id"].as_u64()),
        (Some("participant_updated"), Some(5))
    );
    assert_eq!(r["participant"]["muted"], true);
    assert_eq!(recv(&mut phone).await, json!({"type":"muted","by":host_id}));
    assert_eq!(recv(&mut phone).await["participant"]["muted"], true);
    assert_eq!(recv(&mut guest).await["participant"]["client_id"], phone_id);
    // The phone unmutes itself; everyone else hears of it.
    let r = ask(&mut phone, json!({"type":"set_muted","muted":false})).await;
    assert_eq!(r["participant"]["muted"], false);
    assert_eq!(recv(&mut host).await["participant"]["muted"], false);
    assert_eq!(recv(&mut guest).await["participant"]["muted"], false);

    let r = ask(&mut host, json!({"type":"kick","client_id":phone_id})).await;
    assert_eq!(
        r,
        json!({"type":"participant_left","room":"1234","client_id":phone_id})
    );
    assert_eq!(
        recv(&mut phone).await,
        json!({"type":"kicked","by":host_id})
    );
    assert_eq!(
        recv(&mut phone).await,
        json!({"type":"_closed","code":1000})
    );
    assert_eq!(
        recv(&mut guest).await,
        json!({"type":"participant_left","room":"1234","client_id":phone_id})
    );
    quiet(&mut host).await;
    let left: Vec<u64> = server
        .state
        .participants("1234")
        .unwrap()
        .iter()
        .map(|p| p.client_id)
        .collect();
    assert_eq!(left, vec![host_id, guest_id]);
    let r = ask(&mut host, json!({"type":"mute","client_id":phone_id})).await;
    assert_eq!(r["code"], "no_such_participant");
    server.stop().await;
}

#[tokio::test]
async fn room_creators_are_hosts_and_empty_rooms_expire() {
    let state = state().with_empty_room_ttl(Duration::from_millis(200));
    let server = Server::start(state).await;
    let (mut creator, _) = server.client().await;
    let r = ask(
        &mut creator,
        json!({"type":"create_room","room":"4242","name":"Mine"}),
    )
    .await;
    assert_eq!(r["type"], "room_created");
    let key = r["host_key"].as_str().unwrap().to_string();
    assert_eq!(server.state.host_key("4242").as_deref(), Some(key.as_str()));
    let r = ask(
        &mut creator,
        json!({"type":"join","room":"4242","display_name":"C","kind":"web"}),
    )
    .await;
    assert_eq!(
        (r["host"].as_bool(), r["name"].as_str()),
        (Some(true), Some("Mine"))
    );
    let (_cohost, _) = server.member("4242", json!({"host_key": key})).await;
    let (mut guest, _) = server.member("4242", json!({})).await;
    let r = ask(&mut guest, json!({"type":"leave"})).await;
    assert_eq!(r["type"], "left");
    let r = ask(
        &mut guest,
        json!({"type":"join","room":"4242","kind":"phone","host_key":key}),
    )
    .await;
    assert_eq!(r["code"], "forbidden", "phones cannot be hosts");

    // join_or_create: the creator is host, the next one is not; a PIN set at creation holds.
    let (mut a, _) = server.client().await;
    let r = ask(
        &mut a,
        json!({"type":"join_or_create","room":"9001","pin":"11","display_name":"A","kind":"web"}),
    )
    .await;
    assert_eq!(
        (r["host"].as_bool(), r["pin_required"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(r["host_key"].is_string());
    let (mut b, _) = server.client().await;
    let r = ask(
        &mut b,
        json!({"type":"join_or_create","room":"9001","display_name":"B","kind":"web"}),
    )
    .await;
    assert_eq!(r["code"], "wrong_pin");
    let r = ask(
        &mut b,
        json!({"type":"join_or_create","room":"9001","pin":"11","display_name":"B","kind":"web"}),
    )
    .await;
    assert_eq!(
        (r["host"].as_bool(), r.get("host_key")),
        (Some(false), None)
    );
    let (mut c, _) = server.client().await;
    let r = ask(
        &mut c,
        json!({"type":"join_or_create","display_name":"C","kind":"web"}),
    )
    .await;
    let fresh = r["room"].as_str().unwrap().to_string();
    assert_eq!((fresh.len(), r["host"].as_bool()), (6, Some(true)));

    // Everyone leaves: created rooms go after the TTL, configured rooms stay.
    drop((creator, a, b, c, guest, _cohost));
    let (mut probe, _) = server.client().await;
    let exists = |r: Value| r["exists"].as_bool().unwrap();
    let started = Instant::now();
    loop {
        let r = ask(&mut probe, json!({"type":"lookup_room","room":"9001"})).await;
        if !exists(r) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "room 9001 was never removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for room in ["4242", &fresh] {
        assert!(!exists(
            ask(&mut probe, json!({"type":"lookup_room","room":room})).await
        ));
    }
    assert!(exists(
        ask(&mut probe, json!({"type":"lookup_room","room":"1234"})).await
    ));
    assert!(exists(
        ask(&mut probe, json!({"type":"lookup_room","room":"5678"})).await
    ));
    server.stop().await;
}

#[tokio::test]
async fn bad_input_gets_errors_and_nothing_crashes() {
    let server = Server::start(state()).await;
    let (mut a, _) = server.member("1234", json!({})).await;
    let (mut ws, _) = server.client().await;
    let cases = [
        ("{\"type\":", "bad_json"),
        ("\"just a string\"", "bad_json"),
        (r#"{"type":"dance"}"#, "unknown_type"),
        (r#"{"type":7}"#, "unknown_type"),
        (
            r#"{"type":"join","room":"1234","kind":"robot"}"#,
            "bad_message",
        ),
        (r#"{"type":"join","room":"1234"}"#, "bad_message"),
        (r#"{"type":"signal","to":"x","payload":1}"#, "bad_message"),
        (r#"{"type":"mute","client_id":-1}"#, "bad_message"),
        (r#"{"type":"kick","client_id":1}"#, "wrong_state"),
        (r#"{"type":"set_muted","muted":true}"#, "wrong_state"),
        (r#"{"type":"signal","to":1,"payload":null}"#, "wrong_state"),
        (
            r#"{"type":"join_or_create","room":"12x","kind":"web"}"#,
            "invalid_value",
        ),
        (
            r#"{"type":"join","room":"1234","kind":"phone","caller":"CALLER_TOO_LONG"}"#,
            "invalid_value",
        ),
    ];
    for (text, code) in cases {
        let text = text.replace("CALLER_TOO_LONG", &"9".repeat(65));
        ws.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(recv(&mut ws).await["code"], code, "{text}");
    }
    let r = ask(&mut ws, json!({"type":"join","room":"1234","kind":"web"})).await;
    assert_eq!(r["type"], "joined");
    assert_eq!(recv(&mut a).await["type"], "participant_joined");
    for to in [0u64, 424_242, u64::MAX] {
        let r = ask(
            &mut ws,
            json!({"type":"signal","to":to,"payload":{"sdp":{"type":"offer","sdp":""}}}),
        )
        .await;
        assert_eq!(r["code"], "no_such_participant");
    }
    assert_eq!(ask(&mut ws, json!({"type":"ping"})).await["type"], "pong");
    assert_eq!(ask(&mut a, json!({"type":"ping"})).await["type"], "pong");
    let (mut fresh, _) = server.client().await;
    assert_eq!(
        ask(&mut fresh, json!({"type":"ping"})).await["type"],
        "pong"
    );
    server.stop().await;
}

/// One client of the burst: connect, wait for all, join, wait for all, leave (by `leave` or by
/// hanging up). Only replies are parsed; the flood of notices in between is skipped unread.
async fn burst_client(url: String, i: usize, barrier: Arc<Barrier>) -> u64 {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    barrier.wait().await;
    let join = json!({"type":"join","room":"1234","display_name":format!("p{i}"),
                      "kind": if i.is_multiple_of(2) { "web" } else { "phone" },"request_id":1});
    ws.send(Message::text(join.to_string())).await.unwrap();
    let joined = reply(&mut ws, 1).await;
    assert_eq!(joined["type"], "joined", "{joined}");
    barrier.wait().await;
    if i.is_multiple_of(2) {
        ws.send(Message::text(
            json!({"type":"leave","request_id":2}).to_string(),
        ))
        .await
        .unwrap();
        assert_eq!(reply(&mut ws, 2).await["type"], "left");
    }
    joined["client_id"].as_u64().unwrap()
}

async fn reply(ws: &mut Ws, request_id: u64) -> Value {
    let marker = format!("\"request_id\":{request_id}");
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .expect("a reply within a minute")
            .expect("socket open")
            .expect("no socket error");
        if let Message::Text(t) = frame
            && t.as_str().contains(&marker)
        {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_joins_and_leaves_in_a_burst() {
    const CLIENTS: usize = 1000;
    let server = Server::start(state()).await;
    let url = signaling::ws_url(server.addr);
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(burst_client(url.clone(), i, barrier.clone())))
        .collect();
    let mut ids = Vec::with_capacity(CLIENTS);
    let all = async {
        for t in tasks {
            ids.push(t.await.unwrap());
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("the burst finishes within two minutes");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), CLIENTS, "every client got its own ID");
    eprintln!(
        "{CLIENTS} clients joined and left in {:?}",
        started.elapsed()
    );

    // Hang-ups are processed by their connection tasks; give them a moment.
    let deadline = Instant::now() + WAIT;
    while !server.state.participants("1234").unwrap().is_empty() {
        assert!(Instant::now() < deadline, "participants left behind");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut ws, _) = server.client().await;
    assert_eq!(ask(&mut ws, json!({"type":"ping"})).await["type"], "pong");
    let r = ask(&mut ws, json!({"type":"join","room":"1234","kind":"web"})).await;
    assert_eq!(r["participants"], json!([]));
    let metrics = http_get(server.addr, "/metrics").await;
    assert!(metrics.contains("signaling_participants 1\n"), "{metrics}");
    assert!(
        metrics.contains("signaling_connections_active 1\n"),
        "{metrics}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_host_page_is_served() {
    let server = Server::start(state().with_dial_in("sip:dialin@bridge.example")).await;
    let page = http_get(server.addr, "/").await;
    let (head, body) = page.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{head}"
    );
    assert!(body.contains("<!doctype html>"));
    assert!(body.contains("sip:dialin@bridge.example"));
    assert!(body.contains(r#"data-testid="join-button""#));
    for (path, kind) in [
        ("/app.js", "text/javascript"),
        ("/mesh.js", "text/javascript"),
        ("/style.css", "text/css"),
    ] {
        let res = http_get(server.addr, path).await;
        assert!(res.starts_with("HTTP/1.1 200"), "{path}");
        assert!(
            res.to_ascii_lowercase()
                .contains(&format!("content-type: {kind}")),
            "{path}"
        );
    }
    assert!(
        http_get(server.addr, "/app.js")
            .await
            .contains("window.dialbridge")
    );
    assert!(
        http_get(server.addr, "/nope")
            .await
            .starts_with("HTTP/1.1 404")
    );
    server.stop().await;
}
