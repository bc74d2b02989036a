//! Inbound digest authentication (RFC 2617/3261, MD5) for trunks that want callers to prove a
//! shared secret. Pure: the nonce is stateless (timestamp + keyed hash), so nothing is stored
//! per challenge and a flood of unauthenticated INVITEs costs no memory.

use md5::{Digest, Md5};
use std::collections::HashMap;

/// How long a nonce stays valid, in seconds.
const NONCE_LIFETIME_S: u64 = 300;

fn md5_hex(input: &str) -> String {
    let digest = Md5::digest(input.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies `Authorization: Digest ...` headers against one user name and password.
#[derive(Clone)]
pub struct DigestVerifier {
    realm: String,
    username: String,
    password: String,
    /// Keys the nonces, so they cannot be forged; random per process.
    secret: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// No or wrong credentials: answer 401 with a fresh challenge.
    Challenge,
    /// Right credentials but an expired nonce: challenge with `stale=true`.
    Stale,
}

impl DigestVerifier {
    pub fn new(realm: &str, username: &str, password: &str) -> Self {
        Self {
            realm: realm.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            secret: format!("{:032x}", rand::random::<u128>()),
        }
    }

    /// The `WWW-Authenticate` value for a new challenge at unix time `now_s`.
    pub fn challenge(&self, now_s: u64, stale: bool) -> String {
        let nonce = self.nonce(now_s);
        let stale = if stale { ", stale=true" } else { "" };
        format!(
            "Digest realm=\"{}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"{stale}",
            self.realm
        )
    }

    fn nonce(&self, issued_s: u64) -> String {
        let tag = md5_hex(&format!("{issued_s}:{}", self.secret));
        format!("{issued_s:x}.{tag}")
    }

    fn nonce_issued(&self, nonce: &str) -> Option<u64> {
        let (issued, _) = nonce.split_once('.')?;
        let issued = u64::from_str_radix(issued, 16).ok()?;
        (self.nonce(issued) == nonce).then_some(issued)
    }

    /// Checks an `Authorization` header value for a request with `method`, at unix time `now_s`.
    pub fn verify(&self, authorization: Option<&str>, method: &str, now_s: u64) -> Verdict {
        let Some(params) = authorization.and_then(parse_digest) else {
            return Verdict::Challenge;
        };
        let get = |k: &str| params.get(k).map(String::as_str);
        let (Some(user), Some(nonce), Some(uri), Some(response)) =
            (get("username"), get("nonce"), get("uri"), get("response"))
        else {
            return Verdict::Challenge;
        };
        if user != self.username || get("realm") != Some(self.realm.as_str()) {
            return Verdict::Challenge;
        }
        let Some(issued) = self.nonce_issued(nonce) else {
            return Verdict::Challenge;
        };
        let ha1 = md5_hex(&format!("{user}:{}:{}", self.realm, self.password));
        let ha2 = md5_hex(&format!("{method}:{uri}"));
        let expected = match (get("qop"), get("nc"), get("cnonce")) {
            (Some(qop), Some(nc), Some(cnonce)) if qop.eq_ignore_ascii_case("auth") => {
                md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
            }
            (None, _, _) => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
            _ => return Verdict::Challenge,
        };
        if !expected.eq_ignore_ascii_case(response) {
            return Verdict::Challenge;
        }
        if now_s.saturating_sub(issued) > NONCE_LIFETIME_S || issued > now_s + 5 {
            return Verdict::Stale;
        }
        Verdict::Ok
    }
}

/// Parses `Digest k=v, k="v", ...` into lower-case keys. `None` if it is not a Digest header.
fn parse_digest(value: &str) -> Option<HashMap<String, String>> {
    let rest = value.trim();
    let (scheme, mut rest) = rest.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut params = HashMap::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return Some(params);
        }
        let (key, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (val, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        params.insert(key.trim().to_ascii_lowercase(), val.to_owned());
        rest = remaining;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(v: &DigestVerifier, challenge: &str, password: &str, qop: bool) -> String {
        let nonce = parse_digest(challenge).unwrap()["nonce"].clone();
        let ha1 = md5_hex(&format!("trunk:{}:{password}", v.realm));
        let ha2 = md5_hex("INVITE:sip:1234@127.0.0.1");
        if qop {
            let resp = md5_hex(&format!("{ha1}:{nonce}:00000001:abc:auth:{ha2}"));
            format!(
                "Digest username=\"trunk\", realm=\"{}\", nonce=\"{nonce}\", uri=\"sip:1234@127.0.0.1\", response=\"{resp}\", qop=auth, nc=00000001, cnonce=\"abc\"",
                v.realm
            )
        } else {
            let resp = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
            format!(
                "Digest username=\"trunk\",realm=\"{}\",nonce=\"{nonce}\",uri=\"sip:1234@127.0.0.1\",response=\"{resp}\"",
                v.realm
            )
        }
    }

    #[test]
    fn accepts_right_password_with_and_without_qop() {
        let v = DigestVerifier::new("dialbridge", "trunk", "s3cret");
        let ch = v.challenge(1000, false);
        assert_eq!(
            v.verify(Some(&answer(&v, &ch, "s3cret", true)), "INVITE", 1010),
            Verdict::Ok
        );
        assert_eq!(
            v.verify(Some(&answer(&v, &ch, "s3cret", false)), "INVITE", 1010),
            Verdict::Ok
        );
    }

    #[test]
    fn rejects_wrong_password_missing_header_and_garbage() {
        let v = DigestVerifier::new("dialbridge", "trunk", "s3cret");
        let ch = v.challenge(1000, false);
        assert_eq!(
            v.verify(Some(&answer(&v, &ch, "nope", true)), "INVITE", 1010),
            Verdict::Challenge
        );
        assert_eq!(v.verify(None, "INVITE", 1010), Verdict::Challenge);
        for junk in [
            "",
            "Basic abc",
            "Digest",
            "Digest username=\"trunk",
            "Digest =,=,",
        ] {
            assert_eq!(
                v.verify(Some(junk), "INVITE", 1010),
                Verdict::Challenge,
                "{junk}"
            );
        }
    }

    #[test]
    fn forged_or_expired_nonce() {
        let v = DigestVerifier::new("dialbridge", "trunk", "s3cret");
        let other = DigestVerifier::new("dialbridge", "trunk", "s3cret");
        let forged = answer(&v, &other.challenge(1000, false), "s3cret", true);
        assert_eq!(v.verify(Some(&forged), "INVITE", 1010), Verdict::Challenge);
        let old = answer(&v, &v.challenge(1000, false), "s3cret", true);
        assert_eq!(
            v.verify(Some(&old), "INVITE", 1000 + NONCE_LIFETIME_S + 1),
            Verdict::Stale
        );
    }
}
