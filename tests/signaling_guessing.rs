//! PIN guessing by a web client of the built-in signaling server is stopped
//! (`[guessing]`, docs/security.md): after `max_wrong` wrong PINs its address gets the
//! `locked` error even for the right PIN, on any new connection too, while another address
//! (127.0.0.2) still joins. The bridge itself connects from the locked address, yet a phone
//! caller still joins the PIN room: its connection carries the bridge token and is not limited.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::{metrics, tools};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

type Ws = WebSocketStream<TcpStream>;

const WAIT: Duration = Duration::from_secs(5);
const PROMPT: Duration = Duration::from_secs(15);
const MAX_WRONG: u32 = 3;

/// A WebSocket client of the server at `server`, connecting from `local` (a loopback IP);
/// the server's hello is consumed.
async fn client_from(local: &str, server: SocketAddr) -> Ws {
    let socket = TcpSocket::new_v4().expect("a TCP socket");
    socket
        .bind(format!("{local}:0").parse().expect("a socket address"))
        .unwrap_or_else(|e| panic!("binding a client socket to {local}: {e}"));
    let stream = socket.connect(server).await.expect("connecting");
    let url = format!("ws://{server}/ws");
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("the WebSocket handshake");
    assert_eq!(ask_raw(&mut ws, None).await["type"], "hello");
    ws
}

/// Sends `msg` (if any) and returns the next text message.
async fn ask_raw(ws: &mut Ws, msg: Option<Value>) -> Value {
    if let Some(msg) = msg {
        ws.send(Message::text(msg.to_string())).await.expect("send");
    }
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a reply in time")
            .expect("the socket is open")
            .expect("no socket error");
        if let Message::Text(t) = frame {
            return serde_json::from_str(t.as_str()).expect("JSON from the server");
        }
    }
}

async fn join(ws: &mut Ws, pin: &str) -> Value {
    let msg = json!({"type": "join", "room": "5678", "pin": pin, "kind": "web",
                     "display_name": "guesser"});
    ask_raw(ws, Some(msg)).await
}

fn web_metric(m: &metrics::Metrics, name: &str) -> f64 {
    m.get(&format!("{name}{{side=\"web\"}}"))
}

#[tokio::test]
async fn a_web_pin_guesser_is_locked_out_but_not_the_bridge_or_other_addresses() {
    let dir = tools::test_dir();
    let mut config = Config::trunk();
    config.extra_toml =
        format!("[guessing]\nmax_wrong = {MAX_WRONG}\nlockout_s = 600\nlockout_max_s = 600\n");
    let bridge = Bridge::start(&dir, &config);

    let mut guesser = client_from("127.0.0.1", bridge.signaling).await;
    for pin in ["1111", "1112", "1113"] {
        let reply = join(&mut guesser, pin).await;
        assert_eq!(reply["code"], "wrong_pin", "{reply}");
    }
    let reply = join(&mut guesser, "2468").await;
    assert_eq!(
        reply["code"], "locked",
        "the right PIN after the lockout: {reply}"
    );
    let check = json!({"type": "check_pin", "room": "5678", "pin": "2468"});
    let reply = ask_raw(&mut guesser, Some(check)).await;
    assert_eq!(reply["code"], "locked", "{reply}");
    // A new connection from the same address is locked too.
    let mut again = client_from("127.0.0.1", bridge.signaling).await;
    assert_eq!(join(&mut again, "2468").await["code"], "locked");

    // Another address joins with the right PIN.
    let mut other = client_from("127.0.0.2", bridge.signaling).await;
    let reply = join(&mut other, "2468").await;
    assert_eq!(reply["type"], "joined", "{reply}");

    let m = metrics::scrape(bridge.signaling);
    assert_eq!(web_metric(&m, "dialbridge_guess_wrong_total"), 3.0);
    assert_eq!(web_metric(&m, "dialbridge_guess_lockouts_total"), 1.0);
    assert_eq!(web_metric(&m, "dialbridge_guess_refused_total"), 3.0);

    // The bridge connects from 127.0.0.1 as well: a phone caller still gets into room 5678.
    let call = Caller::dial(&dir, "uac_call.xml", bridge.sip, &[0], |s| s);
    call.rtp.expect_prompt("welcome", PROMPT);
    for (keys, answer) in [("5678#", "enter_pin"), ("2468#", "joining")] {
        call.rtp.send_digits(keys);
        call.rtp.expect_prompt(answer, PROMPT);
    }
    // In the room next to the web client from 127.0.0.2.
    metrics::wait_for(bridge.signaling, "signaling_participants", "2", WAIT, |v| {
        v == 2.0
    });
    call.hang_up();
    metrics::wait_idle(bridge.signaling, WAIT);
    let m = metrics::scrape(bridge.signaling);
    assert_eq!(web_metric(&m, "dialbridge_guess_refused_total"), 3.0);
}
