//! Runs sipp (sip-tester 3.6.1) scenarios from `tests/data/` against the bridge, one call each
//! (`-m 1`), with a deadline, and keeps its logs in the test folder.
//!
//! The test and a running scenario talk over sipp's 3PCC "twin" socket: with `-3pcc ADDR` a
//! scenario whose first twin command is `<sendCmd>` connects to ADDR (we listen there), each
//! `<sendCmd>` reaches the test as a [`TwinMessage`] (Call-ID, `X-Event` and a body; the call
//! scenarios send the SDP answer in it), and each `<recvCmd>` waits for the test's
//! [`SippRun::send_event`]. Messages on that socket end with an ESC byte (0x1b). This is how a
//! scenario waits for an event ("joining prompt heard") instead of a fixed `<pause>`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::tools;

pub use super::sipp_run::{SippOutcome, SippRun};

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

/// The values for `uac_reject.xml`: the status code, the offer's audio transport and a regular
/// expression the whole refusal must match (`SIP/2.0` matches any).
pub fn refusal<'a>(
    code: &'a str,
    proto: &'a str,
    must_match: &'a str,
) -> [(&'static str, &'a str); 3] {
    [("CODE", code), ("PROTO", proto), ("WARNING", must_match)]
}

/// The first `@KEY@` (upper case and `_`) left in `text`.
fn placeholder(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(i) = rest.find('@') {
        rest = &rest[i + 1..];
        let key_len = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .unwrap_or(rest.len());
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
        Offer {
            rtp_port,
            payload_types: pts.join(" "),
            attributes: attrs.join("\r\n"),
        }
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
    /// `-m`, `-l`, `-r`: calls in all, at once, started per second.
    load: (u32, u32, u32),
    /// The SIP source address (`-i`); media stays on 127.0.0.1 (`-mi`).
    local_ip: String,
}

impl Sipp {
    /// A run of `scenario` (a file in `tests/data/`, or an absolute path) against `remote`.
    /// Logs go to `<dir>/<log name>_*.log`; the log name is the scenario's file stem.
    pub fn new(dir: &Path, scenario: impl AsRef<Path>, remote: SocketAddr) -> Sipp {
        let scenario = data_dir().join(scenario.as_ref());
        assert!(scenario.exists(), "scenario {} missing", scenario.display());
        let name = scenario
            .file_stem()
            .expect("a scenario file has a stem")
            .to_string_lossy()
            .into_owned();
        Sipp {
            dir: dir.to_path_buf(),
            name,
            scenario,
            remote,
            tcp: false,
            service: "1000".into(),
            vars: Vec::new(),
            timeout: Duration::from_secs(60),
            load: (1, 1, 10),
            local_ip: "127.0.0.1".into(),
        }
    }

    /// Sends SIP from `ip` (another loopback address, say 127.0.0.2), so the bridge sees
    /// another source; RTP stays on 127.0.0.1.
    pub fn local_ip(mut self, ip: &str) -> Sipp {
        self.local_ip = ip.into();
        self
    }

    /// Calls as `user` (the user part of From, which the bridge takes as the caller number)
    /// instead of `sipp`: runs a copy of the scenario written into the test folder.
    pub fn caller(mut self, user: &str) -> Sipp {
        let text = std::fs::read_to_string(&self.scenario)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.scenario.display()));
        let copy = self.dir.join(format!("{}_{user}.xml", self.name));
        std::fs::write(&copy, text.replace("<sip:sipp@", &format!("<sip:{user}@")))
            .expect("writing the scenario copy");
        self.scenario = copy;
        self
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

    /// Many calls: `calls` in all, at most `at_once` at a time, `per_second` new ones a second.
    /// Messages are not traced (a soak would write gigabytes); errors still are.
    pub fn load(mut self, calls: u32, at_once: u32, per_second: u32) -> Sipp {
        self.load = (calls, at_once, per_second);
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
        let twin =
            uses_twin.then(|| TcpListener::bind("127.0.0.1:0").expect("binding the twin socket"));
        let log = |kind: &str| self.dir.join(format!("{}_{kind}", self.name));
        let mut cmd = Command::new(bin);
        cmd.arg(self.remote.to_string())
            .arg("-sf")
            .arg(&self.scenario)
            .arg("-i")
            .arg(&self.local_ip)
            .args(["-bind_local", "-mi", "127.0.0.1"])
            .args(["-t", if self.tcp { "t1" } else { "u1" }])
            .args(["-nostdin", "-aa", "-timeout_error"])
            .arg("-timeout")
            .arg(format!("{}s", self.timeout.as_secs().max(1)))
            .arg("-s")
            .arg(&self.service)
            .args(["-trace_err", "-error_file"])
            .arg(log("errors.log"));
        let (calls, at_once, per_second) = self.load;
        cmd.arg("-m").arg(calls.to_string());
        if calls > 1 {
            cmd.arg("-l").arg(at_once.to_string());
            cmd.arg("-r").arg(per_second.to_string());
        } else {
            cmd.args(["-trace_msg", "-message_file"])
                .arg(log("messages.log"));
        }
        if let Some(l) = &twin {
            cmd.arg("-3pcc").arg(
                l.local_addr()
                    .expect("a bound listener has an address")
                    .to_string(),
            );
        }
        for (k, v) in &self.vars {
            cmd.arg("-set").arg(k).arg(v);
        }
        let out = std::fs::File::create(log("stdout.log")).expect("creating the sipp log");
        let err = out.try_clone().expect("cloning a file handle");
        // The working folder is the test folder: rtp_stream files are named relative to it.
        cmd.current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(
            placeholder("sip:[service]@[remote_ip] <recv response=\"@CODE@\"/>"),
            Some("CODE")
        );
        assert_eq!(placeholder("sip:a@B.c @ x@"), None);
    }

    #[test]
    fn offer_lists_telephone_event() {
        let o = Offer::with_dtmf(4000, &[0, 8]);
        assert_eq!(o.payload_types, "0 8 101");
        assert!(
            o.attributes
                .contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16")
        );
    }
}
