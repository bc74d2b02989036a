//! `[media]`, `[ivr]` and `[caller_id]`: the phone-side RTP leg, how the room ID and PIN are
//! asked for, and how the caller's number is shown. Defaults match `dialbridge.example.toml`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::Deserialize;

use crate::media::codec::Codec;
use crate::sip::sdes::SrtpPolicy;

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
    /// Opus encoder complexity for the caller's voice in the room, 0 (cheapest) to 10 (best).
    /// Default: 10. BENCHMARKS.md shows what lower values save and cost.
    pub opus_complexity: u8,
    /// Opus discontinuous transmission: while the caller is silent, send a packet only every
    /// 400 ms. Default: false.
    pub opus_dtx: bool,
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
            opus_complexity: 10,
            opus_dtx: false,
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
