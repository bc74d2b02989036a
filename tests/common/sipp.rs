//! Runs sipp (sip-tester 3.6.1) scenarios from `tests/data/` against the bridge, one call each
//! (`-m 1`), with a deadline, and keeps its logs in the test folder.
//!
//! The test and a running scenario talk over sipp's 3PCC "twin" socket: with `-3pcc ADDR` a
//! scenario whose first twin command is `<sendCmd>` connects to ADDR (we listen there), each
//! `<sendCmd>` reaches the test as a [`TwinMessage`] (Call-ID, `X-Event` and a body; the call
//! scenarios send the SDP answer in it), and each `<recvCmd>` waits for the test's
//! [`SippRun::send_event`]. Messages on that socket end with an ESC byte (0x1b). This is how a
//! scenario waits for an event ("joining prompt heard") instead of a fixed `<pause>`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::sdp::AudioSdp;
use super::tools;

/// Folder of the committed scenarios and fixtures.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Writes `tests/data/<name>` into `dir` with every `@KEY@` replaced; for values sipp needs at
/// load time (response codes), where `-set` variables cannot go.
pub fn scenario_from_template(dir: &Path, name: &str, subs: &[(&str, &str)]) -> PathBuf {
    let src = data_dir().join(name);
    let mut text = std::fs::read_to_string(&src)
        .unwrap_or_else(|e| panic!("cannot read scenario template {}: {e}", src.display()));
    for (k, v) in subs {
        text = text.replace(&format!("@{k}@"), v);
    }
    if let Some(key) = placeholder(&text) {
        panic!("template {name}: no value for @{key}@");
    }
    let out = dir.join(name);
    std::fs::write(&out, text).expect("writing the scenario");
    out
}

/// The first `@KEY@` (upper case and `_`) left in `text`.
fn placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(i) = rest.find('@') {
        rest = &rest[i + 1..];
        let key_len = rest.find(|c: char| !(c.is_ascii_uppercase() || c == '_')).unwrap_or(rest.len());
        if key_len > 0 && rest[key_len..].starts_with('@') {
            return Some(&rest[..key_len]);
        }
    }
    None
}

/// The SDP offer of the call scenarios: `m=audio <port> RTP/AVP <payload types>` plus lines.
#[derive(Debug, Clone)]
pub struct Offer {
    pub rtp_port: u16,
    pub payload_types: String,
    /// `a=` lines, CRLF-joined.
    pub attributes: String,
}

impl Offer {
    /// PCMU/PCMA/G722 (static types, listed in the given order) with telephone-event 101.
    pub fn with_dtmf(rtp_port: u16, static_pts: &[u8]) -> Offer {
        let mut attrs: Vec<String> = static_pts
            .iter()
            .map(|pt| match pt {
                0 => "a=rtpmap:0 PCMU/8000".to_string(),
                8 => "a=rtpmap:8 PCMA/8000".to_string(),
                9 => "a=rtpmap:9 G722/8000".to_string(),
                3 => "a=rtpmap:3 GSM/8000".to_string(),
                other => panic!("no rtpmap for static payload type {other}"),
            })
            .collect();
        attrs.push("a=rtpmap:101 telephone-event/8000".into());
        attrs.push("a=fmtp:101 0-16".into());
        let mut pts: Vec<String> = static_pts.iter().map(u8::to_string).collect();
        pts.push("101".into());
        Offer { rtp_port, payload_types: pts.join(" "), attributes: attrs.join("\r\n") }
    }
}

#[derive(Debug, Clone)]
pub struct Sipp {
    dir: PathBuf,
    name: String,
    scenario: PathBuf,
    remote: SocketAddr,
    tcp: bool,
    service: String,
    vars: Vec<(String, String)>,
    timeout: Duration,
}

impl Sipp {
    /// A run of `scenario` (a file in `tests/data/`, or an absolute path) against `remote`.
    /// Logs go to `<dir>/<log name>_*.log`; the log name is the scenario's file stem.
    pub fn new(dir: &Path, scenario: impl AsRef<Path>, remote: SocketAddr) -> Sipp {
        let scenario = data_dir().join(scenario.as_ref());
        assert!(scenario.exists(), "scenario {} missing", scenario.display());
        let name = scenario.file_stem().expect("a scenario file has a stem").to_string_lossy().into_owned();
        Sipp {
            dir: dir.to_path_buf(),
            name,
            scenario,
            remote,
            tcp: false,
            service: "1000".into(),
            vars: Vec::new(),
            timeout: Duration::from_secs(60),
        }
    }

    /// Names the logs (when one test runs a scenario more than once).
    pub fn log_name(mut self, name: &str) -> Sipp {
        self.name = name.into();
        self
    }

