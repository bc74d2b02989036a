//! Randomly mutated INVITE + SDP datagrams, the kind a fuzzing scanner sends: each starts as a
//! valid INVITE (fresh Call-ID and branch) and gets one to four edits at byte, line or header
//! level. Seeded, so a failure can be replayed with the same seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;

use crate::common::sipraw::Request;

pub struct Mutator {
    rng: StdRng,
    bridge: SocketAddr,
    local: SocketAddr,
}

/// Header values worth breaking: what ezk and the bridge read.
const HEADERS: [&str; 9] = [
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Contact",
    "Content-Length",
    "Content-Type",
    "Max-Forwards",
];

impl Mutator {
    pub fn new(seed: u64, bridge: SocketAddr, local: SocketAddr) -> Mutator {
        Mutator {
            rng: StdRng::seed_from_u64(seed),
            bridge,
            local,
        }
    }

    /// The next datagram.
    pub fn next_datagram(&mut self) -> Vec<u8> {
        let rtp_port = self.rng.random_range(1024..65535);
        let mut data = Request::invite(self.bridge, self.local, "UDP", rtp_port)
            .build()
            .into_bytes();
        for _ in 0..self.rng.random_range(1..=4) {
            data = self.mutate(data);
        }
        data
    }

    fn mutate(&mut self, data: Vec<u8>) -> Vec<u8> {
        match self.rng.random_range(0..9) {
            0 => self.flip_bytes(data),
            1 => self.cut(data),
            2 => self.insert_junk(data),
            3 => self.edit_lines(data, |m, lines| {
                let i = m.rng.random_range(0..lines.len());
                lines.remove(i);
            }),
            4 => self.edit_lines(data, |m, lines| {
                let i = m.rng.random_range(0..lines.len());
                let line = lines[i].clone();
                lines.insert(i, line);
            }),
            5 => self.edit_lines(data, |m, lines| {
                let i = m.rng.random_range(0..lines.len());
                let j = m.rng.random_range(0..lines.len());
                lines.swap(i, j);
            }),
            6 => {
                let header = HEADERS[self.rng.random_range(0..HEADERS.len())];
                let junk = self.junk_text();
                self.edit_lines(data, move |_, lines| {
                    for line in lines.iter_mut() {
                        if line.starts_with(&format!("{header}:")) {
                            *line = format!("{header}: {junk}");
                        }
                    }
                })
            }
            7 => self.edit_lines(data, |m, lines| {
                // SDP lines: ports, payload types and addresses out of range or missing.
                let replacements = [
                    "m=audio 99999 RTP/AVP 0 101",
                    "m=audio 0 RTP/AVP",
                    "m=video 5004 RTP/AVP 96",
                    "c=IN IP4 999.1.1.1",
                    "c=IN IP6 ::zz",
                    "a=rtpmap:101 telephone-event/0",
                    "a=rtpmap:0 PCMU",
                    "m=audio 5004 RTP/AVP 300 -1",
                ];
                let pick = replacements[m.rng.random_range(0..replacements.len())];
                let key = &pick[..2];
                if let Some(line) = lines.iter_mut().find(|l| l.starts_with(key)) {
                    *line = pick.to_string();
                }
            }),
            _ => self.edit_lines(data, |m, lines| {
                // The start line: method, URI or version broken.
                let starts = [
                    "INVITE sip:1000@ SIP/2.0",
                    "INVITE  SIP/2.0",
                    "INVITE sip:1000@127.0.0.1 SIP/7.0",
                    "INV\u{0}ITE sip:1000@127.0.0.1 SIP/2.0",
                    "INVITE tel:+4930123 SIP/2.0",
                    "SIP/2.0 200 OK",
                ];
                lines[0] = starts[m.rng.random_range(0..starts.len())].to_string();
            }),
        }
    }

    fn flip_bytes(&mut self, mut data: Vec<u8>) -> Vec<u8> {
        for _ in 0..self.rng.random_range(1..8) {
            let i = self.rng.random_range(0..data.len());
            data[i] = self.rng.random();
        }
        data
    }

    fn cut(&mut self, mut data: Vec<u8>) -> Vec<u8> {
        let start = self.rng.random_range(0..data.len());
        let end = (start + self.rng.random_range(1..64)).min(data.len());
        data.drain(start..end);
        if data.is_empty() {
            data.push(b'\n');
        }
        data
    }

    fn insert_junk(&mut self, mut data: Vec<u8>) -> Vec<u8> {
        let at = self.rng.random_range(0..=data.len());
        let n = self.rng.random_range(1..32);
        let junk: Vec<u8> = (0..n).map(|_| self.rng.random()).collect();
        data.splice(at..at, junk);
        data
    }

    fn junk_text(&mut self) -> String {
        let alphabet = b" ;:,<>@\"=\\/*%abcZ09.\t";
        (0..self.rng.random_range(0..24))
            .map(|_| alphabet[self.rng.random_range(0..alphabet.len())] as char)
            .collect()
    }

    /// Applies `edit` to the message's lines (head and SDP); the Content-Length stays as it
    /// was, which is itself a mutation when the body changed.
    fn edit_lines(
        &mut self,
        data: Vec<u8>,
        edit: impl FnOnce(&mut Mutator, &mut Vec<String>),
    ) -> Vec<u8> {
        let text = String::from_utf8_lossy(&data).into_owned();
        let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
        if lines.is_empty() {
            return data;
        }
        edit(self, &mut lines);
        lines.join("\r\n").into_bytes()
    }
}
