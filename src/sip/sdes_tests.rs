use super::*;

const KEY30: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

fn material() -> LocalKeyMaterial {
    LocalKeyMaterial::from_bytes([7u8; 30])
}

#[test]
fn reads_rfc_4568_example() {
    let o = parse_crypto(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^48")).unwrap();
    assert_eq!((o.tag, o.suite), (1, SrtpSuite::AesCm128HmacSha1_80));
    assert_eq!(o.key.expose().len(), 30);
    let o = parse_crypto(&format!("12 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}")).unwrap();
    assert_eq!((o.tag, o.suite), (12, SrtpSuite::AesCm128HmacSha1_32));
}

#[test]
fn gcm_key_is_28_bytes() {
    let key28 = STANDARD.encode([1u8; 28]);
    let o = parse_crypto(&format!("3 AEAD_AES_128_GCM inline:{key28}")).unwrap();
    assert_eq!(o.suite, SrtpSuite::AeadAes128Gcm);
    assert_eq!(
        parse_crypto(&format!("3 AEAD_AES_128_GCM inline:{KEY30}")),
        Err(SdesError::KeyLength { got: 30, want: 28 })
    );
}

#[test]
fn refuses_what_we_do_not_support() {
    let cases = [
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^20|1:4"),
            SdesError::Mki,
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|1:4"),
            SdesError::Mki,
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^20"),
            SdesError::Lifetime,
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^48|1:4;inline:{KEY30}|2:4"),
            SdesError::Mki,
        ),
        (
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30} KDR=1"),
            SdesError::SessionParams,
        ),
        (
            format!("1 F8_128_HMAC_SHA1_80 inline:{KEY30}"),
            SdesError::UnknownSuite("F8_128_HMAC_SHA1_80".into()),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(parse_crypto(&line), Err(want), "{line}");
    }
    for bad in [
        "",
        "x AES_CM_128_HMAC_SHA1_80 inline:AAAA",
        "1",
        "1 AES_CM_128_HMAC_SHA1_80",
        "1 AES_CM_128_HMAC_SHA1_80 uri:x",
        "1 AES_CM_128_HMAC_SHA1_80 inline:!!!",
        "1234567890 AES_CM_128_HMAC_SHA1_80 inline:AAAA",
    ] {
        assert!(
            matches!(parse_crypto(bad), Err(SdesError::Malformed(_))),
            "{bad:?}: {:?}",
            parse_crypto(bad)
        );
    }
    assert!(matches!(
        parse_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA"),
        Err(SdesError::KeyLength { got: 3, want: 30 })
    ));
}

#[test]
fn chooses_by_our_preference_and_keeps_the_tag() {
    let key28 = STANDARD.encode([1u8; 28]);
    let lines = [
        format!("1 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}"),
        "2 NULL_CIPHER inline:x".to_string(),
        format!("3 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}"),
        format!("4 AEAD_AES_128_GCM inline:{key28}"),
    ];
    let a = choose(lines.iter().map(String::as_str), &material()).unwrap();
    assert_eq!((a.tag, a.suite), (4, SrtpSuite::AeadAes128Gcm));
    assert_eq!(a.local_key.expose(), &[7u8; 28]);
    let a = choose(lines[..3].iter().map(String::as_str), &material()).unwrap();
    assert_eq!((a.tag, a.suite), (3, SrtpSuite::AesCm128HmacSha1_80));
    assert_eq!(a.local_key.expose(), &[7u8; 30]);
    assert_eq!(
        a.answer_line(),
        format!(
            "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{}",
            STANDARD.encode([7u8; 30])
        )
    );
    assert_ne!(a.local_key, a.remote_key, "our key is our own");
}

#[test]
fn nothing_usable_says_why() {
    assert_eq!(
        choose(["1 F8_128_HMAC_SHA1_80 inline:AAAA"], &material()),
        Err(SdesError::UnknownSuite("F8_128_HMAC_SHA1_80".into()))
    );
    assert!(matches!(
        choose([], &material()),
        Err(SdesError::Malformed(_))
    ));
}

#[test]
fn keys_are_redacted_in_debug_and_display() {
    let a = choose(
        [format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}").as_str()],
        &material(),
    )
    .unwrap();
    let shown = format!("{a:?} {} {:?}", a.remote_key, material());
    assert!(shown.contains("redacted"), "{shown}");
    assert!(!shown.contains(KEY30) && !shown.contains("7, 7"), "{shown}");
    assert!(!shown.contains('['), "raw bytes printed: {shown}");
    let e = parse_crypto(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^20"))
        .unwrap_err()
        .to_string();
    assert!(!e.contains(KEY30), "{e}");
}

#[test]
fn keys_in_quoted_messages_are_redacted() {
    let line =
        format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^48\\r\\na=x inline:{KEY30}");
    let clean = redact_keys(&line);
    assert_eq!(
        clean,
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<redacted>|2^48\\r\\na=x inline:<redacted>"
    );
    assert!(matches!(
        redact_keys("INVITE sip:1@x"),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn random_material_differs() {
    let a = LocalKeyMaterial::random().unwrap();
    let b = LocalKeyMaterial::random().unwrap();
    assert_ne!(a, b);
}
