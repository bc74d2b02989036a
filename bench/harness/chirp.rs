//! One-way audio delay by chirps: one side plays [`chirp`] into silence once a second, the other
//! records PCM; [`find`] locates each chirp in the recording by normalized cross-correlation and
//! [`delays`] pairs what was heard with what was sent. Pure: times and samples are passed in.

use std::f64::consts::PI;

pub const RATE: u32 = 8000;
/// Length of the chirp in samples (40 ms at 8 kHz).
pub const CHIRP_SAMPLES: usize = 320;
/// Least normalized correlation that counts as a detection. Unrelated audio correlates with the
/// 320-sample chirp at about ±1/sqrt(320) = ±0.06 (white noise: the largest of 20 000 windows is
/// about 0.22) and a steady tone at under 0.16 (measured 300–3400 Hz; the chirp passes through
/// any one frequency for only a few ms). A chirp correlates at 0.9999 after G.711, also at ×0.1,
/// and still at 0.42–0.61 under a steady tone of the same peak level (440–2000 Hz, any phase).
/// 0.4 sits between the two.
pub const MIN_CORRELATION: f32 = 0.4;
/// Windows quieter than this RMS (16-bit scale) are silence: no correlation is computed there,
/// so digital silence neither divides by zero nor matches. A µ-law step near zero is 8.
const MIN_RMS: f64 = 4.0;
const PEAK: f64 = 12000.0;
const F0: f64 = 400.0;
const F1: f64 = 3000.0;

/// A Hann-windowed linear chirp from 400 to 3000 Hz, peak amplitude about 12000 (survives G.711
/// and narrowband Opus).
pub fn chirp() -> Vec<i16> {
    let n = CHIRP_SAMPLES;
    let len_s = n as f64 / f64::from(RATE);
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let phase = 2.0 * PI * (F0 * t + (F1 - F0) * t * t / (2.0 * len_s));
            let window = 0.5 - 0.5 * (2.0 * PI * i as f64 / (n - 1) as f64).cos();
            (PEAK * window * phase.sin()).round() as i16
        })
        .collect()
}

/// Sample indices in `recording` where a copy of `template` starts: local maxima of the
/// normalized cross-correlation (Pearson: both sides mean-removed, dot / (|template| * |window|))
/// that are at least [`MIN_CORRELATION`] and at least `min_gap` samples apart (the strongest of
/// each cluster wins). Sorted ascending. Cost O(len(recording) * len(template)).
pub fn find(recording: &[i16], template: &[i16], min_gap: usize) -> Vec<usize> {
    let m = template.len();
    if m == 0 || recording.len() < m {
        return Vec::new();
    }
    let t_mean = template.iter().map(|&s| f64::from(s)).sum::<f64>() / m as f64;
    let t: Vec<f32> = template
        .iter()
        .map(|&s| (f64::from(s) - t_mean) as f32)
        .collect();
    let t_norm = t
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt();
    if t_norm < 1e-6 {
        return Vec::new();
    }
    let x: Vec<f32> = recording.iter().map(|&s| f32::from(s)).collect();
    let min_energy = MIN_RMS * MIN_RMS * m as f64;

    // Running sums over the window, exact in i64.
    let mut sum: i64 = recording[..m].iter().map(|&s| i64::from(s)).sum();
    let mut sum_sq: i64 = recording[..m].iter().map(|&s| i64::from(s).pow(2)).sum();
    let positions = recording.len() - m + 1;
    let mut corr = vec![0.0f32; positions];
    for (start, c) in corr.iter_mut().enumerate() {
        if start > 0 {
            let (old, new) = (
                i64::from(recording[start - 1]),
                i64::from(recording[start + m - 1]),
            );
            sum += new - old;
            sum_sq += new * new - old * old;
        }
        // Energy about the window's mean; the template is zero-mean so the dot needs no centring.
        let energy = sum_sq as f64 - (sum as f64) * (sum as f64) / m as f64;
        if energy >= min_energy {
            *c = (f64::from(dot(&t, &x[start..start + m])) / (t_norm * energy.sqrt())) as f32;
        }
    }

    // Local maxima above the threshold, then the strongest first, each claiming ±min_gap.
    let mut peaks: Vec<usize> = (0..positions)
        .filter(|&i| {
            corr[i] >= MIN_CORRELATION
                && (i == 0 || corr[i] > corr[i - 1])
                && (i + 1 == positions || corr[i] >= corr[i + 1])
        })
        .collect();
    peaks.sort_by(|&a, &b| corr[b].total_cmp(&corr[a]).then(a.cmp(&b)));
    let mut kept = std::collections::BTreeSet::new();
    for p in peaks {
        let lo = p.saturating_sub(min_gap.saturating_sub(1));
        let hi = p.saturating_add(min_gap.saturating_sub(1));
        if kept.range(lo..=hi).next().is_none() {
            kept.insert(p);
        }
    }
    kept.into_iter().collect()
}

