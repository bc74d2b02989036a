//! What the caller hears, as events: the decoded audio is cut into 20 ms windows, runs of loud
//! windows become [`Segment`]s (a prompt), and a segment is told apart from the other prompts by
//! comparing its loudness envelope with the envelopes of the prompt WAVs in `prompts/<lang>/`.
//!
//! Why envelopes: they survive G.711/G.722, resampling and the bridge's gain, and the English
//! prompts differ clearly (self-match 1.0; the closest pair, wrong_id and wrong_pin, 0.75).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Length of one analysis window.
pub const WINDOW_MS: u64 = 20;
/// A window with an RMS above this (16-bit scale) is sound; digital silence through G.711 or
/// G.722 stays far below, speech at -3 dBFS peak is mostly far above.
pub const SOUND_RMS: f32 = 300.0;
/// Silence that ends a segment. The prompts' longest pause inside a sentence is 440 ms.
pub const SEGMENT_GAP_MS: u64 = 700;
/// The lowest score that still counts as "this prompt was heard".
pub const MIN_SCORE: f32 = 0.6;

/// One stretch of sound, from its first to its last loud window.
#[derive(Debug, Clone)]
pub struct Segment {
    /// When its first window was complete.
    pub start: Instant,
    /// RMS of each 20 ms window.
    pub envelope: Vec<f32>,
}

impl Segment {
    pub fn duration(&self) -> Duration {
        Duration::from_millis(WINDOW_MS * self.envelope.len() as u64)
    }

    pub fn peak_rms(&self) -> f32 {
        self.envelope.iter().copied().fold(0.0, f32::max)
    }
}

/// Cuts a stream of PCM chunks into windows and segments.
#[derive(Debug, Default)]
pub struct Analyzer {
    rate: u32,
    pending: Vec<i16>,
    /// Windows of the open segment, including the silence after its last loud window.
    open: Vec<f32>,
    open_start: Option<Instant>,
    silence_run: usize,
    /// Finished segments nobody has looked at yet.
    pub segments: VecDeque<Segment>,
    pub windows: u64,
    pub sound_windows: u64,
    /// The loudest window outside any segment: the noise floor the bridge sends as silence.
    pub silence_peak_rms: f32,
}

impl Analyzer {
    /// Feeds decoded mono samples at `rate` Hz that arrived at `now`.
    pub fn push(&mut self, rate: u32, samples: &[i16], now: Instant) {
        if rate != self.rate {
            self.pending.clear();
            self.rate = rate;
        }
        let window_len = (rate as usize * WINDOW_MS as usize) / 1000;
        self.pending.extend_from_slice(samples);
        let mut off = 0;
        while self.pending.len() - off >= window_len {
            let w = &self.pending[off..off + window_len];
            off += window_len;
            self.window(ac_rms(w), now);
        }
        self.pending.drain(..off);
    }

    fn window(&mut self, rms: f32, now: Instant) {
        self.windows += 1;
        let loud = rms > SOUND_RMS;
        if loud {
            self.sound_windows += 1;
        }
        if self.open_start.is_none() {
            if loud {
                self.open_start = Some(now);
                self.open.push(rms);
            } else {
                self.silence_peak_rms = self.silence_peak_rms.max(rms);
            }
            return;
        }
        self.open.push(rms);
        self.silence_run = if loud { 0 } else { self.silence_run + 1 };
        if self.silence_run as u64 * WINDOW_MS >= SEGMENT_GAP_MS {
            let keep = self.open.len() - self.silence_run;
            let mut envelope = std::mem::take(&mut self.open);
            envelope.truncate(keep);
            let start = self.open_start.take().expect("an open segment has a start");
            self.segments.push_back(Segment { start, envelope });
            self.silence_run = 0;
        }
    }

    /// The audio stopped (no more RTP, e.g. the bridge hung up right after a prompt): a segment
    /// going on ends here.
    pub fn end_of_stream(&mut self) {
        self.pending.clear();
        if let Some(start) = self.open_start.take() {
            let mut envelope = std::mem::take(&mut self.open);
            envelope.truncate(envelope.len() - self.silence_run);
            self.segments.push_back(Segment { start, envelope });
            self.silence_run = 0;
        }
    }

