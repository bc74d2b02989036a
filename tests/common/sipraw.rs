//! Raw SIP over UDP and TCP, for what sipp cannot express: malformed messages, and an INVITE
//! cancelled at once whose responses may come in either order.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::sip_message::SipMessage;

/// A SIP response as received: its status, its text, and the parsed message for headers.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub raw: String,
    message: SipMessage,
}

impl Response {
    pub fn parse(data: &[u8]) -> Option<Response> {
        let message = SipMessage::parse(data)?;
        let status = message.status()?;
        let raw = String::from_utf8_lossy(data).into_owned();
        Some(Response {
            status,
            raw,
            message,
        })
    }

    /// The value of the first header `name` (case-insensitive; compact forms too).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.message.header(name)
    }

    /// The CSeq method.
    pub fn method(&self) -> &str {
        self.message.cseq_method()
    }

    /// The `<uri>` of the Contact header.
    pub fn contact_uri(&self) -> Option<String> {
        self.message.contact_uri()
    }
}

/// A UDP SIP client socket on loopback.
pub struct Udp {
    pub socket: UdpSocket,
    pub remote: SocketAddr,
    trace: Option<(PathBuf, Mutex<std::fs::File>)>,
    started: Instant,
}

impl Udp {
    pub fn new(remote: SocketAddr) -> Udp {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP port on loopback");
        Udp {
            socket,
            remote,
            trace: None,
            started: Instant::now(),
        }
    }

    /// Like [`new`](Self::new), writing every datagram sent and received to `path`.
    pub fn traced(remote: SocketAddr, path: &Path) -> Udp {
        let file = std::fs::File::create(path).expect("creating the SIP trace");
        Udp {
            trace: Some((path.to_path_buf(), Mutex::new(file))),
            ..Udp::new(remote)
        }
    }

    /// Where the trace goes, for failure messages.
    pub fn trace_path(&self) -> String {
        self.trace
            .as_ref()
            .map_or("(not traced)".into(), |(p, _)| p.display().to_string())
    }

    fn log(&self, dir: &str, data: &[u8]) {
        if let Some((_, f)) = &self.trace {
            let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
            let at = self.started.elapsed().as_secs_f64();
            let _ = writeln!(
                f,
                "---- {at:.3} s {dir} ----\n{}",
                String::from_utf8_lossy(data)
            );
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .expect("a bound socket has an address")
    }

    pub fn send(&self, data: &[u8]) {
        self.log("sent", data);
        self.socket
            .send_to(data, self.remote)
            .expect("sending a UDP datagram on loopback");
    }

    /// Every response (and request) datagram received until `quiet` passes with nothing new,
    /// or `max` in total.
    pub fn collect(&self, quiet: Duration, max: Duration) -> Vec<Vec<u8>> {
        let end = Instant::now() + max;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 70_000];
        loop {
            let now = Instant::now();
            if now >= end {
                return out;
            }
            self.socket
                .set_read_timeout(Some(quiet.min(end - now)))
                .expect("non-zero timeout");
            match self.socket.recv_from(&mut buf) {
                Ok((n, _)) => {
                    self.log("received", &buf[..n]);
                    out.push(buf[..n].to_vec());
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return out;
                }
                // ICMP port unreachable from an earlier datagram: the bridge is gone; the
                // caller's liveness check says so more clearly.
                Err(_) => return out,
            }
        }
    }
}

/// A TCP SIP connection on loopback.
pub struct Tcp {
    pub stream: TcpStream,
}

impl Tcp {
    pub fn connect(remote: SocketAddr) -> Tcp {
        let stream =
            TcpStream::connect_timeout(&remote, Duration::from_secs(2)).unwrap_or_else(|e| {
                panic!("cannot connect to the bridge's SIP TCP port {remote}: {e}")
            });
        Tcp { stream }
    }

    pub fn local(&self) -> SocketAddr {
        self.stream
            .local_addr()
            .expect("a connected socket has an address")
    }

    /// Sends; an error (the bridge closed the connection) is returned, not a panic.
    pub fn send(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(data)
    }

    /// What arrives until `quiet` passes with nothing new or the bridge closes the connection.
    pub fn collect(&mut self, quiet: Duration) -> Vec<u8> {
        self.stream
            .set_read_timeout(Some(quiet))
            .expect("non-zero timeout");
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    }
}

/// Status codes of every SIP response in a TCP byte stream (split at each status line).
pub fn status_codes_in_stream(data: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(data);
    text.match_indices("SIP/2.0 ")
        .filter(|(i, _)| *i == 0 || text[..*i].ends_with('\n'))
        .filter_map(|(i, _)| text.get(i + 8..i + 11)?.parse().ok())
        .collect()
}

/// Takes every complete SIP message off the front of `buf` (a TCP byte stream), framed by its
/// Content-Length (long or compact form; none means no body). What is left is a partial message.
pub fn take_stream_messages(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        // Keep-alive CRLFs between messages (RFC 5626) carry nothing.
        let skip = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        buf.drain(..skip);
        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            return out;
        };
        let head = String::from_utf8_lossy(&buf[..head_end]);
        let length = head
            .split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| {
                let k = k.trim();
                k.eq_ignore_ascii_case("Content-Length") || k.eq_ignore_ascii_case("l")
            })
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let end = head_end + 4 + length;
        if buf.len() < end {
            return out;
        }
        out.push(buf.drain(..end).collect());
    }
}

