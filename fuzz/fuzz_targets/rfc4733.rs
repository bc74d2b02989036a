//! RFC 4733 telephone-event payloads as the phone leg hands them to the decoder: the input is
//! a sequence of packets, each a 4-byte big-endian RTP timestamp, a length byte and that many
//! payload bytes, all fed to one decoder (its duplicate and long-event state is what matters).

#![no_main]

use dialbridge::ivr::dtmf::Rfc4733Decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = Rfc4733Decoder::new();
    let mut rest = data;
    while let [t0, t1, t2, t3, len, tail @ ..] = rest {
        let timestamp = u32::from_be_bytes([*t0, *t1, *t2, *t3]);
        let (payload, next) = tail.split_at(usize::from(*len).min(tail.len()));
        if let Ok(Some(digit)) = decoder.push(timestamp, payload) {
            assert!(
                "0123456789*#ABCD".contains(digit),
                "not a DTMF key: {digit:?}"
            );
        }
        rest = next;
    }
});
