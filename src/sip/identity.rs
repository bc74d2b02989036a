//! Caller identity for display: the name and number the conference sees for a phone caller.
//!
//! The inputs are header values from the network, so every function here is total: any text
//! gives a result, bounded in length, with control and bidi-override characters removed (they
//! could make a name render as something else in the host page). Numbers can be masked, so
//! hosts see where a caller is from ("+49 30 ••• 89") without the full number.

/// The mask shown in place of hidden digits.
const MASK: &str = "•••";
/// Longest display name kept, in characters.
const MAX_NAME_CHARS: usize = 64;
/// Longest number kept, in characters (E.164 has at most 15 digits; room for separators).
const MAX_NUMBER_CHARS: usize = 32;
/// Names and user parts that mean "no identity" (compared case-insensitively).
const ANONYMOUS: [&str; 6] = [
    "anonymous",
    "unknown",
    "restricted",
    "private",
    "unavailable",
    "withheld",
];

/// Who is calling, as far as the SIP headers tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerId {
    pub display_name: Option<String>,
    /// The user part of the caller's URI (`+4930123489`); may be a name for SIP URIs (`alice`).
    pub number: Option<String>,
}

/// Reads the caller from the From header value and, when present, P-Asserted-Identity.
///
/// The asserted identity (set by the provider, RFC 3325) wins over From for the number; its
/// display name wins too, else From's is kept. The caller must pass `None` for PAI when the
/// request carries `Privacy: id`, so a withheld number is not shown.
pub fn caller_id(from: &str, p_asserted_identity: Option<&str>) -> CallerId {
    let from_id = parse_name_addr(from);
    let asserted = p_asserted_identity.and_then(|pai| {
        split_list(pai)
            .into_iter()
            .map(parse_name_addr)
            .find(|id| id.number.is_some())
    });
    match asserted {
        Some(pai) => CallerId {
            display_name: pai.display_name.or(from_id.display_name),
            number: pai.number,
        },
        None => from_id,
    }
}

impl CallerId {
    /// The text shown to the conference: "Alice (+49 30 ••• 89)", "+49 30 ••• 89", "Alice" or
    /// "Anonymous". A display name that is itself a number (three digits or more) is left out
    /// when masking, or it would show what the mask hides.
    pub fn display(&self, mask: bool, visible_tail: usize) -> String {
        let show = |n: &str| {
            if mask {
                mask_number(n, visible_tail)
            } else {
                n.to_string()
            }
        };
        let mut name = self.display_name.as_deref();
        if let Some(n) = name {
            let name_digits = digits(n);
            let same_as_number = self.number.as_deref().is_some_and(|num| {
                num.eq_ignore_ascii_case(n)
                    || (!name_digits.is_empty() && digits(num) == name_digits)
            });
            if (mask && name_digits.len() >= 3) || same_as_number {
                name = None;
                if self.number.is_none() {
                    return show(n);
                }
            }
        }
        match (name, self.number.as_deref()) {
            (Some(name), Some(number)) => format!("{name} ({})", show(number)),
            (Some(name), None) => name.to_string(),
            (None, Some(number)) => show(number),
            (None, None) => "Anonymous".to_string(),
        }
    }
}

/// Masks a phone number for display: "+493012345689" → "+49 30 ••• 89".
///
/// International numbers (`+` or `00`) keep the country code and two area digits (three for
/// +1); national ones keep three leading digits, numbers under six digits none. The last
/// `visible_tail` digits stay visible, but at least half of the digits after the country code
/// are always hidden. Everything but ASCII digits (and a leading `+`) is dropped.
pub fn mask_number(number: &str, visible_tail: usize) -> String {
    let trimmed = number.trim_start();
    let mut all = digits(trimmed);
    let mut international = trimmed.starts_with('+');
    if !international && all.starts_with("00") {
        international = true;
        all.drain(..2);
    }
    if all.is_empty() {
        return MASK.to_string();
    }
    if international {
        let (cc, national) = all.split_at(country_code_len(&all));
        let head = if cc == "1" { 3 } else { 2 };
        format!("+{cc} {}", mask_digits(national, head, visible_tail))
    } else {
        let head = if all.len() < 6 { 0 } else { 3 };
        mask_digits(&all, head, visible_tail)
    }
}

