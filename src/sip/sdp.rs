//! SDP offer/answer for the phone leg (RFC 3264), as pure functions.
//!
//! The SIP layer hands over the INVITE body; [`negotiate`] picks one audio stream and the first
//! codec of the admin's preference list that the caller offers, and [`answer`] writes the reply.
//! No sockets and no clock: the caller supplies the local RTP address and the `o=` numbers, so
//! every rule here is tested with plain function calls. Errors map to SIP status codes through
//! [`SdpError::status_code`]. SRTP: an RTP/SAVP stream is taken when the [`SrtpPolicy`] allows
//! it and one of its `a=crypto` lines is usable ([`super::sdes`]); the answer then carries our
//! own key for the same tag and suite.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use bytesstr::BytesStr;
use sdp_types::{
    Direction as SdpDirection, MediaDescription, MediaType, RtpMap, SessionDescription,
    TaggedAddress, TransportProtocol,
};

use super::sdes::{self, LocalKeyMaterial, SdesError, SrtpAgreement, SrtpPolicy};
use crate::media::codec::Codec;

/// Payload type we use for telephone-event when we write the offer ourselves.
pub const TELEPHONE_EVENT_PT: u8 = 101;
/// Packet duration we ask the caller to send, in milliseconds; also the default we send.
pub const PTIME_MS: u32 = 20;
/// The RFC 4733 events we understand: digits, `*`, `#` and A–D.
const TELEPHONE_EVENTS: &str = "0-15";
/// Longest parser message we keep: it quotes the input, which comes from the network.
const MAX_ERROR_CHARS: usize = 200;

/// Why an offer cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("malformed SDP: {0}")]
    Parse(String),
    #[error("the offer has no active audio stream")]
    NoAudio,
    #[error("audio is offered only over {0}, which this route does not accept")]
    UnsupportedTransport(String),
    #[error("SRTP required: the offer has only plain RTP/AVP audio")]
    SrtpRequired,
    #[error("no usable SRTP crypto line: {0}")]
    NoUsableCrypto(SdesError),
    #[error("the audio connection address {0:?} is a host name, not an IP address")]
    HostnameAddress(String),
    #[error("no codec in common with the offer")]
    NoCommonCodec,
}

impl SdpError {
    /// The SIP response for this error: 400 Bad Request for broken SDP, else 488 Not
    /// Acceptable Here (well-formed, but nothing we can use).
    pub fn status_code(&self) -> u16 {
        match self {
            SdpError::Parse(_) => 400,
            _ => 488,
        }
    }

    /// Text for a `Warning` header when the refusal is about media security (the caller's
    /// admin must learn that SRTP is the reason); `None` for other refusals.
    pub fn warning(&self) -> Option<&'static str> {
        match self {
            SdpError::SrtpRequired => Some("SRTP required"),
            SdpError::NoUsableCrypto(_) => Some("no supported SRTP crypto suite"),
            SdpError::UnsupportedTransport(_) => Some("SRTP is not accepted here"),
            _ => None,
        }
    }
}

/// How SRTP is handled for one call: the route's policy and our key material (kept for the
/// whole dialog, so re-INVITE answers repeat our key).
#[derive(Debug, Clone, Copy)]
pub struct Security<'a> {
    pub policy: SrtpPolicy,
    pub local_keys: &'a LocalKeyMaterial,
}

/// The name `a=crypto` lines get before the SDP crate sees them: its own crypto parser panics
/// on the common lifetime `|2^48` (`2u32.pow(48)` overflows) and fails the whole SDP on one
/// line it cannot read, so [`super::sdes`] reads them instead.
const CRYPTO_ATTRIBUTE: &str = "x-dialbridge-crypto";

/// Parses an SDP body. Never panics: invalid UTF-8 and parser errors become [`SdpError::Parse`].
pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| SdpError::Parse(format!("body is not UTF-8: {e}")))?;
    let renamed;
    let text = if text.contains("a=crypto") {
        renamed = with_crypto_renamed(text);
        renamed.as_str()
    } else {
        text
    };
    SessionDescription::parse(&BytesStr::from(text))
        .or_else(|e| {
            // We decline every stream but audio: an attribute we cannot read there (RFC 4475
            // esc01: `a=rtpmap:31 LPC` under m=video) must not cost the call.
            let lenient = without_foreign_attributes(text);
            SessionDescription::parse(&BytesStr::from(lenient.as_str())).map_err(|_| e)
        })
        .map_err(|e| {
            let msg: String = e.to_string().chars().take(MAX_ERROR_CHARS).collect();
            SdpError::Parse(msg)
        })
}

