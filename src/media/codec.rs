//! The phone-side audio codecs dialbridge speaks, and their RTP facts.

use std::fmt;
use std::str::FromStr;

/// A phone codec. The order of a codec list in the config is the admin's preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Codec {
    /// G.722 wideband: 16 kHz audio, but an RTP clock of 8000 (RFC 3551's historic quirk).
    G722,
    /// G.711 A-law, 8 kHz.
    PCMA,
    /// G.711 µ-law, 8 kHz.
    PCMU,
}

impl Codec {
    pub const ALL: [Codec; 3] = [Codec::G722, Codec::PCMA, Codec::PCMU];

    /// The static RTP payload type (RFC 3551).
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::PCMU => 0,
            Codec::PCMA => 8,
            Codec::G722 => 9,
        }
    }

    /// The encoding name as written in SDP `a=rtpmap`.
    pub fn encoding_name(self) -> &'static str {
        match self {
            Codec::PCMU => "PCMU",
            Codec::PCMA => "PCMA",
            Codec::G722 => "G722",
        }
    }

    /// The RTP clock rate (8000 for all three; G.722 included).
    pub fn rtp_clock_rate(self) -> u32 {
        8000
    }

    /// The rate of the decoded audio in Hz.
    pub fn audio_rate(self) -> u32 {
        match self {
            Codec::G722 => 16000,
            Codec::PCMA | Codec::PCMU => 8000,
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encoding_name())
    }
}

impl FromStr for Codec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Codec::ALL
            .into_iter()
            .find(|c| c.encoding_name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown codec {s:?} (known: G722, PCMA, PCMU)"))
    }
}
