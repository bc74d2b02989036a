//! Whether the caller is talking, from the level of the phone's PCM. Sans-IO: time is the
//! number of samples fed. A short attack and a long hangover keep pauses between words from
//! flapping the flag that conference backends show (Nextcloud Talk's "talking").

/// Frames louder than this RMS count as speech (about -35 dBFS; line noise stays far below).
const THRESHOLD_RMS: f64 = 600.0;
/// Speech this long turns the flag on.
const ATTACK_MS: u64 = 60;
/// Quiet this long turns it off again.
const HANGOVER_MS: u64 = 800;

#[derive(Debug)]
pub struct TalkDetector {
    rate: u64,
    /// Samples of speech (or of quiet, while talking) in a row.
    run: u64,
    talking: bool,
}

impl TalkDetector {
    /// For PCM at `rate` Hz.
    pub fn new(rate: u32) -> TalkDetector {
        TalkDetector {
            rate: u64::from(rate.max(1)),
            run: 0,
            talking: false,
        }
    }

    /// Feeds one frame; returns the new state when it changed.
    pub fn feed(&mut self, pcm: &[i16]) -> Option<bool> {
        if pcm.is_empty() {
            return None;
        }
        let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        let loud = (energy / pcm.len() as f64).sqrt() > THRESHOLD_RMS;
        // The run counts frames that speak against the current state.
        if loud == self.talking {
            self.run = 0;
            return None;
        }
        self.run += pcm.len() as u64;
        let needed_ms = if self.talking { HANGOVER_MS } else { ATTACK_MS };
        if self.run * 1000 < needed_ms * self.rate {
            return None;
        }
        self.talking = loud;
        self.run = 0;
        Some(loud)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8000;
    const FRAME: usize = 160; // 20 ms

    fn tone(amplitude: f64) -> Vec<i16> {
        (0..FRAME)
            .map(|n| (amplitude * (n as f64 * 0.7).sin()) as i16)
            .collect()
    }

    /// Feeds `frames` frames; the changes, with the frame index they came at.
    fn run(d: &mut TalkDetector, frames: usize, amplitude: f64) -> Vec<(usize, bool)> {
        (0..frames)
            .filter_map(|i| d.feed(&tone(amplitude)).map(|t| (i, t)))
            .collect()
    }

    #[test]
    fn speech_turns_talking_on_after_the_attack_and_off_after_the_hangover() {
        let mut d = TalkDetector::new(RATE);
        assert_eq!(run(&mut d, 50, 30.0), vec![], "line noise is not talking");
        assert_eq!(run(&mut d, 10, 8000.0), vec![(2, true)], "on after 60 ms");
        assert_eq!(
            run(&mut d, 39, 0.0),
            vec![],
            "a pause under 800 ms keeps it on"
        );
        assert_eq!(run(&mut d, 5, 8000.0), vec![]);
        assert_eq!(
            run(&mut d, 50, 0.0),
            vec![(39, false)],
            "off after 800 ms of quiet"
        );
    }

    #[test]
    fn a_click_does_not_count_and_empty_frames_are_ignored() {
        let mut d = TalkDetector::new(RATE);
        assert_eq!(run(&mut d, 2, 8000.0), vec![]);
        assert_eq!(run(&mut d, 1, 0.0), vec![]);
        assert_eq!(run(&mut d, 2, 8000.0), vec![], "the run starts over");
        assert_eq!(d.feed(&[]), None);
    }
}
