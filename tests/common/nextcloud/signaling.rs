//! nextcloud-spreed-signaling (≥ 1.0: Debian 12's own 0.4.1 refuses every "video" offer; CI
//! installs 1.2.4 from bookworm-backports, `scripts/install-signaling.sh`) as a child of one
//! test: its server.conf points at the stand-in Nextcloud and the test's Janus, runs without
//! NATS (`nats://loopback`), and listens on a free loopback port. Log: `signaling.log`.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::standin::BACKEND_SECRET;

const BINARY: &str = "nextcloud-spreed-signaling-server";
pub const INTERNAL_SECRET: &str = "test-internal-secret";

pub struct Signaling {
    child: Option<Child>,
    pub addr: SocketAddr,
    config: PathBuf,
    log: PathBuf,
}

/// Fails the test with what to install unless a usable version is on PATH.
fn check_version() {
    let out = Command::new(BINARY)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{BINARY} is missing ({e}): run scripts/install-signaling.sh (bookworm-backports)"
            )
        });
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let major = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .and_then(|v| v.split('.').next()?.parse::<u32>().ok());
    assert!(
        major.is_some_and(|m| m >= 1),
        "{BINARY} {text:?} is too old (Debian 12's 0.4.1 refuses video offers): run \
         scripts/install-signaling.sh"
    );
}

impl Signaling {
    pub fn start(dir: &Path, backend: &str, janus: &str) -> Signaling {
        check_version();
        let port = super::super::tools::free_port();
        let config = dir.join("server.conf");
        let text = format!(
            "[http]\nlisten = 127.0.0.1:{port}\n[app]\ndebug = false\n\
             [sessions]\nhashkey = 0123456789abcdef0123456789abcdef\nblockkey = 0123456789abcdef\n\
             [clients]\ninternalsecret = {INTERNAL_SECRET}\n\
             [backend]\nbackends = nc\nallowall = false\ntimeout = 10\nconnectionsperhost = 8\n\
             [nc]\nurl = {url}\nsecret = {BACKEND_SECRET}\n\
             [nats]\nurl = nats://loopback\n[mcu]\ntype = janus\nurl = {janus}\n",
            url = backend.trim_end_matches('/'),
        );
        std::fs::write(&config, text).expect("writing server.conf");
        let mut signaling = Signaling {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            config,
            log: dir.join("signaling.log"),
        };
        signaling.spawn();
        signaling
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("creating the signaling log");
        let child = Command::new(BINARY)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log file handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting the signaling server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(self.addr).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the signaling server exited at start ({status}):\n{}",
                    self.tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the signaling server does not listen:\n{}",
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/spreed", self.addr)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it and starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

impl Drop for Signaling {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("---- signaling log (last lines) ----\n{}", self.tail());
        }
    }
}
