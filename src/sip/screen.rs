//! What ezk's parser lets through but RFC 3261 calls a bad request, as a pure check on the parts
//! of a request (the entry layer calls it on every request outside a dialog; `fuzz/` runs it
//! behind ezk's own datagram parse). Each reason is a label of
//! `dialbridge_sip_malformed_total`.

use ezk_sip_core::{BaseHeaders, IncomingRequest};
use ezk_sip_types::header::typed::ContentType;
use ezk_sip_types::msg::RequestLine;
use ezk_sip_types::{Headers, Name};

/// Why a message was refused or dropped as malformed. The label set is closed so the metric
/// cannot grow with what attackers send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Malformed {
    /// The transport could not parse it at all (start line, header syntax, UTF-8, body length).
    Unparsable,
    /// Via, From, To, Call-ID or CSeq missing or unreadable: there is nowhere to send an answer.
    BaseHeaders,
    /// CSeq's method differs from the request line's.
    CseqMethod,
    /// Content-Length is not a number or does not match the body.
    ContentLength,
    /// A header that may appear once appears more often (RFC 4475 multi01).
    DuplicateHeader,
    /// A Via list with elements that do not parse (ezk skips them silently; RFC 4475 badinv01).
    Via,
    /// A response nobody asked for (no transaction matches it).
    OrphanResponse,
    /// A TLS connection whose handshake failed or did not finish in time.
    TlsHandshake,
}

impl Malformed {
    pub const ALL: [Malformed; 8] = [
        Malformed::Unparsable,
        Malformed::BaseHeaders,
        Malformed::CseqMethod,
        Malformed::ContentLength,
        Malformed::DuplicateHeader,
        Malformed::Via,
        Malformed::OrphanResponse,
        Malformed::TlsHandshake,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Malformed::Unparsable => "unparsable",
            Malformed::BaseHeaders => "base_headers",
            Malformed::CseqMethod => "cseq_method",
            Malformed::ContentLength => "content_length",
            Malformed::DuplicateHeader => "duplicate_header",
            Malformed::Via => "via",
            Malformed::OrphanResponse => "orphan_response",
            Malformed::TlsHandshake => "tls_handshake",
        }
    }

    /// A sentence for the log.
    pub fn describe(self) -> &'static str {
        match self {
            Malformed::Unparsable => "SIP message the parser cannot read",
            Malformed::BaseHeaders => {
                "SIP message without a readable Via, From, To, Call-ID or CSeq"
            }
            Malformed::CseqMethod => "CSeq method differs from the request method",
            Malformed::ContentLength => "Content-Length is not a number or differs from the body",
            Malformed::DuplicateHeader => "a header that may appear once appears more often",
            Malformed::Via => "a Via list with elements that do not parse",
            Malformed::OrphanResponse => "SIP response that matches no transaction",
            Malformed::TlsHandshake => "TLS connection whose handshake failed or timed out",
        }
    }
}

/// `Err` when a request that ezk accepted is still malformed (answered 400 by the entry layer).
pub fn check_request(
    line: &RequestLine,
    base: &BaseHeaders,
    headers: &Headers,
    body: &[u8],
) -> Result<(), Malformed> {
    if base.cseq.method != line.method {
        return Err(Malformed::CseqMethod);
    }
    for name in [
        Name::CALL_ID,
        Name::CSEQ,
        Name::FROM,
        Name::TO,
        Name::MAX_FORWARDS,
        Name::CONTENT_TYPE,
    ] {
        if headers.get_raw(&name).count() > 1 {
            return Err(Malformed::DuplicateHeader);
        }
    }
    let via_elements: usize = headers
        .get_raw(&Name::VIA)
        .map(|value| value.split(',').count())
        .sum();
    if via_elements != base.via.len() {
        return Err(Malformed::Via);
    }
    // Every Content-Length (a message may carry several, RFC 4475 mcl01) must match the body.
    for length in headers.get_raw(&Name::CONTENT_LENGTH) {
        match length.trim().parse::<usize>() {
            Ok(n) if n == body.len() => {}
            _ => return Err(Malformed::ContentLength),
        }
    }
    Ok(())
}

/// The option tags of `Require` headers that we do not support (RFC 3261 8.2.2.3: answer 420
/// with them in `Unsupported`). We support session timers (RFC 4028).
pub fn unsupported_requirements(headers: &Headers) -> Vec<String> {
    const SUPPORTED: [&str; 1] = ["timer"];
    headers
        .get_raw(&Name::REQUIRE)
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|tag| !tag.is_empty() && !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(tag)))
        .map(str::to_string)
        .collect()
}

/// Whether a request carries an SDP body (Content-Type `application/sdp`, parameters allowed).
pub fn has_sdp_body(request: &IncomingRequest) -> bool {
    !request.body.is_empty()
        && request
            .headers
            .get_named::<ContentType>()
            .is_ok_and(|ct| ct.0.to_ascii_lowercase().starts_with("application/sdp"))
}
