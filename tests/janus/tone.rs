//! Simulated phones for the Janus tests: a thread pushes a sine tone into a conference leg and
//! pulls the room mix every 20 ms; Goertzel filters find tones in what it heard.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use dialbridge::media::conference_leg::ConferenceLeg;

pub const RATE: u32 = 8000;
const AMPLITUDE: f64 = 8000.0;

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

pub fn sine(freq: f64, start: usize, len: usize) -> Vec<i16> {
    (start..start + len)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            (AMPLITUDE * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect()
}

/// Goertzel: the amplitude of `freq` in `pcm` (a full-scale match of our tone reads ≈ 8000).
pub fn power(pcm: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(RATE);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * p.max(0.0).sqrt() / pcm.len().max(1) as f64
}

/// The strongest frequency between 100 Hz and 3400 Hz (5 Hz steps).
pub fn dominant_frequency(pcm: &[i16]) -> f64 {
    (20..=680)
        .map(|k| f64::from(k) * 5.0)
        .map(|f| (f, power(pcm, f)))
        .fold((0.0, -1.0), |best, x| if x.1 > best.1 { x } else { best })
        .0
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