/// Dot product with eight independent accumulators so the compiler can vectorize it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for k in 0..8 {
            acc[k] += ca[k] * cb[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Pairs each `heard` time with the latest `sent` time before it that is at most `max_s` earlier
/// (each `sent` used at most once) and returns the delays heard − sent in seconds, in order.
/// Times are seconds on one common clock.
///
/// When the latest `sent` before a `heard` is already taken (a double detection) or too old, the
/// `heard` is dropped rather than paired with an even older `sent`, which would report a delay
/// inflated by a whole chirp period.
pub fn delays(sent: &[f64], heard: &[f64], max_s: f64) -> Vec<f64> {
    let mut order: Vec<usize> = (0..sent.len()).collect();
    order.sort_by(|&a, &b| sent[a].total_cmp(&sent[b]));
    let mut used = vec![false; sent.len()];
    let mut out = Vec::new();
    for &h in heard {
        // Sorted position of the last sent time <= h.
        let k = order.partition_point(|&i| sent[i] <= h);
        let Some(&i) = k.checked_sub(1).and_then(|k| order.get(k)) else {
            continue;
        };
        let delay = h - sent[i];
        if !used[i] && delay <= max_s {
            used[i] = true;
            out.push(delay);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::g711::{linear_to_ulaw as ulaw_encode, ulaw_to_linear as ulaw_decode};

    /// Tiny deterministic LCG (Numerical Recipes constants), uniform in [-1, 1).
    struct Lcg(u32);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            f64::from(self.0 >> 8) / f64::from(1u32 << 23) - 1.0
        }
    }

    const OFFSETS: [usize; 4] = [1000, 9000, 17123, 25000];

    fn recording_with_chirps(len: usize, scale: f64) -> Vec<f64> {
        let c = chirp();
        let mut rec = vec![0.0; len];
        for &o in &OFFSETS {
            for (k, &s) in c.iter().enumerate() {
                rec[o + k] += f64::from(s) * scale;
            }
        }
        rec
    }

    fn tone(len: usize, hz: f64, peak: f64) -> Vec<f64> {
        (0..len)
            .map(|i| peak * (2.0 * PI * hz * i as f64 / f64::from(RATE)).sin())
            .collect()
    }

    fn to_pcm(v: &[f64]) -> Vec<i16> {
        v.iter()
            .map(|&s| s.round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }

    fn assert_found(found: &[usize], tolerance: usize) {
        assert_eq!(found.len(), OFFSETS.len(), "found {found:?}");
        for (&f, &o) in found.iter().zip(&OFFSETS) {
            assert!(
                f.abs_diff(o) <= tolerance,
                "found {f}, placed {o} (all: {found:?})"
            );
        }
    }

    #[test]
    fn chirp_shape() {
        let c = chirp();
        assert_eq!(c.len(), CHIRP_SAMPLES);
        let peak = c.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!((11000..=12000).contains(&peak), "peak {peak}");
        assert!(c[0].abs() < 50 && c[CHIRP_SAMPLES - 1].abs() < 50);
    }

    #[test]
    fn chirps_in_silence_found_exactly_also_with_dc_offset() {
        for dc in [0.0, 3000.0] {
            let rec: Vec<f64> = recording_with_chirps(30000, 1.0)
                .iter()
                .map(|s| s + dc)
                .collect();
            assert_found(&find(&to_pcm(&rec), &chirp(), 4000), 0);
        }
    }

    #[test]
    fn chirps_under_tone_and_noise_found() {
        let mut rng = Lcg(7);
        let t = tone(30000, 440.0, 12000.0);
        let rec: Vec<f64> = recording_with_chirps(30000, 1.0)
            .iter()
            .zip(&t)
            .map(|(c, t)| c + t + 300.0 * rng.next())
            .collect();
        assert_found(&find(&to_pcm(&rec), &chirp(), 4000), 1);
    }

    #[test]
    fn chirps_after_ulaw_found() {
        let mut rng = Lcg(11);
        let rec: Vec<i16> = recording_with_chirps(30000, 1.0)
            .iter()
            .map(|&s| ulaw_decode(ulaw_encode((s + 50.0 * rng.next()).round() as i16)))
            .collect();
        assert_found(&find(&rec, &chirp(), 4000), 2);
    }

    #[test]
    fn quiet_copy_found() {
        let rec = to_pcm(&recording_with_chirps(30000, 0.1));
        assert_found(&find(&rec, &chirp(), 4000), 1);
        let coded: Vec<i16> = rec.iter().map(|&s| ulaw_decode(ulaw_encode(s))).collect();
        assert_found(&find(&coded, &chirp(), 4000), 2);
    }

    #[test]
    fn silence_tone_and_noise_alone_give_nothing() {
        let c = chirp();
        assert!(find(&vec![0; 20000], &c, 4000).is_empty());
        for hz in [440.0, 1000.0, 2500.0] {
            let found = find(&to_pcm(&tone(20000, hz, 12000.0)), &c, 4000);
            assert!(found.is_empty(), "{hz} Hz tone matched at {found:?}");
        }
        let mut rng = Lcg(3);
        let noise: Vec<f64> = (0..20000).map(|_| 8000.0 * rng.next()).collect();
        assert!(find(&to_pcm(&noise), &c, 4000).is_empty());
        // Barely-there noise is below the energy floor.
        let hiss: Vec<i16> = (0..20000)
            .map(|_| (2.0 * rng.next()).round() as i16)
            .collect();
        assert!(find(&hiss, &c, 4000).is_empty());
    }

    #[test]
    fn keeps_the_strongest_within_min_gap() {
        let c = chirp();
        let mut rng = Lcg(5);
        let mut rec = vec![0.0; 6000];
        for (k, &s) in c.iter().enumerate() {
            rec[1000 + k] += f64::from(s);
            rec[1700 + k] += f64::from(s) + 4000.0 * rng.next();
        }
        let rec = to_pcm(&rec);
        assert_eq!(find(&rec, &c, 1000), vec![1000]);
        assert_eq!(find(&rec, &c, 500), vec![1000, 1700]);
    }

    #[test]
    fn degenerate_inputs() {
        let c = chirp();
        assert!(find(&c[..100], &c, 10).is_empty());
        assert!(find(&c, &[], 10).is_empty());
        assert!(find(&c, &[5; 50], 10).is_empty());
        assert_eq!(find(&c, &c, 0), vec![0]);
    }

    #[test]
    fn delays_pairing() {
        let sent = [0.0, 1.0, 2.0, 3.0, 4.0];
        // Before any sent; normal; normal; double detection; sent 3.0 heard too late; normal.
        let heard = [-0.5, 0.12, 1.13, 1.5, 3.9, 4.11];
        let d = delays(&sent, &heard, 0.8);
        let want = [0.12, 0.13, 0.11];
        assert_eq!(d.len(), want.len(), "{d:?}");
        for (a, b) in d.iter().zip(want) {
            assert!((a - b).abs() < 1e-9, "{d:?}");
        }
        assert!(delays(&[], &heard, 1.0).is_empty());
        assert!(delays(&sent, &[], 1.0).is_empty());
        // Unsorted sent times still pair with the latest earlier one.
        let d = delays(&[2.0, 0.0, 1.0], &[1.25], 0.5);
        assert!(d.len() == 1 && (d[0] - 0.25).abs() < 1e-9, "{d:?}");
    }
}
