//! A stand-in for Nextcloud, written from spreed-signaling's documented backend API and Talk's
//! SIP-bridge API: capabilities, the signed signaling backend requests (`auth`, `room`,
//! `session`, `ping`; every reply OCS-wrapped), the room lookup by dial-in ID and the PIN check
//! (checksums verified), and "in call" updates posted to the signaling server. Everything the
//! signaling server asked is kept for the assertions.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

use super::super::tools::lock;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dialbridge::conference::nextcloud::auth;
use serde_json::{Value, json};

pub const BACKEND_SECRET: &str = "test-backend-secret";
pub const SIP_SECRET: &str = "test-sip-bridge-secret";
const ROOM_API: &str = "/ocs/v2.php/apps/spreed/api/v4/room/";

/// A Talk room callers can dial into.
#[derive(Clone, Debug)]
pub struct Room {
    pub dial_in: &'static str,
    pub token: &'static str,
    pub pin: Option<&'static str>,
}

#[derive(Default)]
pub struct Seen {
    /// The `session` requests (virtual sessions added and removed), in order.
    pub sessions: Vec<Value>,
    /// Talk API requests whose checksum was wrong.
    pub bad_checksums: usize,
}

struct Shared {
    rooms: Vec<Room>,
    seen: Mutex<Seen>,
    /// Web users in the call: Nextcloud session ID → user ID.
    in_call: Mutex<BTreeMap<String, String>>,
    /// The signaling server's HTTP address, for "in call" updates.
    signaling: Mutex<Option<SocketAddr>>,
    url: String,
}

#[derive(Clone)]
pub struct StandIn(Arc<Shared>);

fn ocs(data: Value) -> Value {
    json!({"ocs": {"meta": {"status": "ok", "statuscode": 200, "message": "OK"}, "data": data}})
}

