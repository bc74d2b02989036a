//! The one configuration tree, read from a TOML file (`dialbridge.example.toml` documents every
//! field). Every section and field has a default, so an empty file is a valid config; unknown
//! fields are errors so a typo is not silently ignored. Secrets may come from the environment
//! ([`Config::apply_env`]). [`Config::validate`] explains everything that is wrong at once, in
//! words a telephony admin understands; the checks live in [`validate`](self::validate).

mod cdr;
mod conference;
mod drain;
mod env;
mod guessing;
mod limits;
mod media_ivr;
mod parse;
mod problems;
mod redact;
mod signaling_tls;
mod sip;
mod sip_tls;
mod tree;
mod validate;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use ipnet::IpNet;

pub use crate::sip::sdes::SrtpPolicy;

pub use cdr::CdrConfig;
pub use conference::{
    BuiltinConfig, ConferenceBackendKind, ConferenceConfig, JanusConfig, JanusPluginKind,
    NextcloudConfig, RoomConfig,
};
pub use drain::{AdminConfig, DrainConfig};
pub use env::{
    ENV_JANUS_API_SECRET, ENV_JANUS_TOKEN, ENV_NEXTCLOUD_BACKEND_SECRET,
    ENV_NEXTCLOUD_INTERNAL_SECRET, ENV_SIGNALING_SECRET, ENV_SIP_PASSWORD, ENV_TRUNK_PASSWORD,
};
pub use guessing::{GuessingConfig, LockedCall};
pub use limits::{LimitsConfig, OverLimit};
pub use media_ivr::{CallerIdConfig, IvrConfig, MediaConfig};
pub use parse::ConfigError;
use parse::parse;
pub use problems::ConfigProblem;
pub use signaling_tls::SignalingTlsConfig;
pub use sip::{RegisterConfig, SipConfig, SipMode, TrunkConfig};
pub use sip_tls::SipTlsConfig;
pub use tree::{Config, Route};

impl Config {
    /// Reads and parses `path`, then applies the environment overrides. Does not validate.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: Config = parse(&text, &path.display().to_string())?;
        config.apply_env(|name| std::env::var(name).ok());
        Ok(config)
    }

    /// Parses a TOML document (no environment overrides).
    pub fn from_toml_str(s: &str) -> Result<Config, ConfigError> {
        parse(s, "config")
    }

    /// Lets secrets come from the environment: a set, non-empty variable wins over the file.
    pub fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) {
        let get = |name: &str| env(name).filter(|v| !v.is_empty());
        if let Some(v) = get(ENV_SIP_PASSWORD) {
            self.sip.register.password = v;
        }
        if let Some(v) = get(ENV_TRUNK_PASSWORD) {
            self.sip.trunk.password = v;
        }
        if let Some(v) = get(ENV_JANUS_API_SECRET) {
            self.conference.janus.api_secret = v;
        }
        if let Some(v) = get(ENV_JANUS_TOKEN) {
            self.conference.janus.token = v;
        }
        if let Some(v) = get(ENV_SIGNALING_SECRET) {
            self.conference.builtin.secret = v;
        }
        if let Some(v) = get(ENV_NEXTCLOUD_INTERNAL_SECRET) {
            self.conference.nextcloud.internal_secret = v;
        }
        if let Some(v) = get(ENV_NEXTCLOUD_BACKEND_SECRET) {
            self.conference.nextcloud.backend_secret = v;
        }
    }

    /// Every problem in the config; prompt folders are looked up from the working directory.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        self.validate_with_base(Path::new("."))
    }

    /// Like [`validate`](Self::validate), with a relative `ivr.prompts_dir` taken from `base`.
    pub fn validate_with_base(&self, base: &Path) -> Vec<ConfigProblem> {
        validate::validate(self, base)
    }

    /// What works but needs attention soon (a TLS certificate close to its expiry).
    pub fn warnings(&self) -> Vec<ConfigProblem> {
        validate::warnings(self)
    }

    /// The built-in config of `dialbridge demo`: everything on loopback. Trunk mode on
    /// `127.0.0.1:5060` accepting INVITEs from 127.0.0.1 only, RTP bound to 127.0.0.1 on ports
    /// the OS chooses (0/0), the signaling server on `127.0.0.1:8080`, and two rooms: 1234
    /// "Demo room" without PIN and 5678 "Demo room with PIN" with PIN 2468. The rest is default.
    pub fn demo() -> Config {
        let mut c = Config::default();
        c.sip.mode = SipMode::Trunk;
        c.sip.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 5060));
        c.sip.trunk.allow = vec![IpNet::from(IpAddr::V4(Ipv4Addr::LOCALHOST))];
        c.media.rtp_bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
        c.media.rtp_port_min = 0;
        c.media.rtp_port_max = 0;
        c.conference.builtin.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 8080));
        c.conference.builtin.serve = true;
        c.conference.builtin.rooms = vec![
            RoomConfig {
                id: "1234".into(),
                name: "Demo room".into(),
                pin: None,
                host_key: None,
            },
            RoomConfig {
                id: "5678".into(),
                name: "Demo room with PIN".into(),
                pin: Some("2468".into()),
                host_key: None,
            },
        ];
        c
    }
}

#[cfg(test)]
mod tests;
