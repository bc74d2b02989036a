//! SDP text ⇄ webrtcbin's `GstWebRTCSessionDescription`, and the one fact we read from a remote
//! offer ourselves (its Opus payload type).

use gstreamer_sdp::SDPMessage;
use gstreamer_webrtc::{WebRTCSDPType, WebRTCSessionDescription};

use crate::sdp_kind::SdpKind;

/// Builds what webrtcbin's `set-remote-description` takes. Rejects text that is not an SDP
/// (our check: it must start with `v=0`; libgstsdp itself accepts nearly anything).
pub fn parse(sdp_type: SdpKind, sdp: &str) -> Result<WebRTCSessionDescription, String> {
    if !sdp.trim_start().starts_with("v=0") {
        return Err("not an SDP (does not start with v=0)".into());
    }
    let message = SDPMessage::parse_buffer(sdp.as_bytes())
        .map_err(|e| format!("libgstsdp could not parse the SDP: {e}"))?;
    let kind = match sdp_type {
        SdpKind::Offer => WebRTCSDPType::Offer,
        SdpKind::Answer => WebRTCSDPType::Answer,
    };
    Ok(WebRTCSessionDescription::new(kind, message))
}

/// The type and text of a description webrtcbin created (pranswer/rollback: `None`).
pub fn text(description: &WebRTCSessionDescription) -> Option<(SdpKind, String)> {
    let sdp_type = match description.type_() {
        WebRTCSDPType::Offer => SdpKind::Offer,
        WebRTCSDPType::Answer => SdpKind::Answer,
        _ => return None,
    };
    Some((sdp_type, description.sdp().as_text().ok()?))
}

/// The payload type of Opus in the first audio section of `sdp`, if it offers Opus. Our send
/// side must use the offerer's payload type, or webrtcbin silently makes the m-line recvonly.
pub fn opus_payload_type(sdp: &str) -> Option<u8> {
    let mut in_audio = false;
    for line in sdp.lines().map(str::trim) {
        if let Some(media) = line.strip_prefix("m=") {
            if in_audio {
                return None;
            }
            in_audio = media.starts_with("audio ");
        } else if in_audio && let Some(map) = line.strip_prefix("a=rtpmap:") {
            let (pt, encoding) = map.split_once(' ')?;
            if encoding.to_ascii_lowercase().starts_with("opus/48000") {
                return pt.parse().ok();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 OPUS/48000/2\r\n";

    #[test]
    fn round_trips_through_the_webrtc_type() {
        gstreamer::init().expect("GStreamer is installed on the build machine");
        let description = parse(SdpKind::Answer, SDP).unwrap();
        let (sdp_type, text) = text(&description).unwrap();
        assert_eq!(sdp_type, SdpKind::Answer);
        assert!(text.contains("a=rtpmap:111 OPUS/48000/2"), "{text}");
    }

    #[test]
    fn finds_opus_payload_type_in_the_audio_section() {
        assert_eq!(opus_payload_type(SDP), Some(111));
        let firefox = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 109 9\r\na=rtpmap:9 G722/8000\r\n\
            a=rtpmap:109 opus/48000/2\r\nm=video 9 UDP/TLS/RTP/SAVPF 120\r\n";
        assert_eq!(opus_payload_type(firefox), Some(109));
        let video_only = "v=0\r\nm=video 9 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\n";
        assert_eq!(opus_payload_type(video_only), None);
        assert_eq!(
            opus_payload_type("m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"),
            None
        );
        assert_eq!(
            opus_payload_type("m=audio 9 RTP/AVP 1\r\na=rtpmap:x opus/48000\r\n"),
            None
        );
    }

    #[test]
    fn rejects_non_sdp() {
        gstreamer::init().expect("GStreamer is installed on the build machine");
        assert!(parse(SdpKind::Offer, "hello").is_err());
    }
}
