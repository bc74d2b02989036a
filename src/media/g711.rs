//! G.711 (ITU-T G.711) in Rust: a 256-entry table decodes, a few shifts encode. For the phone
//! leg this replaces four GStreamer elements per direction (depayloader, decoder, converters;
//! encoder, payloader) and their buffers with a loop over 160 samples on the call's own task.

use super::codec::Codec;

/// The two companding laws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// µ-law (PCMU).
    Mu,
    /// A-law (PCMA).
    A,
}

impl Law {
    /// The law of `codec`, if it is G.711.
    pub fn of(codec: Codec) -> Option<Law> {
        match codec {
            Codec::PCMU => Some(Law::Mu),
            Codec::PCMA => Some(Law::A),
            Codec::G722 => None,
        }
    }

    /// Appends the samples of `bytes` to `pcm`.
    pub fn decode(self, bytes: &[u8], pcm: &mut Vec<i16>) {
        let table = match self {
            Law::Mu => &MU_DECODE,
            Law::A => &A_DECODE,
        };
        pcm.extend(bytes.iter().map(|&b| table[usize::from(b)]));
    }

    /// Appends the bytes of `pcm` to `bytes`.
    pub fn encode(self, pcm: &[i16], bytes: &mut Vec<u8>) {
        match self {
            Law::Mu => bytes.extend(pcm.iter().map(|&s| mu_encode(s))),
            Law::A => bytes.extend(pcm.iter().map(|&s| a_encode(s))),
        }
    }
}

static MU_DECODE: [i16; 256] = decode_table(Law::Mu);
static A_DECODE: [i16; 256] = decode_table(Law::A);

const fn decode_table(law: Law) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match law {
            Law::Mu => mu_decode(i as u8),
            Law::A => a_decode(i as u8),
        };
        i += 1;
    }
    table
}

const fn mu_decode(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let magnitude = ((((u & 0x0F) as i32) << 3) + 0x84) << exponent;
    let magnitude = magnitude - 0x84;
    (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

const fn a_decode(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = (a & 0x0F) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    // A set sign bit means a positive sample in A-law.
    (if a & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

/// µ-law encoding as in the CCITT reference (and GStreamer's `mulawenc`): bias, clip, then the
/// position of the highest bit is the segment.
fn mu_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let value = i32::from(sample);
    let sign = if value < 0 { 0x80 } else { 0 };
    let biased = value.abs().min(CLIP) + BIAS;
    let exponent = (15 - (biased as u16).leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// A-law encoding as GStreamer's `alawenc` does it: the segment is the position of the highest
/// bit above the first 256 values.
fn a_encode(sample: i16) -> u8 {
    let value = i32::from(sample);
    let (mask, magnitude) = if value >= 0 {
        (0xD5, value)
    } else {
        (0x55, (-value).min(0x7FFF))
    };
    let code = if magnitude < 256 {
        magnitude >> 4
    } else {
        let segment = 32 - ((magnitude >> 8) as u32).leading_zeros() as i32;
        (segment << 4) | ((magnitude >> (segment + 3)) & 0x0F)
    };
    (code ^ mask) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes() {
        assert_eq!(MU_DECODE[0xFF], 0);
        assert_eq!(MU_DECODE[0x00], -32124);
        assert_eq!(MU_DECODE[0x80], 32124);
        assert_eq!(A_DECODE[0xD5], 8);
        assert_eq!(A_DECODE[0x55], -8);
        assert_eq!(mu_encode(0), 0xFF);
        assert_eq!(a_encode(0), 0xD5);
        assert_eq!((mu_encode(i16::MAX), mu_encode(i16::MIN)), (0x80, 0x00));
        assert_eq!((a_encode(i16::MAX), a_encode(i16::MIN)), (0xAA, 0x2A));
    }

    #[test]
    fn every_code_survives_decode_and_encode() {
        for law in [Law::Mu, Law::A] {
            let codes: Vec<u8> = (0..=255).collect();
            let mut pcm = Vec::new();
            law.decode(&codes, &mut pcm);
            let mut again = Vec::new();
            law.encode(&pcm, &mut again);
            // µ-law has two codes for zero (0x7F and 0xFF); both decode to 0.
            let normal = |c: &u8| {
                if law == Law::Mu && *c == 0x7F {
                    0xFF
                } else {
                    *c
                }
            };
            let codes: Vec<u8> = codes.iter().map(normal).collect();
            assert_eq!(again, codes, "{law:?}");
        }
    }

    /// Runs `bytes` through `element` (caps in `caps`) and returns what comes out.
    fn through_gstreamer(element: &str, caps: &str, bytes: Vec<u8>) -> Vec<u8> {
        use gstreamer as gst;
        use gstreamer::prelude::*;
        crate::media::init().expect("GStreamer is installed on the build machine");
        let description =
            format!("appsrc name=in format=time caps={caps} ! {element} ! appsink name=out");
        let pipeline = gst::parse::launch(&description)
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let by_name = |name| pipeline.by_name(name).unwrap();
        let src = by_name("in").downcast::<gstreamer_app::AppSrc>().unwrap();
        let sink = by_name("out").downcast::<gstreamer_app::AppSink>().unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        src.push_buffer(gst::Buffer::from_mut_slice(bytes)).unwrap();
        src.end_of_stream().unwrap();
        let mut out = Vec::new();
        while let Ok(sample) = sink.pull_sample() {
            out.extend_from_slice(&sample.buffer().unwrap().map_readable().unwrap());
        }
        pipeline.set_state(gst::State::Null).unwrap();
        out
    }

    /// The Rust codec gives exactly the bytes and samples GStreamer's G.711 elements gave the
    /// phone leg before, for every input.
    #[test]
    fn same_as_gstreamer_for_every_sample_and_code() {
        let raw = "audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate=8000";
        let every_sample: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let every_code: Vec<u8> = (0..=255).collect();
        for (law, name) in [(Law::Mu, "mulaw"), (Law::A, "alaw")] {
            let pcm_bytes = every_sample.iter().flat_map(|s| s.to_le_bytes()).collect();
            let theirs = through_gstreamer(&format!("{name}enc"), raw, pcm_bytes);
            let mut ours = Vec::new();
            law.encode(&every_sample, &mut ours);
            let first = theirs.iter().zip(&ours).position(|(a, b)| a != b);
            assert!(
                theirs.len() == ours.len() && first.is_none(),
                "{name}enc differs first at sample {:?}",
                first.map(|i| (every_sample[i], theirs[i], ours[i]))
            );

            let caps = format!("audio/x-{name},rate=8000,channels=1");
            let theirs = through_gstreamer(&format!("{name}dec"), &caps, every_code.clone());
            let mut ours = Vec::new();
            law.decode(&every_code, &mut ours);
            let ours: Vec<u8> = ours.iter().flat_map(|s| s.to_le_bytes()).collect();
            assert_eq!(theirs, ours, "{name}dec differs");
        }
    }

    #[test]
    fn quantisation_error_is_within_the_step() {
        for law in [Law::Mu, Law::A] {
            for sample in (i16::MIN..=i16::MAX).step_by(7) {
                let mut bytes = Vec::new();
                law.encode(&[sample], &mut bytes);
                let mut back = Vec::new();
                law.decode(&bytes, &mut back);
                let error = (i32::from(back[0]) - i32::from(sample)).abs();
                // Steps grow with the magnitude, to 1024 in the top segment of either law.
                let bound = i32::from(sample).abs() / 16 + 300;
                assert!(error <= bound, "{law:?} {sample} -> {} ({error})", back[0]);
            }
        }
    }
}
