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
mod tests {
    use super::*;
    use Codec::{G722, PCMA, PCMU};
    use std::net::Ipv6Addr;

    const PREF: [Codec; 3] = [G722, PCMA, PCMU];

    fn sdp(session_extra: &str, media: &str) -> String {
        format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
             {session_extra}{media}"
        )
    }

    fn neg_with(text: &str, pref: &[Codec]) -> Result<Negotiated, SdpError> {
        negotiate(&parse(text.as_bytes())?, pref)
    }

    fn neg(media: &str) -> Result<Negotiated, SdpError> {
        neg_with(&sdp("", media), &PREF)
    }

    #[test]
    fn an_unreadable_attribute_of_a_declined_stream_is_ignored() {
        // RFC 4475 3.1.1.3 (esc01): rtpmap without a clock rate under m=video.
        let n = neg("m=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n")
            .expect("the audio stream is still usable");
        assert_eq!(n.codec, PCMU);
        assert!(
            neg("m=audio 49217 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n").is_err(),
            "an unreadable audio attribute is still an error"
        );
    }

    fn local() -> LocalMedia {
        LocalMedia {
            ip: "198.51.100.1".parse().unwrap(),
            port: 5000,
            session_id: 42,
            session_version: 1,
        }
    }

    #[test]
    fn pcmu_only_offer() {
        let n = neg("m=audio 4000 RTP/AVP 0\r\n").unwrap();
        assert_eq!(
            (n.codec, n.payload_type, n.telephone_event_pt),
            (PCMU, 0, None)
        );
        assert_eq!(n.remote_rtp, Some("192.0.2.10:4000".parse().unwrap()));
        assert_eq!((n.direction, n.ptime_ms), (Direction::SendRecv, 20));
        assert_eq!(n.m_lines, vec![MLine::Audio]);
    }

    #[test]
    fn exact_answer_text() {
        let n = neg("m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n").unwrap();
        assert_eq!(
            answer(&n, &local()),
            "v=0\r\no=dialbridge 42 1 IN IP4 198.51.100.1\r\ns=dialbridge\r\n\
             c=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8 101\r\n\
             a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
             a=ptime:20\r\na=sendrecv\r\n"
        );
    }

    #[test]
    fn pcma_chosen_when_g722_missing() {
        let n = neg("m=audio 4000 RTP/AVP 0 8\r\n").unwrap();
        assert_eq!((n.codec, n.payload_type), (PCMA, 8));
    }

    #[test]
    fn g722_first_by_default() {
        let n = neg("m=audio 4000 RTP/AVP 0 8 9 101\r\na=rtpmap:101 telephone-event/8000\r\n");
        let n = n.unwrap();
        assert_eq!(
            (n.codec, n.payload_type, n.telephone_event_pt),
            (G722, 9, Some(101))
        );
    }

    #[test]
    fn admin_preference_honoured() {
        let text = sdp("", "m=audio 4000 RTP/AVP 9 8 0\r\n");
        assert_eq!(neg_with(&text, &[PCMU, PCMA]).unwrap().codec, PCMU);
        assert_eq!(neg_with(&text, &[PCMA]).unwrap().codec, PCMA);
        assert_eq!(neg_with(&text, &[]), Err(SdpError::NoCommonCodec));
    }

    #[test]
    fn dynamic_payload_types_matched_by_rtpmap_name() {
        let media =
            "m=audio 4000 RTP/AVP 98 97\r\na=rtpmap:98 pcma/8000\r\na=rtpmap:97 g722/8000/1\r\n";
        let n = neg(media).unwrap();
        assert_eq!((n.codec, n.payload_type), (G722, 97));
        let n = neg_with(&sdp("", media), &[PCMA, G722]).unwrap();
        assert_eq!((n.codec, n.payload_type), (PCMA, 98));
        let a = answer(&n, &local());
        assert!(
            a.contains("m=audio 5000 RTP/AVP 98\r\na=rtpmap:98 PCMA/8000\r\n"),
            "{a}"
        );
    }

    #[test]
    fn rtpmap_overrides_static_number() {
        // G.722 with the (wrong) 16000 clock, and PT 0 remapped to something else.
        let n =
            neg("m=audio 4000 RTP/AVP 9 0 8\r\na=rtpmap:9 G722/16000\r\na=rtpmap:0 foo/8000\r\n");
        assert_eq!(n.unwrap().codec, PCMA);
        assert_eq!(
            neg("m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/2\r\n"),
            Err(SdpError::NoCommonCodec)
        );
    }

    #[test]
    fn telephone_event_pt_kept() {
        let n = neg(
            "m=audio 4000 RTP/AVP 8 100 96\r\na=rtpmap:100 telephone-event/48000\r\n\
             a=rtpmap:96 Telephone-Event/8000\r\na=fmtp:96 0-16\r\n",
        )
        .unwrap();
        assert_eq!(n.telephone_event_pt, Some(96));
        let a = answer(&n, &local());
        assert!(a.contains("m=audio 5000 RTP/AVP 8 96\r\n"), "{a}");
        assert!(
            a.contains("a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n"),
            "{a}"
        );
        assert!(!a.contains("rtpmap:100"), "{a}");
    }

    #[test]
    fn only_gsm_and_opus_is_no_common_codec() {
        let e = neg("m=audio 4000 RTP/AVP 3 111\r\na=rtpmap:111 opus/48000/2\r\n").unwrap_err();
        assert_eq!(e, SdpError::NoCommonCodec);
        assert_eq!(e.status_code(), 488);
    }

    #[test]
    fn no_usable_audio_line() {
        assert_eq!(neg("m=video 4000 RTP/AVP 96\r\n"), Err(SdpError::NoAudio));
        assert_eq!(neg("m=audio 0 RTP/AVP 0\r\n"), Err(SdpError::NoAudio));
        assert_eq!(neg(""), Err(SdpError::NoAudio));
        assert_eq!(SdpError::NoAudio.status_code(), 488);
    }

    const KEY30: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    fn neg_policy(media: &str, policy: SrtpPolicy) -> Result<Negotiated, SdpError> {
        let keys = LocalKeyMaterial::from_bytes([9; 30]);
        let security = Security {
            policy,
            local_keys: &keys,
        };
        negotiate_with(&parse(sdp("", media).as_bytes())?, &PREF, security)
    }

    fn savp(crypto: &str) -> String {
        format!("m=audio 4000 RTP/SAVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n{crypto}")
    }

    #[test]
    fn savp_offer_answered_with_our_own_key() {
        let crypto = format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^48\r\n"
        );
        for policy in [SrtpPolicy::Optional, SrtpPolicy::Required] {
            let n = neg_policy(&savp(&crypto), policy).unwrap();
            let srtp = n.srtp.as_ref().expect("SRTP agreed");
            assert_eq!(
                (srtp.tag, srtp.suite),
                (2, sdes::SrtpSuite::AesCm128HmacSha1_80)
            );
            let a = answer(&n, &local());
            assert!(a.contains("m=audio 5000 RTP/SAVP 0 101\r\n"), "{a}");
            let ours = "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJ";
            assert!(a.contains(&format!("{ours}\r\n")), "{a}");
            assert!(!a.contains(KEY30), "the caller's key is not echoed: {a}");
        }
    }

    #[test]
    fn policy_decides_plain_and_secure_offers() {
        let crypto = format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}\r\n");
        let plain = "m=audio 4000 RTP/AVP 0\r\n";
        let n = neg_policy(plain, SrtpPolicy::Optional).unwrap();
        assert!(n.srtp.is_none());
        assert!(answer(&n, &local()).contains("m=audio 5000 RTP/AVP 0\r\n"));
        let e = neg_policy(plain, SrtpPolicy::Required).unwrap_err();
        assert_eq!((e.clone(), e.status_code()), (SdpError::SrtpRequired, 488));
        assert_eq!(e.warning(), Some("SRTP required"));
        let e = neg_policy(&savp(&crypto), SrtpPolicy::Off).unwrap_err();
        assert_eq!(e, SdpError::UnsupportedTransport("RTP/SAVP".into()));
        // Best-effort SRTP (a secure line, then a plain one): optional takes the secure one.
        let both = format!("{}m=audio 4002 RTP/AVP 0\r\n", savp(&crypto));
        let n = neg_policy(&both, SrtpPolicy::Optional).unwrap();
        assert!(n.srtp.is_some());
        assert_eq!(
            n.m_lines,
            vec![MLine::Audio, MLine::Rejected("audio 0 RTP/AVP 0".into())]
        );
        let n = neg_policy(&both, SrtpPolicy::Off).unwrap();
        assert_eq!((n.srtp, n.remote_rtp.unwrap().port()), (None, 4002));
    }

    #[test]
    fn unusable_crypto_is_488_and_falls_back_to_plain_when_allowed() {
        for crypto in [
            "a=crypto:1 F8_128_HMAC_SHA1_80 inline:{KEY30}\r\n".replace("{KEY30}", KEY30),
            "a=crypto:x AES_CM_128_HMAC_SHA1_80\r\n".to_string(),
            "a=crypto\r\n".to_string(),
            format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^48|1:4\r\n"),
            String::new(),
        ] {
            let e = neg_policy(&savp(&crypto), SrtpPolicy::Required).unwrap_err();
            assert!(matches!(e, SdpError::NoUsableCrypto(_)), "{crypto}: {e:?}");
            assert_eq!(e.status_code(), 488);
            let both = format!("{}m=audio 4002 RTP/AVP 0\r\n", savp(&crypto));
            let n = neg_policy(&both, SrtpPolicy::Optional).unwrap();
            assert_eq!((n.srtp, n.remote_rtp.unwrap().port()), (None, 4002));
        }
    }

    #[test]
    fn crypto_lines_the_sdp_crate_cannot_read_are_ours() {
        // ezk-sdp-types panics on `|2^48` and refuses the whole SDP on a bad crypto line.
        for crypto in [
            format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^48\r\n"),
            format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^31|1:4\r\n"),
            "a=crypto:99999999999999 ?? inline:|||\r\n".to_string(),
        ] {
            let text = sdp("", &savp(&crypto));
            assert!(parse(text.as_bytes()).is_ok(), "{crypto}");
        }
    }

    #[test]
    fn only_plain_rtp_avp_accepted() {
        let e = neg("m=audio 4000 RTP/SAVP 0\r\n").unwrap_err();
        assert_eq!(e, SdpError::UnsupportedTransport("RTP/SAVP".into()));
        assert_eq!(e.status_code(), 488);
        // An SRTP line followed by a plain one (best-effort SRTP): the plain one is taken.
        let n = neg("m=audio 4000 RTP/SAVP 0\r\nm=audio 4002 RTP/AVP 0\r\n").unwrap();
        assert_eq!(n.remote_rtp.unwrap().port(), 4002);
        assert_eq!(
            n.m_lines,
            vec![MLine::Rejected("audio 0 RTP/SAVP 0".into()), MLine::Audio]
        );
    }

    #[test]
    fn other_media_rejected_in_order() {
        let n = neg(
            "m=video 4002 RTP/AVP 96 97\r\na=rtpmap:96 H264/90000\r\nm=audio 4000 RTP/AVP 0\r\n\
             m=application 4004 UDP/DTLS/SCTP webrtc-datachannel\r\nm=audio 4006 RTP/AVP 8\r\n",
        )
        .unwrap();
        assert_eq!(n.remote_rtp.unwrap().port(), 4000);
        let a = answer(&n, &local());
        let m: Vec<&str> = a.lines().filter(|l| l.starts_with("m=")).collect();
        assert_eq!(
            m,
            [
                "m=video 0 RTP/AVP 96 97",
                "m=audio 5000 RTP/AVP 0",
                "m=application 0 UDP/DTLS/SCTP 0",
                "m=audio 0 RTP/AVP 8"
            ]
        );
        let back = parse(a.as_bytes()).unwrap();
        assert_eq!(back.media_descriptions.len(), 4);
        assert_eq!(back.media_descriptions[0].media.port, 0);
    }

    #[test]
    fn hold_with_sendonly() {
        let n = neg("m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n").unwrap();
        assert_eq!(n.direction, Direction::RecvOnly);
        assert!(n.remote_rtp.is_some());
        assert!(answer(&n, &local()).contains("a=recvonly\r\n"));
        // Session-level attribute applies to the media.
        let n = neg_with(&sdp("a=sendonly\r\n", "m=audio 4000 RTP/AVP 0\r\n"), &PREF).unwrap();
        assert_eq!(n.direction, Direction::RecvOnly);
        let n = neg("m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n").unwrap();
        assert_eq!(n.direction, Direction::SendOnly);
        assert!(n.direction.sends() && !n.direction.receives());
    }

    #[test]
    fn hold_with_inactive() {
        let n = neg("m=audio 4000 RTP/AVP 0\r\na=inactive\r\n").unwrap();
        assert_eq!(n.direction, Direction::Inactive);
        assert!(answer(&n, &local()).contains("a=inactive\r\n"));
        let n = neg_with(&sdp("a=inactive\r\n", "m=audio 4000 RTP/AVP 0\r\n"), &PREF).unwrap();
        assert_eq!(n.direction, Direction::Inactive);
    }

    #[test]
    fn hold_with_zero_connection_address() {
        let n = neg("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n").unwrap();
        assert_eq!((n.remote_rtp, n.direction), (None, Direction::RecvOnly));
        let n = neg("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=recvonly\r\n").unwrap();
        assert_eq!(n.direction, Direction::Inactive);
        // A media-level c= wins over the session one.
        let text = sdp("", "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.20\r\n")
            .replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0");
        let n = neg_with(&text, &PREF).unwrap();
        assert_eq!(n.remote_rtp, Some("192.0.2.20:4000".parse().unwrap()));
    }

    #[test]
    fn garbage_is_parse_error() {
        for body in [
            &b"hello world"[..],
            b"",
            b"\xff\xfe\x00",
            b"v=0\r\nm=audio x RTP/AVP 0\r\n",
        ] {
            let e = parse(body).unwrap_err();
            assert!(matches!(e, SdpError::Parse(_)), "{e:?}");
            assert_eq!(e.status_code(), 400);
        }
        let no_c = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
        assert!(matches!(neg_with(no_c, &PREF), Err(SdpError::Parse(_))));
        let host = neg("m=audio 4000 RTP/AVP 0\r\nc=IN IP4 pbx.example\r\n").unwrap_err();
        assert_eq!(host, SdpError::HostnameAddress("pbx.example".into()));
    }

    #[test]
    fn answer_parses_back_with_same_crate() {
        let n =
            neg("m=audio 4000 RTP/AVP 9 0 101\r\na=rtpmap:101 telephone-event/8000\r\n").unwrap();
        let a = answer(&n, &local());
        assert!(
            a.split_inclusive('\n').all(|l| l.ends_with("\r\n")),
            "{a:?}"
        );
        let back = parse(a.as_bytes()).unwrap();
        assert_eq!(back.origin.username, "dialbridge");
        assert_eq!(back.origin.session_id, "42");
        let again = negotiate(&back, &PREF).unwrap();
        assert_eq!(
            (again.codec, again.payload_type, again.telephone_event_pt),
            (G722, 9, Some(101))
        );
        assert_eq!(again.remote_rtp, Some("198.51.100.1:5000".parse().unwrap()));
    }

    #[test]
    fn ipv6_offer_and_answer() {
        let text = "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n\
                    m=audio 4000 RTP/AVP 8\r\n";
        let n = neg_with(text, &PREF).unwrap();
        assert_eq!(n.remote_rtp, Some("[2001:db8::1]:4000".parse().unwrap()));
        let l = LocalMedia {
            ip: Ipv6Addr::LOCALHOST.into(),
            ..local()
        };
        let a = answer(&n, &l);
        assert!(
            a.contains("o=dialbridge 42 1 IN IP6 ::1\r\n") && a.contains("c=IN IP6 ::1\r\n"),
            "{a}"
        );
        let back = negotiate(&parse(a.as_bytes()).unwrap(), &PREF).unwrap();
        assert_eq!(back.remote_rtp, Some("[::1]:5000".parse().unwrap()));
        let n = neg_with(&text.replace("2001:db8::1\r\nt", "::\r\nt"), &PREF).unwrap();
        assert_eq!(n.remote_rtp, None);
    }

    #[test]
    fn ptime_read_from_offer() {
        assert_eq!(
            neg("m=audio 4000 RTP/AVP 0\r\na=ptime:30\r\n")
                .unwrap()
                .ptime_ms,
            30
        );
        assert_eq!(
            neg("m=audio 4000 RTP/AVP 0\r\na=ptime:40.0\r\n")
                .unwrap()
                .ptime_ms,
            40
        );
        assert_eq!(
            neg("m=audio 4000 RTP/AVP 0\r\na=ptime:9999\r\n")
                .unwrap()
                .ptime_ms,
            20
        );
        assert_eq!(
            neg("m=audio 4000 RTP/AVP 0\r\na=ptime:x\r\n")
                .unwrap()
                .ptime_ms,
            20
        );
        let n = neg_with(&sdp("a=ptime:30\r\n", "m=audio 4000 RTP/AVP 0\r\n"), &PREF).unwrap();
        assert_eq!(n.ptime_ms, 30);
    }

    #[test]
    fn our_offer_lists_preferences_and_dtmf() {
        let o = offer(&[PCMA, G722, PCMA], &local());
        assert!(o.contains("m=audio 5000 RTP/AVP 8 9 101\r\n"), "{o}");
        assert!(
            o.contains("a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n"),
            "{o}"
        );
        let n = negotiate(&parse(o.as_bytes()).unwrap(), &PREF).unwrap();
        assert_eq!(
            (n.codec, n.telephone_event_pt, n.direction),
            (G722, Some(101), Direction::SendRecv)
        );
        assert!(offer(&[], &local()).contains("m=audio 5000 RTP/AVP 9 8 0 101\r\n"));
    }

    #[test]
    fn answer_without_m_lines_still_has_audio() {
        let mut n = neg("m=audio 4000 RTP/AVP 0\r\n").unwrap();
        n.m_lines.clear();
        assert_eq!(answer(&n, &local()).matches("m=audio 5000").count(), 1);
    }

    /// Mutated and truncated offers must give an error or an answer, never a panic.
    #[test]
    fn mutated_offers_never_panic() {
        let base = sdp(
            "a=sendonly\r\n",
            "m=audio 4000 RTP/AVP 9 8 0 101\r\nc=IN IP4 192.0.2.9\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-15\r\na=ptime:20\r\nm=video 4002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
        )
        .into_bytes();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let mut body = base.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % body.len();
                body[i] = b" :/=0123456789\r\nabcmIP4\xc3\xff"[(next() as usize) % 21];
            }
            body.truncate((next() as usize) % (body.len() + 1));
            if let Ok(parsed) = parse(&body)
                && let Ok(n) = negotiate(&parsed, &PREF)
            {
                assert!(answer(&n, &local()).starts_with("v=0\r\n"));
            }
        }
    }
}