/// `head` leading digits, the mask, `tail` trailing digits; both shrink (tail last) so that
/// at least half of `d` stays hidden. `d` is ASCII digits only.
fn mask_digits(d: &str, head: usize, tail: usize) -> String {
    let visible = d.len() / 2;
    let tail = tail.min(visible);
    let head = head.min(visible - tail);
    let mut out = String::new();
    if head > 0 {
        out.push_str(&d[..head]);
        out.push(' ');
    }
    out.push_str(MASK);
    if tail > 0 {
        out.push(' ');
        out.push_str(&d[d.len() - tail..]);
    }
    out
}

/// Length of the ITU country code at the start of `d` (digits without `+`): an approximation
/// of the E.164 table by its first two digits, good enough to decide what to show.
fn country_code_len(d: &str) -> usize {
    let b = d.as_bytes();
    let len = match (b.first().copied(), b.get(1).copied()) {
        (Some(b'1' | b'7'), _) => 1,
        (Some(b'0') | None, _) => 0,
        (Some(b'2'), Some(b'0' | b'7')) => 2,
        (Some(b'3'), Some(b'0'..=b'4' | b'6' | b'9')) => 2,
        (Some(b'4'), Some(second)) if second != b'2' => 2,
        (Some(b'5'), Some(b'1'..=b'8')) => 2,
        (Some(b'6'), Some(b'0'..=b'6')) => 2,
        (Some(b'8'), Some(b'1' | b'2' | b'4' | b'6')) => 2,
        (Some(b'9'), Some(b'0'..=b'5' | b'8')) => 2,
        _ => 3,
    };
    len.min(d.len())
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Splits a header value at commas outside quotes and angle brackets (PAI may hold a sip: and
/// a tel: URI).
fn split_list(value: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quoted, mut escaped, mut angle) =
        (Vec::new(), 0, false, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

/// Parses `"Name" <uri>;params`, `Name <uri>` or a bare `uri;params`, tolerating a missing
/// `>` or closing quote.
fn parse_name_addr(value: &str) -> CallerId {
    let value = value.trim();
    let (name, rest) = match value.strip_prefix('"').and_then(quoted_string) {
        Some((name, rest)) => (Some(name), rest),
        None => {
            let unquoted = value.strip_prefix('"').unwrap_or(value);
            match unquoted.find('<') {
                Some(lt) => (Some(unquoted[..lt].to_string()), &unquoted[lt..]),
                None if unquoted.len() != value.len() => (None, ""),
                None => (None, unquoted),
            }
        }
    };
    let uri = match rest.find('<') {
        // '<' is ASCII, so lt + 1 is a char boundary.
        Some(lt) => rest[lt + 1..].split('>').next().unwrap_or_default(),
        // addr-spec form: everything after ';' is header parameters (tag=…).
        None => rest.split(';').next().unwrap_or_default(),
    };
    CallerId {
        display_name: name.and_then(|n| clean(&n, MAX_NAME_CHARS)),
        number: user_part(uri).and_then(|u| clean(&u, MAX_NUMBER_CHARS)),
    }
}

/// Reads a quoted string after its opening quote: the unescaped content and what follows the
/// closing quote. `None` when it is not closed.
fn quoted_string(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => out.extend(chars.next().map(|(_, c)| c)),
            c => out.push(c),
        }
    }
    None
}

/// The user part of a sip:, sips: or tel: URI, without parameters or password, %-decoded.
fn user_part(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.trim().split_once(':')?;
    let user = if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        rest.split_once('@')?.0.split([':', ';']).next()?
    } else if scheme.eq_ignore_ascii_case("tel") {
        rest.split(';').next()?
    } else {
        return None;
    };
    Some(percent_decode(user))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex
            .filter(|_| b[i] == b'%')
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Drops control and bidi-override characters, trims, caps the length; `None` when nothing
/// (or only an "anonymous" word) is left.
fn clean(s: &str, max_chars: usize) -> Option<String> {
    let bidi = |c: char| matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let kept: String = s.chars().filter(|&c| !c.is_control() && !bidi(c)).collect();
    let kept: String = kept.trim().chars().take(max_chars).collect();
    let kept = kept.trim_end();
    let anonymous = ANONYMOUS.iter().any(|a| a.eq_ignore_ascii_case(kept));
    (!kept.is_empty() && !anonymous).then(|| kept.to_string())
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
