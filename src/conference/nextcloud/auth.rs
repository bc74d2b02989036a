//! The HMAC-SHA256 signatures spreed-signaling and Nextcloud Talk use: the internal client's
//! hello token, the backend checksum over `random + body`, and the Talk SIP-bridge checksum
//! over `random + room token`. Lowercase hex throughout, compared in constant time. Public so
//! that a stand-in Nextcloud (the tests') signs the same way.

use ring::hmac;

/// A fresh random string for one signature (64 hex digits, as spreed-signaling sends).
pub fn random() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

/// `hex(HMAC-SHA256(secret, message))`.
pub fn sign(secret: &str, message: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hex(hmac::sign(&key, message).as_ref())
}

/// The token of an internal client's hello: `hex(HMAC(internal secret, random))`.
pub fn internal_token(secret: &str, random: &str) -> String {
    sign(secret, random.as_bytes())
}

/// The checksum of a backend request or reply: `hex(HMAC(backend secret, random + body))`.
pub fn backend_checksum(secret: &str, random: &str, body: &[u8]) -> String {
    let mut message = random.as_bytes().to_vec();
    message.extend_from_slice(body);
    sign(secret, &message)
}

/// Whether `checksum` is the backend checksum of `random + body` (constant time).
pub fn backend_checksum_ok(secret: &str, random: &str, body: &[u8], checksum: &str) -> bool {
    let expected = backend_checksum(secret, random, body);
    expected.len() == checksum.len()
        && expected
            .bytes()
            .zip(checksum.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backend_checksum_covers_random_and_body() {
        let sum = backend_checksum("s", "r1", b"{}");
        assert_eq!(sum, sign("s", b"r1{}"));
        assert!(backend_checksum_ok("s", "r1", b"{}", &sum));
        assert!(!backend_checksum_ok("s", "r2", b"{}", &sum));
        assert!(!backend_checksum_ok("other", "r1", b"{}", &sum));
        assert!(!backend_checksum_ok("s", "r1", b"{}", "short"));
    }

    #[test]
    fn randoms_are_64_hex_digits_and_differ() {
        let (a, b) = (random(), random());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert_eq!(internal_token("k", &a), sign("k", a.as_bytes()));
    }
}
