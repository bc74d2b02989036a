//! What every call shares and what outlives it: the SIP endpoint, media settings, IVR
//! settings, prompts and the conference backend. Read by the call actor and its call loop.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ezk_sip_core::Endpoint;
use tokio::sync::watch;

use super::guard::SipGuessing;
use crate::cdr::CdrSink;
use crate::conference::ConferenceBackend;
use crate::config::MediaConfig;
use crate::ivr::machine::IvrConfig;
use crate::media::codec::Codec;
use crate::media::conference_leg::OpusSettings;
use crate::media::prompts::PromptSet;
use crate::sip::endpoint::Contacts;

/// Media settings shared by all calls.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub rtp_bind: IpAddr,
    /// IP for SDP `c=`; `None`: the local IP that routes to the caller.
    pub sdp_ip: Option<IpAddr>,
    pub port_min: u16,
    pub port_max: u16,
    pub codecs: Vec<Codec>,
    pub jitter_buffer_ms: u32,
    pub rtp_timeout: Option<Duration>,
    pub inband_dtmf: bool,
    /// webrtcbin jitter buffer latency on the conference side, in ms.
    pub conference_jitter_ms: u32,
    /// The conference side's Opus encoder settings.
    pub opus: OpusSettings,
}

/// webrtcbin's jitter buffer on the conference side: its default of 200 ms dominates the
/// join-to-audio time and the delay budget; 50 ms is enough on a LAN-grade path.
const CONFERENCE_JITTER_MS: u32 = 50;

impl MediaSettings {
    pub fn from_config(m: &MediaConfig) -> MediaSettings {
        MediaSettings {
            rtp_bind: m.rtp_bind,
            sdp_ip: m.public_address.parse().ok(),
            port_min: m.rtp_port_min,
            port_max: m.rtp_port_max,
            codecs: m.codecs.clone(),
            jitter_buffer_ms: m.jitter_buffer_ms,
            rtp_timeout: (m.rtp_timeout_s > 0).then(|| Duration::from_secs(m.rtp_timeout_s.into())),
            inband_dtmf: m.inband_dtmf,
            conference_jitter_ms: CONFERENCE_JITTER_MS,
            opus: OpusSettings {
                complexity: m.opus_complexity,
                dtx: m.opus_dtx,
            },
        }
    }
}

/// Everything a call needs that outlives it.
pub struct CallContext {
    pub endpoint: Endpoint,
    pub contacts: Contacts,
    pub media: MediaSettings,
    pub ivr: IvrConfig,
    /// Prompt sets by language.
    pub prompts: HashMap<String, Arc<PromptSet>>,
    pub backend: Arc<dyn ConferenceBackend>,
    /// INVITEs not yet owned by an acceptor (CANCELs that overtake them).
    pub early: crate::sip::early::EarlyInvites,
    pub session_expires_s: u32,
    pub mask_caller_id: bool,
    pub caller_id_visible_tail: usize,
    /// The room-ID and PIN guessing limit, shared by all calls.
    pub guessing: Arc<SipGuessing>,
    /// Turns true when a drain reaches its limit: answered calls play the closing prompt and
    /// hang up (the stop flag, by contrast, hangs up at once).
    pub goodbye: watch::Receiver<bool>,
    /// `builtin` or `janus`, for call records.
    pub backend_name: &'static str,
    /// Where call records go; `None`: `[cdr]` is off.
    pub cdr: Option<Arc<CdrSink>>,
}
