//! The phone leg's jitter buffer, sans-IO: puts the caller's audio packets back in sequence
//! order before they are decoded. Packets in order pass at once (decoding is not paced: the
//! conference side timestamps and the far end's jitter buffer absorb arrival jitter, so holding
//! audio here would only add delay). A packet after a hole is held until the missing one arrives
//! or until it has waited `wait`; then the hole is given up as lost.
//!
//! It replaces GStreamer's `rtpjitterbuffer`, which behaved the same way for us (the receive
//! pipeline does not sync to a clock) but cost a streaming thread and its wake-ups per call.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Most packets held behind a hole (one second of 20 ms packets); a packet further ahead or
/// further behind than this restarts the sequence (the phone jumped, e.g. a new SSRC after hold).
pub const MAX_HELD: u16 = 50;

/// What to decode next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    Packet(Vec<u8>),
    /// This many packets are missing here for good.
    Lost(u16),
}

#[derive(Debug)]
pub struct Reorder {
    wait: Duration,
    /// The sequence number of the next packet to pass on.
    next: Option<u16>,
    /// Packets after a hole, by sequence number, with their arrival time.
    held: HashMap<u16, (Instant, Vec<u8>)>,
    /// Packets that came after their place was passed (late or duplicate), dropped.
    pub late: u64,
}

impl Reorder {
    pub fn new(wait: Duration) -> Reorder {
        Reorder {
            wait,
            next: None,
            held: HashMap::new(),
            late: 0,
        }
    }

    /// Takes one packet with sequence number `seq`; appends what can be decoded now to `out`.
    pub fn push(&mut self, seq: u16, packet: Vec<u8>, now: Instant, out: &mut Vec<Playout>) {
        let next = *self.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next);
        let recent_past = ahead >= 0x8000 && next.wrapping_sub(seq) <= MAX_HELD;
        if recent_past || self.held.contains_key(&seq) {
            self.late += 1;
        } else if ahead > MAX_HELD {
            while !self.held.is_empty() {
                self.skip_hole(out);
            }
            self.next = Some(seq.wrapping_add(1));
            out.push(Playout::Packet(packet));
        } else if ahead == 0 {
            self.next = Some(seq.wrapping_add(1));
            out.push(Playout::Packet(packet));
            self.release_in_order(out);
        } else {
            self.held.insert(seq, (now, packet));
        }
    }

    /// Gives up the holes before packets that waited `wait`; appends what follows to `out`.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Playout>) {
        while self.deadline().is_some_and(|at| at <= now) {
            self.skip_hole(out);
        }
    }

    /// When [`Reorder::poll`] has something to do, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        self.held
            .values()
            .map(|(arrived, _)| *arrived + self.wait)
            .min()
    }

    /// Declares the hole before the first held packet lost and passes on what follows it.
    fn skip_hole(&mut self, out: &mut Vec<Playout>) {
        let Some(next) = self.next else { return };
        let Some(gap) = self.held.keys().map(|s| s.wrapping_sub(next)).min() else {
            return;
        };
        out.push(Playout::Lost(gap));
        self.next = Some(next.wrapping_add(gap));
        self.release_in_order(out);
    }

    /// Passes on held packets that are next in line.
    fn release_in_order(&mut self, out: &mut Vec<Playout>) {
        while let Some(next) = self.next
            && let Some((_, packet)) = self.held.remove(&next)
        {
            out.push(Playout::Packet(packet));
            self.next = Some(next.wrapping_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(60);

    fn run(r: &mut Reorder, seqs: &[u16], now: Instant) -> Vec<Playout> {
        let mut out = Vec::new();
        for &seq in seqs {
            r.push(seq, vec![seq as u8], now, &mut out);
        }
        out
    }

    fn packets(seqs: &[u16]) -> Vec<Playout> {
        seqs.iter()
            .map(|&s| Playout::Packet(vec![s as u8]))
            .collect()
    }

    #[test]
    fn in_order_packets_pass_at_once() {
        let mut r = Reorder::new(WAIT);
        let t0 = Instant::now();
        assert_eq!(run(&mut r, &[7, 8, 9], t0), packets(&[7, 8, 9]));
        assert_eq!(r.deadline(), None);
    }

    #[test]
    fn a_swapped_pair_comes_out_in_order() {
        let mut r = Reorder::new(WAIT);
        let t0 = Instant::now();
        assert_eq!(run(&mut r, &[1, 3], t0), packets(&[1]));
        assert_eq!(r.deadline(), Some(t0 + WAIT));
        assert_eq!(run(&mut r, &[2, 4], t0), packets(&[2, 3, 4]));
        assert_eq!(r.deadline(), None);
    }

    #[test]
    fn a_hole_is_given_up_after_the_wait_and_late_packets_are_dropped() {
        let mut r = Reorder::new(WAIT);
        let t0 = Instant::now();
        run(&mut r, &[1], t0);
        assert_eq!(run(&mut r, &[4, 5], t0 + Duration::from_millis(10)), vec![]);
        let mut out = Vec::new();
        r.poll(t0 + Duration::from_millis(69), &mut out);
        assert_eq!(out, vec![], "not yet");
        r.poll(t0 + Duration::from_millis(70), &mut out);
        let mut expected = vec![Playout::Lost(2)];
        expected.extend(packets(&[4, 5]));
        assert_eq!(out, expected);
        assert_eq!(run(&mut r, &[3, 5], t0), vec![]);
        assert_eq!(r.late, 2);
        assert_eq!(run(&mut r, &[6], t0), packets(&[6]));
    }

    #[test]
    fn wraps_around_and_a_big_jump_restarts() {
        let mut r = Reorder::new(WAIT);
        let t0 = Instant::now();
        assert_eq!(
            run(&mut r, &[65534, 0, 65535], t0),
            packets(&[65534, 65535, 0])
        );
        let out = run(&mut r, &[2, 2 + MAX_HELD + 5], t0);
        let mut expected = vec![Playout::Lost(1)];
        expected.extend(packets(&[2, 2 + MAX_HELD + 5]));
        assert_eq!(out, expected, "the held packet is flushed first");
        assert_eq!(
            run(&mut r, &[3 + MAX_HELD + 5], t0),
            packets(&[3 + MAX_HELD + 5])
        );
    }

    #[test]
    fn a_jump_back_beyond_the_window_restarts_too() {
        let mut r = Reorder::new(WAIT);
        let t0 = Instant::now();
        run(&mut r, &[30000, 30001], t0);
        assert_eq!(run(&mut r, &[29990], t0), vec![], "a late packet");
        assert_eq!(
            run(&mut r, &[100, 101], t0),
            packets(&[100, 101]),
            "a new stream far behind is not dropped as late"
        );
        assert_eq!(r.late, 1);
    }

    #[test]
    fn duplicates_are_dropped_held_or_not() {
        let mut r = Reorder::new(WAIT);
        let t0 = Instant::now();
        assert_eq!(run(&mut r, &[1, 1, 3, 3, 2], t0), packets(&[1, 2, 3]));
        assert_eq!(r.late, 2);
    }
}
