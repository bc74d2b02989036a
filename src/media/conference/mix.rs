//! The room mix: every remote stream's decoded PCM, summed into the phone's 20 ms frames.
//!
//! Why in Rust and not `audiomixer`: the phone side pulls one frame every 20 ms on its own clock,
//! while each peer's jitter buffer pushes on the pipeline clock. `audiomixer` is a live
//! aggregator with its own latency and timeout logic and would still need a buffer between its
//! output and the 20 ms pull. A small FIFO per stream is that buffer, and summing a frame is a few
//! hundred additions: cheaper, deterministic, and testable without GStreamer.
//!
//! Each stream starts (and restarts after running dry) only once [`PRIME_FRAMES`] are buffered,
//! so scheduling jitter between pusher and puller does not chop the audio; a stream holding more
//! than [`MAX_FRAMES`] (clock drift, a burst after a stall) is cut back to the priming depth, which
//! bounds the added delay. Below that bound, a stream that never used more than [`SPARE_FRAMES`]
//! of its cushion over a whole [`TRIM_WINDOW_PULLS`] is trimmed to it: otherwise a burst could
//! leave up to 100 ms of needless delay in the FIFO for the rest of the call.

use std::collections::{HashMap, VecDeque};

/// Frames a stream must hold before it is mixed (40 ms of cushion).
pub const PRIME_FRAMES: usize = 2;
/// Frames a stream may hold before the oldest audio is dropped.
pub const MAX_FRAMES: usize = 6;
/// Pulls over which a stream's least spare audio is watched (one second).
pub const TRIM_WINDOW_PULLS: u32 = 50;
/// Audio left after a pull that a stream keeps at its leanest moment of a window.
pub const SPARE_FRAMES: usize = 1;

#[derive(Debug)]
struct Stream {
    fifo: VecDeque<i16>,
    primed: bool,
    /// Pulls in the current trim window, and the least audio left after one of them.
    pulls: u32,
    least_spare: usize,
}

impl Default for Stream {
    fn default() -> Stream {
        Stream {
            fifo: VecDeque::new(),
            primed: false,
            pulls: 0,
            least_spare: usize::MAX,
        }
    }
}

impl Stream {
    /// Notes the audio left after a pull; at the end of a window, drops what was never needed.
    /// Returns the samples dropped.
    fn trim(&mut self, frame: usize) -> usize {
        self.least_spare = self.least_spare.min(self.fifo.len());
        self.pulls += 1;
        if self.pulls < TRIM_WINDOW_PULLS {
            return 0;
        }
        let excess = self.least_spare.saturating_sub(SPARE_FRAMES * frame);
        self.fifo.drain(..excess.min(self.fifo.len()));
        self.pulls = 0;
        self.least_spare = usize::MAX;
        excess
    }
}

/// Per-stream FIFOs and the mixing step.
#[derive(Debug)]
pub struct Mixer {
    frame: usize,
    streams: HashMap<u64, Stream>,
    sum: Vec<i32>,
    /// Samples dropped to bound the delay, over the mixer's life.
    pub dropped_samples: u64,
    /// Pulls in which a primed stream ran dry.
    pub underruns: u64,
}

impl Mixer {
    /// `frame`: samples in 20 ms at the phone's rate.
    pub fn new(frame: usize) -> Mixer {
        Mixer {
            frame: frame.max(1),
            streams: HashMap::new(),
            sum: Vec::new(),
            dropped_samples: 0,
            underruns: 0,
        }
    }

    /// Appends a stream's decoded audio (creating the stream on first use).
    pub fn push(&mut self, stream: u64, pcm: &[i16]) {
        let s = self.streams.entry(stream).or_default();
        s.fifo.extend(pcm);
        if s.fifo.len() > MAX_FRAMES * self.frame {
            let excess = s.fifo.len() - PRIME_FRAMES * self.frame;
            s.fifo.drain(..excess);
            self.dropped_samples += excess as u64;
        }
    }