impl StandIn {
    /// Serves on a free loopback port (inside the runtime of the caller).
    pub async fn start(rooms: Vec<Room>) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback is up");
        let addr = listener
            .local_addr()
            .expect("a bound socket has an address");
        let shared = StandIn(Arc::new(Shared {
            rooms,
            seen: Mutex::default(),
            in_call: Mutex::default(),
            signaling: Mutex::default(),
            url: format!("http://{addr}/"),
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        shared
    }

    /// Nextcloud's URL, as the signaling server's backend list and the bridge name it.
    pub fn url(&self) -> &str {
        &self.0.url
    }

    pub fn set_signaling(&self, addr: SocketAddr) {
        *lock(&self.0.signaling) = Some(addr);
    }

    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        lock(&self.0.seen)
    }

    /// Puts a web user in the call and tells the signaling server (all users in the call).
    pub fn join_call(&self, nc_session: &str, user: &str) {
        lock(&self.0.in_call).insert(nc_session.into(), user.into());
        self.post_in_call();
    }

    /// What Nextcloud posts when the call's participants change: everyone with audio.
    pub fn post_in_call(&self) {
        let Some(addr) = *lock(&self.0.signaling) else {
            return;
        };
        let users: Vec<Value> = lock(&self.0.in_call)
            .iter()
            .map(|(s, u)| json!({"sessionId": s, "inCall": 7, "userId": u}))
            .collect();
        let body = json!({"type": "incall", "incall": {"incall": 7, "changed": users,
            "users": users}});
        let room = self.0.rooms[0].token;
        let status = post_signed(addr, &format!("/api/v1/room/{room}"), &body, self.url());
        assert_eq!(
            status, 200,
            "the signaling server refused the in-call update"
        );
    }
}

/// A signed backend POST to the signaling server (blocking; it answers at once).
fn post_signed(addr: SocketAddr, path: &str, body: &Value, backend: &str) -> u16 {
    let body = body.to_string();
    let random = auth::random();
    let checksum = auth::backend_checksum(BACKEND_SECRET, &random, body.as_bytes());
    let mut tcp = TcpStream::connect(addr).expect("the signaling server listens");
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nSpreed-Signaling-Random: {random}\r\n\
         Spreed-Signaling-Checksum: {checksum}\r\nSpreed-Signaling-Backend: {backend}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes())
        .expect("writing to the signaling server");
    let mut reply = String::new();
    let _ = tcp.read_to_string(&mut reply);
    reply
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn handle(
    State(s): State<StandIn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    if path == "/ocs/v2.php/cloud/capabilities" {
        let features = [
            "audio",
            "video",
            "conversation-v4",
            "signaling-v3",
            "hello-v2",
        ];
        let caps = json!({"version": {"major": 27, "minor": 1, "micro": 0},
            "capabilities": {"spreed": {"features": features,
                "config": {"signaling": {"session-ping-limit": 200}}}}});
        return axum::Json(ocs(caps)).into_response();
    }
    if let Some(rest) = path.strip_prefix(ROOM_API) {
        let (token, verify) = match rest.strip_suffix("/verify-dialin") {
            Some(token) => (token, true),
            None => (rest, false),
        };
        let checksum = auth::sign(
            SIP_SECRET,
            format!("{}{token}", header("talk-sipbridge-random")).as_bytes(),
        );
        if checksum != header("talk-sipbridge-checksum") {
            s.seen().bad_checksums += 1;
            return StatusCode::UNAUTHORIZED.into_response();
        }
        return talk_room(&s, &method, token, verify, &body);
    }
    if method == Method::POST && path.ends_with("/signaling/backend") {
        let random = header("spreed-signaling-random");
        let checksum = header("spreed-signaling-checksum");
        if !auth::backend_checksum_ok(BACKEND_SECRET, &random, &body, &checksum) {
            return StatusCode::FORBIDDEN.into_response();
        }
        let request: Value = serde_json::from_slice(&body).unwrap_or_default();
        return axum::Json(ocs(backend_reply(&s, &request))).into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

fn talk_room(s: &StandIn, method: &Method, key: &str, verify: bool, body: &[u8]) -> Response {
    let room = if verify {
        s.0.rooms.iter().find(|r| r.token == key)
    } else {
        s.0.rooms.iter().find(|r| r.dial_in == key)
    };
    let Some(room) = room else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !verify && *method == Method::GET {
        let sip = if room.pin.is_some() { 1 } else { 2 };
        let has_call = !lock(&s.0.in_call).is_empty();
        let data = json!({"token": room.token, "name": "Talk room", "sipEnabled": sip,
            "hasCall": has_call});
        return axum::Json(ocs(data)).into_response();
    }
    let pin: Value = serde_json::from_slice(body).unwrap_or_default();
    if room.pin.is_some() && pin["pin"].as_str() == room.pin {
        axum::Json(ocs(json!({"actorType": "users"}))).into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

fn backend_reply(s: &StandIn, request: &Value) -> Value {
    match request["type"].as_str() {
        Some("auth") => {
            let user = request["auth"]["params"]["userid"]
                .as_str()
                .unwrap_or("alice");
            json!({"type": "auth", "auth": {"version": "1.0", "userid": user,
                "user": {"displayname": user}}})
        }
        Some("room") => {
            let room = &request["room"]["roomid"];
            json!({"type": "room", "room": {"version": "1.0", "roomid": room,
                "properties": {"name": "Talk room", "type": 3},
                "permissions": ["publish-audio", "publish-video", "control"]}})
        }
        Some("session") => {
            let session = request["session"].clone();
            let added = session["action"] == "add";
            s.seen().sessions.push(session.clone());
            if added {
                // Nextcloud tells the call about the new participant; off this request's path.
                let s = s.clone();
                std::thread::spawn(move || s.post_in_call());
            }
            json!({"type": "session", "session": {"version": "1.0", "roomid": session["roomid"]}})
        }
        Some("ping") => json!({"type": "room", "room": {"version": "1.0", "roomid": ""}}),
        other => json!({"type": "error", "error": {"code": "unknown", "message": other}}),
    }
}
