//! Unit tests of SDP offer/answer: shared offer builders here, one file per concern.

mod answers;
mod offers;
mod srtp;

use super::*;
use crate::media::codec::Codec;
use crate::sip::sdes::{LocalKeyMaterial, SrtpPolicy};
use Codec::{G722, PCMA, PCMU};

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

fn local() -> LocalMedia {
    LocalMedia {
        ip: "198.51.100.1".parse().unwrap(),
        port: 5000,
        session_id: 42,
        session_version: 1,
    }
}
