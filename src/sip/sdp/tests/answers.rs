//! The SDP text we write: exact answers, round trips, our own offer, and fuzzed input.

use super::*;
use std::net::Ipv6Addr;

#[test]
fn exact_answer_text() {
    let n = neg("m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n").unwrap();
    assert_eq!(
        answer(&n, &local()),
        "v=0\r\no=dialbridge 42 1 IN IP4 198.51.100.1\r\ns=dialbridge\r\n\
         c=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 8 101\r\n\
         a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
         a=ptime:20\r\na=sendrecv\r\n"
    );
}

#[test]
fn answer_parses_back_with_same_crate() {
    let n = neg("m=audio 4000 RTP/AVP 9 0 101\r\na=rtpmap:101 telephone-event/8000\r\n").unwrap();
    let a = answer(&n, &local());
    assert!(
        a.split_inclusive('\n').all(|l| l.ends_with("\r\n")),
        "{a:?}"
    );
    let back = parse(a.as_bytes()).unwrap();
    assert_eq!(back.origin.username, "dialbridge");
    assert_eq!(back.origin.session_id, "42");
    let again = negotiate(&back, &PREF).unwrap();
    assert_eq!(
        (again.codec, again.payload_type, again.telephone_event_pt),
        (G722, 9, Some(101))
    );
    assert_eq!(again.remote_rtp, Some("198.51.100.1:5000".parse().unwrap()));
}

#[test]
fn ipv6_offer_and_answer() {
    let text = "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n\
                m=audio 4000 RTP/AVP 8\r\n";
    let n = neg_with(text, &PREF).unwrap();
    assert_eq!(n.remote_rtp, Some("[2001:db8::1]:4000".parse().unwrap()));
    let l = LocalMedia {
        ip: Ipv6Addr::LOCALHOST.into(),
        ..local()
    };
    let a = answer(&n, &l);
    assert!(
        a.contains("o=dialbridge 42 1 IN IP6 ::1\r\n") && a.contains("c=IN IP6 ::1\r\n"),
        "{a}"
    );
    let back = negotiate(&parse(a.as_bytes()).unwrap(), &PREF).unwrap();
    assert_eq!(back.remote_rtp, Some("[::1]:5000".parse().unwrap()));
    let n = neg_with(&text.replace("2001:db8::1\r\nt", "::\r\nt"), &PREF).unwrap();
    assert_eq!(n.remote_rtp, None);
}

#[test]
fn our_offer_lists_preferences_and_dtmf() {
    let o = offer(&[PCMA, G722, PCMA], &local());
    assert!(o.contains("m=audio 5000 RTP/AVP 8 9 101\r\n"), "{o}");
    assert!(
        o.contains("a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n"),
        "{o}"
    );
    let n = negotiate(&parse(o.as_bytes()).unwrap(), &PREF).unwrap();
    assert_eq!(
        (n.codec, n.telephone_event_pt, n.direction),
        (G722, Some(101), Direction::SendRecv)
    );
    assert!(offer(&[], &local()).contains("m=audio 5000 RTP/AVP 9 8 0 101\r\n"));
}

#[test]
fn answer_without_m_lines_still_has_audio() {
    let mut n = neg("m=audio 4000 RTP/AVP 0\r\n").unwrap();
    n.m_lines.clear();
    assert_eq!(answer(&n, &local()).matches("m=audio 5000").count(), 1);
}

/// Mutated and truncated offers must give an error or an answer, never a panic.
#[test]
fn mutated_offers_never_panic() {
    let base = sdp(
        "a=sendonly\r\n",
        "m=audio 4000 RTP/AVP 9 8 0 101\r\nc=IN IP4 192.0.2.9\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-15\r\na=ptime:20\r\nm=video 4002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
    )
    .into_bytes();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut body = base.clone();
        for _ in 0..(next() % 4 + 1) {
            let i = (next() as usize) % body.len();
            body[i] = b" :/=0123456789\r\nabcmIP4\xc3\xff"[(next() as usize) % 21];
        }
        body.truncate((next() as usize) % (body.len() + 1));
        if let Ok(parsed) = parse(&body)
            && let Ok(n) = negotiate(&parsed, &PREF)
        {
            assert!(answer(&n, &local()).starts_with("v=0\r\n"));
        }
    }
}
