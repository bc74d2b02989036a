//! RTP header validation (RFC 3550 §5.1), sans-IO. Anything a phone or a stranger sends to our
//! port goes through [`parse`] before it can touch a decoder or the latched address.

/// The fixed RTP header plus the CSRC list.
pub const MIN_HEADER_LEN: usize = 12;

/// The parts of a valid RTP packet the phone leg uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Where the payload starts (after CSRCs and the header extension).
    pub payload_offset: usize,
    /// Payload length without padding.
    pub payload_len: usize,
}

impl RtpHeader {
    /// The payload of `packet`, which must be the packet this header was parsed from.
    pub fn payload<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        &packet[self.payload_offset..self.payload_offset + self.payload_len]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("packet of {0} bytes is shorter than an RTP header")]
    TooShort(usize),
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    #[error("CSRC list or header extension runs past the end of the packet")]
    Truncated,
    #[error("padding count {0} is larger than the payload")]
    BadPadding(u8),
    #[error("RTCP packet type {0} on the RTP port")]
    Rtcp(u8),
}

/// Validates `packet` as RTP and returns its header. Never panics on any input.
pub fn parse(packet: &[u8]) -> Result<RtpHeader, RtpError> {
    if packet.len() < MIN_HEADER_LEN {
        return Err(RtpError::TooShort(packet.len()));
    }
    let version = packet[0] >> 6;
    if version != 2 {
        return Err(RtpError::BadVersion(version));
    }
    // RFC 5761 §4: RTCP multiplexed on the RTP port has packet types 192..=223 in byte 1.
    if (192..=223).contains(&packet[1]) {
        return Err(RtpError::Rtcp(packet[1]));
    }
    let padding = packet[0] & 0x20 != 0;
    let extension = packet[0] & 0x10 != 0;
    let csrc_count = usize::from(packet[0] & 0x0f);
    let mut offset = MIN_HEADER_LEN + 4 * csrc_count;
    if extension {
        let ext = packet.get(offset..offset + 4).ok_or(RtpError::Truncated)?;
        offset += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    if offset > packet.len() {
        return Err(RtpError::Truncated);
    }
    let mut payload_len = packet.len() - offset;
    if padding {
        let count = packet[packet.len() - 1];
        if count == 0 || usize::from(count) > payload_len {
            return Err(RtpError::BadPadding(count));
        }
        payload_len -= usize::from(count);
    }
    Ok(RtpHeader {
        marker: packet[1] & 0x80 != 0,
        payload_type: packet[1] & 0x7f,
        sequence: u16::from_be_bytes([packet[2], packet[3]]),
        timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
        ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
        payload_offset: offset,
        payload_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(first: u8, pt: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            first, pt, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xde, 0xad, 0xbe, 0xef,
        ];
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn parses_plain_packet() {
        let p = packet(0x80, 0x80 | 101, &[1, 2, 3, 4]);
        let h = parse(&p).unwrap();
        assert!(h.marker);
        assert_eq!(h.payload_type, 101);
        assert_eq!(h.sequence, 0x1234);
        assert_eq!(h.timestamp, 320);
        assert_eq!(h.ssrc, 0xdeadbeef);
        assert_eq!(h.payload(&p), &[1, 2, 3, 4]);
    }

    #[test]
    fn skips_csrcs_extension_and_padding() {
        // 1 CSRC, extension of one word, 2 bytes of padding.
        let mut p = packet(0x80 | 0x20 | 0x10 | 1, 0, &[]);
        p.extend_from_slice(&[0, 0, 0, 7]); // CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 9, 9, 9, 9]); // extension header + 1 word
        p.extend_from_slice(&[0xaa, 0xbb, 0, 2]); // payload aa bb + 2 padding bytes
        let h = parse(&p).unwrap();
        assert_eq!(h.payload(&p), &[0xaa, 0xbb]);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert_eq!(parse(&[0x80; 5]), Err(RtpError::TooShort(5)));
        assert_eq!(parse(&packet(0x40, 0, &[1])), Err(RtpError::BadVersion(1)));
        assert_eq!(parse(&packet(0x8f, 0, &[1])), Err(RtpError::Truncated));
        assert_eq!(parse(&packet(0x90, 0, &[0, 0])), Err(RtpError::Truncated));
        assert_eq!(
            parse(&packet(0x90, 0, &[0, 0, 0, 9])),
            Err(RtpError::Truncated)
        );
        assert_eq!(
            parse(&packet(0xa0, 0, &[1, 5])),
            Err(RtpError::BadPadding(5))
        );
        assert_eq!(
            parse(&packet(0xa0, 0, &[1, 0])),
            Err(RtpError::BadPadding(0))
        );
        assert_eq!(parse(&packet(0x80, 200, &[0; 8])), Err(RtpError::Rtcp(200)));
        // Every short prefix of a valid packet and every first byte: no panic.
        let p = packet(0xb1, 0, &[0; 20]);
        for len in 0..p.len() {
            let _ = parse(&p[..len]);
        }
        for first in 0..=255u8 {
            let _ = parse(&packet(first, 0, &[0, 0, 0, 1]));
        }
    }
}
