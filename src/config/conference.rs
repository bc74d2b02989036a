//! `[conference]`, `[conference.janus]`, `[conference.nextcloud]`, `[conference.builtin]` and its
//! rooms: which conference
//! system callers join and how to reach it. `Debug` never shows secrets, PINs or host keys.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

use super::SignalingTlsConfig;

/// Which conference system callers join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConferenceBackendKind {
    /// dialbridge's own room signaling server. The default.
    #[default]
    Builtin,
    /// Rooms of a Janus 1.x server (VideoRoom or AudioBridge plugin), see `[conference.janus]`.
    Janus,
    /// Nextcloud Talk rooms through its High Performance Backend, see `[conference.nextcloud]`.
    Nextcloud,
}

impl ConferenceBackendKind {
    /// The name in the config file (`builtin`, `janus`, `nextcloud`), as call records give it.
    pub fn name(self) -> &'static str {
        match self {
            ConferenceBackendKind::Builtin => "builtin",
            ConferenceBackendKind::Janus => "janus",
            ConferenceBackendKind::Nextcloud => "nextcloud",
        }
    }
}

/// `[conference]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConferenceConfig {
    /// Default: `builtin`.
    pub backend: ConferenceBackendKind,
    /// PEM file of extra CA certificates to trust, next to the system's roots, when the bridge
    /// connects to a `wss://` or `https://` server (`conference.builtin.url`,
    /// `conference.janus.url`, `conference.nextcloud.*_url`) whose certificate comes from a
    /// private CA. Verification is always on. Relative paths are
    /// relative to the config file. Default: none.
    pub ca_file: Option<PathBuf>,
    pub builtin: BuiltinConfig,
    pub janus: JanusConfig,
    pub nextcloud: NextcloudConfig,
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

/// `[conference.nextcloud]`: Nextcloud Talk with its High Performance Backend.
#[derive(Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NextcloudConfig {
    /// `ws(s)://` URL of the signaling server (nextcloud-spreed-signaling), ending in
    /// `/spreed`. Required with `backend = "nextcloud"`.
    pub signaling_url: String,
    /// The signaling server's `[clients] internalsecret`; DIALBRIDGE_NEXTCLOUD_INTERNAL_SECRET
    /// wins. Required.
    pub internal_secret: String,
    /// `http(s)://` URL of Nextcloud exactly as the signaling server's backend list has it
    /// (e.g. "https://cloud.example.com/"). Required.
    pub backend_url: String,
    /// Talk's SIP bridge shared secret (Talk admin settings, SIP configuration), which signs
    /// the room lookups by dial-in ID; DIALBRIDGE_NEXTCLOUD_BACKEND_SECRET wins. Required.
    pub backend_secret: String,
}

impl std::fmt::Debug for NextcloudConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "<hidden>" };
        f.debug_struct("NextcloudConfig")
            .field("signaling_url", &self.signaling_url)
            .field("internal_secret", &hidden(&self.internal_secret))
            .field("backend_url", &self.backend_url)
            .field("backend_secret", &hidden(&self.backend_secret))
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