    /// The user part of the Request-URI (`-s`).
    pub fn service(mut self, s: &str) -> Sipp {
        self.service = s.into();
        self
    }

    pub fn tcp(mut self) -> Sipp {
        self.tcp = true;
        self
    }

    /// sipp's own global timeout (`-timeout`); the test waits a little longer.
    pub fn timeout(mut self, t: Duration) -> Sipp {
        self.timeout = t;
        self
    }

    /// A global scenario variable (`-set`); the scenario declares it with `<Global>`.
    pub fn var(mut self, name: &str, value: &str) -> Sipp {
        self.vars.push((name.into(), value.into()));
        self
    }

    pub fn offer(self, offer: &Offer) -> Sipp {
        self.var("rtpport", &offer.rtp_port.to_string())
            .var("pts", &offer.payload_types)
            .var("attrs", &offer.attributes)
    }

    pub fn spawn(self) -> SippRun {
        let bin = tools::require_tool("sipp", "install sip-tester (scripts/install-deps.sh)");
        let uses_twin = std::fs::read_to_string(&self.scenario)
            .map(|t| t.contains("<sendCmd"))
            .unwrap_or(false);
        let twin = uses_twin.then(|| TcpListener::bind("127.0.0.1:0").expect("binding the twin socket"));
        let log = |kind: &str| self.dir.join(format!("{}_{kind}", self.name));
        let mut cmd = Command::new(bin);
        cmd.arg(self.remote.to_string())
            .arg("-sf")
            .arg(&self.scenario)
            .args(["-i", "127.0.0.1", "-bind_local", "-mi", "127.0.0.1"])
            .args(["-t", if self.tcp { "t1" } else { "u1" }])
            .args(["-m", "1", "-nostdin", "-aa", "-timeout_error"])
            .arg("-timeout")
            .arg(format!("{}s", self.timeout.as_secs().max(1)))
            .arg("-s")
            .arg(&self.service)
            .args(["-trace_msg", "-message_file"])
            .arg(log("messages.log"))
            .args(["-trace_err", "-error_file"])
            .arg(log("errors.log"));
        if let Some(l) = &twin {
            cmd.arg("-3pcc").arg(l.local_addr().expect("a bound listener has an address").to_string());
        }
        for (k, v) in &self.vars {
            cmd.arg("-set").arg(k).arg(v);
        }
        let out = std::fs::File::create(log("stdout.log")).expect("creating the sipp log");
        let err = out.try_clone().expect("cloning a file handle");
        // The working folder is the test folder: rtp_stream files are named relative to it.
        cmd.current_dir(&self.dir).stdin(Stdio::null()).stdout(out).stderr(err);
        let command_line = format!("{cmd:?}");
        let child = cmd.spawn().expect("starting sipp");
        SippRun {
            child: Some(child),
            twin,
            conn: None,
            buf: Vec::new(),
            call_id: None,
            deadline: Instant::now() + self.timeout + Duration::from_secs(10),
            logs: vec![log("stdout.log"), log("errors.log"), log("messages.log")],
            command_line,
        }
    }

    /// Runs the scenario to its end and returns how it went (see [`SippOutcome::assert_success`]).
    pub fn run(self) -> SippOutcome {
        self.spawn().finish()
    }
}

/// A message from a scenario's `<sendCmd>`.
#[derive(Debug, Clone)]
pub struct TwinMessage {
    pub call_id: String,
    pub event: String,
    pub body: String,
}

impl TwinMessage {
    /// The body as the SDP the scenario captured from the bridge's 200 OK.
    pub fn sdp(&self) -> AudioSdp {
        AudioSdp::parse(&self.body).unwrap_or_else(|e| panic!("bad SDP answer from the bridge: {e}"))
    }
}

pub struct SippRun {
    child: Option<Child>,
    twin: Option<TcpListener>,
    conn: Option<TcpStream>,
    buf: Vec<u8>,
    call_id: Option<String>,
    deadline: Instant,
    logs: Vec<PathBuf>,
    command_line: String,
}

/// How a sipp run ended.
#[derive(Debug)]
pub struct SippOutcome {
    /// sipp's exit code: 0 all calls succeeded, 1 a call failed, negative/255 a fatal error.
    pub code: Option<i32>,
    /// The message trace (`-trace_msg`).
    pub messages: String,
    pub report: String,
}

impl SippOutcome {
    pub fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "sipp failed:\n{}", self.report);
    }

    /// Status codes of the responses sipp received, in order.
    pub fn received_status_codes(&self) -> Vec<u16> {
        self.messages
            .split("message received")
            .skip(1)
            .filter_map(|m| {
                let first = m.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('['))?;
                first.strip_prefix("SIP/2.0 ")?.split_whitespace().next()?.parse().ok()
            })
            .collect()
    }
}

