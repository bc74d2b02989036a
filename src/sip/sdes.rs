//! SDES key exchange for SRTP (RFC 4568), as pure functions: read the offer's `a=crypto`
//! lines, pick the suite, write the answer's one line with a key of our own.
//!
//! The key material lives in [`SrtpKey`], whose `Debug` and `Display` print only its length:
//! keys never reach a log line, whatever the level. Our own key is not drawn here (no I/O):
//! the caller hands in [`LocalKeyMaterial`], made once per call with [`LocalKeyMaterial::random`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The SRTP policy of a route, a trunk or the whole bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// Plain RTP only: an offer with only RTP/SAVP audio is refused (488).
    Off,
    /// RTP/SAVP offers are answered with SRTP, RTP/AVP offers with plain RTP.
    #[default]
    Optional,
    /// SRTP only: an offer without usable RTP/SAVP audio is refused (488).
    Required,
}

impl SrtpPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SrtpPolicy::Off => "off",
            SrtpPolicy::Optional => "optional",
            SrtpPolicy::Required => "required",
        }
    }
}

/// The crypto suites we speak, in our order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpSuite {
    /// AES-128 in GCM mode (RFC 7714): encryption and a 16-byte tag in one.
    AeadAes128Gcm,
    /// AES-128 counter mode with an 80-bit HMAC-SHA1 tag (RFC 4568).
    AesCm128HmacSha1_80,
    /// The same with a 32-bit tag.
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// Our preference, best first.
    pub const PREFERENCE: [SrtpSuite; 3] = [
        SrtpSuite::AeadAes128Gcm,
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
    ];

    /// The name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn from_name(name: &str) -> Option<SrtpSuite> {
        Self::PREFERENCE.into_iter().find(|s| s.name() == name)
    }

    /// Master key plus master salt, in bytes: 16 + 14 for AES-CM, 16 + 12 for GCM.
    pub fn key_len(self) -> usize {
        match self {
            SrtpSuite::AeadAes128Gcm => 28,
            _ => 30,
        }
    }

    /// Bytes an SRTP packet carries after the RTP payload (the authentication tag).
    pub fn tag_len(self) -> usize {
        match self {
            SrtpSuite::AeadAes128Gcm => 16,
            SrtpSuite::AesCm128HmacSha1_80 => 10,
            SrtpSuite::AesCm128HmacSha1_32 => 4,
        }
    }
}

impl fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// SRTP master key and salt. Never printed: `Debug`/`Display` show only the length.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey(Vec<u8>);

impl SrtpKey {
    /// The raw bytes, for the SRTP library only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    fn to_base64(&self) -> String {
        STANDARD.encode(&self.0)
    }
}

impl fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SrtpKey(<{} bytes redacted>)", self.0.len())
    }
}

impl fmt::Display for SrtpKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Random bytes for our side's key, made once per call so a re-INVITE's answer keeps the key
/// (RFC 4568 §7.1.4 lets the answerer keep it). Long enough for every suite.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalKeyMaterial([u8; 30]);

impl LocalKeyMaterial {
    /// Fresh bytes from the operating system's generator.
    pub fn random() -> Result<LocalKeyMaterial, SdesError> {
        let mut bytes = [0u8; 30];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| SdesError::NoRandom)?;
        Ok(LocalKeyMaterial(bytes))
    }

    /// Fixed bytes, for tests.
    pub fn from_bytes(bytes: [u8; 30]) -> LocalKeyMaterial {
        LocalKeyMaterial(bytes)
    }

    fn key_for(&self, suite: SrtpSuite) -> SrtpKey {
        SrtpKey(self.0[..suite.key_len()].to_vec())
    }
}

impl fmt::Debug for LocalKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKeyMaterial(<redacted>)")
    }
}

/// Why an `a=crypto` line cannot be used. The text never quotes the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdesError {
    #[error("malformed a=crypto line: {0}")]
    Malformed(&'static str),
    #[error("unsupported crypto suite {0:?}")]
    UnknownSuite(String),
    #[error("a=crypto with an MKI is not supported")]
    Mki,
    #[error("a=crypto with a key lifetime other than 2^48 is not supported")]
    Lifetime,
    #[error("a=crypto with session parameters is not supported")]
    SessionParams,
    #[error("the key has {got} bytes, the suite needs {want}")]
    KeyLength { got: usize, want: usize },
    #[error("no random numbers from the operating system")]
    NoRandom,
}

