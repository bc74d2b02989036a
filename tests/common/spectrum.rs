//! Where the energy of a stretch of audio is: a Hann-windowed FFT (radix 2, written out so the
//! tests need no DSP crate), the dominant frequency with parabolic interpolation, the level near
//! given frequencies and the median level as the noise floor.

use std::f64::consts::PI;

#[derive(Debug, Clone)]
pub struct Spectrum {
    pub rate: u32,
    /// Power in dB per bin, bins 0..=n/2.
    pub db: Vec<f64>,
    pub bin_hz: f64,
    /// RMS of the input (16-bit scale).
    pub rms: f64,
}

impl Spectrum {
    /// The spectrum of `samples` at `rate` Hz; the input is cut to the largest power of two.
    pub fn of(samples: &[i16], rate: u32) -> Spectrum {
        assert!(
            samples.len() >= 1024,
            "too little audio to analyse: {} samples",
            samples.len()
        );
        let n = 1usize << (usize::BITS - 1 - samples.len().leading_zeros());
        let take = &samples[samples.len() - n..];
        let rms = (take.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / n as f64).sqrt();
        let mut re: Vec<f64> = take
            .iter()
            .enumerate()
            .map(|(i, &s)| f64::from(s) * (0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos()))
            .collect();
        let mut im = vec![0.0; n];
        fft(&mut re, &mut im);
        let db = (0..=n / 2)
            .map(|k| 10.0 * (re[k] * re[k] + im[k] * im[k] + 1e-9).log10())
            .collect();
        Spectrum {
            rate,
            db,
            bin_hz: f64::from(rate) / n as f64,
            rms,
        }
    }

    /// The strongest frequency above 50 Hz.
    pub fn dominant_hz(&self) -> f64 {
        let first = (50.0 / self.bin_hz).ceil() as usize;
        let last = self.db.len() - 2;
        let k = (first..=last)
            .max_by(|&a, &b| self.db[a].total_cmp(&self.db[b]))
            .expect("the range is not empty for 1024 samples or more");
        let (a, b, c) = (self.db[k - 1], self.db[k], self.db[k + 1]);
        let denom = a - 2.0 * b + c;
        let offset = if denom.abs() > 1e-12 {
            0.5 * (a - c) / denom
        } else {
            0.0
        };
        (k as f64 + offset) * self.bin_hz
    }

    /// The highest level (dB) within ±15 Hz of `freq`.
    pub fn level_near(&self, freq: f64) -> f64 {
        let lo = ((freq - 15.0) / self.bin_hz).floor().max(0.0) as usize;
        let hi = (((freq + 15.0) / self.bin_hz).ceil() as usize).min(self.db.len() - 1);
        self.db[lo..=hi].iter().copied().fold(f64::MIN, f64::max)
    }

    /// The median level of 50 Hz .. Nyquist: the floor a tone must stand out of.
    pub fn floor_db(&self) -> f64 {
        let first = (50.0 / self.bin_hz).ceil() as usize;
        let mut v: Vec<f64> = self.db[first..].to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// One line for messages.
    pub fn describe(&self, freqs: &[f64]) -> String {
        let near: Vec<String> = freqs
            .iter()
            .map(|&f| format!("{f:.0} Hz {:+.1} dB", self.level_near(f) - self.floor_db()))
            .collect();
        format!(
            "dominant {:.1} Hz ({:+.1} dB over the floor), RMS {:.0}, {}",
            self.dominant_hz(),
            self.level_near(self.dominant_hz()) - self.floor_db(),
            self.rms,
            near.join(", ")
        )
    }
}

/// In-place iterative radix-2 FFT; `re.len()` is a power of two.
fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let angle = -2.0 * PI / len as f64;
        for start in (0..n).step_by(len) {
            for k in 0..len / 2 {
                let (w_re, w_im) = ((angle * k as f64).cos(), (angle * k as f64).sin());
                let (a, b) = (start + k, start + k + len / 2);
                let t_re = re[b] * w_re - im[b] * w_im;
                let t_im = re[b] * w_im + im[b] * w_re;
                re[b] = re[a] - t_re;
                im[b] = im[a] - t_im;
                re[a] += t_re;
                im[a] += t_im;
            }
        }
        len <<= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::goertzel::tones;

    #[test]
    fn finds_a_tone_and_two_tones() {
        let s = Spectrum::of(&tones(&[1000.0], 8000.0, 8000, 0, 16000), 8000);
        assert!(
            (s.dominant_hz() - 1000.0).abs() < 2.0,
            "{}",
            s.describe(&[])
        );
        let a = tones(&[440.0], 6000.0, 8000, 0, 16000);
        let b = tones(&[660.0], 3000.0, 8000, 0, 16000);
        // Some noise, as any real channel has: the floor is the noise, not rounding error.
        let mut seed = 1u32;
        let mut noise = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            ((seed >> 16) % 101) as i16 - 50
        };
        let mix: Vec<i16> = a.iter().zip(&b).map(|(x, y)| x + y + noise()).collect();
        let s = Spectrum::of(&mix, 8000);
        assert!((s.dominant_hz() - 440.0).abs() < 2.0);
        assert!(
            s.level_near(660.0) - s.floor_db() > 40.0,
            "{}",
            s.describe(&[440.0, 660.0])
        );
        assert!(
            s.level_near(1500.0) - s.floor_db() < 20.0,
            "{}",
            s.describe(&[1500.0])
        );
    }
}
