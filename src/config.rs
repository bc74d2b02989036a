//! The one configuration tree, read from a TOML file (`dialbridge.example.toml` documents every
//! field). Every section and field has a default, so an empty file is a valid config; unknown
//! fields are errors so a typo is not silently ignored. Secrets may come from the environment
//! ([`Config::apply_env`]). [`Config::validate`] explains everything that is wrong at once, in
//! words a telephony admin understands; the checks live in [`validate`](self::validate).

mod guessing;
mod limits;
mod parse;
mod redact;
mod signaling_tls;
mod sip_tls;
mod validate;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use crate::media::codec::Codec;
pub use crate::sip::sdes::SrtpPolicy;

pub use guessing::{GuessingConfig, LockedCall};
pub use limits::{LimitsConfig, OverLimit};
pub use parse::ConfigError;
use parse::{de_allow_list, parse};
pub use signaling_tls::SignalingTlsConfig;
pub use sip_tls::SipTlsConfig;
pub use validate::ConfigProblem;

/// Environment variable that overrides `sip.register.password`.
pub const ENV_SIP_PASSWORD: &str = "DIALBRIDGE_SIP_PASSWORD";
/// Environment variable that overrides `sip.trunk.password`.
pub const ENV_TRUNK_PASSWORD: &str = "DIALBRIDGE_TRUNK_PASSWORD";
/// Environment variable that overrides `conference.builtin.secret`.
pub const ENV_SIGNALING_SECRET: &str = "DIALBRIDGE_SIGNALING_SECRET";
/// Overrides `conference.janus.api_secret`.
pub const ENV_JANUS_API_SECRET: &str = "DIALBRIDGE_JANUS_API_SECRET";
/// Overrides `conference.janus.token`.
pub const ENV_JANUS_TOKEN: &str = "DIALBRIDGE_JANUS_TOKEN";

/// The whole configuration. `Config::default()` is exactly what `dialbridge.example.toml` shows,
/// except that the example also defines one demo room.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub sip: SipConfig,
    pub media: MediaConfig,
    pub ivr: IvrConfig,
    pub caller_id: CallerIdConfig,
    pub limits: LimitsConfig,
    pub guessing: GuessingConfig,
    pub conference: ConferenceConfig,
    /// Called-number routing; the first route whose `number` equals the called number wins.
    /// Default: none (every call goes to the IVR in `ivr.language`).
    pub routes: Vec<Route>,
}

/// How calls reach us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SipMode {
    /// A provider or PBX sends INVITEs to us; no registration. The default.
    #[default]
    Trunk,
    /// We register an account with a SIP provider, which then sends us its calls.
    Register,
}

/// `[sip]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// How calls reach us. Default: `trunk`.
    pub mode: SipMode,
    /// Where SIP listens, UDP and TCP on the same address; port 0 picks a free port.
    /// Default: `0.0.0.0:5060`.
    pub listen: SocketAddr,
    /// Enable TCP next to UDP. Default: true.
    pub tcp: bool,
    /// Address (IP or host name) advertised in Contact/Via behind NAT. Default: empty = listen.
    pub public_address: String,
    /// User-Agent header. Default: `dialbridge`.
    pub user_agent: String,
    /// RFC 4028 session timer we ask for, in seconds, at least 90. Default: 1800.
    pub session_expires_s: u32,
    pub trunk: TrunkConfig,
    pub register: RegisterConfig,
    pub tls: SipTlsConfig,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            mode: SipMode::Trunk,
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 5060)),
            tcp: true,
            public_address: String::new(),
            user_agent: "dialbridge".into(),
            session_expires_s: 1800,
            trunk: TrunkConfig::default(),
            register: RegisterConfig::default(),
            tls: SipTlsConfig::default(),
        }
    }
}

/// `[sip.trunk]`: who may send us INVITEs in trunk mode.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrunkConfig {
    /// Source addresses or CIDRs allowed to send INVITEs; a plain IP means that one host.
    /// Default: `127.0.0.1/32`, `::1/128`.
    #[serde(deserialize_with = "de_allow_list")]
    pub allow: Vec<IpNet>,
    /// Inbound digest auth user; empty = no auth. Default: empty.
    pub username: String,
    /// Inbound digest auth password; `DIALBRIDGE_TRUNK_PASSWORD` wins. Default: empty.
    pub password: String,
    /// Digest realm we challenge with. Default: `dialbridge`.
    pub realm: String,
}

