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
        let ours =
            "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJ";
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
    let n = neg("m=audio 4000 RTP/AVP 9 0 101\r\na=rtpmap:101 telephone-event/8000\r\n").unwrap();
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
