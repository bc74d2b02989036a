//! The one launcher of the real `dialbridge` binary: writes a config for any backend (built-in
//! signaling served here or elsewhere, Janus; SIP trunk or register; TLS via extra TOML) bound to
//! loopback or a namespace address, waits for its READY line and kills it on drop. Its log
//! (stderr) goes to `<name>.log` in the test folder; when a test fails, the path and the last
//! lines are printed.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::tools;

/// Room 1234's host key in the config (never in the log).
pub const HOST_KEY: &str = "e2e-host-key-0123456789";

/// How long the bridge may take to print READY.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How calls reach the bridge.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Trunk mode; INVITEs allowed from these addresses/CIDRs.
    Trunk { allow: Vec<String> },
    /// Register mode against `registrar` (a SIP URI).
    Register {
        registrar: String,
        username: String,
        password: String,
        expires_s: u32,
    },
}

/// Where the bridge joins rooms.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The built-in signaling server with rooms 1234 (host key [`HOST_KEY`], no PIN) and 5678
    /// (PIN 2468): served by this process (`url: None`) or another one's at this ws:// URL.
    Builtin { url: Option<String> },
    /// A Janus at `url` (a `wss://` Janus verified against `ca_file` when given).
    Janus {
        url: String,
        plugin: String,
        api_secret: String,
        ca_file: Option<PathBuf>,
    },
}

/// The test config: loopback by default, OS-chosen ports, the built-in backend, the prompts of
/// this checkout, and a short inter-digit timeout.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub inter_digit_timeout_s: u32,
    /// Appended verbatim (for sections the fields above do not cover).
    pub extra_toml: String,
    /// Extra lines of the `[media]` section (which the launcher writes itself).
    pub media_toml: String,
    /// Extra lines of the `[sip.trunk]` section in trunk mode (inbound digest auth).
    pub trunk_toml: String,
    /// Environment variables for the bridge process (secrets given the way the docs suggest).
    pub env: Vec<(String, String)>,
    /// Extra lines of the `[ivr]` section (which the launcher writes itself).
    pub ivr_toml: String,
    /// The address SIP, RTP and the signaling server bind to: loopback, or a veth address
    /// inside a test's network namespace where WebRTC must work (ICE never uses loopback).
    pub ip: String,
    /// The bridge's `RUST_LOG`; `None`: the test's own, else `dialbridge=debug,info`.
    pub rust_log: Option<String>,
    pub backend: Backend,
}

impl Config {
    pub fn trunk() -> Config {
        Config {
            mode: Mode::Trunk {
                allow: vec!["127.0.0.1/32".into()],
            },
            inter_digit_timeout_s: 3,
            extra_toml: String::new(),
            media_toml: String::new(),
            trunk_toml: String::new(),
            env: Vec::new(),
            ivr_toml: String::new(),
            ip: "127.0.0.1".into(),
            rust_log: None,
            backend: Backend::Builtin { url: None },
        }
    }

    pub fn register(registrar: &str, username: &str, password: &str, expires_s: u32) -> Config {
        Config {
            mode: Mode::Register {
                registrar: registrar.into(),
                username: username.into(),
                password: password.into(),
                expires_s,
            },
            ..Config::trunk()
        }
    }

    /// Bound to `ip`, taking calls from `phone` only, PCMU only: a bridge in a test's network
    /// namespace, where WebRTC works (ICE never uses loopback).
    pub fn on(ip: IpAddr, phone: IpAddr) -> Config {
        Config {
            ip: ip.to_string(),
            media_toml: "codecs = [\"PCMU\"]\n".into(),
            ..Config::trunk().allow(&[&format!("{phone}/32")])
        }
    }

    pub fn allow(mut self, allow: &[&str]) -> Config {
        self.mode = Mode::Trunk {
            allow: allow.iter().map(|s| s.to_string()).collect(),
        };
        self
    }

