//! SIP INFO bodies: [`parse_info_body`] reads the digit of an `application/dtmf-relay` or
//! `application/dtmf` body, and answers an error (never a panic) for anything else.

use super::types::{DtmfError, EVENT_DIGITS, event_digit};

/// Parses a SIP INFO body: `application/dtmf-relay` (`Signal=5\r\nDuration=160`) or
/// `application/dtmf` (`5`).
pub fn parse_info_body(content_type: &str, body: &[u8]) -> Result<char, DtmfError> {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    let text = || std::str::from_utf8(body).map_err(|_| DtmfError::NoDigit);
    if mime.eq_ignore_ascii_case("application/dtmf-relay") {
        text()?
            .lines()
            .filter_map(|line| line.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("signal"))
            .ok_or(DtmfError::NoDigit)
            .and_then(|(_, value)| signal_digit(value))
    } else if mime.eq_ignore_ascii_case("application/dtmf") {
        signal_digit(text()?)
    } else {
        Err(DtmfError::UnsupportedContentType(content_type.to_owned()))
    }
}

/// A signal value: a key (`5`, `*`, `a`) or an RFC 4733 event code (`10` for `*`).
fn signal_digit(value: &str) -> Result<char, DtmfError> {
    let value = value.trim();
    let mut chars = value.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        let c = c.to_ascii_uppercase();
        if EVENT_DIGITS.contains(&c) {
            return Ok(c);
        }
    }
    value
        .parse::<u8>()
        .ok()
        .and_then(event_digit)
        .ok_or(DtmfError::NoDigit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_bodies() {
        let relay = "application/dtmf-relay";
        assert_eq!(parse_info_body(relay, b"Signal=5\r\nDuration=160"), Ok('5'));
        assert_eq!(
            parse_info_body(relay, b"Duration=100\n  signal = #  \n"),
            Ok('#')
        );
        assert_eq!(parse_info_body(relay, b"SIGNAL=10\r\n"), Ok('*'));
        assert_eq!(parse_info_body(relay, b"Signal=11"), Ok('#'));
        assert_eq!(parse_info_body(relay, b"Signal=b"), Ok('B'));
        assert_eq!(parse_info_body(relay, b"Signal=0"), Ok('0'));
        let with_params = " Application/DTMF-Relay ; charset=utf-8";
        assert_eq!(parse_info_body(with_params, b"Signal=*"), Ok('*'));
        assert_eq!(parse_info_body("application/dtmf", b"5"), Ok('5'));
        assert_eq!(parse_info_body("APPLICATION/DTMF", b" 11\r\n"), Ok('#'));
    }

    #[test]
    fn info_garbage_is_an_error() {
        let relay = "application/dtmf-relay";
        for body in [
            &b""[..],
            b"Signal=",
            b"Signal=99",
            b"Signal=55",
            b"Signal=E",
            b"Duration=160",
            b"Signal",
            b"Sig=5",
            b"\xff\xfe=5",
            b"Signal=\xff",
        ] {
            assert_eq!(
                parse_info_body(relay, body),
                Err(DtmfError::NoDigit),
                "{body:?}"
            );
        }
        assert_eq!(
            parse_info_body("application/dtmf", b"12345"),
            Err(DtmfError::NoDigit)
        );
        assert_eq!(
            parse_info_body("text/plain", b"\xff"),
            Err(DtmfError::UnsupportedContentType("text/plain".into()))
        );
        // Pseudo-random bytes: errors or digits, never a panic.
        let mut x = 0x1234_5678_u32;
        for len in 0..300 {
            let body: Vec<u8> = (0..len % 40)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 24) as u8
                })
                .collect();
            let _ = parse_info_body(relay, &body);
            let _ = parse_info_body("application/dtmf", &body);
        }
    }
}
