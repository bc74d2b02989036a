//! RFC 4475 "SIP Torture Test Messages": the RFC's 49 messages (`tests/data/rfc4475/`, byte for
//! byte) sent to a running bridge over UDP and over TCP, each answer held to what the RFC says a
//! UAS should do. Expectations are the RFC's, not the bridge's; where the RFC allows several
//! behaviours, the row accepts all of them and says so.
//!
//! Each transport gets its own bridge, and every message goes out concurrently on its own socket
//! (TCP: its own connection), so the answers cannot mix and the run takes seconds. The only edit
//! at send time is the top Via branch: many of the RFC's messages share `z9hG4bKkdjuw` (and
//! sent-by and method), so sent within one transaction lifetime they would be retransmissions of
//! each other (RFC 3261 §17.2.3). The host names stay: the bridge answers the source address.

mod common;

use std::collections::{HashSet, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::sipraw::{Response, take_stream_messages, to_tag};
use common::{metrics, tools};

/// How long silence is awaited when the bridge may not answer at all.
const QUIET: Duration = Duration::from_secs(5);
/// How long a final answer may take after a 1xx, and a BYE's 200 after our BYE.
const CALL_WAIT: Duration = Duration::from_secs(10);
/// How long to keep listening after the final answer, for stray extra answers.
const SETTLE: Duration = Duration::from_millis(500);

/// What the RFC wants a UAS to send back. 1xx may precede any final answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A final answer, every one with one of these codes.
    Status(&'static [u16]),
    /// A well-formed INVITE handled as a call: 2xx (the test ACKs it, then hangs up) or a final
    /// refusal other than 400, since the message is well formed (481 for a To tag of no dialog,
    /// 488 for an offer the bridge cannot take ...).
    Call,
    /// One of these codes, or handled as a [`Call`](Expect::Call): the RFC names the error but
    /// lets a liberal element read the message.
    StatusOrCall(&'static [u16]),
    /// No answer: a response that matches no transaction is dropped; a stream waits for the
    /// rest of a message.
    Silent,
    /// One of these codes, or no answer: the RFC hopes for the answer but demands only survival.
    StatusOrSilent(&'static [u16]),
    /// A framing error on a stream: the bridge closes the connection; an answer before that must
    /// have one of these codes.
    Closes(&'static [u16]),
    /// A valid message the RFC wants handled, which ezk's parser drops before the bridge sees
    /// it (listed in docs/robustness.md). Checked to stay silent, so the row fails, and gets
    /// updated, the day it is handled.
    KnownGap(&'static str),
}

use Expect::*;

struct Row {
    name: &'static str,
    section: &'static str,
    udp: Expect,
    tcp: Expect,
}

const fn row(name: &'static str, section: &'static str, expect: Expect) -> Row {
    Row {
        name,
        section,
        udp: expect,
        tcp: expect,
    }
}

/// One row per message, in RFC order. The bridge is an endpoint and no registrar, so a REGISTER
/// gets 405 (§3.3.7: "Endpoints choosing not to act as registrars will simply reject the
/// request. A 405 Method Not Allowed is appropriate.").
const ROWS: &[Row] = &[
    // 3.1.1 Valid messages: handled as any well-formed request.
    // wsinv has a To tag, so 481 (no such dialog) is the expected answer; ezk's From parser
    // cannot read its escaped quotes and LWS around `;` and `=`, so it is dropped unanswered.
    row(
        "wsinv",
        "3.1.1.1",
        KnownGap("ezk cannot parse its From header"),
    ),
    // "Endpoints will generate a 501 listing the methods they understand in an Allow header".
    row("intmeth", "3.1.1.2", Status(&[501])),
    row("esc01", "3.1.1.3", Call),
    row("escnull", "3.1.1.4", Status(&[405])),
    // RE%47IST%45R is not REGISTER: "An endpoint would reject this message with a 501."
    row("esc02", "3.1.1.5", Status(&[501])),
    row("lwsdisp", "3.1.1.6", Status(&[200])),
    row("longreq", "3.1.1.7", Call),
    // The REGISTER is answered; over UDP the INVITE octets behind it must be ignored (checked
    // for every UDP message: no answer with another Call-ID). On TCP they are the next message.
    row("dblreq", "3.1.1.8", Status(&[405])),
    row("semiuri", "3.1.1.9", Status(&[200])),
    row("transports", "3.1.1.10", Status(&[200])),
    // MESSAGE is not supported: 405 (known method) or 501 (unknown) both say so.
    row("mpart01", "3.1.1.11", Status(&[405, 501])),
    row("unreason", "3.1.1.12", Silent),
    row("noreason", "3.1.1.13", Silent),
    // 3.1.2 Invalid messages.
    row("badinv01", "3.1.2.1", Status(&[400])),
    // UDP: 400. TCP: "wait for more data on the stream", so no answer yet.
    Row {
        name: "clerr",
        section: "3.1.2.2",
        udp: StatusOrSilent(&[400]),
        tcp: Silent,
    },
    // "respond with an error"; on TCP "the connection should be closed".
    Row {
        name: "ncl",
        section: "3.1.2.3",
        udp: Status(&[400]),
        tcp: Closes(&[400]),
    },
    // From here on, `StatusOrSilent` marks invalid messages ezk's parser drops before any layer
    // sees them: a drop instead of the RFC's answer (allowed for invalid input).
    row("scalar02", "3.1.2.4", StatusOrSilent(&[400])),
    row("scalarlg", "3.1.2.5", Silent),
    // quotbal .. baddate: 400, or a liberal reading of the INVITE.
    row("quotbal", "3.1.2.6", StatusOrCall(&[400])),
    row("ltgtruri", "3.1.2.7", StatusOrSilent(&[400])),
    row("lwsruri", "3.1.2.8", StatusOrCall(&[400])),
    row("lwsstart", "3.1.2.9", StatusOrCall(&[400])),
    // OPTIONS: 400, or liberal and 200.
    row("trws", "3.1.2.10", Status(&[400, 200])),
    row("escruri", "3.1.2.11", StatusOrCall(&[400])),
    row("baddate", "3.1.2.12", StatusOrCall(&[400])),
    // 400, or infer the angle brackets and refuse the REGISTER like any other.
    row("regbadct", "3.1.2.13", Status(&[400, 405])),
    row("badaspec", "3.1.2.14", StatusOrSilent(&[400, 200])),
    // The RFC's archive ends baddn without the empty line after the headers. A datagram ends
    // there all the same (400, or liberal and 200); a stream may still bring the rest.
    Row {
        name: "baddn",
        section: "3.1.2.15",
        udp: StatusOrSilent(&[400, 200]),
        tcp: StatusOrSilent(&[400, 200]),
    },
    row("badvers", "3.1.2.16", StatusOrSilent(&[505])),
    row("mismatch01", "3.1.2.17", Status(&[400])),
    // "should respond with a 501 ... A 400 Bad Request is also acceptable".
    row("mismatch02", "3.1.2.18", Status(&[501, 400])),
    row("bigcode", "3.1.2.19", Silent),
    // 3.2 Transaction layer: 400, or fall back to RFC 2543 matching and answer.
    row("badbranch", "3.2.1", Status(&[400, 200])),
    // 3.3 Application layer. insuf: "must not break ... Ideally, it will respond with a 400".
    row("insuf", "3.3.1", StatusOrSilent(&[400])),
    row("unkscm", "3.3.2", StatusOrSilent(&[416])),
    // 416 for a scheme never accepted, 404 for one accepted for some URIs.
    row("novelsc", "3.3.3", StatusOrSilent(&[416, 404])),
    // A registrar answers 400 (the To is no SIP URI); an endpoint 405.
    row("unksm2", "3.3.4", StatusOrSilent(&[400, 405])),
    // 420 with an Unsupported header listing the Require tokens (checked in `answer_problems`).
    row("bext01", "3.3.5", Status(&[420])),
    // 415 with Accept (RFC 3261 §21.4.13; checked in `answer_problems`).
    row("invut", "3.3.6", Status(&[415])),
    row("regaut01", "3.3.7", Status(&[405])),
    row("multi01", "3.3.8", Status(&[400])),
    Row {
        name: "mcl01",
        section: "3.3.9",
        udp: Status(&[400]),
        tcp: Closes(&[400]),
    },
    row("bcast", "3.3.10", Silent),
    // An endpoint answers as if Max-Forwards were positive: 200, not 483.
    row("zeromf", "3.3.11", Status(&[200])),
    row("cparam01", "3.3.12", Status(&[405])),
    row("cparam02", "3.3.13", Status(&[405])),
    row("regescrt", "3.3.14", Status(&[405])),
    // 406 (no acceptable answer format), or 400 ("all SIP UAs supporting INVITE are required
    // to support application/sdp"); never a 2xx, which would carry SDP.
    row("sdp01", "3.3.15", Status(&[406, 400])),
    // 3.4 "should be accepted by RFC 3261 elements that want to maintain backwards
    // compatibility": a call, or a refusal; not silence. ezk needs a From tag and RFC 3261
    // branches for its transaction keys and drops it.
    row(
        "inv2543",
        "3.4.1",
        KnownGap("ezk drops RFC 2543 requests (no From tag)"),
    ),
];

/// A message as sent, and what the test needs to know about it.
struct Fixture {
    row: &'static Row,
    data: Vec<u8>,
    /// The Request-URI (of the status line for a response: unused then).
    uri: String,
    call_id: Option<String>,
    require: Vec<String>,
    /// The top Via branch as sent, which every answer must carry unchanged.
    branch: Option<String>,
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475")
}

fn load(row: &'static Row) -> Fixture {
    let path = fixture_dir().join(format!("{}.dat", row.name));
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8_lossy(&data).into_owned();
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let uri = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("sip:user@example.com")
        .to_string();
    let header = |names: &[&str]| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| names.iter().any(|n| k.trim().eq_ignore_ascii_case(n)))
            .map(|(_, v)| v.trim().to_string())
    };
    let data = unique_branch(&data, row.name);
    Fixture {
        row,
        branch: top_branch(&data).map(|r| String::from_utf8_lossy(&data[r]).into_owned()),
        data,
        uri,
        call_id: header(&["Call-ID", "i"]),
        require: header(&["Require"])
            .map(|r| r.split(',').map(|t| t.trim().to_string()).collect())
            .unwrap_or_default(),
    }
}

/// `data` with `.<name>` appended to the top Via's branch when it is an RFC 3261 one with an
/// ID. The bare `z9hG4bK` of badbranch and the RFC 2543 branches stay as they are: they are the
/// point of their messages.
fn unique_branch(data: &[u8], name: &str) -> Vec<u8> {
    match top_branch(data) {
        Some(r) if data[r.clone()].starts_with(b"z9hG4bK") && r.len() > 7 => {
            [&data[..r.end], b".", name.as_bytes(), &data[r.end..]].concat()
        }
        _ => data.to_vec(),
    }
}

/// Where the value of the top Via's branch is in a message: the first `Via`/`v` header, folded
/// lines and all, up to its first comma.
fn top_branch(data: &[u8]) -> Option<Range<usize>> {
    let find = |from: usize, what: &[u8]| {
        data[from..]
            .windows(what.len())
            .position(|w| w == what)
            .map(|i| from + i)
    };
    let head_end = find(0, b"\r\n\r\n").unwrap_or(data.len());
    let mut start = find(0, b"\r\n")? + 2;
    while start < head_end {
        // A header ends at a CRLF not followed by whitespace (which would fold it).
        let mut end = start;
        loop {
            match find(end, b"\r\n").filter(|&i| i <= head_end) {
                Some(crlf) if matches!(data.get(crlf + 2), Some(b' ' | b'\t')) => end = crlf + 2,
                Some(crlf) => break end = crlf,
                None => break end = head_end,
            }
        }
        let line = &data[start..end];
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon])
                .trim()
                .to_ascii_lowercase();
            if name == "via" || name == "v" {
                let value = start + colon + 1;
                let value_end = line[colon..]
                    .iter()
                    .position(|&b| b == b',')
                    .map_or(end, |i| start + colon + i);
                let mut at = find(value, b"branch=").filter(|&i| i < value_end)? + 7;
                // SWS may follow the `=` (RFC 3261 §25.1), folded lines included.
                at += data[at..value_end]
                    .iter()
                    .take_while(|b| b" \t\r\n".contains(b))
                    .count();
                let stop = data[at..value_end]
                    .iter()
                    .position(|b| b";, \t\r\n".contains(b))
                    .map_or(value_end, |i| at + i);
                return Some(at..stop);
            }
        }
        start = end + 2;
    }
    None
}

