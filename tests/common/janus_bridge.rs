//! The real `dialbridge` binary configured with `backend = "janus"`, bound to the namespace's
//! first veth address (ICE never uses loopback). `tests/e2e/bridge.rs` only writes builtin
//! configs, so this one writes its own TOML of the same shape. Kills the bridge on drop and
//! prints its log when the test fails.

use std::io::{BufRead, BufReader, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::tools;

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The config: SIP trunk on `ip` for calls from `allow`, rooms on the Janus at `url` (a `wss://`
/// Janus verified against `ca_file` when given).
pub fn janus_toml(
    ip: IpAddr,
    allow: &str,
    url: &str,
    plugin: &str,
    api_secret: &str,
    ca_file: Option<&Path>,
) -> String {
    let prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    let ca_file = ca_file
        .map(|p| format!("ca_file = {:?}\n", p.display().to_string()))
        .unwrap_or_default();
    format!(
        "[sip]\nmode = \"trunk\"\nlisten = \"{ip}:0\"\n\n[sip.trunk]\nallow = [{allow:?}]\n\n\
         [media]\nrtp_bind = \"{ip}\"\npublic_address = \"{ip}\"\nrtp_port_min = 0\nrtp_port_max = 0\n\
         codecs = [\"PCMU\"]\n\n\
         [ivr]\nprompts_dir = {prompts:?}\ninter_digit_timeout_s = 3\n\n\
         [conference]\nbackend = \"janus\"\n{ca_file}\n\
         [conference.builtin]\nlisten = \"{ip}:0\"\n\n\
         [conference.janus]\nurl = {url:?}\nplugin = {plugin:?}\napi_secret = {api_secret:?}\n",
        prompts = prompts.display().to_string(),
    )
}

pub struct JanusBridge {
    child: Child,
    pub sip: SocketAddr,
    pub log: PathBuf,
}

impl JanusBridge {
    /// Writes `toml` to `<dir>/bridge.toml`, runs the bridge with it and waits for READY.
    pub fn start(dir: &Path, toml: &str) -> JanusBridge {
        let config = dir.join("bridge.toml");
        std::fs::write(&config, toml).expect("writing the bridge config");
        let log = dir.join("bridge.log");
        let stderr = std::fs::File::create(&log).expect("creating the bridge log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialbridge"));
        cmd.arg("--config").arg(&config).arg("run");
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
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut bridge = JanusBridge {
            child,
            sip: "0.0.0.0:0".parse().expect("a literal"),
            log,
        };
        loop {
            match rx.recv_timeout(READY_TIMEOUT) {
                Ok(line) => {
                    if let Some(sip) = parse_ready(&line) {
                        bridge.sip = sip;
                        return bridge;
                    }
                }
                Err(e) => {
                    let status = bridge.child.try_wait().ok().flatten();
                    panic!("no READY line from the bridge ({e:?}, exit {status:?})");
                }
            }
        }
    }

    /// Log lines containing every one of `words`.
    pub fn log_lines(&self, words: &[&str]) -> Vec<String> {
        let text =
            String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned();
        text.lines()
            .filter(|l| words.iter().all(|w| l.contains(w)))
            .map(str::to_string)
            .collect()
    }
}

/// The SIP address from `READY sip=ADDR signaling=…`.
fn parse_ready(line: &str) -> Option<SocketAddr> {
    let rest = line.trim().strip_prefix("READY ")?;
    rest.split_whitespace()
        .find_map(|p| p.strip_prefix("sip=")?.parse().ok())
}

impl Drop for JanusBridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let _ = writeln!(
                std::io::stderr(),
                "---- bridge log {} (last 80 lines) ----\n{}\n---- end of bridge log ----",
                self.log.display(),
                tools::tail(&self.log, 80)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_is_a_valid_janus_config() {
        let ip: IpAddr = "10.99.0.1".parse().unwrap();
        for plugin in ["videoroom", "audiobridge"] {
            let ca = Some(Path::new("/etc/ssl/certs/ca-certificates.crt"));
            let text = janus_toml(ip, "10.99.0.2/32", "wss://127.0.0.1:8188", plugin, "s", ca);
            let parsed = dialbridge::config::Config::from_toml_str(&text)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert!(
                parsed.validate().is_empty(),
                "{:?}\n{text}",
                parsed.validate()
            );
            assert_eq!(
                parsed.conference.backend,
                dialbridge::config::ConferenceBackendKind::Janus
            );
        }
        assert_eq!(
            parse_ready("READY sip=10.99.0.1:5070 signaling=-")
                .unwrap()
                .port(),
            5070
        );
    }
}
