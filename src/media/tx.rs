//! What the phone hears, one 20 ms frame at a time: the playing prompt, else the optional fill
//! source (the conference mix, later), else silence. Sans-IO: the phone leg's tick calls
//! [`FrameSource::next_frame`]; switching prompts takes effect on the next frame.

use std::sync::Arc;
use std::time::Duration;

use crate::ivr::Prompt;

use super::prompts::PromptSet;

/// Packet time of the phone leg: one RTP packet per 20 ms (the `ptime` every phone supports).
pub const PTIME: Duration = Duration::from_millis(20);

/// Time of packet slot `slot` after the start of the leg.
pub fn slot_offset(slot: u64) -> Duration {
    Duration::from_nanos(PTIME.as_nanos() as u64 * slot)
}

/// Fills a frame of the phone's audio while no prompt plays (the frame arrives zeroed, so doing
/// nothing means silence). Runs on the call's media task: must not block.
pub type TxFill = Box<dyn FnMut(&mut [i16]) + Send>;

pub struct FrameSource {
    prompts: Arc<PromptSet>,
    rate: u32,
    /// The playing prompt and the next sample to send.
    playing: Option<(Prompt, usize)>,
    fill: Option<TxFill>,
}

impl FrameSource {
    /// `rate` is the codec's audio rate, one of [`super::prompts::RATES`].
    pub fn new(prompts: Arc<PromptSet>, rate: u32) -> FrameSource {
        FrameSource {
            prompts,
            rate,
            playing: None,
            fill: None,
        }
    }

    /// Samples in one frame.
    pub fn frame_len(&self) -> usize {
        (self.rate as usize * PTIME.as_millis() as usize) / 1000
    }

    /// Starts `prompt` from its beginning, replacing whatever played.
    pub fn play(&mut self, prompt: Prompt) {
        self.playing = Some((prompt, 0));
    }

    /// Stops the playing prompt (it will not be reported as finished).
    pub fn stop(&mut self) {
        self.playing = None;
    }

    pub fn playing(&self) -> Option<Prompt> {
        self.playing.map(|(p, _)| p)
    }

    pub fn set_fill(&mut self, fill: Option<TxFill>) {
        self.fill = fill;
    }

    /// Writes the next frame into `out` (length [`Self::frame_len`]). Returns the prompt whose
    /// last samples are in this frame, if any.
    pub fn next_frame(&mut self, out: &mut [i16]) -> Option<Prompt> {
        out.fill(0);
        let Some((prompt, pos)) = self.playing else {
            if let Some(fill) = self.fill.as_mut() {
                fill(out);
            }
            return None;
        };
        let samples = self.prompts.samples(prompt, self.rate).unwrap_or_else(|| {
            tracing::warn!(
                rate = self.rate,
                "no prompt audio at this rate; playing silence"
            );
            &[]
        });
        let chunk = &samples[pos.min(samples.len())..(pos + out.len()).min(samples.len())];
        out[..chunk.len()].copy_from_slice(chunk);
        let next = pos + out.len();
        if next >= samples.len() {
            self.playing = None;
            Some(prompt)
        } else {
            self.playing = Some((prompt, next));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> FrameSource {
        // Welcome: 400 samples of 1000 at 8 kHz (2.5 frames); Goodbye: empty.
        let set = PromptSet::from_pcm("t", 8000, [(Prompt::Welcome, vec![1000; 400])]);
        FrameSource::new(Arc::new(set), 8000)
    }

    #[test]
    fn plays_prompt_then_silence() {
        let mut s = source();
        let mut f = vec![0i16; s.frame_len()];
        assert_eq!(f.len(), 160);
        assert_eq!(s.next_frame(&mut f), None);
        assert!(f.iter().all(|&x| x == 0));
        s.play(Prompt::Welcome);
        assert_eq!(s.next_frame(&mut f), None);
        assert!(
            f[10..150].iter().all(|&x| (900..1100).contains(&x)),
            "{f:?}"
        );
        assert_eq!(s.next_frame(&mut f), None);
        assert_eq!(s.next_frame(&mut f), Some(Prompt::Welcome));
        assert!(
            f[100..].iter().all(|&x| x.abs() < 50),
            "last frame is padded with silence"
        );
        assert_eq!(s.next_frame(&mut f), None);
        assert!(f.iter().all(|&x| x == 0));
    }

    #[test]
    fn stop_and_replace_do_not_report_done() {
        let mut s = source();
        let mut f = vec![0i16; s.frame_len()];
        s.play(Prompt::Welcome);
        s.next_frame(&mut f);
        s.stop();
        assert_eq!(s.playing(), None);
        assert_eq!(s.next_frame(&mut f), None);
        s.play(Prompt::Welcome);
        s.next_frame(&mut f);
        s.play(Prompt::Goodbye); // empty: done on its first frame
        assert_eq!(s.next_frame(&mut f), Some(Prompt::Goodbye));
    }

    #[test]
    fn fill_feeds_frames_when_idle() {
        let mut s = source();
        let mut f = vec![0i16; s.frame_len()];
        s.set_fill(Some(Box::new(|out: &mut [i16]| out.fill(7))));
        s.next_frame(&mut f);
        assert!(f.iter().all(|&x| x == 7));
        s.play(Prompt::Welcome);
        s.next_frame(&mut f);
        assert!(
            f[20..140].iter().all(|&x| x > 500),
            "a prompt wins over the fill"
        );
    }
}
