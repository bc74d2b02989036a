//! SRTP by SDES: which of a plain and a secure offer the policy takes, and our own key.

use super::*;
use crate::sip::sdes;

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
