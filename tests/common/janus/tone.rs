//! Simulated phones for the Janus tests: a thread pushes a sine tone into a conference leg and
//! pulls the room mix every 20 ms; Goertzel filters find tones in what it heard.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::common::goertzel::{self, AMPLITUDE};
use dialbridge::media::conference_leg::ConferenceLeg;

pub const RATE: u32 = 8000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Pushes a tone into a leg and records the room mix, on a steady 20 ms schedule.
pub struct Phone {
    heard: Arc<Mutex<Vec<i16>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Phone {
    pub fn start(leg: Arc<ConferenceLeg>, tone: f64) -> Phone {
        let heard: Arc<Mutex<Vec<i16>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (rec, halt) = (heard.clone(), stop.clone());
        let thread = thread::spawn(move || {
            let frame = RATE as usize / 50;
            let mut out = vec![0i16; frame];
            let mut n = 0usize;
            let mut next = Instant::now();
            while !halt.load(Ordering::Relaxed) {
                leg.push_phone_audio(&sine(tone, n * frame, frame));
                leg.pull_room_audio(&mut out);
                lock(&rec).extend_from_slice(&out);
                n += 1;
                next += Duration::from_millis(20);
                thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        Phone {
            heard,
            stop,
            thread: Some(thread),
        }
    }

    /// The last `ms` of what the phone heard.
    pub fn last(&self, ms: usize) -> Vec<i16> {
        let heard = lock(&self.heard);
        let n = (RATE as usize * ms / 1000).min(heard.len());
        heard[heard.len() - n..].to_vec()
    }

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
