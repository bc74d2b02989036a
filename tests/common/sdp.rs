//! Just enough SDP reading to check the bridge's answer: the audio address, the payload types
//! of the `m=audio` line and their `a=rtpmap`/`a=fmtp` lines.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, PartialEq)]
pub struct AudioSdp {
    /// Connection address (media-level `c=` over session-level) and the `m=audio` port.
    pub addr: SocketAddr,
    /// Payload types in `m=` order.
    pub payload_types: Vec<u8>,
    /// `a=rtpmap` values, e.g. 101 -> "telephone-event/8000".
    pub rtpmap: BTreeMap<u8, String>,
    pub fmtp: BTreeMap<u8, String>,
    /// The whole text, for messages.
    pub text: String,
}

impl AudioSdp {
    pub fn parse(text: &str) -> Result<AudioSdp, String> {
        let mut session_ip: Option<IpAddr> = None;
        let mut media_ip: Option<IpAddr> = None;
        let mut port = None;
        let mut payload_types = Vec::new();
        let mut rtpmap = BTreeMap::new();
        let mut fmtp = BTreeMap::new();
        let mut in_audio = false;
        for line in text.lines().map(str::trim) {
            if let Some(c) = line.strip_prefix("c=") {
                let ip = c
                    .split_whitespace()
                    .nth(2)
                    .and_then(|a| a.split('/').next()?.parse().ok());
                if in_audio {
                    media_ip = ip
                } else if port.is_none() {
                    session_ip = ip
                }
            } else if let Some(m) = line.strip_prefix("m=") {
                let mut f = m.split_whitespace();
                in_audio = f.next() == Some("audio") && port.is_none();
                if in_audio {
                    port = f.next().and_then(|p| p.parse::<u16>().ok());
                    let _proto = f.next();
                    payload_types = f.filter_map(|p| p.parse().ok()).collect();
                }
            } else if in_audio && let Some(a) = line.strip_prefix("a=") {
                let (key, value) = a.split_once(':').unwrap_or((a, ""));
                let (pt, rest) = value.split_once(' ').unwrap_or((value, ""));
                if let Ok(pt) = pt.parse::<u8>() {
                    match key {
                        "rtpmap" => drop(rtpmap.insert(pt, rest.trim().to_string())),
                        "fmtp" => drop(fmtp.insert(pt, rest.trim().to_string())),
                        _ => {}
                    }
                }
            }
        }
        let port = port.ok_or_else(|| format!("no m=audio line with a port in {text:?}"))?;
        let ip = media_ip
            .or(session_ip)
            .ok_or_else(|| format!("no c= address in {text:?}"))?;
        Ok(AudioSdp {
            addr: SocketAddr::new(ip, port),
            payload_types,
            rtpmap,
            fmtp,
            text: text.to_string(),
        })
    }

    /// The payload type whose rtpmap encoding name is `name` (case-insensitive), or a static
    /// type listed without rtpmap (0 PCMU, 8 PCMA, 9 G722).
    pub fn payload_type_of(&self, name: &str) -> Option<u8> {
        self.payload_types
            .iter()
            .copied()
            .find(|pt| match self.rtpmap.get(pt) {
                Some(map) => map
                    .split('/')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name)),
                None => matches!(
                    (pt, name.to_ascii_uppercase().as_str()),
                    (0, "PCMU") | (8, "PCMA") | (9, "G722")
                ),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_answer() {
        let sdp = AudioSdp::parse(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n",
        )
        .unwrap();
        assert_eq!(sdp.addr, "127.0.0.1:40000".parse().unwrap());
        assert_eq!(sdp.payload_types, vec![0, 101]);
        assert_eq!(sdp.payload_type_of("telephone-event"), Some(101));
        assert_eq!(sdp.payload_type_of("pcmu"), Some(0));
        assert_eq!(sdp.fmtp[&101], "0-16");
    }

    #[test]
    fn static_types_without_rtpmap_and_media_level_c() {
        let sdp =
            AudioSdp::parse("v=0\nc=IN IP4 10.0.0.1\nm=audio 5004 RTP/AVP 9\nc=IN IP4 127.0.0.2\n")
                .unwrap();
        assert_eq!(sdp.addr, "127.0.0.2:5004".parse().unwrap());
        assert_eq!(sdp.payload_type_of("G722"), Some(9));
        assert!(AudioSdp::parse("v=0\r\n").is_err());
    }
}
