//! The one launcher of the real `dialbridge` binary: writes its [`Config`] (any backend, see
//! `bridge_config`), waits for its READY line and kills it on drop. Its log (stderr) goes to
//! `<name>.log` in the test folder; when a test fails, the path and the last lines are printed.

use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::tools;

// The config types keep their old home here too (`common::bridge::Mode` etc.).
#[allow(unused_imports)]
pub use super::bridge_config::{Backend, Config, HOST_KEY, Mode, TEST_ROOMS};

/// How long the bridge may take to print READY.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running bridge.
pub struct Bridge {
    child: Child,
    /// Names its config, log and messages (two bridges may share a test folder).
    pub name: String,
    /// SIP, UDP and TCP.
    pub sip: SocketAddr,
    /// The signaling server, which also serves `/metrics`; `0.0.0.0:0` when this process
    /// serves none (it uses another one's, [`Backend::Builtin`] with a URL).
    pub signaling: SocketAddr,
    /// SIP over TLS, when `[sip.tls]` is configured.
    pub sip_tls: Option<SocketAddr>,
    /// The admin endpoints, when `[admin] listen` is configured.
    pub admin: Option<SocketAddr>,
    /// The config file the bridge runs with (for `dialbridge --config FILE drain`).
    pub config: PathBuf,
    pub log: PathBuf,
    pub dir: PathBuf,
}

impl Bridge {
    /// Starts the bridge in `dir` (the test folder) and waits up to 30 s for READY.
    pub fn start(dir: &Path, config: &Config) -> Bridge {
        Bridge::start_named(dir, "bridge", config)
    }

