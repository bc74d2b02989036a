//! The phone leg's jitter buffer, sans-IO: puts the caller's whole RTP stream back in sequence
//! order, per SSRC, before anything looks at the payload type. Audio, RFC 4733 events and comfort
//! noise share one sequence (RFC 3550), so reordering them together leaves no hole where an
//! event was; the caller dispatches by payload type after this. Packets in order pass at once
//! (decoding is not paced: the conference side timestamps and the far end's jitter buffer absorb
//! arrival jitter, so holding audio here would only add delay). A packet after a hole is held
//! until the missing one arrives or until it has waited `wait`; then the hole is given up as
//! lost. A new SSRC (a phone back from hold, a transfer) is a new sequence of its own.
//!
//! It replaces GStreamer's `rtpjitterbuffer`, which behaved the same way for us (the receive
//! pipeline does not sync to a clock) but cost a streaming thread and its wake-ups per call.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Most packets held behind a hole (one second of 20 ms packets); a packet further ahead or
/// further behind than this restarts the sequence (the phone jumped).
pub const MAX_HELD: u16 = 50;

/// Most SSRCs followed at once; a further one makes the least recently heard one give up its
/// holes and be forgotten, so a stranger cycling SSRCs cannot grow the state.
pub const MAX_STREAMS: usize = 4;

/// What to handle next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout<T = Vec<u8>> {
    Packet(T),
    /// This many packets (of any payload type) are missing here for good.
    Lost(u16),
}

/// The jitter buffer of one call: one `Sequence` per SSRC.
#[derive(Debug)]
pub struct Reorder<T = Vec<u8>> {
    wait: Duration,
    /// By SSRC, with the time the SSRC was last heard.
    streams: HashMap<u32, (Instant, Sequence<T>)>,
    /// Packets that came after their place was passed (late or duplicate), dropped.
    pub late: u64,
}

impl<T> Reorder<T> {
    pub fn new(wait: Duration) -> Reorder<T> {
        Reorder {
            wait,
            streams: HashMap::new(),
            late: 0,
        }
    }

    /// Takes one packet of `ssrc` with sequence number `seq`; appends what can be handled now
    /// to `out`.
    pub fn push(
        &mut self,
        ssrc: u32,
        seq: u16,
        packet: T,
        now: Instant,
        out: &mut Vec<Playout<T>>,
    ) {
        if !self.streams.contains_key(&ssrc) && self.streams.len() >= MAX_STREAMS {
            let oldest = self.streams.iter().min_by_key(|(_, (heard, _))| *heard);
            if let Some(&oldest) = oldest.map(|(ssrc, _)| ssrc)
                && let Some((_, mut stream)) = self.streams.remove(&oldest)
            {
                stream.flush(out);
            }
        }
        let (heard, stream) = self
            .streams
            .entry(ssrc)
            .or_insert_with(|| (now, Sequence::new()));
        *heard = now;
        if !stream.push(seq, packet, now, out) {
            self.late += 1;
        }
    }

    /// Gives up the holes before packets that waited `wait`; appends what follows to `out`.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Playout<T>>) {
        let wait = self.wait;
        for (_, stream) in self.streams.values_mut() {
            while stream.oldest().is_some_and(|at| at + wait <= now) {
                stream.skip_hole(out);
            }
        }
    }

    /// When [`Reorder::poll`] has something to do, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        self.streams
            .values()
            .filter_map(|(_, stream)| stream.oldest())
            .min()
            .map(|arrived| arrived + self.wait)
    }
}

/// The packets of one SSRC in sequence-number order.
#[derive(Debug)]
struct Sequence<T> {
    /// The sequence number of the next packet to pass on.
    next: Option<u16>,
    /// Packets after a hole, by sequence number, with their arrival time.
    held: HashMap<u16, (Instant, T)>,
}

impl<T> Sequence<T> {
    fn new() -> Self {
        Sequence {
            next: None,
            held: HashMap::new(),
        }
    }