impl Default for TrunkConfig {
    fn default() -> Self {
        TrunkConfig {
            allow: vec![
                IpNet::from(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                IpNet::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ],
            username: String::new(),
            password: String::new(),
            realm: "dialbridge".into(),
        }
    }
}

/// `[sip.register]`: the account we register in register mode.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegisterConfig {
    /// Registrar URI (`sip:` or `sips:`); required in register mode. Default: empty.
    pub registrar: String,
    /// Account user name; required in register mode. Default: empty.
    pub username: String,
    /// Account password; `DIALBRIDGE_SIP_PASSWORD` wins. Default: empty.
    pub password: String,
    /// Authentication user when it differs from `username`. Default: empty = `username`.
    pub auth_username: String,
    /// Requested registration lifetime in seconds. Default: 300.
    pub expires_s: u32,
    /// First retry wait after a failure, in seconds; doubles up to `retry_max_s`. Default: 1.
    pub retry_min_s: u32,
    /// Longest retry wait, in seconds. Default: 60.
    pub retry_max_s: u32,
}

impl Default for RegisterConfig {
    fn default() -> Self {
        RegisterConfig {
            registrar: String::new(),
            username: String::new(),
            password: String::new(),
            auth_username: String::new(),
            expires_s: 300,
            retry_min_s: 1,
            retry_max_s: 60,
        }
    }
}

/// `[media]`: the phone-side RTP leg.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Local IP that RTP sockets bind to. Default: `0.0.0.0`.
    pub rtp_bind: IpAddr,
    /// IP written into SDP `c=` (the public IP behind NAT). Default: empty = SIP listen IP or
    /// the local IP that routes to the caller.
    pub public_address: String,
    /// Lowest RTP port, inclusive; 0 together with `rtp_port_max` 0 lets the OS choose.
    /// Default: 10000.
    pub rtp_port_min: u16,
    /// Highest RTP port, inclusive. Default: 20000.
    pub rtp_port_max: u16,
    /// Codecs offered to callers, most preferred first. Default: G722, PCMA, PCMU.
    pub codecs: Vec<Codec>,
    /// Phone-leg jitter buffer, in milliseconds. Default: 60.
    pub jitter_buffer_ms: u32,
    /// Hang up after this many seconds without RTP; 0 = never. Default: 30.
    pub rtp_timeout_s: u32,
    /// Detect DTMF tones in the audio as well. Default: true.
    pub inband_dtmf: bool,
    /// SRTP (SDES keys, RFC 4568) for calls whose route sets none: `off` (plain RTP only),
    /// `optional` (SRTP when offered) or `required` (488 to plain offers). Default: optional.
    pub srtp: SrtpPolicy,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            rtp_bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            public_address: String::new(),
            rtp_port_min: 10000,
            rtp_port_max: 20000,
            codecs: Codec::ALL.to_vec(),
            jitter_buffer_ms: 60,
            rtp_timeout_s: 30,
            inband_dtmf: true,
            srtp: SrtpPolicy::Optional,
        }
    }
}

/// `[ivr]`: how the room ID and PIN are asked for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IvrConfig {
    /// Prompt language, a folder under `prompts_dir`. Default: `en`.
    pub language: String,
    /// Folder with `<language>/<prompt>.wav`; relative paths start at the working directory.
    /// Default: `prompts`.
    pub prompts_dir: PathBuf,
    /// Fewest digits of a room ID. Default: 3.
    pub room_id_min_digits: u32,
    /// Most digits of a room ID; entry ends here or at `#`. Default: 10.
    pub room_id_max_digits: u32,
    /// Most digits of a PIN. Default: 10.
    pub pin_max_digits: u32,
    /// Wrong entries allowed before goodbye. Default: 3.
    pub max_attempts: u32,
    /// Seconds between key presses before an entry counts as finished. Default: 5.
    pub inter_digit_timeout_s: u32,
    /// Seconds the whole IVR may take. Default: 120.
    pub overall_timeout_s: u32,
}

impl Default for IvrConfig {
    fn default() -> Self {
        IvrConfig {
            language: "en".into(),
            prompts_dir: PathBuf::from("prompts"),
            room_id_min_digits: 3,
            room_id_max_digits: 10,
            pin_max_digits: 10,
            max_attempts: 3,
            inter_digit_timeout_s: 5,
            overall_timeout_s: 120,
        }
    }
}

/// `[caller_id]`: how the caller's number is shown to the conference.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallerIdConfig {
    /// Mask the middle of the number. Default: true.
    pub mask: bool,
    /// Digits left visible at the end when masking. Default: 2.
    pub visible_tail: u32,
}

