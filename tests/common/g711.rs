//! G.711 µ-law and A-law sample conversion (ITU-T G.711), written out so the tests can decode the
//! bridge's audio without depending on the code under test.

/// µ-law byte to a 16-bit linear sample (range ±32124).
pub fn ulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    let sample = if u & 0x80 != 0 { -magnitude } else { magnitude };
    sample as i16
}

/// A-law byte to a 16-bit linear sample (range ±32256).
pub fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = i32::from(a & 0x0F);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    // In A-law a set sign bit means a positive sample.
    let sample = if a & 0x80 != 0 { magnitude } else { -magnitude };
    sample as i16
}

/// 16-bit linear sample to µ-law (used to make test signals).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    let magnitude = s.abs().min(CLIP) + BIAS;
    let mut exponent = 7;
    while exponent > 0 && magnitude & (0x80 << exponent) == 0 {
        exponent -= 1;
    }
    let mantissa = (magnitude >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// 16-bit linear sample to A-law (used to make test signals).
pub fn linear_to_alaw(s: i16) -> u8 {
    let mut x = i32::from(s) >> 3;
    let mask = if x >= 0 {
        0xd5
    } else {
        x = -x - 1;
        0x55
    };
    let seg = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff]
        .iter()
        .position(|&e| x <= e);
    let Some(seg) = seg else { return 0x7f ^ mask };
    let mant = if seg < 2 {
        (x >> 1) & 0x0f
    } else {
        (x >> seg) & 0x0f
    };
    ((seg as i32) << 4 | mant) as u8 ^ mask
}

/// The µ-law byte for digital silence.
pub const ULAW_SILENCE: u8 = 0xFF;
/// The A-law byte for (almost) digital silence: +8.
pub const ALAW_SILENCE: u8 = 0xD5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_bytes_decode_near_zero() {
        assert_eq!(ulaw_to_linear(ULAW_SILENCE), 0);
        assert_eq!(alaw_to_linear(ALAW_SILENCE), 8);
    }

    #[test]
    fn known_values() {
        // Full scale: µ-law 0x00 is the most negative, 0x80 the most positive sample.
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }

    #[test]
    fn ulaw_round_trip_is_close() {
        for s in (-32000i32..32000).step_by(97) {
            let back = i32::from(ulaw_to_linear(linear_to_ulaw(s as i16)));
            // µ-law keeps about 4 significant bits: the error grows with the level.
            assert!(
                (back - s).abs() <= (s.abs() / 16).max(4) + 4,
                "{s} -> {back}"
            );
        }
    }

    #[test]
    fn alaw_round_trip_is_close() {
        for s in (-32000i32..32000).step_by(97) {
            let back = i32::from(alaw_to_linear(linear_to_alaw(s as i16)));
            assert!((back - s).abs() <= (s.abs() / 16).max(16), "{s} -> {back}");
        }
    }
}