/// `text` with every `a=crypto` line renamed to [`CRYPTO_ATTRIBUTE`].
fn with_crypto_renamed(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("a=crypto") {
            Some(rest) if rest.is_empty() || rest.starts_with([':', '\r', '\n']) => {
                out.push_str("a=");
                out.push_str(CRYPTO_ATTRIBUTE);
                out.push_str(rest);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// `text` without the `a=` lines of media sections other than audio.
fn without_foreign_attributes(text: &str) -> String {
    let mut foreign = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.starts_with("m=") {
            foreign = !line.starts_with("m=audio ");
        } else if foreign && line.starts_with("a=") {
            continue;
        }
        out.push_str(line);
    }
    out
}

/// A media direction, always seen from dialbridge's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether we send RTP to the caller.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether we expect RTP from the caller.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The SDP attribute name (`sendrecv`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
}

/// One m-line of the offer, kept so the answer has the same lines in the same order (RFC 3264
/// §6 forbids dropping lines; unwanted ones are answered with port 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MLine {
    /// The audio stream we accepted.
    Audio,
    /// A refused stream: the answer's `m=` value, already with port 0 (`video 0 RTP/AVP 96`).
    Rejected(String),
}

/// The outcome of negotiating one offer: everything the phone leg needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: Codec,
    /// The offer's payload type for `codec`; the answer and our RTP use the same number.
    pub payload_type: u8,
    /// RFC 4733 DTMF payload type, when the caller offered telephone-event/8000.
    pub telephone_event_pt: Option<u8>,
    /// Where to send RTP; `None` when the caller is on hold with c=0.0.0.0 (or `::`).
    pub remote_rtp: Option<SocketAddr>,
    /// OUR direction after answering (the offer's `sendonly` makes us `recvonly`, …).
    pub direction: Direction,
    /// Packet duration the caller wants to receive (its `a=ptime`), in ms; 20 when absent.
    pub ptime_ms: u32,
    /// The offer's m-lines in order. Empty: the answer has just the audio line.
    pub m_lines: Vec<MLine>,
    /// SRTP keys when the audio stream is RTP/SAVP; `None`: plain RTP.
    pub srtp: Option<SrtpAgreement>,
}

/// Our end of the audio stream, chosen by the caller of [`answer`] / [`offer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address written into `o=` and `c=`.
    pub ip: IpAddr,
    /// Local RTP port.
    pub port: u16,
    /// `o=` session id; stays the same for the whole dialog.
    pub session_id: u64,
    /// `o=` version; must grow with every new SDP we send in the dialog (RFC 3264 §8).
    pub session_version: u64,
}

/// Picks the audio stream and codec from an offer (or from the answer to our own [`offer`]),
/// plain RTP only (policy `off`).
pub fn negotiate(offer: &SessionDescription, preference: &[Codec]) -> Result<Negotiated, SdpError> {
    let none = LocalKeyMaterial::from_bytes([0; 30]);
    let security = Security {
        policy: SrtpPolicy::Off,
        local_keys: &none,
    };
    negotiate_with(offer, preference, security)
}

