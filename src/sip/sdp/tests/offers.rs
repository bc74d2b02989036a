//! Choosing codec, payload types, address, direction and ptime from an offer; bad offers.

use super::*;

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
    let n = neg("m=audio 4000 RTP/AVP 9 0 8\r\na=rtpmap:9 G722/16000\r\na=rtpmap:0 foo/8000\r\n");
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