    pub fn remove(&mut self, stream: u64) {
        self.streams.remove(&stream);
    }

    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Fills `out` with the sum of all primed streams (saturating), silence when there are none.
    pub fn pull(&mut self, out: &mut [i16]) {
        self.sum.clear();
        self.sum.resize(out.len(), 0);
        let prime = PRIME_FRAMES * self.frame;
        for s in self.streams.values_mut() {
            if !s.primed {
                if s.fifo.len() < prime {
                    continue;
                }
                s.primed = true;
            }
            let n = s.fifo.len().min(out.len());
            for (acc, sample) in self.sum.iter_mut().zip(s.fifo.drain(..n)) {
                *acc += i32::from(sample);
            }
            if n < out.len() {
                *s = Stream::default();
                self.underruns += 1;
            } else {
                self.dropped_samples += s.trim(self.frame) as u64;
            }
        }
        for (o, acc) in out.iter_mut().zip(&self.sum) {
            *o = (*acc).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_without_streams() {
        let mut m = Mixer::new(4);
        let mut out = [7i16; 4];
        m.pull(&mut out);
        assert_eq!(out, [0; 4]);
    }

    #[test]
    fn waits_for_priming_then_mixes_and_saturates() {
        let mut m = Mixer::new(2);
        m.push(1, &[100, 200]);
        let mut out = [0i16; 2];
        m.pull(&mut out);
        assert_eq!(out, [0, 0], "one frame is not primed yet");
        m.push(1, &[300, 30000]);
        m.push(2, &[1, 2, 3, 30000]);
        m.pull(&mut out);
        assert_eq!(out, [101, 202]);
        m.pull(&mut out);
        assert_eq!(out, [303, i16::MAX]);
        assert_eq!(m.underruns, 0);
    }

    #[test]
    fn dry_stream_pads_with_silence_and_reprimes() {
        let mut m = Mixer::new(2);
        m.push(1, &[1, 2, 3, 4, 5]);
        let mut out = [0i16; 2];
        m.pull(&mut out);
        m.pull(&mut out);
        m.pull(&mut out);
        assert_eq!(out, [5, 0]);
        assert_eq!(m.underruns, 1);
        m.push(1, &[9, 9]);
        m.pull(&mut out);
        assert_eq!(out, [0, 0], "re-priming after running dry");
    }

    #[test]
    fn bounds_the_delay_and_forgets_removed_streams() {
        let mut m = Mixer::new(1);
        let pcm: Vec<i16> = (0..10).collect();
        m.push(3, &pcm);
        assert_eq!(m.dropped_samples, 8);
        let mut out = [0i16; 1];
        m.pull(&mut out);
        assert_eq!(out, [8], "oldest audio was dropped");
        m.remove(3);
        assert_eq!(m.stream_count(), 0);
        m.pull(&mut out);
        assert_eq!(out, [0]);
    }

    /// Pushes one frame and pulls one, `n` times.
    fn steady(m: &mut Mixer, n: u32, out: &mut [i16]) {
        for _ in 0..n {
            m.push(1, &vec![1; out.len()]);
            m.pull(out);
        }
    }

    #[test]
    fn a_cushion_never_used_for_a_window_is_trimmed_to_one_frame() {
        let mut m = Mixer::new(4);
        let mut out = [0i16; 4];
        m.push(1, &[1; 12]); // a burst: three frames, one more than priming needs
        steady(&mut m, TRIM_WINDOW_PULLS - 1, &mut out);
        assert_eq!(m.dropped_samples, 0, "not before the window ends");
        assert_eq!(m.streams[&1].fifo.len(), 12);
        steady(&mut m, 1, &mut out);
        assert_eq!(m.dropped_samples, 8, "trimmed to one spare frame");
        assert_eq!(m.streams[&1].fifo.len(), 4);
        steady(&mut m, 2 * TRIM_WINDOW_PULLS, &mut out);
        assert_eq!(m.dropped_samples, 8, "a lean stream is left alone");
        assert_eq!((m.underruns, out), (0, [1; 4]));
    }

    #[test]
    fn a_cushion_used_once_in_the_window_is_kept() {
        let mut m = Mixer::new(4);
        let mut out = [0i16; 4];
        m.push(1, &[1; 12]);
        steady(&mut m, 10, &mut out);
        m.pull(&mut out); // two late pushes: the cushion is used down to one frame
        m.pull(&mut out);
        steady(&mut m, TRIM_WINDOW_PULLS, &mut out);
        assert_eq!(m.dropped_samples, 0);
        assert_eq!(m.underruns, 0);
    }
}