/// The value of the first `branch=` in `text`, a Via value as the bridge writes it.
fn branch_of(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("branch=")?;
    let end = rest
        .find(|c: char| ";, \t\r\n".contains(c))
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// A client socket (a UDP socket of its own, or a fresh TCP connection) and the trace file
/// every message sent and received is written to.
struct Wire {
    io: Io,
    trace: std::fs::File,
}

enum Io {
    Udp(UdpSocket, SocketAddr),
    Tcp {
        stream: TcpStream,
        buf: Vec<u8>,
        ready: VecDeque<Vec<u8>>,
        closed: bool,
    },
}

impl Wire {
    fn open(tcp: bool, bridge: SocketAddr, trace: &Path) -> Wire {
        let io = if tcp {
            let stream = TcpStream::connect_timeout(&bridge, Duration::from_secs(2))
                .unwrap_or_else(|e| panic!("connecting to the bridge's SIP TCP port: {e}"));
            Io::Tcp {
                stream,
                buf: Vec::new(),
                ready: VecDeque::new(),
                closed: false,
            }
        } else {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP port on loopback");
            Io::Udp(socket, bridge)
        };
        let trace = std::fs::File::create(trace).expect("creating the exchange trace");
        Wire { io, trace }
    }

    fn transport(&self) -> &'static str {
        match self.io {
            Io::Udp(..) => "UDP",
            Io::Tcp { .. } => "TCP",
        }
    }

    fn local(&self) -> SocketAddr {
        match &self.io {
            Io::Udp(s, _) => s.local_addr(),
            Io::Tcp { stream, .. } => stream.local_addr(),
        }
        .expect("a bound socket has an address")
    }

    fn log(&mut self, what: &str, data: &[u8]) {
        let _ = writeln!(
            self.trace,
            "---- {what} ----\n{}",
            String::from_utf8_lossy(data)
        );
    }

    /// Sends; a TCP connection the bridge closed is noted by [`recv`](Self::recv), not here.
    fn send(&mut self, data: &[u8]) {
        self.log("sent", data);
        match &mut self.io {
            Io::Udp(s, to) => {
                s.send_to(data, *to)
                    .expect("sending a UDP datagram on loopback");
            }
            Io::Tcp { stream, .. } => {
                let _ = stream.write_all(data);
            }
        }
    }

    /// The next message, or None at `until` or when the bridge closed the connection.
    fn recv(&mut self, until: Instant) -> Option<Vec<u8>> {
        let got = self.io.recv(until);
        match &got {
            Some(m) => self.log("received", m),
            None if self.closed() => self.log("closed by the bridge", b""),
            None => {}
        }
        got
    }

    fn closed(&self) -> bool {
        matches!(self.io, Io::Tcp { closed: true, .. })
    }
}

