//! Reading an SDP body from the network into the SDP crate's types, never panicking: invalid
//! UTF-8 and parser errors become [`SdpError::Parse`], `a=crypto` lines are kept for
//! [`crate::sip::sdes`], and unreadable attributes of streams we decline are ignored.

use bytesstr::BytesStr;
use sdp_types::SessionDescription;

use super::types::{CRYPTO_ATTRIBUTE, SdpError};

/// Longest parser message we keep: it quotes the input, which comes from the network.
const MAX_ERROR_CHARS: usize = 200;

/// Parses an SDP body. Never panics: invalid UTF-8 and parser errors become [`SdpError::Parse`].
pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| SdpError::Parse(format!("body is not UTF-8: {e}")))?;
    let renamed;
    let text = if text.contains("a=crypto") {
        renamed = with_crypto_renamed(text);
        renamed.as_str()
    } else {
        text
    };
    SessionDescription::parse(&BytesStr::from(text))
        .or_else(|e| {
            // We decline every stream but audio: an attribute we cannot read there (RFC 4475
            // esc01: `a=rtpmap:31 LPC` under m=video) must not cost the call.
            let lenient = without_foreign_attributes(text);
            SessionDescription::parse(&BytesStr::from(lenient.as_str())).map_err(|_| e)
        })
        .map_err(|e| {
            let msg: String = e.to_string().chars().take(MAX_ERROR_CHARS).collect();
            SdpError::Parse(msg)
        })
}

/// `text` with every `a=crypto` line renamed to [`CRYPTO_ATTRIBUTE`].
fn with_crypto_renamed(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("a=crypto") {
            Some(rest) if rest.is_empty() || rest.starts_with([':', '\r', '\n']) => {
                out.push_str("a=");
                out.push_str(CRYPTO_ATTRIBUTE);
                out.push_str(rest);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// `text` without the `a=` lines of media sections other than audio.
fn without_foreign_attributes(text: &str) -> String {
    let mut foreign = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if line.starts_with("m=") {
            foreign = !line.starts_with("m=audio ");
        } else if foreign && line.starts_with("a=") {
            continue;
        }
        out.push_str(line);
    }
    out
}
