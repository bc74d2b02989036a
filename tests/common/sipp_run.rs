//! A running sipp scenario ([`super::sipp::Sipp::spawn`]): the twin-socket conversation with
//! it, its end, and its logs for failure messages.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use super::sdp::AudioSdp;
use super::tools;

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
        AudioSdp::parse(&self.body)
            .unwrap_or_else(|e| panic!("bad SDP answer from the bridge: {e}"))
    }
}

pub struct SippRun {
    pub(super) child: Option<Child>,
    pub(super) twin: Option<TcpListener>,
    pub(super) conn: Option<TcpStream>,
    pub(super) buf: Vec<u8>,
    pub(super) call_id: Option<String>,
    pub(super) deadline: Instant,
    /// stdout, errors and messages logs, in this order.
    pub(super) logs: Vec<PathBuf>,
    pub(super) command_line: String,
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
                let first = m
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with('['))?;
                first
                    .strip_prefix("SIP/2.0 ")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
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
                self.fail(&format!(
                    "no {event:?} event from the sipp scenario within {timeout:?}"
                ));
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
        let call_id = self
            .call_id
            .clone()
            .unwrap_or_else(|| self.fail("send_event before any event from sipp"));
        let msg = format!("Call-ID: {call_id}\r\nX-Event: {event}\r\n\r\n\x1b");
        let conn = self
            .conn
            .as_mut()
            .expect("a received event means the twin is connected");
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
                Ok(None) if Instant::now() < self.deadline => {
                    thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        let messages = std::fs::read_to_string(&self.logs[2]).unwrap_or_default();
        SippOutcome {
            code,
            messages,
            report: self.report(),
        }
    }

    fn report(&self) -> String {
        let mut r = format!("command: {}\n", self.command_line);
        for log in &self.logs {
            r.push_str(&format!(
                "---- {} (last 60 lines) ----\n{}\n",
                log.display(),
                tools::tail(log, 60)
            ));
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
        let exited = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten());
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
            let listener = self
                .twin
                .as_ref()
                .expect("this scenario uses <sendCmd>, so it has a twin socket");
            listener
                .set_nonblocking(true)
                .expect("setting a listener non-blocking");
            match listener.accept() {
                Ok((s, _)) => {
                    s.set_nonblocking(false).expect("setting a socket blocking");
                    s.set_read_timeout(Some(Duration::from_millis(50)))
                        .expect("non-zero timeout");
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
    TwinMessage {
        call_id: header("Call-ID"),
        event: header("X-Event"),
        body: body.to_string(),
    }
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
        let m = parse_twin(
            "Call-ID: 1-2@127.0.0.1\r\nX-Event: answered\r\nContent-Length: 5\r\n\r\nv=0\r\n",
        );
        assert_eq!(m.call_id, "1-2@127.0.0.1");
        assert_eq!(m.event, "answered");
        assert_eq!(m.body, "v=0\r\n");
    }
}