impl Io {
    fn recv(&mut self, until: Instant) -> Option<Vec<u8>> {
        let timeout = until.checked_duration_since(Instant::now())?;
        let timeout = timeout.max(Duration::from_millis(1));
        match self {
            Io::Udp(s, _) => {
                s.set_read_timeout(Some(timeout)).expect("non-zero timeout");
                let mut buf = vec![0u8; 70_000];
                // An error is the ICMP of a bridge gone; the liveness check says so better.
                s.recv_from(&mut buf).ok().map(|(n, _)| buf[..n].to_vec())
            }
            Io::Tcp {
                stream,
                buf,
                ready,
                closed,
            } => loop {
                if let Some(m) = ready.pop_front() {
                    return Some(m);
                }
                if *closed || Instant::now() >= until {
                    return None;
                }
                let left = until.saturating_duration_since(Instant::now());
                stream
                    .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                    .expect("non-zero timeout");
                let mut chunk = [0u8; 16384];
                match stream.read(&mut chunk) {
                    Ok(0) => *closed = true,
                    Ok(n) => {
                        buf.extend_from_slice(&chunk[..n]);
                        ready.extend(take_stream_messages(buf));
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        return None;
                    }
                    Err(_) => *closed = true,
                }
            },
        }
    }
}

/// What came back for one message on one transport.
#[derive(Debug, Default)]
struct Outcome {
    /// Status codes of the answers to the message itself, in order.
    codes: Vec<u16>,
    /// Answers carrying another Call-ID (dblreq's trailing INVITE): `code Call-ID`.
    others: Vec<String>,
    closed: bool,
    problems: Vec<String>,
}

