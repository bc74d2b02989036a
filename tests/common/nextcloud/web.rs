//! A Talk web user, as a browser would be with the HPB: hello with a ticket (v1, checked by the
//! stand-in Nextcloud), joins the room with its Nextcloud session ID, is put in the call by the
//! stand-in, publishes its audio (roomType "video", candidates after the answer) and
//! subscribes to the bridge's internal sessions (`requestoffer`, asked again while refused).
//! It plugs into `common/janus/participant.rs` as a [`ConferenceBackend`] that can only join;
//! moderator messages go out through [`TalkWeb::send`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::super::tools::lock;
use std::time::Duration;

use async_trait::async_trait;
use dialbridge::conference::{
    ConferenceBackend, ConferenceCommand, ConferenceError, ConferenceEvent, ConferenceSession,
    JoinRequest, RoomLookup, SdpKind,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::standin::StandIn;

const PUBLISHER: &str = "publisher";

pub struct TalkWeb {
    pub user: String,
    signaling: String,
    token: String,
    standin: StandIn,
    raw: Mutex<Option<mpsc::UnboundedSender<Value>>>,
    /// Room join entries of phone participants, as this user saw them.
    pub phones: Arc<Mutex<Vec<Value>>>,
    /// The participant flags events this user saw (virtual sessions: muted 1, talking 4).
    pub flags: Arc<Mutex<Vec<u64>>>,
}

impl TalkWeb {
    pub fn new(user: &str, signaling: String, token: &str, standin: StandIn) -> TalkWeb {
        TalkWeb {
            user: user.into(),
            signaling,
            token: token.into(),
            standin,
            raw: Mutex::default(),
            phones: Arc::default(),
            flags: Arc::default(),
        }
    }

    /// Sends a raw client message (a moderator's control message).
    pub fn send(&self, message: Value) {
        let raw = lock(&self.raw);
        raw.as_ref()
            .expect("joined")
            .send(message)
            .expect("the session is running");
    }

    /// The phone participants' public session IDs.
    pub fn phone_sessions(&self) -> Vec<String> {
        lock(&self.phones)
            .iter()
            .filter_map(|p| p["sessionid"].as_str().map(str::to_string))
            .collect()
    }
}

fn refused(why: impl std::fmt::Display) -> ConferenceError {
    ConferenceError::Protocol(why.to_string())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn recv(ws: &mut Ws) -> Option<Value> {
    loop {
        match ws.next().await? {
            Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn until(ws: &mut Ws, kind: &str) -> Result<Value, ConferenceError> {
    loop {
        let m = recv(ws).await.ok_or_else(|| refused("connection closed"))?;
        if m["type"] == "error" {
            return Err(refused(m));
        }
        if m["type"] == kind {
            return Ok(m);
        }
    }
}

#[async_trait]
impl ConferenceBackend for TalkWeb {
    async fn lookup_room(&self, _: &str) -> Result<RoomLookup, ConferenceError> {
        Err(refused("a web user only joins"))
    }

    async fn check_pin(&self, _: &str, _: &str) -> Result<bool, ConferenceError> {
        Err(refused("a web user only joins"))
    }

    async fn join(&self, _: JoinRequest) -> Result<ConferenceSession, ConferenceError> {
        let (mut ws, _) = tokio_tungstenite::connect_async(self.signaling.as_str())
            .await
            .map_err(refused)?;
        let backend = format!(
            "{}ocs/v2.php/apps/spreed/api/v1/signaling/backend",
            self.standin.url()
        );
        let hello = json!({"type": "hello", "id": "1", "hello": {"version": "1.0", "auth": {
            "url": backend, "params": {"userid": self.user, "ticket": "ticket"}}}});
        ws.send(Message::text(hello.to_string()))
            .await
            .map_err(refused)?;
        let me = until(&mut ws, "hello").await?["hello"]["sessionid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let nc = format!("nc-{}", self.user);
        let room =
            json!({"type": "room", "id": "2", "room": {"roomid": self.token, "sessionid": nc}});
        ws.send(Message::text(room.to_string()))
            .await
            .map_err(refused)?;
        until(&mut ws, "room").await?;
        let (standin, user) = (self.standin.clone(), self.user.clone());
        tokio::task::spawn_blocking(move || standin.join_call(&nc, &user))
            .await
            .map_err(refused)?;
        let (command_tx, commands) = mpsc::channel(64);
        let (events, event_rx) = mpsc::channel(64);
        let (raw_tx, raw) = mpsc::unbounded_channel();
        *lock(&self.raw) = Some(raw_tx);
        let first = ConferenceEvent::Joined {
            peers: vec![PUBLISHER.into()],
            others: 0,
        };
        events.send(first).await.map_err(refused)?;
        let web = Web {
            me,
            events,
            held: Some(Vec::new()),
            subs: HashMap::new(),
            phones: self.phones.clone(),
            flags: self.flags.clone(),
            refused: Vec::new(),
        };
        tokio::spawn(web.run(ws, commands, raw));
        Ok(ConferenceSession {
            commands: command_tx,
            events: event_rx,
            local_id: None,
        })
    }
}

struct Web {
    me: String,
    events: mpsc::Sender<ConferenceEvent>,
    /// Our publisher's candidates until the answer came (then `None`).
    held: Option<Vec<Value>>,
    /// Subscriptions: session → its offer's sid (`None`: asked, no offer yet).
    subs: HashMap<String, Option<String>>,
    phones: Arc<Mutex<Vec<Value>>>,
    flags: Arc<Mutex<Vec<u64>>>,
    /// Offer requests the server refused (the bridge not sending yet): asked again each second.
    refused: Vec<String>,
}

fn to(session: &str, data: Value) -> Value {
    json!({"type": "message", "message": {"recipient": {"type": "session", "sessionid": session},
        "data": data}})
}

impl Web {
    async fn run(
        mut self,
        mut ws: Ws,
        mut commands: mpsc::Receiver<ConferenceCommand>,
        mut raw: mpsc::UnboundedReceiver<Value>,
    ) {
        let mut retry = tokio::time::interval(Duration::from_secs(1));
        loop {
            let out: Vec<Value> = tokio::select! {
                c = commands.recv() => match c {
                    Some(c) => self.command(c),
                    None => vec![json!({"type": "bye", "bye": {}})],
                },
                m = recv(&mut ws) => match m {
                    Some(m) => self.incoming(m).await,
                    None => return,
                },
                Some(m) = raw.recv() => vec![m],
                _ = retry.tick() => self.retries(),
            };
            for m in out {
                if ws.send(Message::text(m.to_string())).await.is_err() {
                    return;
                }
            }
        }
    }

    fn retries(&mut self) -> Vec<Value> {
        let again = std::mem::take(&mut self.refused);
        again.iter().map(|s| request_offer(s)).collect()
    }

    fn command(&mut self, command: ConferenceCommand) -> Vec<Value> {
        match command {
            ConferenceCommand::Description {
                peer,
                kind: SdpKind::Offer,
                sdp,
            } if peer == PUBLISHER => {
                vec![to(
                    &self.me,
                    json!({"type": "offer", "roomType": "video", "sid": "pub",
                    "payload": {"type": "offer", "sdp": sdp}}),
                )]
            }
            ConferenceCommand::Description {
                peer,
                kind: SdpKind::Answer,
                sdp,
            } => {
                let sid = self.subs.get(&peer).cloned().flatten().unwrap_or_default();
                vec![to(
                    &peer,
                    json!({"type": "answer", "roomType": "video", "sid": sid,
                    "payload": {"type": "answer", "sdp": sdp}}),
                )]
            }
            ConferenceCommand::Candidate {
                peer,
                sdp_mline_index,
                candidate,
            } => {
                let (session, sid) = if peer == PUBLISHER {
                    (self.me.clone(), "pub".to_string())
                } else {
                    (
                        peer.clone(),
                        self.subs.get(&peer).cloned().flatten().unwrap_or_default(),
                    )
                };
                let m = to(
                    &session,
                    json!({"type": "candidate", "roomType": "video", "sid": sid,
                    "payload": {"candidate": {"candidate": candidate,
                        "sdpMLineIndex": sdp_mline_index, "sdpMid": sdp_mline_index.to_string()}}}),
                );
                match (&mut self.held, peer == PUBLISHER) {
                    (Some(held), true) => {
                        held.push(m);
                        vec![]
                    }
                    _ => vec![m],
                }
            }
            _ => vec![],
        }
    }

    async fn emit(&self, event: ConferenceEvent) {
        let _ = self.events.send(event).await;
    }

    async fn incoming(&mut self, m: Value) -> Vec<Value> {
        let event = &m["event"];
        if m["type"] == "event" && event["type"] == "join" {
            for s in event["join"].as_array().into_iter().flatten() {
                if s["user"]["type"] == "phone" {
                    lock(&self.phones).push(s.clone());
                }
            }
        }
        if m["type"] == "event" && event["type"] == "flags" {
            lock(&self.flags).push(event["flags"]["flags"].as_u64().unwrap_or_default());
        }
        if m["type"] == "event" && event["type"] == "update" {
            let update = &event["update"];
            let entries = update["users"].as_array().into_iter().flatten();
            let mut out = vec![];
            for p in entries.chain(update["changed"].as_array().into_iter().flatten()) {
                let session = p["sessionId"].as_str().unwrap_or_default().to_string();
                let in_call = p["inCall"].as_u64().unwrap_or(0) & 1 == 1;
                if p["internal"] == true
                    && in_call
                    && session != self.me
                    && !self.subs.contains_key(&session)
                {
                    self.subs.insert(session.clone(), None);
                    out.push(request_offer(&session));
                }
            }
            return out;
        }
        if m["type"] == "error"
            && let Some(session) = m["id"].as_str().and_then(|id| id.strip_prefix("ro:"))
        {
            self.refused.push(session.to_string());
        }
        if m["type"] != "message" {
            return vec![];
        }
        let sender = m["message"]["sender"]["sessionid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let data = &m["message"]["data"];
        let sdp = data["payload"]["sdp"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match data["type"].as_str() {
            Some("answer") if sender == self.me => {
                self.emit(ConferenceEvent::Description {
                    peer: PUBLISHER.into(),
                    kind: SdpKind::Answer,
                    sdp,
                })
                .await;
                return self.held.take().unwrap_or_default();
            }
            Some("offer") if self.subs.contains_key(&sender) => {
                let sid = data["sid"].as_str().unwrap_or_default().to_string();
                let fresh = self
                    .subs
                    .insert(sender.clone(), Some(sid))
                    .flatten()
                    .is_none();
                if fresh {
                    self.emit(ConferenceEvent::PeerJoined {
                        peer: sender.clone(),
                    })
                    .await;
                }
                self.emit(ConferenceEvent::Description {
                    peer: sender,
                    kind: SdpKind::Offer,
                    sdp,
                })
                .await;
            }
            Some("candidate") => {
                let c = &data["payload"]["candidate"];
                let peer = if sender == self.me {
                    PUBLISHER.to_string()
                } else {
                    sender
                };
                if let Some(candidate) = c["candidate"].as_str() {
                    let index = c["sdpMLineIndex"].as_u64().unwrap_or(0) as u32;
                    self.emit(ConferenceEvent::Candidate {
                        peer,
                        sdp_mline_index: index,
                        candidate: candidate.into(),
                    })
                    .await;
                }
            }
            _ => {}
        }
        vec![]
    }
}

fn request_offer(session: &str) -> Value {
    let mut m = to(
        session,
        json!({"type": "requestoffer", "roomType": "video"}),
    );
    m["id"] = json!(format!("ro:{session}"));
    m
}