/// Picks the audio stream, codec and SRTP keys from an offer.
///
/// The stream is the first audio m-line with a non-zero port that the policy accepts: RTP/AVP
/// unless SRTP is required, RTP/SAVP with a usable `a=crypto` unless SRTP is off. The codec is
/// the first entry of `preference` the stream carries; the offer's payload type is kept.
pub fn negotiate_with(
    offer: &SessionDescription,
    preference: &[Codec],
    security: Security<'_>,
) -> Result<Negotiated, SdpError> {
    let mds = &offer.media_descriptions;
    let is_live_audio =
        |md: &MediaDescription| md.media.media_type == MediaType::Audio && md.media.port != 0;
    let mut crypto_error = None;
    let mut plain_refused = false;
    let chosen = mds.iter().enumerate().find_map(|(i, md)| {
        if !is_live_audio(md) {
            return None;
        }
        match md.media.proto {
            TransportProtocol::RtpAvp if security.policy == SrtpPolicy::Required => {
                plain_refused = true;
                None
            }
            TransportProtocol::RtpAvp => Some((i, None)),
            TransportProtocol::RtpSavp if security.policy != SrtpPolicy::Off => {
                match sdes::choose(crypto_values(md), security.local_keys) {
                    Ok(agreement) => Some((i, Some(agreement))),
                    Err(e) => {
                        crypto_error.get_or_insert(e);
                        None
                    }
                }
            }
            _ => None,
        }
    });
    let Some((index, srtp)) = chosen else {
        return Err(if let Some(e) = crypto_error {
            SdpError::NoUsableCrypto(e)
        } else if plain_refused {
            SdpError::SrtpRequired
        } else {
            match mds.iter().find(|md| is_live_audio(md)) {
                Some(md) => SdpError::UnsupportedTransport(md.media.proto.to_string()),
                None => SdpError::NoAudio,
            }
        });
    };
    let md = &mds[index];

    let (codec, payload_type) = preference
        .iter()
        .find_map(|&codec| {
            let pt = md
                .media
                .fmts
                .iter()
                .copied()
                .find(|&pt| payload_is(md, pt, codec))?;
            Some((codec, pt))
        })
        .ok_or(SdpError::NoCommonCodec)?;

    let telephone_event_pt = md.media.fmts.iter().copied().find(|&pt| {
        rtpmap(md, pt).is_some_and(|map| {
            map.encoding.eq_ignore_ascii_case("telephone-event") && map.clock_rate == 8000
        })
    });

    let connection = md
        .connection
        .as_ref()
        .or(offer.connection.as_ref())
        .ok_or_else(|| SdpError::Parse("no connection (c=) line for the audio stream".into()))?;
    let ip = match &connection.address {
        TaggedAddress::IP4(ip) => IpAddr::V4(*ip),
        TaggedAddress::IP6(ip) => IpAddr::V6(*ip),
        TaggedAddress::IP4FQDN(host) | TaggedAddress::IP6FQDN(host) if host.is_empty() => {
            return Err(SdpError::Parse("empty connection address".into()));
        }
        TaggedAddress::IP4FQDN(host) | TaggedAddress::IP6FQDN(host) => {
            return Err(SdpError::HostnameAddress(host.chars().take(64).collect()));
        }
    };
    // RFC 2543 hold: c=0.0.0.0 means "don't send to me", whatever the direction attribute says.
    let remote_rtp = (!ip.is_unspecified()).then(|| SocketAddr::new(ip, md.media.port));

    let (they_send, they_recv) = match md.direction {
        SdpDirection::SendRecv => (true, true),
        SdpDirection::SendOnly => (true, false),
        SdpDirection::RecvOnly => (false, true),
        SdpDirection::Inactive => (false, false),
    };
    let direction = Direction::from_flags(they_recv && remote_rtp.is_some(), they_send);

    let m_lines = mds
        .iter()
        .enumerate()
        .map(|(i, other)| {
            if i == index {
                MLine::Audio
            } else {
                MLine::Rejected(rejected(other))
            }
        })
        .collect();

    Ok(Negotiated {
        codec,
        payload_type,
        telephone_event_pt,
        remote_rtp,
        direction,
        ptime_ms: ptime(md, offer),
        m_lines,
        srtp,
    })
}

/// The values of a stream's `a=crypto` attributes.
fn crypto_values(md: &MediaDescription) -> impl Iterator<Item = &str> {
    md.attributes
        .iter()
        .filter(|a| a.name == CRYPTO_ATTRIBUTE)
        .map(|a| a.value.as_deref().unwrap_or_default())
}

/// Writes the answer to an offer negotiated into `n`: full SDP text with CRLF line ends.
pub fn answer(n: &Negotiated, local: &LocalMedia) -> String {
    let audio = audio_section(
        &[(n.codec, n.payload_type)],
        n.telephone_event_pt,
        local.port,
        n.direction,
        n.srtp.as_ref(),
    );
    let mut sdp = session_header(local);
    for line in &n.m_lines {
        match line {
            MLine::Audio => sdp.push_str(&audio),
            MLine::Rejected(m) => {
                let _ = write!(sdp, "m={m}\r\n");
            }
        }
    }
    if !n.m_lines.contains(&MLine::Audio) {
        sdp.push_str(&audio);
    }
    sdp
}