impl Default for CallerIdConfig {
    fn default() -> Self {
        CallerIdConfig {
            mask: true,
            visible_tail: 2,
        }
    }
}

/// Which conference system callers join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConferenceBackendKind {
    /// dialbridge's own room signaling server. The default.
    #[default]
    Builtin,
    /// Rooms of a Janus 1.x server (VideoRoom or AudioBridge plugin), see `[conference.janus]`.
    Janus,
}

/// `[conference]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConferenceConfig {
    /// Default: `builtin`.
    pub backend: ConferenceBackendKind,
    /// PEM file of extra CA certificates to trust, next to the system's roots, when the bridge
    /// connects to a `wss://` server (`conference.builtin.url` or `conference.janus.url`) whose
    /// certificate comes from a private CA. Verification is always on. Relative paths are
    /// relative to the config file. Default: none.
    pub ca_file: Option<PathBuf>,
    pub builtin: BuiltinConfig,
    pub janus: JanusConfig,
}

/// Which Janus plugin hosts the rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JanusPluginKind {
    /// SFU rooms: the bridge subscribes to every publisher and mixes. The default.
    #[default]
    VideoRoom,
    /// Audio rooms mixed by Janus: one PeerConnection per call.
    AudioBridge,
}

/// `[conference.janus]`: a Janus server's JSON API over WebSocket.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JanusConfig {
    /// `ws://host:port` or `wss://host:port` of Janus's websockets transport. Required with
    /// `backend = "janus"`.
    pub url: String,
    /// `videoroom` or `audiobridge`. Default: `videoroom`.
    pub plugin: JanusPluginKind,
    /// janus.jcfg `api_secret`, if set there; DIALBRIDGE_JANUS_API_SECRET wins. Default: none.
    pub api_secret: String,
    /// Token when Janus uses `token_auth`; DIALBRIDGE_JANUS_TOKEN wins. Default: none.
    pub token: String,
}

impl std::fmt::Debug for JanusConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("JanusConfig")
            .field("url", &self.url)
            .field("plugin", &self.plugin)
            .field("api_secret", &hidden(&self.api_secret))
            .field("token", &hidden(&self.token))
            .finish()
    }
}

/// `[conference.builtin]`: the built-in room signaling server.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuiltinConfig {
    /// Where the signaling server and host page listen; port 0 picks a free port.
    /// Default: `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Run the server in this process; false = connect to `url`. Default: true.
    pub serve: bool,
    /// `ws://` or `wss://` URL of a signaling server run elsewhere (when `serve` is false).
    /// Default: empty.
    pub url: String,
    /// Shared secret presented to the signaling server; `DIALBRIDGE_SIGNALING_SECRET` wins.
    /// Default: empty = none.
    pub secret: String,
    /// Rooms that exist at start. Default: none.
    pub rooms: Vec<RoomConfig>,
    pub tls: SignalingTlsConfig,
}

impl Default for BuiltinConfig {
    fn default() -> Self {
        BuiltinConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            serve: true,
            url: String::new(),
            secret: String::new(),
            rooms: Vec::new(),
            tls: SignalingTlsConfig::default(),
        }
    }
}

/// A `[[conference.builtin.rooms]]` entry. `Debug` hides the PIN and host key.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomConfig {
    /// Numeric room ID callers type. Required.
    pub id: String,
    /// Display name. Default: empty.
    #[serde(default)]
    pub name: String,
    /// Numeric PIN; absent = no PIN.
    #[serde(default)]
    pub pin: Option<String>,
    /// The key that makes a web participant host of this room (`?host_key=` on the host page);
    /// at least 16 characters. Absent = a random key nobody is told (hosts then create their
    /// own rooms on the page). Never logged.
    #[serde(default)]
    pub host_key: Option<String>,
}

/// A `[[routes]]` entry: what to do with calls to one called number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The called number (user part of the Request-URI), compared exactly. Required.
    pub number: String,
    /// Put the caller straight into this room, skipping the IVR. Absent: use the IVR.
    #[serde(default)]
    pub room: Option<String>,
    /// Prompt language for this number. Absent: `ivr.language`.
    #[serde(default)]
    pub language: Option<String>,
    /// SRTP policy for this number (`off`, `optional`, `required`). Absent: `media.srtp`.
    #[serde(default)]
    pub srtp: Option<SrtpPolicy>,
}

impl Config {
    /// Reads and parses `path`, then applies the environment overrides. Does not validate.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = parse(&text, &path.display().to_string())?;
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