/// Sends `fx` on a fresh wire and follows the exchange through: ACKs every final INVITE answer,
/// hangs up every call that was answered, and listens [`SETTLE`] past the final answer.
/// The trace goes to `<dir>/<name>.trace`.
fn exchange(fx: &Fixture, bridge: SocketAddr, tcp: bool, dir: &Path) -> Outcome {
    let trace = dir.join(format!("{}.trace", fx.row.name));
    let mut wire = Wire::open(tcp, bridge, &trace);
    let mut out = Outcome::default();
    let start = Instant::now();
    let mut deadline = start + QUIET;
    // Bridge tags of the calls answered, and of those not yet over (no answer to our BYE and
    // no BYE from the bridge yet).
    let mut answered = HashSet::new();
    let mut up = HashSet::new();
    let mut final_seen = false;
    wire.send(&fx.data);
    while let Some(data) = wire.recv(deadline) {
        let Some(r) = Response::parse(&data) else {
            // A request from the bridge: its BYE of a call it gave up (RFC 3261 §15.1.2 has us
            // answer 200) or anything else in such a dialog, answered alike.
            let text = String::from_utf8_lossy(&data).into_owned();
            if !text.starts_with("ACK ") {
                wire.send(ok_to(&text).as_bytes());
            }
            if text.starts_with("BYE ") {
                up.remove(&tag_of(header_in(&text, "From")));
            }
            deadline = next_deadline(!up.is_empty(), final_seen, false, deadline);
            continue;
        };
        let call_id = r.header("Call-ID").unwrap_or_default().to_string();
        let own = fx.call_id.as_ref().is_none_or(|c| *c == call_id);
        if r.method() == "BYE" {
            if r.status >= 200 {
                up.remove(&tag_of(r.header("To")));
            }
        } else if own {
            out.codes.push(r.status);
            out.problems.extend(answer_problems(&r, fx));
            final_seen |= r.status >= 200;
        } else {
            out.others.push(format!("{} {call_id}", r.status));
        }
        if r.method() == "INVITE" && r.status >= 200 {
            let cseq = cseq_number(&r);
            if r.status >= 300 {
                let via = r.header("Via").unwrap_or_default();
                let via = via.split(',').next().unwrap_or_default().trim().to_string();
                // The INVITE's Request-URI; lwsruri's `sip:user@example.com; lr` is cut at
                // the LWS, so without its dangling `;`.
                let uri = fx.uri.trim_end_matches(';');
                wire.send(in_dialog("ACK", uri, &via, &r, cseq).as_bytes());
            } else {
                let uri = r.contact_uri().unwrap_or_else(|| format!("sip:{bridge}"));
                let via = || {
                    format!(
                        "SIP/2.0/{} {};branch=z9hG4bK{:x}",
                        wire.transport(),
                        wire.local(),
                        rand::random::<u64>()
                    )
                };
                let (ack_via, bye_via) = (via(), via());
                wire.send(in_dialog("ACK", &uri, &ack_via, &r, cseq).as_bytes());
                // A retransmitted 200 is ACKed again, but hung up only once.
                let tag = tag_of(r.header("To"));
                if answered.insert(tag.clone()) {
                    wire.send(in_dialog("BYE", &uri, &bye_via, &r, cseq + 1).as_bytes());
                    up.insert(tag);
                }
            }
        }
        deadline = next_deadline(!up.is_empty(), final_seen, r.status < 200, deadline);
    }
    out.closed = wire.closed();
    if !up.is_empty() {
        out.problems.push(format!(
            "{} answered call(s) neither took the test's BYE nor sent one",
            up.len()
        ));
    }
    if !tcp && !out.others.is_empty() {
        out.problems.push(format!(
            "answers to octets behind the message in the datagram: {:?}",
            out.others
        ));
    }
    out
}