/// Writes our offer, for an INVITE that came without SDP: every preferred codec (all codecs if
/// `preference` is empty) plus telephone-event on [`TELEPHONE_EVENT_PT`], sendrecv.
pub fn offer(preference: &[Codec], local: &LocalMedia) -> String {
    let mut codecs: Vec<(Codec, u8)> = Vec::new();
    let list = if preference.is_empty() {
        &Codec::ALL[..]
    } else {
        preference
    };
    for &codec in list {
        if !codecs.iter().any(|&(c, _)| c == codec) {
            codecs.push((codec, codec.static_payload_type()));
        }
    }
    let audio = audio_section(
        &codecs,
        Some(TELEPHONE_EVENT_PT),
        local.port,
        Direction::SendRecv,
        None,
    );
    session_header(local) + &audio
}

fn session_header(local: &LocalMedia) -> String {
    let addr = TaggedAddress::from(local.ip);
    format!(
        "v=0\r\no=dialbridge {} {} {addr}\r\ns=dialbridge\r\nc={addr}\r\nt=0 0\r\n",
        local.session_id, local.session_version
    )
}

fn audio_section(
    codecs: &[(Codec, u8)],
    te: Option<u8>,
    port: u16,
    dir: Direction,
    srtp: Option<&SrtpAgreement>,
) -> String {
    let proto = if srtp.is_some() {
        "RTP/SAVP"
    } else {
        "RTP/AVP"
    };
    let mut s = format!("m=audio {port} {proto}");
    for (_, pt) in codecs {
        let _ = write!(s, " {pt}");
    }
    if let Some(te) = te {
        let _ = write!(s, " {te}");
    }
    s.push_str("\r\n");
    for (codec, pt) in codecs {
        let _ = write!(s, "a=rtpmap:{pt} {codec}/{}\r\n", codec.rtp_clock_rate());
    }
    if let Some(te) = te {
        let _ = write!(
            s,
            "a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} {TELEPHONE_EVENTS}\r\n"
        );
    }
    let _ = write!(s, "a=ptime:{PTIME_MS}\r\na={}\r\n", dir.as_str());
    if let Some(srtp) = srtp {
        let _ = write!(s, "{}\r\n", srtp.answer_line());
    }
    s
}

fn rtpmap(md: &MediaDescription, pt: u8) -> Option<&RtpMap> {
    md.rtpmap.iter().find(|map| map.payload == pt)
}

/// Whether payload type `pt` of the stream is `codec`: by its rtpmap (name case-insensitive,
/// clock 8000, mono), or by the static number when there is no rtpmap (RFC 3551).
fn payload_is(md: &MediaDescription, pt: u8, codec: Codec) -> bool {
    match rtpmap(md, pt) {
        Some(map) => {
            map.encoding.eq_ignore_ascii_case(codec.encoding_name())
                && map.clock_rate == codec.rtp_clock_rate()
                && map.params.as_ref().is_none_or(|p| p.trim() == "1")
        }
        None => pt == codec.static_payload_type(),
    }
}

/// The caller's `a=ptime` (media level, else session level), if sane; else [`PTIME_MS`].
fn ptime(md: &MediaDescription, sdp: &SessionDescription) -> u32 {
    md.attributes
        .iter()
        .chain(&sdp.attributes)
        .find(|a| a.name.eq_ignore_ascii_case("ptime"))
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.trim().split('.').next()?.parse::<u32>().ok())
        .filter(|ms| (10..=120).contains(ms))
        .unwrap_or(PTIME_MS)
}

/// The answer's `m=` value refusing `md`: same media and transport, port 0, the offered
/// formats (at least one is required; non-numeric ones are not kept by the parser, so "0").
fn rejected(md: &MediaDescription) -> String {
    let mut s = format!("{} 0 {}", md.media.media_type, md.media.proto);
    if md.media.fmts.is_empty() {
        s.push_str(" 0");
    }
    for fmt in &md.media.fmts {
        let _ = write!(s, " {fmt}");
    }
    s
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
mod tests;