impl SippRun {
    /// Waits for the scenario's next `<sendCmd>` and checks its `X-Event` is `event`.
    pub fn wait_event(&mut self, event: &str, timeout: Duration) -> TwinMessage {
        let deadline = Instant::now() + timeout;
        let msg = loop {
            if let Some(m) = self.take_message() {
                break m;
            }
            self.check_running(&format!("waiting for the {event:?} event"));
            if Instant::now() >= deadline {
                self.fail(&format!("no {event:?} event from the sipp scenario within {timeout:?}"));
            }
            self.read_twin();
        };
        if msg.event != event {
            self.fail(&format!("expected the {event:?} event, got {msg:?}"));
        }
        self.call_id = Some(msg.call_id.clone());
        msg
    }

    /// Lets the scenario's next `<recvCmd>` go on.
    pub fn send_event(&mut self, event: &str) {
        let call_id = self.call_id.clone().unwrap_or_else(|| self.fail("send_event before any event from sipp"));
        let msg = format!("Call-ID: {call_id}\r\nX-Event: {event}\r\n\r\n\x1b");
        let conn = self.conn.as_mut().expect("a received event means the twin is connected");
        if let Err(e) = conn.write_all(msg.as_bytes()) {
            self.fail(&format!("cannot send {event:?} to sipp: {e}"));
        }
    }

    /// Waits for sipp to exit (killing it at the deadline) and collects its logs.
    pub fn finish(mut self) -> SippOutcome {
        let mut child = self.child.take().expect("finish runs once");
        let code = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < self.deadline => thread::sleep(Duration::from_millis(50)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        let messages = std::fs::read_to_string(&self.logs[2]).unwrap_or_default();
        SippOutcome { code, messages, report: self.report() }
    }

    fn report(&self) -> String {
        let mut r = format!("command: {}\n", self.command_line);
        for log in &self.logs {
            r.push_str(&format!("---- {} (last 60 lines) ----\n{}\n", log.display(), tools::tail(log, 60)));
        }
        r
    }

    fn fail(&mut self, what: &str) -> ! {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        panic!("{what}\n{}", self.report())
    }

    fn check_running(&mut self, doing: &str) {
        let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            self.fail(&format!("sipp exited ({status}) while {doing}"));
        }
        if Instant::now() > self.deadline {
            self.fail(&format!("sipp ran past its timeout while {doing}"));
        }
    }

    /// Accepts sipp's twin connection and reads what is there, waiting at most 50 ms.
    fn read_twin(&mut self) {
        if self.conn.is_none() {
            let listener = self.twin.as_ref().expect("this scenario uses <sendCmd>, so it has a twin socket");
            listener.set_nonblocking(true).expect("setting a listener non-blocking");
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).expect("setting a socket blocking");
                    s.set_read_timeout(Some(Duration::from_millis(50))).expect("non-zero timeout");
                    self.conn = Some(s);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(50));
                    return;
                }
                Err(e) => self.fail(&format!("accepting sipp's twin connection: {e}")),
            }
        }
        let conn = self.conn.as_mut().expect("connected above");
        let mut chunk = [0u8; 8192];
        match conn.read(&mut chunk) {
            Ok(0) => self.fail("sipp closed the twin connection"),
            Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => self.fail(&format!("reading from sipp's twin connection: {e}")),
        }
    }

    fn take_message(&mut self) -> Option<TwinMessage> {
        let end = self.buf.iter().position(|&b| b == 0x1b)?;
        let raw: Vec<u8> = self.buf.drain(..=end).collect();
        let text = String::from_utf8_lossy(&raw[..raw.len() - 1]).into_owned();
        Some(parse_twin(&text))
    }
}

fn parse_twin(text: &str) -> TwinMessage {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    TwinMessage { call_id: header("Call-ID"), event: header("X-Event"), body: body.to_string() }
}

impl Drop for SippRun {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
            if thread::panicking() {
                eprintln!("---- sipp ----\n{}", self.report());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twin_message_parsing() {
        let m = parse_twin("Call-ID: 1-2@127.0.0.1\r\nX-Event: answered\r\nContent-Length: 5\r\n\r\nv=0\r\n");
        assert_eq!(m.call_id, "1-2@127.0.0.1");
        assert_eq!(m.event, "answered");
        assert_eq!(m.body, "v=0\r\n");
    }

    #[test]
    fn placeholders() {
        assert_eq!(placeholder("sip:[service]@[remote_ip] <recv response=\"@CODE@\"/>"), Some("CODE"));
        assert_eq!(placeholder("sip:a@B.c @ x@"), None);
    }

    #[test]
    fn offer_lists_telephone_event() {
        let o = Offer::with_dtmf(4000, &[0, 8]);
        assert_eq!(o.payload_types, "0 8 101");
        assert!(o.attributes.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16"));
    }
}