    /// [`Bridge::start`] with `<name>.toml`, `<name>.log` and `<name>.stdout` in `dir`.
    pub fn start_named(dir: &Path, name: &str, config: &Config) -> Bridge {
        Bridge::try_start(dir, name, config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Bridge::start_named`] that says why it failed instead of panicking (the load bench
    /// records a failed step and goes on).
    pub fn try_start(dir: &Path, name: &str, config: &Config) -> Result<Bridge, String> {
        let config_path = dir.join(format!("{name}.toml"));
        std::fs::write(&config_path, config.to_toml()).map_err(|e| e.to_string())?;
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let bin = config
            .bin
            .clone()
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_dialbridge").into());
        let mut cmd = match &config.netns {
            // `ip netns exec` execs the bridge: the child's pid is the bridge's.
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns]).arg(bin);
                cmd
            }
            None => Command::new(bin),
        };
        cmd.arg("--config").arg(&config_path).arg("run");
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        cmd.envs(config.env.iter().map(|(k, v)| (k, v)));
        if let Some(filter) = &config.rust_log {
            cmd.env("RUST_LOG", filter);
        } else if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "dialbridge=debug,info");
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting dialbridge: {e}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (lines_tx, lines_rx) = mpsc::channel();
        let stdout_log = dir.join(format!("{name}.stdout"));
        std::thread::spawn(move || {
            let mut copy = std::fs::File::create(&stdout_log).ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(f) = copy.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                let _ = lines_tx.send(line);
            }
        });
        let mut bridge = Bridge {
            child,
            name: name.into(),
            sip: "0.0.0.0:0".parse().expect("a literal address"),
            signaling: "0.0.0.0:0".parse().expect("a literal address"),
            sip_tls: None,
            admin: None,
            config: config_path,
            log,
            dir: dir.to_path_buf(),
        };
        loop {
            match lines_rx.recv_timeout(READY_TIMEOUT) {
                Ok(line) => {
                    if let Some(ready) = parse_ready(&line) {
                        bridge.sip = ready.sip;
                        if let Some(signaling) = ready.signaling {
                            bridge.signaling = signaling;
                        }
                        bridge.sip_tls = ready.sip_tls;
                        bridge.admin = ready.admin;
                        return Ok(bridge);
                    }
                }
                Err(e) => {
                    let why = match e {
                        mpsc::RecvTimeoutError::Timeout => {
                            format!("printed no READY line within {READY_TIMEOUT:?}")
                        }
                        mpsc::RecvTimeoutError::Disconnected => {
                            let status = bridge.child.wait().map(|s| s.to_string());
                            format!("exited before READY ({})", status.unwrap_or_default())
                        }
                    };
                    return Err(format!(
                        "{name} {why}; log {} (last 80 lines):\n{}",
                        bridge.log.display(),
                        tools::tail(&bridge.log, 80)
                    ));
                }
            }
        }
    }

    /// Panics when the process is gone (crashed).
    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} is not running any more ({status}); log: {}",
                self.name,
                self.log.display()
            );
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `http://ADDR` of the host page.
    pub fn origin(&self) -> String {
        format!("http://{}", self.served_signaling())
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.served_signaling())
    }

    fn served_signaling(&self) -> SocketAddr {
        assert!(
            !self.signaling.ip().is_unspecified(),
            "{} serves no signaling server",
            self.name
        );
        self.signaling
    }

    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// A lost conference was one event for the call, not a closed channel polled in a loop.
    pub fn assert_conference_failed_once(&self) {
        let failures = self.log_lines(&["call input", "input=ConferenceFailed"]);
        let n = failures.len();
        assert_eq!(n, 1, "the call took the conference's loss {n} times");
    }

    /// Log lines containing every one of `words`.
    pub fn log_lines(&self, words: &[&str]) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| words.iter().all(|w| l.contains(w)))
            .map(str::to_string)
            .collect()
    }

    /// The host key of the configured room 1234.
    pub fn host_key(&self) -> &'static str {
        HOST_KEY
    }

    pub fn threads(&self) -> usize {
        tools::threads_of(self.pid()).unwrap_or_else(|| panic!("{} is not running", self.name))
    }

    /// Sends SIGHUP (reload the TLS certificates).
    pub fn sighup(&self) {
        let hup = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(hup.success(), "kill -HUP {} failed", self.pid());
    }

    /// Sends `signal` ("TERM", "INT", ...).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -{signal} {} failed", self.pid());
    }

    /// Waits for the process to exit (an event: its status), panicking after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("polling the bridge process") {
                return status;
            }
            if std::time::Instant::now() >= deadline {
                panic!(
                    "dialbridge did not exit within {timeout:?}; log: {}",
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the bridge process holds now: RSS, threads, open files (from /proc).
    pub fn held(&self) -> super::procstat::Sample {
        super::procstat::sample(&self.pid().to_string()).expect("the bridge process is running")
    }
}

/// The listeners a READY line names.
struct Ready {
    sip: SocketAddr,
    /// `None`: `signaling=-`, this process serves none.
    signaling: Option<SocketAddr>,
    sip_tls: Option<SocketAddr>,
    admin: Option<SocketAddr>,
}

/// `READY sip=127.0.0.1:5060 signaling=127.0.0.1:8080 sip_tls=127.0.0.1:5061 admin=-` (`-`
/// for a listener that is not configured, `signaling=-` without a server in this process).
fn parse_ready(line: &str) -> Option<Ready> {
    let rest = line.trim().strip_prefix("READY ")?;
    let mut sip = None;
    let mut signaling = None;
    let mut sip_tls = None;
    let mut admin = None;
    for part in rest.split_whitespace() {
        match part.split_once('=') {
            Some(("sip", v)) => sip = v.parse().ok(),
            Some(("signaling", v)) => signaling = Some(v.parse().ok()),
            Some(("sip_tls", v)) => sip_tls = v.parse().ok(),
            Some(("admin", v)) => admin = v.parse().ok(),
            _ => {}
        }
    }
    Some(Ready {
        sip: sip?,
        signaling: signaling?,
        sip_tls,
        admin,
    })
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- {name} log {} (last 80 lines) ----\n{}\n---- end of {name} log ----",
                self.log.display(),
                tools::tail(&self.log, 80),
                name = self.name,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line() {
        let r = parse_ready("READY sip=127.0.0.1:5070 signaling=127.0.0.1:8081 sip_tls=-").unwrap();
        assert_eq!(r.sip.port(), 5070);
        assert_eq!(r.signaling.unwrap().port(), 8081);
        assert_eq!(r.sip_tls, None);
        let r = parse_ready("READY sip=10.99.0.1:5070 signaling=- sip_tls=-").unwrap();
        assert_eq!(r.signaling, None);
        let r = parse_ready("READY sip=10.99.0.1:5070 signaling=10.99.0.1:8081").unwrap();
        assert_eq!((r.sip.port(), r.signaling.unwrap().port()), (5070, 8081));
        let r = parse_ready("READY sip=127.0.0.1:1 signaling=127.0.0.1:2 sip_tls=127.0.0.1:3");
        assert_eq!(r.unwrap().sip_tls, Some("127.0.0.1:3".parse().unwrap()));
        assert!(parse_ready("READY sip=127.0.0.1:5070").is_none());
        assert!(parse_ready("hello").is_none());
    }
}
