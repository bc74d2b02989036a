//! What ezk's parser lets through but RFC 3261 calls a bad request, as a pure check on the parts
//! of a request (the entry layer calls it on every request outside a dialog; `fuzz/` runs it
//! behind ezk's own datagram parse). Each reason is a label of
//! `dialbridge_sip_malformed_total`.

use ezk_sip_core::BaseHeaders;
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
    /// A response nobody asked for (no transaction matches it).
    OrphanResponse,
}

impl Malformed {
    pub const ALL: [Malformed; 5] = [
        Malformed::Unparsable,
        Malformed::BaseHeaders,
        Malformed::CseqMethod,
        Malformed::ContentLength,
        Malformed::OrphanResponse,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Malformed::Unparsable => "unparsable",
            Malformed::BaseHeaders => "base_headers",
            Malformed::CseqMethod => "cseq_method",
            Malformed::ContentLength => "content_length",
            Malformed::OrphanResponse => "orphan_response",
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
            Malformed::OrphanResponse => "SIP response that matches no transaction",
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
    if let Some(length) = headers.get_raw(&Name::CONTENT_LENGTH).next() {
        match length.trim().parse::<usize>() {
            Ok(n) if n == body.len() => {}
            _ => return Err(Malformed::ContentLength),
        }
    }
    Ok(())
}
