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
//! bounds the added delay.

use std::collections::{HashMap, VecDeque};

/// Frames a stream must hold before it is mixed (40 ms of cushion).
pub const PRIME_FRAMES: usize = 2;
/// Frames a stream may hold before the oldest audio is dropped.
pub const MAX_FRAMES: usize = 6;

#[derive(Debug, Default)]
struct Stream {
    fifo: VecDeque<i16>,
    primed: bool,
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
                s.primed = false;
                self.underruns += 1;
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
}
