//! In-band DTMF: [`InbandDetector`] finds key tones in decoded mono 16-bit PCM with Goertzel
//! filters, and reports a held key once.

/// Row (low group) then column (high group) frequencies in Hz.
const DTMF_FREQS: [f32; 8] = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Samples per block at 8 kHz (12.75 ms). Two full blocks always fit in a 40 ms tone, which
/// ITU-T Q.24 says must be accepted; clicks of ~12 ms never hit two blocks. (A clean tone that
/// covers most of two blocks, from ~17 ms, may be accepted.) The bins still separate
/// neighbouring DTMF tones (>= 73 Hz apart) by more than 10 dB.
const BLOCK_AT_8K: u32 = 102;
/// Consecutive hit blocks before a digit is reported.
const HITS_TO_REPORT: u8 = 2;
/// Consecutive blocks without the digit that end it, so a brief dropout inside a held key is
/// bridged while a 40 ms inter-digit pause is still seen.
const MISSES_TO_END: u8 = 2;
/// Smallest accepted amplitude per tone: -38 dBFS, well below the -25 dBFS we must hear.
const MIN_TONE_AMPLITUDE: f32 = 32767.0 * 0.012_589;
/// Share of the block's energy the two tones must hold: speech, music and noise spread theirs.
const MIN_TONE_SHARE: f32 = 0.6;
/// Max power ratio between the two tones (8 dB either way).
const MAX_TWIST: f32 = 6.31;
/// The strongest tone of a group must beat the others of its group by this ratio (8 dB).
const MIN_PEAK_RATIO: f32 = 6.31;

/// Detects DTMF tones in mono 16-bit PCM with Goertzel filters. A held key is one digit.
pub struct InbandDetector {
    block_len: u32,
    coeffs: [f32; 8],
    /// Goertzel state (s[n-1], s[n-2]) per frequency for the block being filled.
    state: [(f32, f32); 8],
    energy: f32,
    filled: u32,
    /// The candidate of the previous blocks and how many blocks in a row it was seen.
    candidate: Option<char>,
    hits: u8,
    /// The digit already reported and how many blocks in a row it has been missing.
    reported: Option<char>,
    misses: u8,
}

impl InbandDetector {
    /// `sample_rate` is 8000 or 16000 in practice; anything below 8000 is treated as 8000,
    /// because the highest DTMF tone (1633 Hz) needs at least that.
    pub fn new(sample_rate: u32) -> Self {
        let rate = sample_rate.max(8000);
        let block_len = (BLOCK_AT_8K * rate).div_ceil(8000);
        let coeffs = DTMF_FREQS.map(|f| 2.0 * (2.0 * std::f32::consts::PI * f / rate as f32).cos());
        Self {
            block_len,
            coeffs,
            state: [(0.0, 0.0); 8],
            energy: 0.0,
            filled: 0,
            candidate: None,
            hits: 0,
            reported: None,
            misses: 0,
        }
    }

    /// Feed samples (any chunk size); returns digits whose tone just ended or was held long
    /// enough, each once.
    pub fn push(&mut self, samples: &[i16]) -> Vec<char> {
        let mut digits = Vec::new();
        for &sample in samples {
            let x = f32::from(sample);
            for (s, &coeff) in self.state.iter_mut().zip(&self.coeffs) {
                let s0 = x + coeff * s.0 - s.1;
                *s = (s0, s.0);
            }
            self.energy += x * x;
            self.filled += 1;
            if self.filled == self.block_len {
                let hit = self.classify_block();
                digits.extend(self.track(hit));
                self.state = [(0.0, 0.0); 8];
                self.energy = 0.0;
                self.filled = 0;
            }
        }
        digits
    }

    /// The key whose two tones dominate the finished block, if any.
    fn classify_block(&self) -> Option<char> {
        let n = self.block_len as f32;
        // Goertzel power scaled to the energy of the matching sinusoid in the block.
        let power = std::array::from_fn::<f32, 8, _>(|i| {
            let (s1, s2) = self.state[i];
            (s1 * s1 + s2 * s2 - self.coeffs[i] * s1 * s2) * 2.0 / n
        });
        let (rows, cols) = power.split_at(4);
        let row = strongest(rows)?;
        let col = strongest(cols)?;
        let (pr, pc) = (rows[row], cols[col]);
        let min_energy = MIN_TONE_AMPLITUDE * MIN_TONE_AMPLITUDE * n / 2.0;
        let ok = pr >= min_energy
            && pc >= min_energy
            && pr <= pc * MAX_TWIST
            && pc <= pr * MAX_TWIST
            && pr + pc >= MIN_TONE_SHARE * self.energy;
        ok.then(|| KEYPAD[row][col])
    }

    /// Debounces block results into key presses.
    fn track(&mut self, hit: Option<char>) -> Option<char> {
        if hit.is_some() && hit == self.candidate {
            self.hits = self.hits.saturating_add(1);
        } else {
            self.candidate = hit;
            self.hits = u8::from(hit.is_some());
        }
        if self.reported.is_some() && hit != self.reported {
            self.misses += 1;
            if self.misses >= MISSES_TO_END {
                self.reported = None;
            }
        } else {
            self.misses = 0;
        }
        if self.hits >= HITS_TO_REPORT && self.candidate != self.reported {
            self.reported = self.candidate;
            self.misses = 0;
            return self.candidate;
        }
        None
    }
}

