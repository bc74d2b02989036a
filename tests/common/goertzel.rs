//! The one tone generator and Goertzel detector of the tests: sines (one or several frequencies
//! summed), RMS, a Goertzel filter normalised to a matching sine's amplitude, a tone's share of
//! the signal, and the dominant frequency. (`spectrum` adds an FFT view on top.)

/// Amplitude of the test tones (about -12 dBFS).
pub const AMPLITUDE: f64 = 8000.0;

/// Samples `start..start + len` of a sine at `freq` Hz and [`AMPLITUDE`], sampled at `rate`.
pub fn sine(freq: f64, rate: u32, start: usize, len: usize) -> Vec<i16> {
    tones(&[freq], AMPLITUDE, rate, start, len)
}

/// Samples `start..start + len` of the sum of sines at `freqs` (Hz), each of `amplitude`.
pub fn tones(freqs: &[f64], amplitude: f64, rate: u32, start: usize, len: usize) -> Vec<i16> {
    (start..start + len)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let v: f64 = freqs
                .iter()
                .map(|f| (2.0 * std::f64::consts::PI * f * t).sin())
                .sum();
            (amplitude * v) as i16
        })
        .collect()
}

pub fn rms(pcm: &[i16]) -> f64 {
    let sum: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / pcm.len().max(1) as f64).sqrt()
}

/// Goertzel: the power of `freq` in `pcm`, normalised to the amplitude of a matching sine
/// (our full tone reads about [`AMPLITUDE`]).
pub fn power(pcm: &[i16], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * p.max(0.0).sqrt() / pcm.len().max(1) as f64
}

/// The share of `freq` in the power of `pcm`: about 1 for a pure tone of that frequency.
pub fn share(pcm: &[i16], rate: u32, freq: f64) -> f64 {
    let ratio = power(pcm, rate, freq) / (std::f64::consts::SQRT_2 * rms(pcm).max(1e-9));
    ratio * ratio
}

/// The strongest frequency between 100 Hz and 3400 Hz (5 Hz steps).
pub fn dominant_frequency(pcm: &[i16], rate: u32) -> f64 {
    (20..=680)
        .map(|k| f64::from(k) * 5.0)
        .map(|f| (f, power(pcm, rate, f)))
        .fold((0.0, -1.0), |best, x| if x.1 > best.1 { x } else { best })
        .0
}
