//! A small SIP user agent over UDP for one outgoing call: INVITE with an SDP offer, ACK, BYE
//! from either side. A reader thread answers the bridge's in-dialog requests (BYE, OPTIONS,
//! INFO, UPDATE) with 200 OK, repeats the ACK when a 200 OK to the INVITE comes again, and
//! reports everything as [`SipEvent`]s with their arrival time.
//!
//! The namespace tests' UA (sipp and [`super::dialog`] serve the loopback tests); it binds any
//! address and speaks [`super::sip_message`], the parser the loopback UA uses too.

use super::tools::lock;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use super::sip_message::{SipMessage, sdp_audio_addr};
use super::sipraw::{self, Request};

#[derive(Debug, Clone)]
pub enum SipEvent {
    Response {
        at: Instant,
        msg: SipMessage,
    },
    Request {
        at: Instant,
        method: String,
        msg: SipMessage,
    },
}

struct Shared {
    stop: AtomicBool,
    /// The ACK to repeat when the 200 OK to the INVITE is retransmitted.
    ack: Mutex<Option<String>>,
    /// Our SDP, for a re-INVITE.
    sdp: Mutex<String>,
}

pub struct SipUa {
    socket: UdpSocket,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::Receiver<SipEvent>,
    reader: Option<JoinHandle<()>>,
    /// The INVITE every request of the call derives from.
    base: Request,
    cseq: u32,
    /// Set once the INVITE was answered: (request target, the bridge's To tag).
    dialog: Option<(String, Option<String>)>,
    /// The dialog's route set (the 200 OK's Record-Route, reversed): a proxy that record-routes
    /// (Kamailio in front of several bridges) keeps seeing the in-dialog requests.
    route: Vec<String>,
    /// Every event seen, for messages.
    pub seen: Vec<String>,
}

