//! One call over raw SIP (UDP from any loopback address, or one TCP connection), for tests that
//! need what sipp cannot do: racing requests, storms on one dialog, a caller that vanishes.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use super::sip_message::SipMessage;
use super::sipraw::{self, Request, Response};

enum Wire {
    Udp(UdpSocket),
    Tcp(TcpStream, Vec<u8>),
}

/// A caller's side of one dialog.
pub struct RawDialog {
    wire: Wire,
    bridge: SocketAddr,
    pub invite: Request,
    /// The bridge's To tag and Contact, once answered.
    pub to_tag: Option<String>,
    pub contact: Option<String>,
    next_cseq: u32,
    sent_at: Instant,
    /// How long after the INVITE the first message from the bridge came.
    pub first_answer: Option<Duration>,
}

impl RawDialog {
    /// Sends an INVITE from `source` over UDP offering PCMU at `rtp_port` (nothing else yet).
    pub fn invite_udp(bridge: SocketAddr, source: IpAddr, rtp_port: u16) -> RawDialog {
        let socket = UdpSocket::bind((source, 0)).expect("binding UDP on a loopback address");
        let local = socket.local_addr().expect("a bound socket has an address");
        RawDialog::start(Wire::Udp(socket), bridge, local, "UDP", rtp_port)
    }

    /// Like [`invite_udp`](Self::invite_udp) on a fresh TCP connection.
    pub fn invite_tcp(bridge: SocketAddr, rtp_port: u16) -> RawDialog {
        let stream = TcpStream::connect(bridge).expect("connecting to the bridge over TCP");
        let local = stream
            .local_addr()
            .expect("a connected stream has an address");
        RawDialog::start(
            Wire::Tcp(stream, Vec::new()),
            bridge,
            local,
            "TCP",
            rtp_port,
        )
    }

    fn start(
        wire: Wire,
        bridge: SocketAddr,
        local: SocketAddr,
        transport: &'static str,
        rtp_port: u16,
    ) -> RawDialog {
        let mut d = RawDialog {
            wire,
            bridge,
            invite: Request::invite(bridge, local, transport, rtp_port),
            to_tag: None,
            contact: None,
            next_cseq: 2,
            sent_at: Instant::now(),
            first_answer: None,
        };
        let text = d.invite.build();
        d.send(text.as_bytes());
        d
    }

    /// Waits for the 200 to the INVITE and ACKs it. Returns the 200.
    pub fn answer(&mut self, timeout: Duration) -> Response {
        let ok = self
            .wait(timeout, |r| r.status == 200 && r.method() == "INVITE")
            .expect("the INVITE got no 200 OK");
        self.to_tag = ok.header("To").and_then(sipraw::to_tag);
        self.contact = ok.contact_uri();
        let ack = self.request("ACK", 1, None);
        self.send(ack.as_bytes());
        ok
    }

    /// An in-dialog request text; `cseq` 0 takes the next one.
    pub fn request(&mut self, method: &str, cseq: u32, sdp: Option<String>) -> String {
        let cseq = if cseq == 0 {
            self.next_cseq += 1;
            self.next_cseq - 1
        } else {
            cseq
        };
        let mut r = self.invite.derive(method, cseq, true);
        r.to_tag = self.to_tag.clone();
        if let Some(contact) = &self.contact {
            r.uri = contact.clone();
        }
        if let Some(body) = sdp {
            r.content_type = Some("application/sdp".into());
            r.body = body;
        }
        r.build()
    }

    /// Sends an in-dialog request (next CSeq) and returns its CSeq number.
    pub fn send_request(&mut self, method: &str, sdp: Option<String>) -> u32 {
        let cseq = self.next_cseq;
        let text = self.request(method, 0, sdp);
        self.send(text.as_bytes());
        cseq
    }

    pub fn send(&mut self, data: &[u8]) {
        match &mut self.wire {
            Wire::Udp(s) => {
                s.send_to(data, self.bridge).expect("sending on loopback");
            }
            Wire::Tcp(s, _) => s.write_all(data).expect("writing to the TCP connection"),
        }
    }

    /// The next response matching `wanted` within `timeout`. A 200 to a re-INVITE is ACKed on
    /// the way, as a UA must (the initial INVITE's is ACKed by [`answer`](Self::answer)).
    pub fn wait(
        &mut self,
        timeout: Duration,
        mut wanted: impl FnMut(&Response) -> bool,
    ) -> Option<Response> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            for message in self.receive(left.max(Duration::from_millis(1))) {
                let Some(r) = Response::parse(&message) else {
                    continue;
                };
                let cseq = cseq_number(&r);
                if r.status == 200 && r.method() == "INVITE" && cseq > 1 {
                    let ack = self.request("ACK", cseq, None);
                    self.send(ack.as_bytes());
                }
                if wanted(&r) {
                    return Some(r);
                }
            }
        }
        None
    }

    /// ACKs a non-2xx final response to the initial INVITE (same branch, RFC 3261 17.1.1.3).
    pub fn ack_failure(&mut self, response: &Response) {
        let mut ack = self.invite.derive("ACK", 1, false);
        ack.to_tag = response.header("To").and_then(sipraw::to_tag);
        let text = ack.build();
        self.send(text.as_bytes());
    }

    /// Requests the bridge sent (e.g. its BYE) within `timeout`, answering each with 200.
    pub fn wait_request(&mut self, method: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            for message in self.receive(left.max(Duration::from_millis(1))) {
                let Some(request) = SipMessage::parse(&message) else {
                    continue;
                };
                if request.method() == Some(method) {
                    self.send(request.ok_response(None).as_bytes());
                    return Some(String::from_utf8_lossy(&message).into_owned());
                }
            }
        }
        None
    }

    fn receive(&mut self, wait: Duration) -> Vec<Vec<u8>> {
        let messages = self.receive_raw(wait);
        if !messages.is_empty() && self.first_answer.is_none() {
            self.first_answer = Some(self.sent_at.elapsed());
        }
        messages
    }

    fn receive_raw(&mut self, wait: Duration) -> Vec<Vec<u8>> {
        match &mut self.wire {
            Wire::Udp(s) => {
                s.set_read_timeout(Some(wait)).expect("non-zero timeout");
                let mut buf = vec![0u8; 70_000];
                match s.recv_from(&mut buf) {
                    Ok((n, _)) => vec![buf[..n].to_vec()],
                    Err(_) => Vec::new(),
                }
            }
            Wire::Tcp(s, pending) => {
                s.set_read_timeout(Some(wait)).expect("non-zero timeout");
                let mut buf = vec![0u8; 70_000];
                match s.read(&mut buf) {
                    Ok(0) => std::thread::sleep(wait), // closed: nothing more will come
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => std::thread::sleep(wait),
                }
                sipraw::take_stream_messages(pending)
            }
        }
    }

    /// Drops the transport without a BYE: the caller is gone.
    pub fn vanish(self) {}
}

/// The number of a response's CSeq.
pub fn cseq_number(r: &Response) -> u32 {
    r.header("CSeq")
        .and_then(|c| c.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
