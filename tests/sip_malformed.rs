//! Robustness: malformed SIP over UDP and TCP must be answered with an error or dropped, never
//! with a 2xx, never with a crash; afterwards a normal call still works.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::call::Caller;
use common::sipraw::{self, Request, Response};
use common::{metrics, tools};

/// What a malformed message may get back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Nothing, or only error responses (provisional 1xx allowed before them).
    Refused,
    /// An error response with one of these codes (and nothing 2xx).
    Status(&'static [u16]),
    /// Any answer: the message is legal or harmlessly odd (a datagram near the UDP limit, NUL
    /// in a Subject); the point is that the bridge survives it.
    Survives,
}

struct Case {
    name: &'static str,
    data: Vec<u8>,
    expect: Expect,
    /// The request behind an INVITE case, to ACK an error response with.
    invite: Option<Request>,
}

fn case(name: &'static str, data: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case {
        name,
        data: data.into(),
        expect,
        invite: None,
    }
}

/// A valid INVITE's text with `edit` applied to its lines.
fn edited_invite(
    bridge: SocketAddr,
    local: SocketAddr,
    edit: impl Fn(Vec<String>) -> Vec<String>,
) -> (String, Request) {
    let req = Request::invite(bridge, local, "UDP", 9);
    let text = req.build();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .expect("a built request has a blank line");
    let lines = edit(head.split("\r\n").map(str::to_string).collect());
    (format!("{}\r\n\r\n{body}", lines.join("\r\n")), req)
}

fn without(header: &'static str) -> impl Fn(Vec<String>) -> Vec<String> {
    move |lines| {
        lines
            .into_iter()
            .filter(|l| {
                !l.to_ascii_lowercase()
                    .starts_with(&format!("{}:", header.to_ascii_lowercase()))
            })
            .collect()
    }
}

fn replace(header: &'static str, value: &'static str) -> impl Fn(Vec<String>) -> Vec<String> {
    move |lines| {
        lines
            .into_iter()
            .map(|l| {
                if l.to_ascii_lowercase()
                    .starts_with(&format!("{}:", header.to_ascii_lowercase()))
                {
                    format!("{header}: {value}")
                } else {
                    l
                }
            })
            .collect()
    }
}

/// An INVITE with a valid head and `body` as its (application/sdp) body.
fn invite_with_body(bridge: SocketAddr, local: SocketAddr, body: &str) -> (String, Request) {
    let mut req = Request::invite(bridge, local, "UDP", 9);
    req.body = body.to_string();
    (req.build(), req)
}