/// Until when to listen: [`CALL_WAIT`] while a call is being set up or torn down, [`SETTLE`]
/// past the final answer, else as before (the wait for silence).
fn next_deadline(
    calls_up: bool,
    final_seen: bool,
    provisional: bool,
    deadline: Instant,
) -> Instant {
    if calls_up || (provisional && !final_seen) {
        Instant::now() + CALL_WAIT
    } else if final_seen {
        Instant::now() + SETTLE
    } else {
        deadline
    }
}

/// The value of header `name` in a message's head (full names only, as the bridge writes them).
fn header_in<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.split("\r\n\r\n")
        .next()?
        .split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn tag_of(value: Option<&str>) -> String {
    value.and_then(to_tag).unwrap_or_default()
}

/// 200 OK to a request from the bridge.
fn ok_to(request: &str) -> String {
    let mut s = String::from("SIP/2.0 200 OK\r\n");
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        s.push_str(&format!(
            "{name}: {}\r\n",
            header_in(request, name).unwrap_or_default()
        ));
    }
    s + "Content-Length: 0\r\n\r\n"
}

/// ACK or BYE in the dialog or transaction of response `r`.
fn in_dialog(method: &str, uri: &str, via: &str, r: &Response, cseq: u32) -> String {
    let h = |name| r.header(name).unwrap_or_default();
    format!(
        "{method} {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\n\
         Call-ID: {}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
        h("From"),
        h("To"),
        h("Call-ID"),
    )
}

