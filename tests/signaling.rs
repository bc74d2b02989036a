//! The built-in signaling server on a real port (0) with real WebSocket clients, and the
//! `BuiltinBackend` client against it.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialbridge::conference::builtin::BuiltinBackend;
use dialbridge::conference::{ConferenceBackend, ConferenceError, RoomLookup};
use dialbridge::config::RoomConfig;
use dialbridge::signaling::{self, SignalingState};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);

fn rooms() -> Vec<RoomConfig> {
    vec![
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
    ]
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start_on(addr: &str, state: SignalingState) -> Server {
        let listener = signaling::bind(addr.parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(signaling::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn start(state: SignalingState) -> Server {
        Server::start_on("127.0.0.1:0", state).await
    }

    fn url(&self) -> String {
        signaling::ws_url(self.addr)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

fn state() -> SignalingState {
    SignalingState::new(&rooms(), Arc::new(|| "calls_active 3\n".to_string()))
}

/// Connects and consumes the server's hello.
async fn client(server: &Server) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(server.url())
        .await
        .unwrap();
    let hello = recv(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert!(hello["client_id"].as_u64().unwrap() > 0);
    ws
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a reply in time");
        match frame.expect("socket open").expect("no socket error") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Close(c) => {
                return json!({"type": "_closed", "code": c.map(|c| u16::from(c.code))});
            }
            _ => continue,
        }
    }
}

async fn ask(ws: &mut Ws, msg: Value) -> Value {
    ws.send(Message::text(msg.to_string())).await.unwrap();
    recv(ws).await
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    common::metrics::http_get_async(addr, path, WAIT).await
}

#[tokio::test]
async fn lookup_pin_and_create() {
    let server = Server::start(state()).await;
    let mut ws = client(&server).await;
    let r = ask(
        &mut ws,
        json!({"type":"lookup_room","room":"1234","request_id":1}),
    )
    .await;
    assert_eq!(
        r,
        json!({"type":"room_info","room":"1234","exists":true,"pin_required":false,"request_id":1})
    );
    let r = ask(&mut ws, json!({"type":"lookup_room","room":"5678"})).await;
    assert_eq!(
        r,
        json!({"type":"room_info","room":"5678","exists":true,"pin_required":true})
    );
    let r = ask(
        &mut ws,
        json!({"type":"lookup_room","room":"999","request_id":2}),
    )
    .await;
    assert_eq!(
        (r["exists"].as_bool(), r["request_id"].as_u64()),
        (Some(false), Some(2))
    );
    let r = ask(
        &mut ws,
        json!({"type":"check_pin","room":"5678","pin":"2468","request_id":3}),
    )
    .await;
    assert_eq!(
        r,
        json!({"type":"pin_result","room":"5678","ok":true,"request_id":3})
    );
    let r = ask(
        &mut ws,
        json!({"type":"check_pin","room":"5678","pin":"1111"}),
    )
    .await;
    assert_eq!(r["ok"], false);
    let r = ask(
        &mut ws,
        json!({"type":"create_room","name":"Standup","pin":"42","request_id":4}),
    )
    .await;
    assert_eq!(
        (r["type"].as_str(), r["request_id"].as_u64()),
        (Some("room_created"), Some(4))
    );
    let created = r["room"].as_str().unwrap().to_string();
    let r = ask(&mut ws, json!({"type":"lookup_room","room":created})).await;
    assert_eq!(
        (r["exists"].as_bool(), r["pin_required"].as_bool()),
        (Some(true), Some(true))
    );
    let r = ask(
        &mut ws,
        json!({"type":"create_room","room":"1234","request_id":5}),
    )
    .await;
    assert_eq!(
        (r["type"].as_str(), r["code"].as_str()),
        (Some("error"), Some("room_exists"))
    );
    let r = ask(&mut ws, json!({"type":"create_room","room":"777"})).await;
    assert_eq!(r["room"], "777");
    server.stop().await;
}

#[tokio::test]
async fn bad_input_is_answered_and_the_server_keeps_serving() {
    let server = Server::start(state()).await;
    let mut ws = client(&server).await;
    ws.send(Message::text("{not json")).await.unwrap();
    assert_eq!(recv(&mut ws).await["code"], "bad_json");
    let r = ask(&mut ws, json!({"type":"teleport","request_id":9})).await;
    assert_eq!(
        (r["code"].as_str(), r["request_id"].as_u64()),
        (Some("unknown_type"), Some(9))
    );
    let r = ask(&mut ws, json!({"type":"check_pin","room":"1234"})).await;
    assert_eq!(r["code"], "bad_message");
    let r = ask(&mut ws, json!({"type":"lookup_room","room":"12ab"})).await;
    assert_eq!(r["code"], "invalid_value");
    let r = ask(&mut ws, json!({"type":"ping","pad":"x".repeat(70 * 1024)})).await;
    assert_eq!(r["code"], "too_large");
    // The same connection still works, and so does a new one.
    assert_eq!(
        ask(&mut ws, json!({"type":"ping","request_id":10})).await,
        json!({"type":"pong","request_id":10})
    );
    let mut other = client(&server).await;
    assert_eq!(
        ask(&mut other, json!({"type":"lookup_room","room":"1234"})).await["exists"],
        true
    );
    // A binary frame is a protocol violation: error, then close.
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(recv(&mut ws).await["code"], "binary_frame");
    assert_eq!(recv(&mut ws).await["type"], "_closed");
    assert_eq!(
        ask(&mut other, json!({"type":"ping"})).await["type"],
        "pong"
    );
    server.stop().await;
}

#[tokio::test]
async fn endless_garbage_closes_the_connection() {
    let server = Server::start(state()).await;
    let mut ws = client(&server).await;
    let mut last = Value::Null;
    for _ in 0..16 {
        last = ask(&mut ws, json!({"type":"nope"})).await;
    }
    assert_eq!(last["code"], "too_many_errors");
    assert_eq!(recv(&mut ws).await["type"], "_closed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_200_concurrent_clients() {
    let server = Server::start(state()).await;
    let url = server.url();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
                recv(&mut ws).await; // hello
                let room = if i % 2 == 0 { "1234" } else { "4321" };
                let r = ask(
                    &mut ws,
                    json!({"type":"lookup_room","room":room,"request_id":i}),
                )
                .await;
                assert_eq!(r["request_id"], i);
                r["exists"].as_bool().unwrap() == (i % 2 == 0)
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    server.stop().await;
}

#[tokio::test]
async fn join_and_relay_signals() {
    let server = Server::start(state()).await;
    let mut a = client(&server).await;
    let mut b = client(&server).await;
    let r = ask(
        &mut a,
        json!({"type":"join","room":"5678","pin":"0000","display_name":"A","kind":"web"}),
    )
    .await;
    assert_eq!(r["code"], "wrong_pin");
    let r = ask(
        &mut a,
        json!({"type":"join","room":"5678","pin":"2468","display_name":"A","kind":"web"}),
    )
    .await;
    assert_eq!(r["type"], "joined");
    let a_id = r["client_id"].clone();
    // Protocol version 1 clients say `name`; it still works.
    let r = ask(
        &mut b,
        json!({"type":"join","room":"5678","pin":"2468","name":"B","kind":"web"}),
    )
    .await;
    assert_eq!(
        r["participants"],
        json!([{"client_id": a_id, "display_name": "A", "kind": "web", "muted": false, "host": false}])
    );
    let b_id = r["client_id"].clone();
    assert_eq!(recv(&mut a).await["type"], "participant_joined");
    b.send(Message::text(
        json!({"type":"signal","to":a_id,"payload":{"sdp":"v=0"}}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(
        recv(&mut a).await,
        json!({"type":"signal","from":b_id,"payload":{"sdp":"v=0"}})
    );
    drop(b);
    let left = recv(&mut a).await;
    assert_eq!(
        (left["type"].as_str(), &left["client_id"]),
        (Some("participant_left"), &b_id)
    );
    server.stop().await;
}

#[tokio::test]
async fn healthz_metrics_and_shutdown_closes_sockets() {
    let server = Server::start(state()).await;
    let mut ws = client(&server).await;
    let health = http_get(server.addr, "/healthz").await;
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok"),
        "{health}"
    );
    let metrics = http_get(server.addr, "/metrics").await;
    assert!(metrics.contains("signaling_rooms 2\n"), "{metrics}");
    assert!(
        metrics.contains("signaling_connections_active 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("calls_active 3\n"), "{metrics}");
    server.stop().await;
    assert_eq!(recv(&mut ws).await, json!({"type":"_closed","code":1001}));
}

#[tokio::test]
async fn backend_against_the_server() {
    let server = Server::start(state()).await;
    let backend = Arc::new(BuiltinBackend::new(server.url(), None));
    assert_eq!(
        backend.lookup_room("1234").await.unwrap(),
        RoomLookup::Found {
            pin_required: false
        }
    );
    assert_eq!(
        backend.lookup_room("5678").await.unwrap(),
        RoomLookup::Found { pin_required: true }
    );
    assert_eq!(
        backend.lookup_room("999").await.unwrap(),
        RoomLookup::NotFound
    );
    assert!(backend.check_pin("5678", "2468").await.unwrap());
    assert!(!backend.check_pin("5678", "1").await.unwrap());
    assert!(backend.check_pin("1234", "").await.unwrap());
    let room = backend.create_room(None, "Mine", Some("9")).await.unwrap();
    assert_eq!(
        backend.lookup_room(&room).await.unwrap(),
        RoomLookup::Found { pin_required: true }
    );
    let err = backend.lookup_room("not-a-room").await.unwrap_err();
    assert!(matches!(err, ConferenceError::Protocol(_)), "{err}");

    // Many calls at once share the one connection.
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let backend = backend.clone();
            tokio::spawn(async move {
                let room = if i % 2 == 0 { "5678" } else { "1235" };
                let found = backend.lookup_room(room).await.unwrap();
                let pin_ok = backend
                    .check_pin("5678", if i % 3 == 0 { "2468" } else { "0" })
                    .await
                    .unwrap();
                (found == RoomLookup::Found { pin_required: true }) == (i % 2 == 0)
                    && pin_ok == (i % 3 == 0)
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    server.stop().await;
}

#[tokio::test]
async fn backend_survives_server_stop_and_restart() {
    let state = state();
    let server = Server::start(state.clone()).await;
    let addr = server.addr;
    let backend = BuiltinBackend::new(server.url(), None);
    assert!(backend.check_pin("5678", "2468").await.unwrap());
    server.stop().await;

    let started = Instant::now();
    for _ in 0..3 {
        let err = backend.lookup_room("1234").await.unwrap_err();
        assert!(matches!(err, ConferenceError::Unreachable(_)), "{err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a stopped server must fail fast, took {:?}",
        started.elapsed()
    );

    let server = Server::start_on(&addr.to_string(), state).await;
    assert_eq!(
        backend.lookup_room("1234").await.unwrap(),
        RoomLookup::Found {
            pin_required: false
        }
    );
    server.stop().await;
}

#[tokio::test]
async fn backend_times_out_on_a_silent_server() {
    // Accepts TCP but never completes the WebSocket handshake.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let backend =
        BuiltinBackend::new(signaling::ws_url(addr), None).with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = backend.lookup_room("1234").await.unwrap_err();
    assert!(matches!(err, ConferenceError::Unreachable(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    hold.abort();
}

#[tokio::test]
async fn secret_is_required_when_configured() {
    let server = Server::start(state().with_secret(Some("s3cret".into()))).await;
    let mut ws = client(&server).await;
    assert_eq!(
        ask(&mut ws, json!({"type":"lookup_room","room":"1234"})).await["code"],
        "unauthorized"
    );

    let none = BuiltinBackend::new(server.url(), None);
    assert!(matches!(
        none.lookup_room("1234").await,
        Err(ConferenceError::Protocol(_))
    ));
    let wrong = BuiltinBackend::new(server.url(), Some("nope".into()));
    assert!(matches!(
        wrong.lookup_room("1234").await,
        Err(ConferenceError::Protocol(_))
    ));
    let right = BuiltinBackend::new(server.url(), Some("s3cret".into()));
    assert_eq!(
        right.lookup_room("1234").await.unwrap(),
        RoomLookup::Found {
            pin_required: false
        }
    );
    assert!(right.check_pin("5678", "2468").await.unwrap());
    server.stop().await;
}