/// The index of the group's strongest tone, if it beats every other one by [`MIN_PEAK_RATIO`].
fn strongest(group: &[f32]) -> Option<usize> {
    let (best, &peak) = group.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    let clear = group
        .iter()
        .enumerate()
        .all(|(i, &p)| i == best || p * MIN_PEAK_RATIO <= peak);
    clear.then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &str = "123A456B789C*0#D";

    fn freqs_of(key: char) -> (f32, f32) {
        let i = KEYS.find(key).expect("test keys are DTMF keys");
        (DTMF_FREQS[i / 4], DTMF_FREQS[4 + i % 4])
    }

    /// Sum of sines, each at `dbfs` amplitude, for `ms` milliseconds.
    fn sines(freqs: &[f32], rate: u32, ms: u32, dbfs: f32) -> Vec<i16> {
        let amp = 32767.0 * 10f32.powf(dbfs / 20.0);
        (0..rate * ms / 1000)
            .map(|n| {
                let t = n as f32 / rate as f32;
                let v: f32 = freqs
                    .iter()
                    .map(|f| (2.0 * std::f32::consts::PI * f * t).sin())
                    .sum();
                (v * amp).round() as i16
            })
            .collect()
    }

    fn tone(key: char, rate: u32, ms: u32, dbfs: f32) -> Vec<i16> {
        let (r, c) = freqs_of(key);
        sines(&[r, c], rate, ms, dbfs)
    }

    fn silence(rate: u32, ms: u32) -> Vec<i16> {
        vec![0; (rate * ms / 1000) as usize]
    }

    fn detect(rate: u32, audio: &[i16], chunk: usize) -> Vec<char> {
        let mut det = InbandDetector::new(rate);
        audio.chunks(chunk).flat_map(|c| det.push(c)).collect()
    }

    #[test]
    fn inband_all_sixteen_keys_at_8k_and_16k() {
        for rate in [8000, 16000] {
            for key in KEYS.chars() {
                for dbfs in [-3.0, -10.0, -25.0] {
                    let mut audio = silence(rate, 30);
                    audio.extend(tone(key, rate, 60, dbfs));
                    audio.extend(silence(rate, 60));
                    assert_eq!(
                        detect(rate, &audio, 160),
                        [key],
                        "{key} at {rate} Hz, {dbfs} dBFS"
                    );
                }
            }
        }
    }

    #[test]
    fn inband_40ms_accepted_and_12ms_rejected_at_any_alignment() {
        for rate in [8000, 16000] {
            for offset_ms in 0..13 {
                let mut audio = silence(rate, offset_ms);
                audio.extend(tone('8', rate, 40, -20.0));
                audio.extend(silence(rate, 100));
                audio.extend(tone('9', rate, 12, -20.0));
                audio.extend(silence(rate, 100));
                assert_eq!(
                    detect(rate, &audio, 80),
                    ['8'],
                    "offset {offset_ms} ms at {rate} Hz"
                );
            }
        }
    }

    #[test]
    fn inband_sequence_with_gaps_in_odd_chunks() {
        for rate in [8000, 16000] {
            let mut audio = Vec::new();
            for key in "1234#".chars() {
                audio.extend(tone(key, rate, 70, -12.0));
                audio.extend(silence(rate, 50));
            }
            assert_eq!(detect(rate, &audio, 37).iter().collect::<String>(), "1234#");
        }
    }

    #[test]
    fn inband_held_key_is_one_digit_and_repeat_needs_gap() {
        let rate = 8000;
        let mut audio = tone('5', rate, 1500, -10.0);
        audio.extend(silence(rate, 40));
        audio.extend(tone('5', rate, 60, -10.0));
        // A key change without a pause is a new digit at once.
        audio.extend(tone('6', rate, 60, -10.0));
        assert_eq!(detect(rate, &audio, 160), ['5', '5', '6']);
    }

    #[test]
    fn inband_tolerates_frequency_error() {
        let (r, c) = freqs_of('D');
        for factor in [0.985, 1.015] {
            let mut audio = sines(&[r * factor, c * factor], 8000, 60, -15.0);
            audio.extend(silence(8000, 40));
            assert_eq!(detect(8000, &audio, 160), ['D'], "factor {factor}");
        }
    }

    #[test]
    fn inband_ignores_test_tones_noise_and_silence() {
        for rate in [8000, 16000] {
            for freqs in [
                &[1000.0][..],
                &[440.0],
                &[350.0, 440.0],
                &[941.0],
                &[1209.0],
            ] {
                for dbfs in [-3.0, -20.0, -40.0] {
                    let audio = sines(freqs, rate, 2000, dbfs);
                    assert!(
                        detect(rate, &audio, 160).is_empty(),
                        "{freqs:?} {dbfs} dBFS"
                    );
                }
            }
            let mut x = 1_u32;
            let noise: Vec<i16> = (0..rate * 3)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as i16 / 4
                })
                .collect();
            assert!(detect(rate, &noise, 160).is_empty(), "noise at {rate}");
            assert!(detect(rate, &silence(rate, 2000), 160).is_empty());
        }
    }
}