fn cseq_number(r: &Response) -> u32 {
    r.header("CSeq")
        .and_then(|c| c.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// What is wrong with the headers of an answer: the top Via branch must be the request's (RFC
/// 3261 §8.2.6.2, or the client cannot match it); 405 needs Allow (§21.4.6), and so does 501
/// (RFC 4475 §3.1.1.2); 420 lists the Require tokens in Unsupported (§3.3.5); 415 has Accept
/// (RFC 3261 §21.4.13).
fn answer_problems(r: &Response, fx: &Fixture) -> Vec<String> {
    let mut problems = Vec::new();
    let top_via = r.header("Via").and_then(|v| v.split(',').next());
    // Known gap (docs/robustness.md): ezk prints a Via branch %-decoded (intmeth's `%66`
    // comes back as `f`), so the client could not match that one answer.
    let decoded_by_ezk = fx.row.name == "intmeth";
    if let Some(sent) = &fx.branch
        && !decoded_by_ezk
        && top_via.and_then(branch_of).as_ref() != Some(sent)
    {
        problems.push(format!(
            "{} changed the Via branch {sent:?} to {:?}",
            r.status,
            top_via.unwrap_or_default()
        ));
    }
    let mut need = |header: &str, what: &str, ok: &dyn Fn(&str) -> bool| {
        if !r.header(header).is_some_and(ok) {
            problems.push(format!("{} without {what}", r.status));
        }
    };
    match r.status {
        405 | 501 => need("Allow", "Allow", &|v| !v.is_empty()),
        420 => need("Unsupported", "the Require tokens in Unsupported", &|v| {
            fx.require
                .iter()
                .all(|t| v.split(',').any(|u| u.trim() == t))
        }),
        415 => need("Accept", "Accept: application/sdp", &|v| {
            v.contains("application/sdp")
        }),
        _ => {}
    }
    problems
}

/// Why `out` does not meet `expect`, if it does not.
fn judge(expect: Expect, out: &Outcome) -> Option<String> {
    let finals: Vec<u16> = out.codes.iter().copied().filter(|c| *c >= 200).collect();
    let all_in = |wanted: &[u16]| finals.iter().all(|c| wanted.contains(c));
    let a_call = finals.iter().all(|c| *c != 400);
    let ok = match expect {
        Status(wanted) => !finals.is_empty() && all_in(wanted),
        Call => !finals.is_empty() && a_call,
        StatusOrCall(wanted) => !finals.is_empty() && (all_in(wanted) || a_call),
        Silent => out.codes.is_empty(),
        StatusOrSilent(wanted) => all_in(wanted) && (out.codes.is_empty() || !finals.is_empty()),
        Closes(wanted) => out.closed && all_in(wanted),
        KnownGap(_) => out.codes.is_empty(),
    };
    (!ok).then(|| match expect {
        KnownGap(gap) => format!(
            "known gap \"{gap}\" is gone (got {:?}): update this row and docs/robustness.md",
            out.codes
        ),
        _ => format!("expected {expect:?}, got {:?}", out.codes),
    })
}

/// One bridge per transport, in a folder of its own (each writes `bridge.log`).
fn start_bridge(dir: &Path, name: &str) -> (Bridge, PathBuf) {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).expect("creating the bridge's folder");
    (Bridge::start(&dir, &Config::trunk()), dir)
}

#[test]
fn rfc4475_torture_messages_get_the_answers_the_rfc_names() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("reading tests/data/rfc4475")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".dat").map(String::from))
        .collect();
    on_disk.sort();
    let mut in_table: Vec<String> = ROWS.iter().map(|r| r.name.to_string()).collect();
    in_table.sort();
    assert_eq!(on_disk, in_table, "one row per fixture file");
    assert_eq!(ROWS.len(), 49, "RFC 4475 has 49 messages");
    let fixtures: Vec<Fixture> = ROWS.iter().map(load).collect();

    let dir = tools::test_dir();
    let (mut udp_bridge, udp_dir) = start_bridge(&dir, "udp");
    let (mut tcp_bridge, tcp_dir) = start_bridge(&dir, "tcp");
    let outcomes: Vec<(Outcome, Outcome)> = std::thread::scope(|s| {
        let handles: Vec<_> = fixtures
            .iter()
            .map(|fx| {
                let (u, t) = (udp_bridge.sip, tcp_bridge.sip);
                let (ud, td) = (&udp_dir, &tcp_dir);
                (
                    s.spawn(move || exchange(fx, u, false, ud)),
                    s.spawn(move || exchange(fx, t, true, td)),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(u, t)| {
                (
                    u.join().expect("UDP exchange"),
                    t.join().expect("TCP exchange"),
                )
            })
            .collect()
    });
    udp_bridge.assert_alive();
    tcp_bridge.assert_alive();

    let mut report = Vec::new();
    let mut problems = Vec::new();
    for (fx, (udp, tcp)) in fixtures.iter().zip(&outcomes) {
        let row = fx.row;
        report.push(format!(
            "{:<11} {:<9} UDP {:<16} TCP {:<16}{}{}",
            row.name,
            row.section,
            format!("{:?}", udp.codes),
            format!("{:?}", tcp.codes),
            if tcp.closed { " closed" } else { "" },
            if tcp.others.is_empty() {
                String::new()
            } else {
                format!(" TCP others {:?}", tcp.others)
            },
        ));
        for (transport, expect, out) in [("UDP", row.udp, udp), ("TCP", row.tcp, tcp)] {
            let why = judge(expect, out)
                .into_iter()
                .chain(out.problems.iter().cloned());
            for why in why {
                problems.push(format!("{} ({}) {transport}: {why}", row.name, row.section));
            }
        }
    }
    println!("{}", report.join("\n"));

    // Every call the torture answered was hung up, and both bridges still take a normal one.
    for (bridge, dir, tcp) in [
        (&mut udp_bridge, &udp_dir, false),
        (&mut tcp_bridge, &tcp_dir, true),
    ] {
        metrics::wait_idle(bridge.signaling, Duration::from_secs(10));
        let call = Caller::dial(dir, "uac_call.xml", bridge.sip, &[0], |s| {
            if tcp { s.tcp() } else { s }
        });
        call.assert_answer(0, true);
        call.hang_up();
        bridge.assert_alive();
        metrics::wait_idle(bridge.signaling, Duration::from_secs(10));
        let log = std::fs::read_to_string(&bridge.log).expect("reading the bridge log");
        assert!(
            !log.contains("panicked"),
            "a panic in {}",
            bridge.log.display()
        );
    }
    // Checked last, so one run shows every deviation and whether the bridges still work.
    assert!(
        problems.is_empty(),
        "answers that differ from RFC 4475 ({}):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn only_rfc3261_branch_ids_are_made_unique() {
    let via = |b: &str| format!("OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch={b};rport\r\n");
    let out = |b: &str| String::from_utf8(unique_branch(via(b).as_bytes(), "x")).unwrap();
    assert_eq!(out("z9hG4bKkdjuw"), via("z9hG4bKkdjuw.x"));
    for kept in ["z9hG4bK", "390skdjuw"] {
        assert_eq!(out(kept), via(kept));
    }
    let response = b"SIP/2.0 200 OK\r\n";
    assert_eq!(unique_branch(response, "x"), response);
}

#[test]
fn the_top_via_branch_is_found_in_folded_and_compact_headers() {
    let msg: &[u8] = b"INVITE sip:a SIP/2.0\r\nTo: b\r\nv  : SIP/2.0\r\n /UDP h;branch=z9hG4bKa, \
        SIP/2.0/UDP i;branch=z9hG4bKb\r\nVia: SIP/2.0/UDP j;branch=z9hG4bKc\r\n\r\nbranch=d";
    assert_eq!(top_branch(msg).map(|r| &msg[r]), Some(&b"z9hG4bKa"[..]));
    let folded_value: &[u8] =
        b"INVITE sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=\r\n z9hG4bKa\r\n\r\n";
    assert_eq!(
        top_branch(folded_value).map(|r| &folded_value[r]),
        Some(&b"z9hG4bKa"[..])
    );
    let no_branch: &[u8] =
        b"INVITE sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nv: SIP/2.0/UDP i;branch=z9hG4bKb\r\n\r\n";
    assert_eq!(top_branch(no_branch), None);
}

#[test]
fn judging_answers() {
    let got = |codes: &[u16], closed| Outcome {
        codes: codes.to_vec(),
        closed,
        ..Outcome::default()
    };
    let ok = |e, o: &Outcome| judge(e, o).is_none();
    assert!(ok(Status(&[405]), &got(&[100, 405], false)));
    assert!(
        !ok(Status(&[405]), &got(&[], false)),
        "silence is no answer"
    );
    assert!(!ok(Status(&[405]), &got(&[405, 200], false)));
    assert!(ok(Call, &got(&[100, 200], false)) && ok(Call, &got(&[481], false)));
    assert!(
        !ok(Call, &got(&[400], false)),
        "a well-formed INVITE is no bad request"
    );
    assert!(
        !ok(Call, &got(&[100], false)),
        "a call needs a final answer"
    );
    assert!(ok(StatusOrCall(&[400]), &got(&[400], false)));
    assert!(!ok(StatusOrCall(&[400]), &got(&[], false)));
    assert!(ok(Silent, &got(&[], true)) && !ok(Silent, &got(&[100], false)));
    assert!(ok(StatusOrSilent(&[400]), &got(&[], false)));
    assert!(!ok(StatusOrSilent(&[400]), &got(&[200], false)));
    assert!(ok(Closes(&[400]), &got(&[], true)) && ok(Closes(&[400]), &got(&[400], true)));
    assert!(
        !ok(Closes(&[400]), &got(&[400], false)),
        "the connection must go"
    );
}