fn udp_cases(bridge: SocketAddr, local: SocketAddr) -> Vec<Case> {
    let inv = |name, edit: Box<dyn Fn(Vec<String>) -> Vec<String>>, expect| {
        let (text, req) = edited_invite(bridge, local, edit);
        Case {
            name,
            data: text.into_bytes(),
            expect,
            invite: Some(req),
        }
    };
    let with_body = |name, body: &str| {
        let (text, req) = invite_with_body(bridge, local, body);
        Case {
            name,
            data: text.into_bytes(),
            expect: Expect::Refused,
            invite: Some(req),
        }
    };
    let full = Request::invite(bridge, local, "UDP", 9).build();
    let mut options = Request::new("OPTIONS", bridge, local, "UDP");
    options
        .extra_headers
        .push(format!("X-Padding: {}", "a".repeat(65_000 - 400)));
    let mut unknown = Request::new("FOO", bridge, local, "UDP");
    unknown.extra_headers.push("Allow: FOO".into());
    let junk: Vec<u8> = (0..512).map(|_| rand::random::<u8>()).collect();
    vec![
        inv(
            "request line without version",
            Box::new(|mut l| {
                l[0] = format!("INVITE sip:1000@{bridge}");
                l
            }),
            Expect::Refused,
        ),
        inv(
            "garbage request line",
            Box::new(|mut l| {
                l[0] = "HELLO WORLD".into();
                l
            }),
            Expect::Refused,
        ),
        inv(
            "request line with a bad URI",
            Box::new(|mut l| {
                l[0] = "INVITE not a uri at all SIP/2.0".into();
                l
            }),
            Expect::Refused,
        ),
        inv(
            "SIP/3.0",
            Box::new(|mut l| {
                l[0] = l[0].replace("SIP/2.0", "SIP/3.0");
                l
            }),
            Expect::Refused,
        ),
        inv("missing Via", Box::new(without("Via")), Expect::Refused),
        inv("missing From", Box::new(without("From")), Expect::Refused),
        inv("missing To", Box::new(without("To")), Expect::Refused),
        inv(
            "missing Call-ID",
            Box::new(without("Call-ID")),
            Expect::Refused,
        ),
        inv("missing CSeq", Box::new(without("CSeq")), Expect::Refused),
        inv(
            "CSeq method mismatch",
            Box::new(replace("CSeq", "1 BYE")),
            Expect::Refused,
        ),
        inv(
            "Content-Length too big",
            Box::new(replace("Content-Length", "5000")),
            Expect::Refused,
        ),
        inv(
            "Content-Length negative",
            Box::new(replace("Content-Length", "-5")),
            Expect::Refused,
        ),
        inv(
            "Content-Length not a number",
            Box::new(replace("Content-Length", "abc")),
            Expect::Refused,
        ),
        inv(
            "header without colon",
            Box::new(|mut l| {
                l.insert(3, "This header has no colon".into());
                l
            }),
            Expect::Refused,
        ),
        inv(
            "NUL bytes in a header",
            Box::new(|mut l| {
                l.insert(3, "Subject: a\0b\0c".into());
                l
            }),
            // NUL in a non-essential header: tolerating it is fine, crashing is not.
            Expect::Survives,
        ),
        inv(
            "Via without host or branch",
            Box::new(replace("Via", "SIP/2.0/UDP")),
            Expect::Refused,
        ),
        inv(
            "Max-Forwards 0",
            Box::new(replace("Max-Forwards", "0")),
            Expect::Status(&[483]),
        ),
        with_body(
            "garbage SDP",
            "this is not SDP\r\n\u{1}\u{2}\u{3}\r\nm=\r\n",
        ),
        with_body(
            "SDP without m=",
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n",
        ),
        case(
            "truncated message",
            full.as_bytes()[..full.len() * 3 / 5].to_vec(),
            Expect::Refused,
        ),
        case("65 000-byte datagram", options.build(), Expect::Survives),
        case("binary junk", junk, Expect::Refused),
        case(
            "unknown method",
            unknown.build(),
            Expect::Status(&[405, 501]),
        ),
        case(
            "stray response",
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKstray\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: stray@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
            Expect::Refused,
        ),
        case(
            "BYE outside any dialog",
            Request::new("BYE", bridge, local, "UDP").build(),
            Expect::Refused,
        ),
        case("CRLF keepalive", "\r\n\r\n", Expect::Refused),
    ]
}

/// Sends one case; returns the status codes that came back and what is wrong with them.
/// ACKs an error answer to an INVITE; a call wrongly answered 2xx is ACKed and hung up, so
/// one wrong answer does not spoil the checks after it.
fn check(udp: &sipraw::Udp, case: &Case, seen: &mut Vec<String>) -> (Vec<u16>, Option<String>) {
    udp.send(&case.data);
    // Only this case's answers: late retransmissions for earlier cases carry their Call-IDs.
    let own = call_id(&String::from_utf8_lossy(&case.data));
    let responses: Vec<Response> = udp
        .collect(Duration::from_millis(500), Duration::from_secs(3))
        .iter()
        .filter_map(|d| Response::parse(d))
        .filter(|r| match (r.header("Call-ID"), &own) {
            (Some(id), Some(own)) => id == own,
            (Some(id), None) => !seen.iter().any(|s| s == id),
            (None, _) => true,
        })
        .collect();
    seen.extend(own);
    let codes: Vec<u16> = responses.iter().map(|r| r.status).collect();
    let problem = if matches!(case.expect, Expect::Survives) {
        None
    } else if codes.iter().any(|c| (200..400).contains(c)) {
        Some(format!(
            "{}: expected an error or nothing, got {codes:?}",
            case.name
        ))
    } else if let Expect::Status(wanted) = case.expect
        && !codes.iter().any(|c| wanted.contains(c))
    {
        Some(format!(
            "{}: expected one of {wanted:?}, got {codes:?}",
            case.name
        ))
    } else {
        None
    };
    if let Some(req) = &case.invite {
        let fin = responses
            .iter()
            .rev()
            .find(|r| r.status >= 200 && r.method() == "INVITE");
        if let Some(fin) = fin {
            let to_tag = sipraw::to_tag(fin.header("To").unwrap_or_default());
            let mut ack = req.derive("ACK", req.cseq, fin.status < 300);
            ack.to_tag = to_tag;
            if fin.status < 300 {
                ack.uri = fin.contact_uri().unwrap_or(ack.uri);
                udp.send(ack.build().as_bytes());
                let bye = ack.derive("BYE", req.cseq + 1, true);
                udp.send(bye.build().as_bytes());
                udp.collect(Duration::from_millis(300), Duration::from_secs(2));
            } else {
                udp.send(ack.build().as_bytes());
            }
        }
    }
    (codes, problem)
}

