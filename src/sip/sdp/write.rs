//! Writing SDP text (CRLF line ends): the answer to a negotiated offer, keeping the offer's
//! m-lines in order, and our own offer for an INVITE that came without SDP.

use std::fmt::Write as _;

use sdp_types::TaggedAddress;

use super::types::{
    Direction, LocalMedia, MLine, Negotiated, PTIME_MS, TELEPHONE_EVENT_PT, TELEPHONE_EVENTS,
};
use crate::media::codec::Codec;
use crate::sip::sdes::SrtpAgreement;

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
