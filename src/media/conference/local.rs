//! Callers of this process in the same room hear each other in-process: the caller's PCM goes
//! straight into the other call's mixer, with no Opus, no SRTP and no PeerConnection between two
//! legs of one bridge. In a mesh room of five callers that is one PeerConnection per caller (to
//! the web participant) instead of five.
//!
//! A link is one direction: this leg's audio into one listener's mixer. A listener holds no
//! reference to us, and we hold only a weak one to its mixer, so a call that ends stops feeding
//! and being fed without either side being told. Both ends share a flag, so a listener that
//! drops the link (its peer left) is not fed again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::mix::Mixer;
use super::shared::lock;
use crate::metrics::LOCAL_LINKS;

/// One listener: its mixer and our stream's id in it.
struct Listener {
    mixer: Weak<Mutex<Mixer>>,
    stream: u64,
    open: Arc<AtomicBool>,
}

/// One caller we hear: its stream's id in our mixer.
struct Heard {
    stream: u64,
    open: Arc<AtomicBool>,
}

/// What both ends of one direction of a link share.
pub struct Link {
    pub stream: u64,
    open: Arc<AtomicBool>,
}

impl Link {
    pub fn new(stream: u64) -> Link {
        Link {
            stream,
            open: Arc::new(AtomicBool::new(true)),
        }
    }
}

/// The local links of one leg, by the other caller's peer name.
#[derive(Default)]
pub struct LocalLinks {
    /// Who hears our audio.
    listeners: Mutex<HashMap<String, Listener>>,
    /// Whose audio we hear.
    heard: Mutex<HashMap<String, Heard>>,
}

impl LocalLinks {
    /// From now on `peer` hears us: our frames go to `mixer` as `link`'s stream.
    pub fn add_listener(&self, peer: &str, mixer: &Arc<Mutex<Mixer>>, link: &Link) {
        let listener = Listener {
            mixer: Arc::downgrade(mixer),
            stream: link.stream,
            open: link.open.clone(),
        };
        if lock(&self.listeners)
            .insert(peer.to_string(), listener)
            .is_none()
        {
            LOCAL_LINKS.inc();
        }
    }

    /// We hear `peer` as `link`'s stream of our own mixer.
    pub fn add_heard(&self, peer: &str, link: &Link) {
        let heard = Heard {
            stream: link.stream,
            open: link.open.clone(),
        };
        lock(&self.heard).insert(peer.to_string(), heard);
    }

    /// Ends both directions with `peer`; its stream leaves `own` (our mixer). Returns whether
    /// there was a link.
    pub fn remove(&self, peer: &str, own: &Mutex<Mixer>) -> bool {
        let stopped = lock(&self.listeners).remove(peer).is_some();
        if stopped {
            LOCAL_LINKS.dec();
        }
        let heard = lock(&self.heard).remove(peer);
        if let Some(heard) = &heard {
            heard.open.store(false, Ordering::Relaxed);
            lock(own).remove(heard.stream);
        }
        stopped || heard.is_some()
    }

    /// Hands one frame of the caller's audio to every listener still there.
    pub fn feed(&self, pcm: &[i16]) {
        let mut listeners = lock(&self.listeners);
        if listeners.is_empty() {
            return;
        }
        listeners.retain(|_, l| match l.mixer.upgrade() {
            Some(mixer) if l.open.load(Ordering::Relaxed) => {
                lock(&mixer).push(l.stream, pcm);
                true
            }
            _ => {
                LOCAL_LINKS.dec();
                false
            }
        });
    }
}

impl Drop for LocalLinks {
    fn drop(&mut self) {
        let listeners = self.listeners.get_mut().map_or(0, |l| l.len());
        (0..listeners).for_each(|_| LOCAL_LINKS.dec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mixer() -> Arc<Mutex<Mixer>> {
        Arc::new(Mutex::new(Mixer::new(2)))
    }

    /// The next 2-sample frame of `mixer`.
    fn heard(mixer: &Mutex<Mixer>) -> [i16; 2] {
        let mut out = [0; 2];
        lock(mixer).pull(&mut out);
        out
    }

    #[test]
    fn a_listener_hears_us_until_it_drops_the_link() {
        let (ours, theirs) = (LocalLinks::default(), LocalLinks::default());
        let their_mixer = mixer();
        let link = Link::new(7);
        ours.add_listener("them", &their_mixer, &link);
        theirs.add_heard("us", &link);
        ours.feed(&[100, 200]);
        ours.feed(&[300, 400]);
        assert_eq!(heard(&their_mixer), [100, 200], "primed with two frames");

        assert!(theirs.remove("us", &their_mixer), "they had a link");
        ours.feed(&[500, 600]);
        ours.feed(&[500, 600]);
        assert_eq!(
            heard(&their_mixer),
            [0, 0],
            "our stream left their mix for good"
        );
        assert!(lock(&ours.listeners).is_empty(), "we stopped feeding them");
        assert!(!theirs.remove("us", &their_mixer), "nothing left to remove");
    }

    #[test]
    fn a_listener_that_is_gone_is_forgotten() {
        let ours = LocalLinks::default();
        let their_mixer = mixer();
        ours.add_listener("them", &their_mixer, &Link::new(8));
        drop(their_mixer);
        ours.feed(&[1, 2]);
        assert!(lock(&ours.listeners).is_empty());
    }
}