/// One offered `a=crypto` line we can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoOffer {
    pub tag: u32,
    pub suite: SrtpSuite,
    /// The offerer's key: what it encrypts with, so what we decrypt with.
    pub key: SrtpKey,
}

/// Reads the value of one `a=crypto` attribute (everything after `crypto:`).
pub fn parse_crypto(value: &str) -> Result<CryptoOffer, SdesError> {
    let mut fields = value.split_ascii_whitespace();
    let tag = fields
        .next()
        .and_then(|t| t.parse::<u32>().ok())
        .filter(|t| t.to_string().len() <= 9)
        .ok_or(SdesError::Malformed(
            "the tag is not a number of up to 9 digits",
        ))?;
    let suite_name = fields
        .next()
        .ok_or(SdesError::Malformed("no crypto suite"))?;
    let suite = SrtpSuite::from_name(suite_name)
        .ok_or_else(|| SdesError::UnknownSuite(suite_name.chars().take(40).collect()))?;
    let key_params = fields
        .next()
        .ok_or(SdesError::Malformed("no key parameters"))?;
    if fields.next().is_some() {
        return Err(SdesError::SessionParams);
    }
    if key_params.contains(';') {
        // Several keys (each with an MKI) in one line.
        return Err(SdesError::Mki);
    }
    let inline = key_params
        .strip_prefix("inline:")
        .ok_or(SdesError::Malformed("the key method is not inline:"))?;
    let mut parts = inline.split('|');
    let encoded = parts.next().unwrap_or_default();
    let extras: Vec<&str> = parts.collect();
    if extras.iter().any(|p| p.contains(':')) {
        return Err(SdesError::Mki);
    }
    if !extras.iter().all(|p| lifetime_is_default(p)) {
        return Err(SdesError::Lifetime);
    }
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| SdesError::Malformed("the key is not base64"))?;
    if bytes.len() != suite.key_len() {
        return Err(SdesError::KeyLength {
            got: bytes.len(),
            want: suite.key_len(),
        });
    }
    Ok(CryptoOffer {
        tag,
        suite,
        key: SrtpKey(bytes),
    })
}

/// A lifetime of `2^48` (the default and the maximum for these suites) or its decimal value.
fn lifetime_is_default(text: &str) -> bool {
    text == "2^48" || text == "281474976710656"
}

/// What both sides use for SRTP once an offer is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpAgreement {
    pub tag: u32,
    pub suite: SrtpSuite,
    /// Decrypts what the caller sends.
    pub remote_key: SrtpKey,
    /// Encrypts what we send; announced in our answer.
    pub local_key: SrtpKey,
}

impl SrtpAgreement {
    /// Our answer's attribute line, without CRLF.
    pub fn answer_line(&self) -> String {
        format!(
            "a=crypto:{} {} inline:{}",
            self.tag,
            self.suite,
            self.local_key.to_base64()
        )
    }
}

/// Picks the best line we support from the values of a stream's `a=crypto` attributes, by our
/// preference (then offer order). Lines we cannot read are skipped; when none is usable the
/// error of the first line says why.
pub fn choose<'a>(
    values: impl IntoIterator<Item = &'a str>,
    local: &LocalKeyMaterial,
) -> Result<SrtpAgreement, SdesError> {
    let mut first_error = None;
    let mut usable = Vec::new();
    for value in values {
        match parse_crypto(value) {
            Ok(offer) => usable.push(offer),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let best = SrtpSuite::PREFERENCE
        .iter()
        .find_map(|&suite| usable.iter().find(|o| o.suite == suite));
    match best {
        Some(offer) => Ok(SrtpAgreement {
            tag: offer.tag,
            suite: offer.suite,
            remote_key: offer.key.clone(),
            local_key: local.key_for(offer.suite),
        }),
        None => Err(first_error.unwrap_or(SdesError::Malformed("no a=crypto line"))),
    }
}

/// `text` with every SDES key (what follows `inline:`) replaced by `<redacted>`; for log lines
/// that quote SIP messages (ezk prints whole messages at trace level).
pub fn redact_keys(text: &str) -> std::borrow::Cow<'_, str> {
    const MARK: &str = "inline:";
    if !text.contains(MARK) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(MARK) {
        out.push_str(&rest[..i + MARK.len()]);
        out.push_str("<redacted>");
        rest = &rest[i + MARK.len()..];
        let key_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
            .unwrap_or(rest.len());
        rest = &rest[key_end..];
    }
    out.push_str(rest);
    out.into()
}

#[cfg(test)]
#[path = "sdes_tests.rs"]
mod tests;