/// The Call-ID header value in a message's text.
fn call_id(text: &str) -> Option<String> {
    text.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("Call-ID"))
        .map(|(_, v)| v.trim().to_string())
}

/// Sends `data` on a fresh TCP connection; returns the status codes that came back and what
/// is wrong with them.
fn check_tcp(bridge: SocketAddr, name: &str, data: &[u8]) -> (Vec<u16>, Option<String>) {
    let mut tcp = sipraw::Tcp::connect(bridge);
    // The bridge may close the connection half way through a message it gives up on.
    let _ = tcp.send(data);
    let codes = sipraw::status_codes_in_stream(&tcp.collect(Duration::from_millis(800)));
    let problem = codes
        .iter()
        .any(|c| (200..400).contains(c))
        .then(|| format!("TCP {name}: expected an error or nothing, got {codes:?}"));
    (codes, problem)
}

#[test]
fn malformed_messages_are_refused_and_the_bridge_keeps_working() {
    let dir = tools::test_dir();
    let mut bridge = Bridge::start(&dir, &Config::trunk());
    let udp = sipraw::Udp::new(bridge.sip);
    let cases = udp_cases(bridge.sip, udp.local());
    assert!(cases.len() >= 20);
    let mut report = Vec::new();
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for case in &cases {
        let (codes, problem) = check(&udp, case, &mut seen);
        bridge.assert_alive();
        report.push(format!("UDP {:<30} -> {codes:?}", case.name));
        problems.extend(problem);
    }

    let local = "127.0.0.1:9".parse().expect("a literal address");
    let mut big = Request::new("OPTIONS", bridge.sip, local, "TCP");
    big.extra_headers
        .push(format!("X-Padding: {}", "a".repeat(70 * 1024)));
    let mut too_long = Request::new("OPTIONS", bridge.sip, local, "TCP");
    too_long.body = "short".into();
    let too_long = too_long
        .build()
        .replace("Content-Length: 5", "Content-Length: 5000");
    let bad_length = Request::new("OPTIONS", bridge.sip, local, "TCP")
        .build()
        .replace("Content-Length: 0", "Content-Length: x1");
    let junk: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
    for (name, data) in [
        ("70 KB message", big.build().into_bytes()),
        ("Content-Length past the end", too_long.into_bytes()),
        ("Content-Length not a number", bad_length.into_bytes()),
        ("binary junk", junk),
    ] {
        let (codes, problem) = check_tcp(bridge.sip, name, &data);
        bridge.assert_alive();
        report.push(format!("TCP {name:<30} -> {codes:?}"));
        problems.extend(problem);
    }
    println!("{}", report.join("\n"));

    // Still serving: OPTIONS on both transports, then a whole call.
    let mut tcp = sipraw::Tcp::connect(bridge.sip);
    let options = Request::new("OPTIONS", bridge.sip, tcp.local(), "TCP").build();
    tcp.send(options.as_bytes())
        .expect("sending OPTIONS over TCP");
    let codes = sipraw::status_codes_in_stream(&tcp.collect(Duration::from_millis(800)));
    assert!(
        codes.contains(&200),
        "OPTIONS over TCP after the malformed messages: {codes:?}"
    );
    let options = Request::new("OPTIONS", bridge.sip, udp.local(), "UDP").build();
    udp.send(options.as_bytes());
    let codes: Vec<u16> = udp
        .collect(Duration::from_millis(500), Duration::from_secs(3))
        .iter()
        .filter_map(|d| Response::parse(d))
        .map(|r| r.status)
        .collect();
    assert!(
        codes.contains(&200),
        "OPTIONS over UDP after the malformed messages: {codes:?}"
    );

    let call = Caller::dial(&dir, "uac_call.xml", bridge.sip, &[0], |s| s);
    call.assert_answer(0, true);
    call.hang_up();
    bridge.assert_alive();
    metrics::wait_idle(bridge.signaling, Duration::from_secs(5));
    // Checked last, so one run shows every wrong answer and whether the bridge still works.
    assert!(
        problems.is_empty(),
        "wrong answers to malformed messages:\n{}",
        problems.join("\n")
    );
}