/// The parts of a request the tests vary; [`Request::build`] makes the text.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub uri: String,
    /// The To URI: the first Request-URI, kept when in-dialog requests target the Contact.
    pub to_uri: String,
    pub transport: &'static str,
    pub local: SocketAddr,
    pub call_id: String,
    pub cseq: u32,
    pub branch: String,
    /// The user part of From (the caller's number).
    pub from_user: String,
    pub from_tag: String,
    pub to_tag: Option<String>,
    pub extra_headers: Vec<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl Request {
    /// A well-formed out-of-dialog request from `local` to `remote`.
    pub fn new(
        method: &str,
        remote: SocketAddr,
        local: SocketAddr,
        transport: &'static str,
    ) -> Request {
        let id: u64 = rand::random();
        Request {
            method: method.into(),
            uri: format!("sip:1000@{remote}"),
            to_uri: format!("sip:1000@{remote}"),
            transport,
            local,
            call_id: format!("raw-{id:x}@127.0.0.1"),
            cseq: 1,
            branch: format!("z9hG4bK{:x}", rand::random::<u64>()),
            from_user: "caller".into(),
            from_tag: format!("{:x}", rand::random::<u32>()),
            to_tag: None,
            extra_headers: Vec::new(),
            content_type: None,
            body: String::new(),
        }
    }

    /// An INVITE offering PCMU and telephone-event, media at `rtp_port`.
    pub fn invite(
        remote: SocketAddr,
        local: SocketAddr,
        transport: &'static str,
        rtp_port: u16,
    ) -> Request {
        let mut r = Request::new("INVITE", remote, local, transport);
        r.content_type = Some("application/sdp".into());
        r.body = sdp_offer(rtp_port);
        r
    }

    /// A request in the same dialog/transaction context with another method and CSeq.
    pub fn derive(&self, method: &str, cseq: u32, new_branch: bool) -> Request {
        let mut r = self.clone();
        r.method = method.into();
        r.cseq = cseq;
        if new_branch {
            r.branch = format!("z9hG4bK{:x}", rand::random::<u64>());
        }
        r.content_type = None;
        r.body.clear();
        r
    }

    pub fn build(&self) -> String {
        let to_tag = self
            .to_tag
            .as_ref()
            .map(|t| format!(";tag={t}"))
            .unwrap_or_default();
        let mut s = format!(
            "{m} {uri} SIP/2.0\r\nVia: SIP/2.0/{tr} {local};branch={br};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{fu}@{local}>;tag={ft}\r\nTo: <{to_uri}>{to_tag}\r\n\
             Call-ID: {cid}\r\nCSeq: {cseq} {m}\r\nContact: <sip:caller@{local};transport={trl}>\r\n",
            m = self.method,
            uri = self.uri,
            tr = self.transport,
            trl = self.transport.to_ascii_lowercase(),
            local = self.local,
            br = self.branch,
            fu = self.from_user,
            ft = self.from_tag,
            to_uri = self.to_uri,
            cid = self.call_id,
            cseq = self.cseq,
        );
        for h in &self.extra_headers {
            s.push_str(h);
            s.push_str("\r\n");
        }
        if let Some(ct) = &self.content_type {
            s.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        s.push_str(&format!(
            "Content-Length: {}\r\n\r\n{}",
            self.body.len(),
            self.body
        ));
        s
    }
}

pub fn sdp_offer(rtp_port: u16) -> String {
    format!(
        "v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
    )
}

/// The `tag` parameter of a To header value.
pub fn to_tag(to: &str) -> Option<String> {
    to.split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("tag="))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_text_and_response_parsing() {
        let remote: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let inv = Request::invite(remote, local, "UDP", 30000);
        let text = inv.build();
        assert!(text.starts_with("INVITE sip:1000@127.0.0.1:5060 SIP/2.0\r\n"));
        assert!(text.contains("From: <sip:caller@127.0.0.1:4000>;tag="));
        assert!(text.contains(&format!("Content-Length: {}\r\n\r\nv=0", inv.body.len())));
        let cancel = inv.derive("CANCEL", 1, false).build();
        assert!(cancel.contains(&inv.branch) && cancel.contains("CSeq: 1 CANCEL"));

        let r = Response::parse(
            b"SIP/2.0 487 Request Terminated\r\nTo: <sip:1000@x>;tag=abc\r\nCSeq: 1 INVITE\r\n\
              Contact: <sip:b@127.0.0.1:5070>\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.method()), (487, "INVITE"));
        assert_eq!(to_tag(r.header("to").unwrap()).as_deref(), Some("abc"));
        assert_eq!(r.contact_uri().as_deref(), Some("sip:b@127.0.0.1:5070"));
        assert!(Response::parse(b"INVITE sip:x SIP/2.0\r\n\r\n").is_none());
    }

    #[test]
    fn messages_taken_off_a_tcp_stream() {
        let mut buf = b"\r\nSIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n\
SIP/2.0 200 OK\r\nl: 3\r\n\r\nabcSIP/2.0 180 Ringing\r\nContent-Length: 5\r\n\r\nab"
            .to_vec();
        let msgs = take_stream_messages(&mut buf);
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].starts_with(b"SIP/2.0 100") && msgs[0].ends_with(b"\r\n\r\n"));
        assert!(msgs[1].ends_with(b"\r\n\r\nabc"));
        assert!(buf.starts_with(b"SIP/2.0 180"), "the partial message stays");
        buf.extend_from_slice(b"cde");
        assert_eq!(take_stream_messages(&mut buf).len(), 1);
        assert!(buf.is_empty());
    }

    #[test]
    fn status_codes_in_a_tcp_stream() {
        let s = b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\nSIP/2.0 400 Bad\r\nX: SIP/2.0 999\r\n\r\n";
        assert_eq!(status_codes_in_stream(s), vec![100, 400]);
    }
}