    /// Takes one packet; `false` if it came after its place was passed (dropped).
    fn push(&mut self, seq: u16, packet: T, now: Instant, out: &mut Vec<Playout<T>>) -> bool {
        let next = *self.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next);
        let recent_past = ahead >= 0x8000 && next.wrapping_sub(seq) <= MAX_HELD;
        if recent_past || self.held.contains_key(&seq) {
            return false;
        }
        if ahead > MAX_HELD {
            self.flush(out);
            self.next = Some(seq.wrapping_add(1));
            out.push(Playout::Packet(packet));
        } else if ahead == 0 {
            self.next = Some(seq.wrapping_add(1));
            out.push(Playout::Packet(packet));
            self.release_in_order(out);
        } else {
            self.held.insert(seq, (now, packet));
        }
        true
    }

    /// When the longest-held packet arrived.
    fn oldest(&self) -> Option<Instant> {
        self.held.values().map(|(arrived, _)| *arrived).min()
    }

    /// Gives up every hole and passes on everything held.
    fn flush(&mut self, out: &mut Vec<Playout<T>>) {
        while !self.held.is_empty() {
            self.skip_hole(out);
        }
    }

    /// Declares the hole before the first held packet lost and passes on what follows it.
    fn skip_hole(&mut self, out: &mut Vec<Playout<T>>) {
        let Some(next) = self.next else { return };
        let Some(gap) = self.held.keys().map(|s| s.wrapping_sub(next)).min() else {
            return;
        };
        out.push(Playout::Lost(gap));
        self.next = Some(next.wrapping_add(gap));
        self.release_in_order(out);
    }

    /// Passes on held packets that are next in line.
    fn release_in_order(&mut self, out: &mut Vec<Playout<T>>) {
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
    const SSRC: u32 = 7;

    fn run(r: &mut Reorder, seqs: &[u16], now: Instant) -> Vec<Playout> {
        let mut out = Vec::new();
        for &seq in seqs {
            r.push(SSRC, seq, vec![seq as u8], now, &mut out);
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

    #[test]
    fn events_and_comfort_noise_fill_the_sequence_but_losses_stay_holes() {
        // 100 audio, 101..=108 a key press (telephone-event), 109 audio: one sequence, no hole.
        let mut r = Reorder::new(WAIT);
        let t0 = Instant::now();
        let seqs: Vec<u16> = (100..=109).collect();
        assert_eq!(run(&mut r, &seqs, t0), packets(&seqs));
        assert_eq!(
            r.deadline(),
            None,
            "nothing waits for an event's sequence number"
        );
        assert_eq!(
            run(&mut r, &[111], t0),
            vec![],
            "110 is missing: a real hole"
        );
        assert_eq!(r.deadline(), Some(t0 + WAIT));
    }

    #[test]
    fn a_new_ssrc_is_a_new_sequence() {
        let mut r = Reorder::new(WAIT);
        let t0 = Instant::now();
        let mut out = Vec::new();
        for seq in [1000, 1002] {
            r.push(1, seq, vec![1], t0, &mut out);
        }
        // Back from hold with another SSRC, numbered a little behind and a little ahead.
        for seq in [995, 996, 998] {
            r.push(2, seq, vec![2], t0, &mut out);
        }
        let two = Playout::Packet(vec![2]);
        assert_eq!(
            out,
            vec![Playout::Packet(vec![1]), two.clone(), two.clone()],
            "neither late nor held behind the old stream"
        );
        assert_eq!(r.late, 0);
        out.clear();
        r.poll(t0 + WAIT, &mut out);
        assert_eq!(out.len(), 4, "each stream gives up its own hole: {out:?}");
    }

    #[test]
    fn events_numbered_apart_from_the_audio_are_not_lost() {
        // An odd phone numbers its events in a sequence of their own (same SSRC).
        let mut r = Reorder::new(WAIT);
        let t0 = Instant::now();
        let seqs = [100, 5000, 5001, 101, 102];
        assert_eq!(run(&mut r, &seqs, t0), packets(&seqs));
        assert_eq!((r.late, r.deadline()), (0, None));
    }

    #[test]
    fn a_stranger_cycling_ssrcs_cannot_grow_the_state() {
        let mut r = Reorder::new(WAIT);
        let t0 = Instant::now();
        let mut out = Vec::new();
        r.push(0, 1, vec![0], t0, &mut out);
        r.push(0, 3, vec![0], t0, &mut out); // held behind a hole
        for ssrc in 1..=MAX_STREAMS as u32 {
            r.push(ssrc, 1, vec![1], t0 + Duration::from_millis(1), &mut out);
        }
        assert_eq!(r.streams.len(), MAX_STREAMS);
        assert!(
            out.contains(&Playout::Lost(1)),
            "the oldest stream gave up its hole: {out:?}"
        );
        assert_eq!(r.deadline(), None);
    }
}
