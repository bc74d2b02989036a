//! Simulated phones for the conference-leg and Janus tests: a thread pushes a sine tone into a
//! conference leg and pulls the room mix every 20 ms; Goertzel filters find tones in what it
//! heard.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::common::goertzel::{self, AMPLITUDE};
use crate::common::tools::lock;
use dialbridge::media::conference_leg::ConferenceLeg;

pub const RATE: u32 = 8000;

/// RMS above which a 20 ms frame counts as audio (the tones have RMS ≈ 5600).
pub const AUDIBLE_RMS: f64 = 1000.0;

#[derive(Default)]
struct Recording {
    pcm: Vec<i16>,
    /// When each 20 ms frame was pulled.
    times: Vec<Instant>,
}

/// Pushes a tone into a leg and pulls the room mix, every 20 ms on a steady schedule.
pub struct Phone {
    rate: u32,
    recording: Arc<Mutex<Recording>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Phone {
    /// Starts talking `tone` (Hz) into `leg`, whose phone side runs at `rate`.
    pub fn start(leg: Arc<ConferenceLeg>, rate: u32, tone: f64) -> Phone {
        let recording: Arc<Mutex<Recording>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (rec, halt) = (recording.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let frame = rate as usize / 50;
            let mut out = vec![0i16; frame];
            let mut n = 0usize;
            let mut next = Instant::now();
            while !halt.load(Ordering::Relaxed) {
                leg.push_phone_audio(&goertzel::sine(tone, rate, n * frame, frame));
                leg.pull_room_audio(&mut out);
                let mut r = lock(&rec);
                r.pcm.extend_from_slice(&out);
                r.times.push(Instant::now());
                drop(r);
                n += 1;
                next += Duration::from_millis(20);
                thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        Phone {
            rate,
            recording,
            stop,
            thread: Some(thread),
        }
    }

    /// The last `ms` of what the phone heard.
    pub fn last(&self, ms: usize) -> Vec<i16> {
        let r = lock(&self.recording);
        let n = (self.rate as usize * ms / 1000).min(r.pcm.len());
        r.pcm[r.pcm.len() - n..].to_vec()
    }

    /// When the first audible frame pulled after `since` came.
    pub fn first_audio(&self, since: Instant) -> Option<Instant> {
        let r = lock(&self.recording);
        let frame = self.rate as usize / 50;
        r.times.iter().enumerate().find_map(|(i, &t)| {
            let pcm = &r.pcm[i * frame..(i + 1) * frame];
            (t >= since && goertzel::rms(pcm) > AUDIBLE_RMS).then_some(t)
        })
    }

    /// The quietest frame pulled in `[from, to]` (RMS).
    pub fn min_rms(&self, from: Instant, to: Instant) -> f64 {
        let r = lock(&self.recording);
        let frame = self.rate as usize / 50;
        r.times
            .iter()
            .enumerate()
            .filter(|(_, t)| **t >= from && **t <= to)
            .map(|(i, _)| goertzel::rms(&r.pcm[i * frame..(i + 1) * frame]))
            .fold(f64::INFINITY, f64::min)
    }

    /// Stops the thread (and with it the phone's hold on the leg).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("phone thread did not panic");
        }
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.stop();
    }
}

/// [`crate::common::goertzel`] at this module's [`RATE`].
pub fn sine(freq: f64, start: usize, len: usize) -> Vec<i16> {
    goertzel::sine(freq, RATE, start, len)
}

pub fn power(pcm: &[i16], freq: f64) -> f64 {
    goertzel::power(pcm, RATE, freq)
}

pub fn dominant_frequency(pcm: &[i16]) -> f64 {
    goertzel::dominant_frequency(pcm, RATE)
}

/// Is `freq` clearly in `pcm` (at least an eighth of our tone's amplitude)?
pub fn has_tone(pcm: &[i16], freq: f64) -> bool {
    power(pcm, freq) > AMPLITUDE / 8.0
}

/// Is `freq` absent from `pcm` (below 2% of our tone's amplitude)?
pub fn lacks_tone(pcm: &[i16], freq: f64) -> bool {
    power(pcm, freq) < AMPLITUDE / 50.0
}

#[test]
fn self_check_tone_analysis() {
    let mixed: Vec<i16> = sine(440.0, 0, 4000)
        .iter()
        .zip(sine(660.0, 0, 4000))
        .map(|(a, b)| a / 2 + b / 4)
        .collect();
    assert_eq!(dominant_frequency(&mixed), 440.0);
    assert!(has_tone(&mixed, 660.0) && lacks_tone(&mixed, 1000.0));
}
