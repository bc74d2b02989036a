//! A SIP INFO body with its Content-Type: the input is the content type, a newline, then the
//! body bytes (no newline: all of it is the content type, with an empty body).

#![no_main]

use dialbridge::ivr::dtmf::parse_info_body;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    // ezk hands header values over as UTF-8 text; other bytes never reach the parser.
    let Ok(content_type) = std::str::from_utf8(head) else {
        return;
    };
    if let Ok(digit) = parse_info_body(content_type, body) {
        assert!(
            "0123456789*#ABCD".contains(digit),
            "not a DTMF key: {digit:?}"
        );
    }
});
