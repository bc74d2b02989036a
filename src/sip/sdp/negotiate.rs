//! Choosing from an offer (or from the answer to our own offer): the audio stream, codec,
//! payload types, remote address, direction, ptime and SRTP keys, as a [`Negotiated`]; or the
//! [`SdpError`] that says why nothing is usable.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use sdp_types::{
    Direction as SdpDirection, MediaDescription, MediaType, RtpMap, SessionDescription,
    TaggedAddress, TransportProtocol,
};

use super::types::{CRYPTO_ATTRIBUTE, Direction, MLine, Negotiated, PTIME_MS, SdpError, Security};
use crate::media::codec::Codec;
use crate::sip::sdes::{self, LocalKeyMaterial, SrtpPolicy};

/// Picks the audio stream and codec from an offer (or from the answer to our own [`super::offer`]),
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
