//! An SDP body as a caller's INVITE (or the answer to our offer) carries it: parse, negotiate
//! against several codec preference lists, then write the answer and an offer. Our own answer
//! must parse again: a peer would otherwise get SDP it cannot read.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dialbridge::media::codec::Codec;
use dialbridge::sip::sdp::{self, LocalMedia};
use libfuzzer_sys::fuzz_target;

const PREFERENCES: [&[Codec]; 4] = [
    &[Codec::G722, Codec::PCMA, Codec::PCMU],
    &[Codec::PCMU],
    &[Codec::PCMA, Codec::G722],
    &[],
];

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = sdp::parse(data) else {
        return;
    };
    let locals = [
        LocalMedia {
            ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            port: 40_000,
            session_id: 7,
            session_version: 1,
        },
        LocalMedia {
            ip: IpAddr::V6(Ipv6Addr::LOCALHOST),
            port: 65_535,
            session_id: u64::MAX,
            session_version: u64::MAX,
        },
    ];
    for (i, preference) in PREFERENCES.iter().enumerate() {
        let local = &locals[i % locals.len()];
        match sdp::negotiate(&offer, preference) {
            Ok(n) => {
                let answer = sdp::answer(&n, local);
                if let Err(e) = sdp::parse(answer.as_bytes()) {
                    panic!("our answer does not parse ({e}):\n{answer}");
                }
            }
            Err(e) => {
                let _ = (e.status_code(), e.to_string());
            }
        }
        let _ = sdp::offer(preference, local);
    }
});