impl SipUa {
    /// Binds `ip:0`; `user` is the caller's number shown in From.
    pub fn new(ip: IpAddr, remote: SocketAddr, user: &str) -> SipUa {
        let socket = UdpSocket::bind((ip, 0)).expect("binding the SIP socket");
        let local = socket.local_addr().expect("a bound socket has an address");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("a non-zero timeout is valid");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            ack: Mutex::new(None),
            sdp: Mutex::new(String::new()),
        });
        let (tx, events) = mpsc::channel();
        let (sock, sh) = (
            socket.try_clone().expect("cloning a UDP socket"),
            shared.clone(),
        );
        let reader = thread::Builder::new()
            .name("sip-ua".into())
            .spawn(move || read_loop(&sock, &sh, &tx))
            .expect("spawning the SIP reader");
        SipUa {
            socket,
            local,
            remote,
            shared,
            events,
            reader: Some(reader),
            base: Request {
                from_user: user.into(),
                extra_headers: vec!["User-Agent: dialbridge-e2e".into()],
                ..Request::new("INVITE", remote, local, "UDP")
            },
            cseq: 1,
            dialog: None,
            route: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// A request of this call (in the dialog once the INVITE was answered).
    fn request(&self, method: &str, cseq: u32, body: Option<&str>) -> String {
        let mut r = self.base.derive(method, cseq, true);
        if let Some((target, to_tag)) = &self.dialog {
            r.uri = target.clone();
            r.to_tag = to_tag.clone();
            r.extra_headers
                .extend(self.route.iter().map(|hop| format!("Route: {hop}")));
        }
        if let Some(b) = body {
            r.content_type = Some("application/sdp".into());
            r.body = b.into();
        }
        r.build()
    }

    fn send(&self, text: &str) {
        self.socket
            .send_to(text.as_bytes(), self.remote)
            .expect("sending SIP on the veth pair");
    }

    /// The next event, or `None` after `timeout`.
    pub fn next_event(&mut self, timeout: Duration) -> Option<SipEvent> {
        let e = self.events.recv_timeout(timeout).ok()?;
        self.seen.push(match &e {
            SipEvent::Response { msg, .. } => msg.start.clone(),
            SipEvent::Request { method, .. } => format!("{method} request"),
        });
        Some(e)
    }

    /// Sends an INVITE to `sip:<called>@bridge` with `sdp`, waits for the final response, ACKs
    /// a 200 and returns its SDP answer. Panics on a failure response or timeout.
    pub fn invite(&mut self, called: &str, sdp: &str, timeout: Duration) -> String {
        *lock(&self.shared.sdp) = sdp.to_string();
        let uri = format!("sip:{called}@{}", self.remote);
        self.base.uri = uri.clone();
        self.base.to_uri = uri.clone();
        self.send(&self.request("INVITE", self.cseq, Some(sdp)));
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(event) = self.next_event(left) else {
                panic!(
                    "no final response to the INVITE within {timeout:?}; seen: {:?}",
                    self.seen
                );
            };
            let SipEvent::Response { msg, .. } = event else {
                continue;
            };
            let status = msg.status().unwrap_or(0);
            if msg.cseq_method() != "INVITE" || status < 200 {
                continue;
            }
            assert!(
                status < 300,
                "the bridge refused the call: {}\n{:?}",
                msg.start,
                msg.headers
            );
            let target = msg.contact_uri().unwrap_or_else(|| uri.clone());
            let to = msg.header("To").expect("a 200 OK has a To header");
            self.dialog = Some((target, sipraw::to_tag(to)));
            self.route = msg
                .headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case("Record-Route"))
                .map(|(_, hop)| hop.clone())
                .rev()
                .collect();
            let ack = self.request("ACK", self.cseq, None);
            self.send(&ack);
            *lock(&self.shared.ack) = Some(ack);
            return msg.body;
        }
    }

    /// Waits for the bridge's BYE (answered by the reader thread); returns when it arrived.
    pub fn wait_bye(&mut self, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(SipEvent::Request { at, method, .. }) if method == "BYE" => return at,
                Some(_) => {}
                None => panic!(
                    "no BYE from the bridge within {timeout:?}; seen: {:?}",
                    self.seen
                ),
            }
        }
    }

    /// Sends BYE and waits for its 200 OK.
    pub fn bye(&mut self, timeout: Duration) {
        assert!(
            self.dialog.is_some(),
            "bye only after the call was answered"
        );
        self.cseq += 1;
        self.send(&self.request("BYE", self.cseq, None));
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(SipEvent::Response { msg, .. })
                    if msg.cseq_method() == "BYE" && msg.status().unwrap_or(0) >= 200 =>
                {
                    assert_eq!(msg.status(), Some(200), "BYE answered with {}", msg.start);
                    return;
                }
                Some(_) => {}
                None => panic!(
                    "no answer to our BYE within {timeout:?}; seen: {:?}",
                    self.seen
                ),
            }
        }
    }
}

fn read_loop(socket: &UdpSocket, shared: &Shared, events: &mpsc::Sender<SipEvent>) {
    let mut buf = vec![0u8; 65536];
    while !shared.stop.load(Ordering::Relaxed) {
        let Ok((n, src)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let at = Instant::now();
        let Some(msg) = SipMessage::parse(&buf[..n]) else {
            continue;
        };
        match msg.method().map(str::to_string) {
            Some(method) => {
                let reply = match method.as_str() {
                    "ACK" => None,
                    "INVITE" => Some(msg.ok_response(Some(&lock(&shared.sdp)))),
                    _ => Some(msg.ok_response(None)),
                };
                if let Some(r) = reply {
                    let _ = socket.send_to(r.as_bytes(), src);
                }
                let _ = events.send(SipEvent::Request { at, method, msg });
            }
            None => {
                let invite_ok = msg.cseq_method() == "INVITE"
                    && msg.status().is_some_and(|s| (200..300).contains(&s));
                if invite_ok && let Some(ack) = lock(&shared.ack).as_ref() {
                    let _ = socket.send_to(ack.as_bytes(), src);
                }
                let _ = events.send(SipEvent::Response { at, msg });
            }
        }
    }
}

impl Drop for SipUa {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}
