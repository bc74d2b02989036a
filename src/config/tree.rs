//! The shape of the configuration: [`Config`], one field per TOML section, and [`Route`]. The
//! sections' own types live in their files; parsing, validation and loading sit above this.

use serde::Deserialize;

use super::{
    AdminConfig, CallerIdConfig, CdrConfig, ConferenceConfig, DrainConfig, GuessingConfig,
    IvrConfig, LimitsConfig, MediaConfig, SipConfig, SrtpPolicy,
};

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
    pub drain: DrainConfig,
    pub admin: AdminConfig,
    /// Called-number routing; the first route whose `number` equals the called number wins.
    /// Default: none (every call goes to the IVR in `ivr.language`).
    pub routes: Vec<Route>,
    /// Call detail records. Default: off.
    pub cdr: CdrConfig,
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
