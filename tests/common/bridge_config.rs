//! The config a test bridge runs with: any backend (built-in signaling served here or
//! elsewhere, Janus, Nextcloud Talk), SIP trunk or register, bound to loopback or a namespace address; written as
//! the TOML the `dialbridge` binary reads.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Room 1234's host key in the config (never in the log).
pub const HOST_KEY: &str = "e2e-host-key-0123456789";

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
    /// The built-in signaling server with [`Config::rooms_toml`]: served by this process
    /// (`url: None`) or another one's at this ws:// URL.
    Builtin { url: Option<String> },
    /// A Janus at `url` (a `wss://` Janus verified against `ca_file` when given).
    Janus {
        url: String,
        plugin: String,
        api_secret: String,
        ca_file: Option<PathBuf>,
    },
    /// Nextcloud Talk: its signaling server at `signaling_url`, Nextcloud at `backend_url`.
    Nextcloud {
        signaling_url: String,
        internal_secret: String,
        backend_url: String,
        backend_secret: String,
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
    /// The built-in backend's `[[conference.builtin.rooms]]`; default [`TEST_ROOMS`].
    pub rooms_toml: String,
    /// Another `dialbridge` build to run (the load bench's A/B runs); `None`: this one.
    pub bin: Option<PathBuf>,
    /// Run in this named network namespace (`ip netns exec`, see `netns::add_namespace`);
    /// `None`: the test's own.
    pub netns: Option<String>,
    /// The SIP port; 0 lets the OS choose (a bridge restarted at the same address needs one).
    pub sip_port: u16,
}

/// Room 1234 (host key [`HOST_KEY`], no PIN) and room 5678 (PIN 2468).
pub const TEST_ROOMS: &str = "[[conference.builtin.rooms]]\nid = \"1234\"\nname = \"Test room\"\n\
     host_key = \"e2e-host-key-0123456789\"\n\n\
     [[conference.builtin.rooms]]\nid = \"5678\"\nname = \"Test room with PIN\"\npin = \"2468\"\n\n";

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
            rooms_toml: TEST_ROOMS.into(),
            bin: None,
            netns: None,
            sip_port: 0,
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
        let sip_port = self.sip_port;
        match &self.mode {
            Mode::Trunk { allow } => {
                let list: Vec<String> = allow.iter().map(|a| q(a)).collect();
                let _ = write!(
                    t,
                    "[sip]\nmode = \"trunk\"\nlisten = \"{ip}:{sip_port}\"\n\n[sip.trunk]\nallow = [{}]\n{}\n",
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
                    "[sip]\nmode = \"register\"\nlisten = \"{ip}:{sip_port}\"\n\n[sip.register]\n\
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
                let _ = write!(t, "\n{}", self.rooms_toml);
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
            Backend::Nextcloud {
                signaling_url,
                internal_secret,
                backend_url,
                backend_secret,
            } => {
                let _ = write!(
                    t,
                    "[conference]\nbackend = \"nextcloud\"\n\n{builtin}\n\
                     [conference.nextcloud]\nsignaling_url = {}\ninternal_secret = {}\n\
                     backend_url = {}\nbackend_secret = {}\n\n",
                    q(signaling_url),
                    q(internal_secret),
                    q(backend_url),
                    q(backend_secret)
                );
            }
        }
        t + &self.extra_toml
    }
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rooms_carry_the_host_key() {
        assert!(TEST_ROOMS.contains(&format!("host_key = \"{HOST_KEY}\"")));
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
            Config {
                backend: Backend::Nextcloud {
                    signaling_url: "ws://127.0.0.1:8080/spreed".into(),
                    internal_secret: "i".into(),
                    backend_url: "http://127.0.0.1:9100/".into(),
                    backend_secret: "b".into(),
                },
                ..Config::on(a, b)
            },
        ] {
            let text = c.to_toml();
            let parsed = dialbridge::config::Config::from_toml_str(&text)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            let problems = parsed.validate();
            assert!(problems.is_empty(), "{problems:?}\n{text}");
            use dialbridge::config::ConferenceBackendKind as Kind;
            let kind = match c.backend {
                Backend::Builtin { .. } => Kind::Builtin,
                Backend::Janus { .. } => Kind::Janus,
                Backend::Nextcloud { .. } => Kind::Nextcloud,
            };
            assert_eq!(parsed.conference.backend, kind);
        }
    }
}
