//! One UDP datagram (or one framed TCP message) through the path the bridge runs on it: ezk's
//! transport parse, the base headers and transaction key the endpoint derives, dialbridge's
//! request screen, the typed headers the stack and the bridge read, and the body parsers
//! (SDP for INVITE/ACK, DTMF for INFO). Any panic here is a remote crash of the bridge.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use dialbridge::ivr::dtmf::parse_info_body;
use dialbridge::media::codec::Codec;
use dialbridge::sip::digest::DigestVerifier;
use dialbridge::sip::identity::caller_id;
use dialbridge::sip::screen::check_request;
use dialbridge::sip::sdp::{self, LocalMedia};
use ezk_sip_core::BaseHeaders;
use ezk_sip_core::transaction::TsxKey;
use ezk_sip_core::transport::parse::{CompleteItem, parse_complete};
use ezk_sip_types::header::typed::{
    AuthChallenge, AuthResponse, Contact, ContentType, Event, Expires, MaxForwards, MinExpires,
    MinSe, RAck, Require, Routing, SessionExpires, SubscriptionState, Supported,
};
use ezk_sip_types::msg::MessageLine;
use ezk_sip_types::{Headers, Method, Name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(CompleteItem::Sip {
        line,
        headers,
        body,
        ..
    }) = parse_complete(data)
    else {
        return;
    };
    typed_headers(&headers);
    let _ = format!("{line:?}");

    // The endpoint drops what has no base headers or transaction key before any layer sees it.
    let Ok(base) = BaseHeaders::extract_from(&headers) else {
        return;
    };
    let _ = TsxKey::from_message_parts(&line, &base).map(|key| key.to_string());
    let MessageLine::Request(request) = line else {
        return;
    };
    if check_request(&request, &base, &headers, &body).is_err() {
        return;
    }

    let raw = |name: &Name| headers.get_raw(name).next().map(|v| v.to_string());
    let from = raw(&Name::FROM).unwrap_or_default();
    let _ = raw(&Name::custom("Privacy", &["privacy"]));
    let pai = raw(&Name::custom(
        "P-Asserted-Identity",
        &["p-asserted-identity"],
    ));
    let _ = caller_id(&from, pai.as_deref()).display(true, 2);
    let verifier = DigestVerifier::new("dialbridge", "trunk", "s3cret");
    let _ = verifier.verify(raw(&Name::AUTHORIZATION).as_deref(), "INVITE", 1_000);

    let content_type = headers
        .get_named::<ContentType>()
        .map(|ct| ct.0.to_string())
        .unwrap_or_default();
    match request.method {
        Method::INVITE | Method::ACK
            if content_type
                .to_ascii_lowercase()
                .starts_with("application/sdp") =>
        {
            sdp_body(&body)
        }
        Method::INFO => {
            let _ = parse_info_body(&content_type, &body);
        }
        _ => {}
    }
});

/// Every typed header the ezk stack or the bridge decodes from a message; a malformed value
/// must be an `Err`, never a panic.
fn typed_headers(headers: &Headers) {
    let _ = headers.get_named::<ContentType>();
    let _ = headers.get_named::<MaxForwards>();
    let _ = headers.get_named::<Contact>();
    let _ = headers.get_named::<Vec<Contact>>();
    let _ = headers.get::<Vec<Routing>>(Name::RECORD_ROUTE);
    let _ = headers.get::<Vec<Routing>>(Name::ROUTE);
    let _ = headers.get_named::<Vec<Supported>>();
    let _ = headers.get_named::<Vec<Require>>();
    let _ = headers.get_named::<SessionExpires>();
    let _ = headers.get_named::<MinSe>();
    let _ = headers.get_named::<RAck>();
    let _ = headers.get_named::<Expires>();
    let _ = headers.get_named::<MinExpires>();
    let _ = headers.get::<Event>(Name::EVENT);
    let _ = headers.get_named::<SubscriptionState>();
    let _ = headers.get::<Vec<AuthResponse>>(Name::AUTHORIZATION);
    let _ = headers.get::<Vec<AuthChallenge>>(Name::WWW_AUTHENTICATE);
    let _ = headers.get::<Vec<AuthChallenge>>(Name::PROXY_AUTHENTICATE);
}

/// What the call actor does with an SDP offer: negotiate, and answer when it can.
fn sdp_body(body: &[u8]) {
    let Ok(offer) = sdp::parse(body) else {
        return;
    };
    if let Ok(n) = sdp::negotiate(&offer, &Codec::ALL) {
        let local = LocalMedia {
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            port: 40_000,
            session_id: 1,
            session_version: 2,
        };
        let answer = sdp::answer(&n, &local);
        assert!(
            sdp::parse(answer.as_bytes()).is_ok(),
            "our answer must parse: {answer}"
        );
    }
}
