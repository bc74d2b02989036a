//! The IVR prompts of one language, loaded from `<dir>/<lang>/<stem>.wav` once at startup and
//! shared by all calls (`Arc<PromptSet>`). Each prompt is kept as mono 16-bit PCM at both
//! phone audio rates (8 and 16 kHz), so playing one costs a slice copy per 20 ms frame and no
//! per-call resampling.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use crate::ivr::Prompt;

use super::events::MediaError;

/// The rates prompts are prepared at: G.711 (8 kHz) and G.722 (16 kHz) audio.
pub const RATES: [u32; 2] = [8000, 16000];

/// One prompt as PCM at each of [`RATES`].
#[derive(Debug, Clone)]
struct Clip {
    at_8k: Vec<i16>,
    at_16k: Vec<i16>,
}

/// All prompts of one language.
#[derive(Debug, Clone)]
pub struct PromptSet {
    language: String,
    clips: HashMap<Prompt, Clip>,
}

impl PromptSet {
    /// Loads every [`Prompt::ALL`] from `dir/lang/<stem>.wav`. Any PCM WAV works (any rate,
    /// channel count, 8–32 bit integer or 32-bit float); the error names the file that is
    /// missing or unreadable.
    pub fn load(dir: &Path, lang: &str) -> Result<PromptSet, MediaError> {
        let mut clips = HashMap::new();
        for prompt in Prompt::ALL {
            let path = dir.join(lang).join(format!("{}.wav", prompt.file_stem()));
            let (rate, samples) = read_wav(&path).map_err(|reason| MediaError::Prompt {
                path: path.clone(),
                reason,
            })?;
            clips.insert(prompt, Clip::from_f32(&samples, rate));
        }
        Ok(PromptSet {
            language: lang.to_string(),
            clips,
        })
    }

    /// Builds a set from PCM already in memory (tests, generated tones). Prompts not given are
    /// empty: playing one finishes at once.
    pub fn from_pcm(
        language: &str,
        sample_rate: u32,
        pcm: impl IntoIterator<Item = (Prompt, Vec<i16>)>,
    ) -> PromptSet {
        let mut clips: HashMap<Prompt, Clip> = pcm
            .into_iter()
            .map(|(p, s)| {
                let f: Vec<f32> = s.iter().map(|&x| f32::from(x) / 32768.0).collect();
                (p, Clip::from_f32(&f, sample_rate))
            })
            .collect();
        for p in Prompt::ALL {
            clips.entry(p).or_insert(Clip {
                at_8k: Vec::new(),
                at_16k: Vec::new(),
            });
        }
        PromptSet {
            language: language.to_string(),
            clips,
        }
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    /// The prompt as mono PCM at `rate`; `None` for a rate not in [`RATES`].
    pub fn samples(&self, prompt: Prompt, rate: u32) -> Option<&[i16]> {
        let clip = self.clips.get(&prompt)?;
        match rate {
            8000 => Some(&clip.at_8k),
            16000 => Some(&clip.at_16k),
            _ => None,
        }
    }

    /// How long the prompt plays.
    pub fn duration(&self, prompt: Prompt) -> Duration {
        let n = self.clips.get(&prompt).map_or(0, |c| c.at_16k.len());
        Duration::from_micros(n as u64 * 1_000_000 / 16000)
    }
}

impl Clip {
    fn from_f32(samples: &[f32], rate: u32) -> Clip {
        Clip {
            at_8k: to_i16(&resample(samples, rate, 8000)),
            at_16k: to_i16(&resample(samples, rate, 16000)),
        }
    }
}

/// Reads a WAV file as mono f32 samples in [-1, 1] and its sample rate.
fn read_wav(path: &Path) -> Result<(u32, Vec<f32>), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let reader = hound::WavReader::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a readable WAV file: {e}"))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate < 4000 {
        return Err(format!("implausible format {spec:?}"));
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.into_samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 2f32.powi(i32::from(spec.bits_per_sample) - 1);
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|s| s as f32 / scale))
                .collect()
        }
    }
    .map_err(|e| format!("bad sample data: {e}"))?;
    let channels = usize::from(spec.channels);
    let mono: Vec<f32> = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    if mono.is_empty() {
        return Err("contains no audio".into());
    }
    Ok((spec.sample_rate, mono))
}

fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&s| (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// Windowed-sinc resampling (Blackman window, 12 zero crossings each side), low-pass at 95% of
/// the lower Nyquist. Runs once per prompt at startup. The filter is tabulated per phase: an
/// output sample sits at one of `to / gcd(from, to)` fractional input positions.
fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    const ZERO_CROSSINGS: f64 = 12.0;
    let g = gcd(from, to);
    let (step, phases) = (u64::from(from / g), u64::from(to / g));
    let cutoff = 0.95 * (f64::from(to) / f64::from(from)).min(1.0); // relative to input Nyquist
    let half_width = ZERO_CROSSINGS / cutoff; // in input samples
    let reach = half_width.ceil() as i64; // taps on each side of the output position
    let taps = 2 * reach as usize;
    let table: Vec<f32> = (0..phases)
        .flat_map(|phase| {
            let frac = phase as f64 / phases as f64;
            (0..taps).map(move |j| {
                let x = frac + (reach - 1 - j as i64) as f64; // output position minus tap position
                if x.abs() >= half_width {
                    return 0.0;
                }
                let u = x / half_width;
                let window = 0.42
                    + 0.5 * (std::f64::consts::PI * u).cos()
                    + 0.08 * (2.0 * std::f64::consts::PI * u).cos();
                (cutoff * sinc(cutoff * x) * window) as f32
            })
        })
        .collect();
    let out_len = (input.len() as u64 * phases).div_ceil(step) as usize;
    (0..out_len as u64)
        .map(|n| {
            let (i, phase) = ((n * step / phases) as i64, (n * step % phases) as usize);
            let coefficients = &table[phase * taps..(phase + 1) * taps];
            let first = i - reach + 1;
            coefficients
                .iter()
                .enumerate()
                .filter_map(|(j, c)| {
                    let k = usize::try_from(first + j as i64).ok()?;
                    input.get(k).map(|x| x * c)
                })
                .sum()
        })
        .collect()
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    /// RMS over the middle of the signal (the edges see the zero padding of the filter).
    fn rms_mid(s: &[f32]) -> f64 {
        let mid = &s[s.len() / 4..s.len() * 3 / 4];
        (mid.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / mid.len() as f64).sqrt()
    }

    #[test]
    fn resample_keeps_passband_and_removes_alias() {
        let pass = resample(&tone(1000.0, 16000, 16000), 16000, 8000);
        assert_eq!(pass.len(), 8000);
        assert!(
            (rms_mid(&pass) - 0.5 / 2f64.sqrt()).abs() < 0.01,
            "{}",
            rms_mid(&pass)
        );
        let alias = resample(&tone(6000.0, 16000, 16000), 16000, 8000);
        assert!(rms_mid(&alias) < 0.01, "{}", rms_mid(&alias));
        let up = resample(&tone(1000.0, 8000, 8000), 8000, 16000);
        assert_eq!(up.len(), 16000);
        assert!((rms_mid(&up) - 0.5 / 2f64.sqrt()).abs() < 0.01);
    }

    #[test]
    fn loads_shipped_prompts() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
        let mut langs: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().filter(|e| e.path().is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        langs.sort();
        assert!(langs.len() >= 2, "at least en and de: {langs:?}");
        for lang in &langs {
            let set = PromptSet::load(&dir, lang).unwrap();
            for p in Prompt::ALL {
                let d = set.duration(p);
                assert!(
                    d > Duration::from_secs(1) && d < Duration::from_secs(15),
                    "{p:?} {d:?}"
                );
                let s16 = set.samples(p, 16000).unwrap();
                assert_eq!(set.samples(p, 8000).unwrap().len(), s16.len().div_ceil(2));
                let peak = s16.iter().map(|s| s.unsigned_abs()).max().unwrap();
                assert!(peak > 16000, "{p:?} is too quiet: {peak}");
            }
        }
    }

    #[test]
    fn missing_file_names_the_file() {
        let dir =
            std::env::temp_dir().join(format!("dialbridge-no-prompts-{}", std::process::id()));
        let err = PromptSet::load(&dir, "xx").unwrap_err().to_string();
        assert!(err.contains("welcome.wav") && err.contains("xx"), "{err}");
    }

    #[test]
    fn converts_stereo_8bit_and_float() {
        let dir = std::env::temp_dir().join(format!("dialbridge-prompts-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("t")).unwrap();
        for (i, p) in Prompt::ALL.into_iter().enumerate() {
            let path = dir.join("t").join(format!("{}.wav", p.file_stem()));
            let float = i % 2 == 0;
            let spec = hound::WavSpec {
                channels: 2,
                sample_rate: 22050,
                bits_per_sample: if float { 32 } else { 8 },
                sample_format: if float {
                    hound::SampleFormat::Float
                } else {
                    hound::SampleFormat::Int
                },
            };
            let mut w = hound::WavWriter::create(&path, spec).unwrap();
            for s in tone(440.0, 22050, 22050) {
                for _ in 0..2 {
                    if float {
                        w.write_sample(s).unwrap()
                    } else {
                        w.write_sample((s * 127.0) as i8).unwrap()
                    }
                }
            }
            w.finalize().unwrap();
        }
        let set = PromptSet::load(&dir, "t").unwrap();
        let s = set.samples(Prompt::Welcome, 16000).unwrap();
        assert_eq!(s.len(), 16000);
        let rms = rms_mid(
            &s.iter()
                .map(|&x| f32::from(x) / 32768.0)
                .collect::<Vec<_>>(),
        );
        assert!((rms - 0.354).abs() < 0.02, "{rms}");
        std::fs::write(dir.join("t").join("goodbye.wav"), b"RIFF junk").unwrap();
        let err = PromptSet::load(&dir, "t").unwrap_err().to_string();
        assert!(err.contains("goodbye.wav") && err.contains("WAV"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