    /// Is a segment going on right now (sound heard, not yet followed by the closing gap)?
    pub fn in_sound(&self) -> bool {
        self.open_start.is_some()
    }
}

/// RMS around the window's mean: a DC offset is not sound (G.722 decoders settle at a DC of
/// about 200 on encoded silence).
pub fn ac_rms(w: &[i16]) -> f32 {
    if w.is_empty() {
        return 0.0;
    }
    let n = w.len() as f64;
    let mean = w.iter().map(|&s| f64::from(s)).sum::<f64>() / n;
    (w.iter()
        .map(|&s| (f64::from(s) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt() as f32
}

/// The envelopes of the prompt WAVs of one language.
#[derive(Debug)]
pub struct PromptLibrary {
    pub dir: PathBuf,
    prompts: Vec<(String, Vec<f32>)>,
}

/// How well a segment matches one prompt.
#[derive(Debug, Clone)]
pub struct Score {
    pub prompt: String,
    pub score: f32,
    /// Windows of the segment the prompt accounts for (less than all when prompts ran together).
    pub consumed: usize,
}

impl PromptLibrary {
    /// The English prompts of this checkout.
    pub fn english() -> &'static PromptLibrary {
        static LIB: OnceLock<PromptLibrary> = OnceLock::new();
        LIB.get_or_init(|| {
            PromptLibrary::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts/en"))
        })
    }

    /// Loads every `*.wav` in `dir` (16-bit PCM, any rate; the first channel is used).
    pub fn load(dir: &Path) -> PromptLibrary {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("cannot list prompts in {}: {e}", dir.display()));
        let mut prompts = Vec::new();
        for entry in entries {
            let path = entry.expect("reading a directory entry").path();
            if path.extension().is_none_or(|e| e != "wav") {
                continue;
            }
            let name = path
                .file_stem()
                .expect("a .wav file has a stem")
                .to_string_lossy()
                .into_owned();
            let mut reader = hound::WavReader::open(&path)
                .unwrap_or_else(|e| panic!("cannot read prompt {}: {e}", path.display()));
            let spec = reader.spec();
            let samples: Vec<i16> = reader
                .samples::<i16>()
                .step_by(usize::from(spec.channels))
                .map(|s| s.unwrap_or_else(|e| panic!("bad sample in {}: {e}", path.display())))
                .collect();
            let mut a = Analyzer::default();
            a.push(spec.sample_rate, &samples, Instant::now());
            // A gap of silence at the end flushes the last segment.
            a.push(
                spec.sample_rate,
                &vec![0; spec.sample_rate as usize],
                Instant::now(),
            );
            let segs: Vec<Segment> = a.segments.into_iter().collect();
            assert!(
                segs.len() == 1,
                "prompt {} splits into {} segments at a {SEGMENT_GAP_MS} ms gap: raise SEGMENT_GAP_MS",
                path.display(),
                segs.len()
            );
            prompts.push((name, segs[0].envelope.clone()));
        }
        assert!(!prompts.is_empty(), "no prompt WAVs in {}", dir.display());
        prompts.sort_by(|a, b| a.0.cmp(&b.0));
        PromptLibrary {
            dir: dir.to_path_buf(),
            prompts,
        }
    }

    pub fn names(&self) -> Vec<&str> {
        self.prompts.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The duration of a prompt's sound, or a panic naming the known prompts.
    pub fn duration(&self, prompt: &str) -> Duration {
        let env = self.envelope(prompt);
        Duration::from_millis(WINDOW_MS * env.len() as u64)
    }

    fn envelope(&self, prompt: &str) -> &[f32] {
        self.prompts
            .iter()
            .find(|(n, _)| n == prompt)
            .map(|(_, e)| e.as_slice())
            .unwrap_or_else(|| {
                panic!(
                    "no prompt {prompt:?} in {} (have {:?})",
                    self.dir.display(),
                    self.names()
                )
            })
    }

    /// Scores of every prompt against `segment`, best first.
    pub fn scores(&self, segment: &[f32]) -> Vec<Score> {
        let mut out: Vec<Score> = self
            .prompts
            .iter()
            .map(|(name, env)| {
                let (score, consumed) = match_envelope(segment, env);
                Score {
                    prompt: name.clone(),
                    score,
                    consumed,
                }
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out
    }
}

/// Compares a received envelope with a prompt's, allowing ±200 ms of misalignment. Returns the
/// score (Pearson correlation of the dB envelopes, scaled down by a length mismatch) and how many
/// segment windows the prompt explains: all of them, or only a prefix when the segment is the
/// prompt followed by more sound (two prompts with a short pause between them).
pub fn match_envelope(segment: &[f32], prompt: &[f32]) -> (f32, usize) {
    let seg: Vec<f32> = segment.iter().map(|&r| 20.0 * r.max(1.0).log10()).collect();
    let reference: Vec<f32> = prompt.iter().map(|&r| 20.0 * r.max(1.0).log10()).collect();
    let mut best = (f32::MIN, segment.len());
    for lag in -10i32..=10 {
        let (a, b, skipped) = if lag >= 0 {
            (
                seg.get(lag as usize..).unwrap_or(&[]),
                &reference[..],
                lag as usize,
            )
        } else {
            (&seg[..], reference.get((-lag) as usize..).unwrap_or(&[]), 0)
        };
        let n = a.len().min(b.len());
        if n < 10 {
            continue;
        }
        let r = pearson(&a[..n], &b[..n]);
        let whole =
            r * seg.len().min(reference.len()) as f32 / seg.len().max(reference.len()) as f32;
        if whole > best.0 {
            best = (whole, seg.len());
        }
        let prefix = r * n as f32 / reference.len() as f32;
        if prefix > best.0 {
            best = (prefix, skipped + n);
        }
    }
    best
}

fn pearson(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// Describes a segment and its best matches for failure messages.
pub fn describe(lib: &PromptLibrary, seg: &Segment) -> String {
    let scores = lib.scores(&seg.envelope);
    let top: Vec<String> = scores
        .iter()
        .take(3)
        .map(|s| format!("{} {:.2}", s.prompt, s.score))
        .collect();
    format!(
        "{:.2} s of sound (peak RMS {:.0}), best matches: {}",
        seg.duration().as_secs_f32(),
        seg.peak_rms(),
        top.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(ms: usize, amp: f32) -> Vec<i16> {
        (0..ms * 8)
            .map(|i| (amp * (i as f32 * 0.3).sin()) as i16)
            .collect()
    }

    #[test]
    fn segments_need_the_closing_gap() {
        let mut a = Analyzer::default();
        let now = Instant::now();
        a.push(8000, &tone(500, 5000.0), now);
        a.push(8000, &tone(300, 0.0), now);
        a.push(8000, &tone(400, 5000.0), now);
        assert!(a.segments.is_empty() && a.in_sound());
        a.push(8000, &tone(700, 0.0), now);
        assert_eq!(a.segments.len(), 1);
        assert_eq!(a.segments[0].duration(), Duration::from_millis(1200));
        assert!(!a.in_sound());
        a.push(8000, &tone(300, 5000.0), now);
        a.push(8000, &tone(100, 0.0), now);
        a.end_of_stream();
        assert_eq!(a.segments.len(), 2);
        assert_eq!(a.segments[1].duration(), Duration::from_millis(300));
    }

    #[test]
    fn every_prompt_matches_itself_best() {
        let lib = PromptLibrary::english();
        for name in lib.names() {
            let scores = lib.scores(lib.envelope(name));
            assert_eq!(scores[0].prompt, name, "{scores:?}");
            assert!(scores[0].score > 0.99);
            assert!(
                scores[1].score < 0.9,
                "{name} is too close to {}: {scores:?}",
                scores[1].prompt
            );
        }
    }

    #[test]
    fn two_prompts_run_together_are_split() {
        let lib = PromptLibrary::english();
        let mut seg = lib.envelope("wrong_id").to_vec();
        seg.extend(std::iter::repeat_n(10.0, 12));
        seg.extend_from_slice(lib.envelope("goodbye"));
        let scores = lib.scores(&seg);
        assert_eq!(scores[0].prompt, "wrong_id");
        assert_eq!(scores[0].consumed, lib.envelope("wrong_id").len());
        let rest = &seg[scores[0].consumed + 12..];
        assert_eq!(lib.scores(rest)[0].prompt, "goodbye");
    }
}