    pub fn to_toml(&self) -> String {
        let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let mut t = String::new();
        let q = |s: &str| toml_string(s);
        let ip = &self.ip;
        match &self.mode {
            Mode::Trunk { allow } => {
                let list: Vec<String> = allow.iter().map(|a| q(a)).collect();
                let _ = write!(
                    t,
                    "[sip]\nmode = \"trunk\"\nlisten = \"{ip}:0\"\n\n[sip.trunk]\nallow = [{}]\n{}\n",
                    list.join(", "),
                    self.trunk_toml
                );
            }
            Mode::Register {
                registrar,
                username,
                password,
                expires_s,
            } => {
                let _ = write!(
                    t,
                    "[sip]\nmode = \"register\"\nlisten = \"{ip}:0\"\n\n[sip.register]\n\
                     registrar = {}\nusername = {}\npassword = {}\nexpires_s = {expires_s}\n\
                     retry_min_s = 1\nretry_max_s = 2\n\n",
                    q(registrar),
                    q(username),
                    q(password)
                );
            }
        }
        let _ = write!(
            t,
            "[media]\nrtp_bind = \"{ip}\"\npublic_address = \"{ip}\"\n\
             rtp_port_min = 0\nrtp_port_max = 0\n{}\n\
             [ivr]\nprompts_dir = {}\ninter_digit_timeout_s = {}\n{}\n",
            self.media_toml,
            q(&prompts.display().to_string()),
            self.inter_digit_timeout_s,
            self.ivr_toml,
        );
        let builtin = format!("[conference.builtin]\nlisten = \"{ip}:0\"\n");
        match &self.backend {
            Backend::Builtin { url } => {
                let _ = write!(t, "{builtin}");
                if let Some(url) = url {
                    let _ = write!(t, "serve = false\nurl = {}\n", q(url));
                }
                let _ = write!(
                    t,
                    "\n[[conference.builtin.rooms]]\nid = \"1234\"\nname = \"Test room\"\n\
                     host_key = {}\n\n\
                     [[conference.builtin.rooms]]\nid = \"5678\"\nname = \"Test room with PIN\"\n\
                     pin = \"2468\"\n\n",
                    q(HOST_KEY)
                );
            }
            Backend::Janus {
                url,
                plugin,
                api_secret,
                ca_file,
            } => {
                let ca_file = ca_file
                    .as_ref()
                    .map(|p| format!("ca_file = {}\n", q(&p.display().to_string())))
                    .unwrap_or_default();
                let _ = write!(
                    t,
                    "[conference]\nbackend = \"janus\"\n{ca_file}\n{builtin}\n\
                     [conference.janus]\nurl = {}\nplugin = {}\napi_secret = {}\n\n",
                    q(url),
                    q(plugin),
                    q(api_secret)
                );
            }
        }
        t + &self.extra_toml
    }
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

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
        cmd.envs(config.env.iter().map(|(k, v)| (k, v)));
        if let Some(filter) = &config.rust_log {
            cmd.env("RUST_LOG", filter);
        } else if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "dialbridge=debug,info");
        }
        let mut child = cmd.spawn().expect("starting the dialbridge binary");
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
                        return bridge;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "{name} printed no READY line within {READY_TIMEOUT:?}; log: {}",
                        bridge.log.display()
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = bridge
                        .child
                        .wait()
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    panic!(
                        "{name} exited before READY ({status}); log: {}",
                        bridge.log.display()
                    )
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
}

/// `READY sip=127.0.0.1:5060 signaling=127.0.0.1:8080 sip_tls=127.0.0.1:5061` (`sip_tls=-`
/// without TLS, `signaling=-` without a server in this process).
fn parse_ready(line: &str) -> Option<Ready> {
    let rest = line.trim().strip_prefix("READY ")?;
    let mut sip = None;
    let mut signaling = None;
    let mut sip_tls = None;
    for part in rest.split_whitespace() {
        match part.split_once('=') {
            Some(("sip", v)) => sip = v.parse().ok(),
            Some(("signaling", v)) => signaling = Some(v.parse().ok()),
            Some(("sip_tls", v)) => sip_tls = v.parse().ok(),
            _ => {}
        }
    }
    Some(Ready {
        sip: sip?,
        signaling: signaling?,
        sip_tls,
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
        let r = parse_ready("READY sip=127.0.0.1:1 signaling=127.0.0.1:2 sip_tls=127.0.0.1:3");
        assert_eq!(r.unwrap().sip_tls, Some("127.0.0.1:3".parse().unwrap()));
        assert!(parse_ready("READY sip=127.0.0.1:5070").is_none());
        assert!(parse_ready("hello").is_none());
    }

    #[test]
    fn configs_parse_as_the_bridge_config() {
        let (a, b) = ("10.99.0.1".parse().unwrap(), "10.99.0.2".parse().unwrap());
        let elsewhere = Backend::Builtin {
            url: Some("ws://10.99.0.1:4000/ws".into()),
        };
        let janus = |plugin: &str| Backend::Janus {
            url: "wss://127.0.0.1:8188".into(),
            plugin: plugin.into(),
            api_secret: "s".into(),
            ca_file: Some("/etc/ssl/certs/ca-certificates.crt".into()),
        };
        for c in [
            Config::trunk().allow(&["10.9.9.9/32"]),
            Config::register("sip:127.0.0.1:5999", "bridge", "se\"cret", 20),
            Config::on(a, b),
            Config {
                backend: elsewhere,
                ..Config::on(a, b)
            },
            Config {
                backend: janus("videoroom"),
                ..Config::on(a, b)
            },
            Config {
                backend: janus("audiobridge"),
                ..Config::on(a, b)
            },
        ] {
            let text = c.to_toml();
            let parsed = dialbridge::config::Config::from_toml_str(&text)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            let problems = parsed.validate();
            assert!(problems.is_empty(), "{problems:?}\n{text}");
            let janus = matches!(c.backend, Backend::Janus { .. });
            assert_eq!(
                parsed.conference.backend == dialbridge::config::ConferenceBackendKind::Janus,
                janus
            );
        }
    }
}
