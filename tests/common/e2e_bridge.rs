//! Runs the real `dialbridge` binary bound to the namespace's veth address (ICE never uses
//! loopback), waits for its READY line, and kills it on drop. Its log (stderr) is kept in the
//! test folder and printed when the test fails.

use std::io::{BufRead, BufReader, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::tools;

/// Room 1234's host key in the config.
const HOST_KEY: &str = "e2e-host-key-0123456789";

/// How long the bridge may take to print READY.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// The address SIP, RTP and the signaling server bind to (ports chosen by the OS).
    pub ip: IpAddr,
    /// Who may send INVITEs (CIDRs).
    pub allow: Vec<String>,
    /// Run the signaling server in this process; `None`: use the one at this ws:// URL.
    pub signaling_url: Option<String>,
    /// TOML appended to the config (e.g. `[conference.builtin.tls]`).
    pub extra_toml: String,
}

impl BridgeConfig {
    pub fn to_toml(&self) -> String {
        let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let allow: Vec<String> = self.allow.iter().map(|a| format!("{a:?}")).collect();
        let (serve, url) = match &self.signaling_url {
            None => (true, String::new()),
            Some(url) => (false, url.clone()),
        };
        format!(
            "[sip]\nmode = \"trunk\"\nlisten = \"{ip}:0\"\n\n[sip.trunk]\nallow = [{allow}]\n\n\
             [media]\nrtp_bind = \"{ip}\"\npublic_address = \"{ip}\"\nrtp_port_min = 0\nrtp_port_max = 0\n\
             codecs = [\"PCMU\"]\n\n\
             [ivr]\nprompts_dir = {prompts:?}\ninter_digit_timeout_s = 3\n\n\
             [conference.builtin]\nlisten = \"{ip}:0\"\nserve = {serve}\nurl = {url:?}\n\n\
             [[conference.builtin.rooms]]\nid = \"1234\"\nname = \"E2E room\"\nhost_key = {HOST_KEY:?}\n\n{extra}",
            ip = self.ip,
            allow = allow.join(", "),
            prompts = prompts.display().to_string(),
            extra = self.extra_toml,
        )
    }
}

pub struct Bridge {
    child: Child,
    pub name: String,
    pub sip: SocketAddr,
    /// The signaling server and host page, when this process serves them.
    pub signaling: Option<SocketAddr>,
    pub log: PathBuf,
    killed: bool,
}

impl Bridge {
    /// Starts `dialbridge --config <dir>/<name>.toml run` and waits for READY.
    pub fn start(dir: &Path, name: &str, config: &BridgeConfig) -> Bridge {
        let config_path = dir.join(format!("{name}.toml"));
        std::fs::write(&config_path, config.to_toml()).expect("writing the bridge config");
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("creating the bridge log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialbridge"));
        cmd.arg("--config").arg(&config_path).arg("run");
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "dialbridge=debug,info");
        }
        let mut child = cmd.spawn().expect("starting the dialbridge binary");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        let stdout_log = dir.join(format!("{name}.stdout"));
        std::thread::spawn(move || {
            let mut copy = std::fs::File::create(stdout_log).ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(f) = copy.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                let _ = tx.send(line);
            }
        });
        let mut bridge = Bridge {
            child,
            name: name.into(),
            sip: "0.0.0.0:0".parse().expect("a literal address"),
            signaling: None,
            log,
            killed: false,
        };
        loop {
            match rx.recv_timeout(READY_TIMEOUT) {
                Ok(line) => {
                    if let Some((sip, signaling)) = parse_ready(&line) {
                        bridge.sip = sip;
                        bridge.signaling = signaling;
                        return bridge;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("{name}: no READY line within {READY_TIMEOUT:?}")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = bridge
                        .child
                        .wait()
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    panic!("{name} exited before READY ({status})");
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://ADDR` of the host page.
    pub fn origin(&self) -> String {
        format!(
            "http://{}",
            self.signaling
                .expect("this bridge serves the signaling server")
        )
    }

    pub fn ws_url(&self) -> String {
        format!(
            "ws://{}/ws",
            self.signaling
                .expect("this bridge serves the signaling server")
        )
    }

    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// Log lines containing every one of `words`.
    pub fn log_lines(&self, words: &[&str]) -> Vec<String> {
        self.log_text()
            .lines()
            .filter(|l| words.iter().all(|w| l.contains(w)))
            .map(str::to_string)
            .collect()
    }

    /// The host key of the configured room 1234 (never in the log).
    pub fn host_key(&self) -> &'static str {
        HOST_KEY
    }

    pub fn threads(&self) -> usize {
        tools::threads_of(self.pid()).unwrap_or_else(|| panic!("{} is not running", self.name))
    }

    pub fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} is not running any more ({status})", self.name);
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.killed = true;
    }
}

/// `READY sip=ADDR signaling=ADDR` (signaling `-` without a server in this process).
fn parse_ready(line: &str) -> Option<(SocketAddr, Option<SocketAddr>)> {
    let rest = line.trim().strip_prefix("READY ")?;
    let mut sip = None;
    let mut signaling = None;
    for part in rest.split_whitespace() {
        match part.split_once('=') {
            Some(("sip", v)) => sip = v.parse().ok(),
            Some(("signaling", v)) => signaling = Some(v.parse().ok()),
            _ => {}
        }
    }
    Some((sip?, signaling?))
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- {} log {} (last 60 lines) ----\n{}\n---- end of {} log ----",
                self.name,
                self.log.display(),
                tools::tail(&self.log, 60),
                self.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_with_and_without_signaling() {
        let (sip, sig) = parse_ready("READY sip=10.99.0.1:5070 signaling=10.99.0.1:8081").unwrap();
        assert_eq!((sip.port(), sig.unwrap().port()), (5070, 8081));
        let (_, sig) = parse_ready("READY sip=10.99.0.1:5070 signaling=-").unwrap();
        assert_eq!(sig, None);
        assert!(parse_ready("hello").is_none());
    }

    #[test]
    fn configs_are_valid_bridge_configs() {
        let ip: IpAddr = "10.99.0.1".parse().unwrap();
        for url in [None, Some("ws://10.99.0.1:4000/ws".to_string())] {
            let c = BridgeConfig {
                ip,
                allow: vec!["10.99.0.2/32".into()],
                signaling_url: url,
                extra_toml: String::new(),
            };
            let text = c.to_toml();
            let parsed = dialbridge::config::Config::from_toml_str(&text)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            let problems = parsed.validate();
            assert!(problems.is_empty(), "{problems:?}\n{text}");
        }
    }
}
