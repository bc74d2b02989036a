//! RTCP receiver reports (RFC 3550 §6.4), sans-IO: what the phone says about the audio we send
//! it. [`report_blocks`] reads the report blocks of a compound SR/RR packet; never panics.

/// One report block: the far end's view of one of our streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    /// The SSRC of the stream reported on (ours).
    pub ssrc: u32,
    /// Packets lost since the start (RFC 3550: may be negative with duplicates).
    pub cumulative_lost: i32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
}

const SR: u8 = 200;
const RR: u8 = 201;

/// The report blocks in a compound RTCP packet (SR and RR parts; other parts are skipped). Stops
/// at the first malformed part, keeping what came before it.
pub fn report_blocks(packet: &[u8]) -> Vec<ReportBlock> {
    let mut blocks = Vec::new();
    let mut rest = packet;
    while rest.len() >= 8 {
        if rest[0] >> 6 != 2 {
            break;
        }
        let count = usize::from(rest[0] & 0x1f);
        let pt = rest[1];
        let len = 4 * (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1);
        let Some(part) = rest.get(..len) else { break };
        let first = match pt {
            SR => 28,
            RR => 8,
            _ => {
                rest = &rest[len..];
                continue;
            }
        };
        for i in 0..count {
            let Some(b) = part.get(first + 24 * i..first + 24 * (i + 1)) else {
                return blocks;
            };
            let word = |at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
            // 24-bit two's complement, sign-extended.
            let lost = (i32::from_be_bytes([b[5], b[6], b[7], 0])) >> 8;
            blocks.push(ReportBlock {
                ssrc: word(0),
                cumulative_lost: lost,
                highest_seq: word(8),
                jitter: word(12),
            });
        }
        rest = &rest[len..];
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ssrc: u32, lost: i32, jitter: u32) -> Vec<u8> {
        let mut b = ssrc.to_be_bytes().to_vec();
        b.push(25); // fraction lost
        b.extend_from_slice(&lost.to_be_bytes()[1..]);
        b.extend_from_slice(&1234u32.to_be_bytes());
        b.extend_from_slice(&jitter.to_be_bytes());
        b.extend_from_slice(&[0; 8]); // LSR, DLSR
        b
    }

    fn part(pt: u8, count: u8, body: &[u8]) -> Vec<u8> {
        let words = (4 + body.len()) / 4 - 1;
        let mut p = vec![0x80 | count, pt];
        p.extend_from_slice(&(words as u16).to_be_bytes());
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn reads_rr_and_sr_blocks_and_skips_sdes() {
        let mut rr = 7u32.to_be_bytes().to_vec();
        rr.extend(block(0xabcd, 12, 80));
        let mut sr = 7u32.to_be_bytes().to_vec();
        sr.extend_from_slice(&[0; 20]);
        sr.extend(block(0x1111, -1, 3));
        let sdes = part(202, 1, &[0, 0, 0, 7, 1, 2, b'h', b'i', 0, 0, 0, 0]);
        let mut compound = part(RR, 1, &rr);
        compound.extend(sdes);
        compound.extend(part(SR, 1, &sr));
        let blocks = report_blocks(&compound);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].ssrc, 0xabcd);
        assert_eq!(blocks[0].cumulative_lost, 12);
        assert_eq!(blocks[0].jitter, 80);
        assert_eq!(blocks[0].highest_seq, 1234);
        assert_eq!(blocks[1].cumulative_lost, -1);
    }

    #[test]
    fn garbage_gives_what_parsed_and_never_panics() {
        let mut rr = 7u32.to_be_bytes().to_vec();
        rr.extend(block(1, 2, 3));
        let good = part(RR, 1, &rr);
        for len in 0..good.len() {
            let _ = report_blocks(&good[..len]);
        }
        // A count larger than the blocks present.
        let mut lying = good.clone();
        lying[0] = 0x80 | 5;
        assert_eq!(report_blocks(&lying).len(), 1);
        assert!(report_blocks(&[0x40, 201, 0, 1, 0, 0, 0, 0]).is_empty());
        for first in 0..=255u8 {
            let mut p = good.clone();
            p[0] = first;
            let _ = report_blocks(&p);
        }
    }
}
