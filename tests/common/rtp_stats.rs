//! What the receiver of one RTP stream learns from each packet, after RFC 3550: packets
//! received and expected (A.1/A.3, extended sequence numbers with a cycle count) and the
//! interarrival jitter estimate (A.8). Pure: arrival times are passed in.
//!
//! Differences from the RFC's reference code, chosen for a benchmark receiver of a known sender:
//! no probation (the first packet is trusted), and the counters stay cumulative across an SSRC
//! change or a sequence resync, so that snapshots taken at different times stay comparable.

use std::time::Instant;

/// A jump ahead this large (or more) is not an ordinary gap (RFC 3550 A.1 `MAX_DROPOUT`).
const MAX_DROPOUT: u16 = 3000;
/// A packet this far behind (or less) is a late or duplicate packet (RFC 3550 A.1 `MAX_MISORDER`).
const MAX_MISORDER: u16 = 100;
const SEQ_MOD: u64 = 1 << 16;

/// Sequence bookkeeping of the current SSRC (RFC 3550 A.1 `source`).
#[derive(Debug, Clone, Copy)]
struct SeqState {
    base: u64,
    max_seq: u16,
    /// Wrap-arounds seen, times 2^16.
    cycles: u64,
    /// The sequence number that would confirm a large jump; `None` when there is none pending.
    bad_seq: Option<u16>,
}

impl SeqState {
    fn new(seq: u16) -> SeqState {
        SeqState {
            base: u64::from(seq),
            max_seq: seq,
            cycles: 0,
            bad_seq: None,
        }
    }

    fn expected(&self) -> u64 {
        (self.cycles + u64::from(self.max_seq)) + 1 - self.base
    }
}

/// Receiver statistics of one RTP stream (one sender, possibly restarting with a new SSRC).
#[derive(Debug, Clone)]
pub struct RxStats {
    clock_rate: u32,
    ssrc: Option<u32>,
    seq: Option<SeqState>,
    /// Packets expected in earlier SSRCs or before a resync.
    expected_before: u64,
    received: u64,
    /// Previous packet's arrival and RTP timestamp, for the transit difference D.
    last: Option<(Instant, u32)>,
    /// J, in timestamp units.
    jitter: f64,
}

/// Counters at one moment; compare two with [`RxSnapshot::lost_since`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RxSnapshot {
    pub received: u64,
    pub expected: u64,
    pub jitter_ms: f64,
}

impl RxSnapshot {
    /// Packets lost between `earlier` and `self` (expected minus received in that span, never
    /// negative). Duplicates count as received (as in RFC 3550), so they can hide losses.
    pub fn lost_since(&self, earlier: &RxSnapshot) -> u64 {
        let expected = self.expected.saturating_sub(earlier.expected);
        let received = self.received.saturating_sub(earlier.received);
        expected.saturating_sub(received)
    }
}

impl RxStats {
    /// `clock_rate` is the RTP timestamp rate in Hz (8000 for G.711, 48000 for Opus).
    pub fn new(clock_rate: u32) -> RxStats {
        RxStats {
            clock_rate: clock_rate.max(1),
            ssrc: None,
            seq: None,
            expected_before: 0,
            received: 0,
            last: None,
            jitter: 0.0,
        }
    }

    /// One received packet. `arrival` is a std::time::Instant.
    ///
    /// A packet up to `MAX_MISORDER` behind the highest sequence number (late or duplicate) counts
    /// as received but does not raise `expected`. A single packet far away from the highest
    /// sequence number is ignored; if the next packet follows it, the sender is taken to have
    /// restarted its numbering and counting starts again from there (RFC 3550 A.1).
    pub fn on_packet(&mut self, ssrc: u32, seq: u16, timestamp: u32, arrival: Instant) {
        if self.ssrc != Some(ssrc) {
            self.ssrc = Some(ssrc);
            self.restart(seq);
            self.last = None;
        } else if !self.update_seq(seq) {
            return;
        }
        self.received += 1;
        self.update_jitter(timestamp, arrival);
    }

    /// The counters now; cheap, take one per reporting interval.
    pub fn snapshot(&self) -> RxSnapshot {
        RxSnapshot {
            received: self.received,
            expected: self.expected_before + self.seq.map_or(0, |s| s.expected()),
            jitter_ms: self.jitter / f64::from(self.clock_rate) * 1000.0,
        }
    }

    /// Starts a new sequence space at `seq`, folding the old one into `expected_before`.
    fn restart(&mut self, seq: u16) {
        if let Some(old) = self.seq {
            self.expected_before += old.expected();
        }
        self.seq = Some(SeqState::new(seq));
    }

    /// RFC 3550 A.1 `update_seq`: false when the packet is not to be counted.
    fn update_seq(&mut self, seq: u16) -> bool {
        let Some(s) = self.seq.as_mut() else {
            self.seq = Some(SeqState::new(seq));
            return true;
        };
        let udelta = seq.wrapping_sub(s.max_seq);
        if udelta < MAX_DROPOUT {
            // In order, possibly with a gap.
            if seq < s.max_seq {
                s.cycles += SEQ_MOD;
            }
            s.max_seq = seq;
        } else if udelta <= u16::MAX - MAX_MISORDER {
            // A large jump: believe it only when the next packet follows it.
            if s.bad_seq == Some(seq) {
                self.restart(seq);
            } else {
                s.bad_seq = Some(seq.wrapping_add(1));
                return false;
            }
        }
        // Otherwise a duplicate or a reordered packet: counted, `max_seq` unchanged.
        true
    }

    /// RFC 3550 A.8: J += (|D| - J) / 16, with D the change in transit time in timestamp units.
    fn update_jitter(&mut self, timestamp: u32, arrival: Instant) {
        if let Some((prev_arrival, prev_ts)) = self.last {
            let nanos = if arrival >= prev_arrival {
                (arrival - prev_arrival).as_nanos() as f64
            } else {
                -((prev_arrival - arrival).as_nanos() as f64)
            };
            let arrival_units = nanos * f64::from(self.clock_rate) / 1e9;
            // Signed difference so that timestamp wrap-around does not matter.
            let ts_units = f64::from(timestamp.wrapping_sub(prev_ts) as i32);
            let d = arrival_units - ts_units;
            self.jitter += (d.abs() - self.jitter) / 16.0;
        }
        self.last = Some((arrival, timestamp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SSRC: u32 = 0x1234_5678;

    /// Feeds packets `(seq, slot)`: timestamp and arrival both sit on the 20 ms grid at `slot`.
    fn feed(stats: &mut RxStats, t0: Instant, packets: &[(u16, u64)]) {
        for &(seq, i) in packets {
            let ts = (i as u32).wrapping_mul(160);
            stats.on_packet(SSRC, seq, ts, t0 + Duration::from_millis(20 * i));
        }
    }

    /// A fresh 8 kHz receiver fed `packets`, as (received, expected, lost).
    fn counts(packets: &[(u16, u64)]) -> (u64, u64, u64) {
        let mut stats = RxStats::new(8000);
        feed(&mut stats, Instant::now(), packets);
        let s = stats.snapshot();
        (s.received, s.expected, s.lost_since(&RxSnapshot::default()))
    }

    fn in_order(start: u16, n: u64) -> Vec<(u16, u64)> {
        (0..n).map(|i| (start.wrapping_add(i as u16), i)).collect()
    }

    #[test]
    fn in_order_paced_stream_has_no_loss_and_no_jitter() {
        assert_eq!(RxStats::new(8000).snapshot(), RxSnapshot::default());
        let mut stats = RxStats::new(8000);
        feed(&mut stats, Instant::now(), &in_order(1000, 500));
        let s = stats.snapshot();
        assert_eq!((s.received, s.expected), (500, 500));
        assert!(s.jitter_ms.abs() < 1e-9, "jitter {}", s.jitter_ms);
    }

    #[test]
    fn gap_of_k_packets_is_k_lost() {
        let mut packets = in_order(10, 100);
        packets.retain(|&(_, i)| !(40..47).contains(&i));
        assert_eq!(counts(&packets), (93, 100, 7));
    }

    #[test]
    fn reordering_is_not_loss() {
        let order = [0u64, 1, 3, 2, 4, 7, 5, 6, 8, 9];
        let packets: Vec<_> = order.iter().map(|&i| (500 + i as u16, i)).collect();
        assert_eq!(counts(&packets), (10, 10, 0));
    }

    #[test]
    fn duplicates_count_as_received_and_do_not_raise_expected() {
        assert_eq!(counts(&[(1, 0), (2, 1), (2, 1), (3, 2)]), (4, 3, 0));
    }

    #[test]
    fn wraps_around_65535_to_0() {
        assert_eq!(counts(&in_order(65530, 20)), (20, 20, 0));
        // Reordered across the wrap, seq 2 lost.
        let packets = [(65534, 0), (0, 2), (65535, 1), (1, 3), (3, 5)];
        assert_eq!(counts(&packets), (5, 6, 1));
    }

    #[test]
    fn stray_packet_far_away_does_not_inflate_expected() {
        // One far in the past (beyond MAX_MISORDER), one far in the future: both ignored.
        let packets = [
            (5000, 0),
            (5001, 1),
            (4000, 2),
            (5002, 2),
            (40000, 3),
            (5003, 3),
        ];
        assert_eq!(counts(&packets), (4, 4, 0));
    }

    #[test]
    fn confirmed_large_jump_resyncs_and_stays_cumulative() {
        // The sender renumbers: 20000 is ignored alone, 20001 confirms it; 20003 is lost.
        let mut packets = in_order(100, 10);
        packets.extend([(20000, 10), (20001, 11), (20002, 12), (20004, 14)]);
        assert_eq!(counts(&packets), (10 + 3, 10 + 4, 1));
    }

    #[test]
    fn ssrc_change_rebases_but_keeps_counters_cumulative() {
        let mut stats = RxStats::new(8000);
        let t0 = Instant::now();
        feed(&mut stats, t0, &in_order(60000, 50));
        let before = stats.snapshot();
        // New SSRC with unrelated sequence numbers and timestamps, 1 s later; one packet lost.
        for i in (0..30u64).filter(|&i| i != 12) {
            let arrival = t0 + Duration::from_millis(2000 + 20 * i);
            stats.on_packet(SSRC + 1, 7 + i as u16, 999_000 + 160 * i as u32, arrival);
        }
        let after = stats.snapshot();
        assert_eq!((before.received, before.expected), (50, 50));
        assert_eq!((after.received, after.expected), (50 + 29, 50 + 30));
        assert_eq!(after.lost_since(&before), 1);
        // The transit jump at the change is not taken as jitter.
        assert!(after.jitter_ms.abs() < 1e-9, "jitter {}", after.jitter_ms);
    }

    #[test]
    fn lost_since_counts_only_the_window() {
        let mut stats = RxStats::new(8000);
        let t0 = Instant::now();
        let all = in_order(0, 300);
        feed(&mut stats, t0, &all[..100]);
        let a = stats.snapshot();
        let mut window = all[100..200].to_vec();
        window.retain(|&(_, i)| !i.is_multiple_of(25));
        feed(&mut stats, t0, &window);
        let b = stats.snapshot();
        feed(&mut stats, t0, &all[200..]);
        let c = stats.snapshot();
        assert_eq!(
            (b.lost_since(&a), c.lost_since(&b), c.lost_since(&a)),
            (4, 0, 4)
        );
        // Never negative, even backwards.
        assert_eq!(a.lost_since(&c), 0);
    }

    /// Arrivals alternate +x and -x ms around the 20 ms grid, so every D after the first is
    /// ±2x ms and J_n = 2x (1 - (15/16)^(n-1)) after n packets, tending to 2x.
    #[test]
    fn alternating_arrival_jitter_converges_to_rfc_value() {
        const X_MS: u64 = 5;
        let x = X_MS as f64;
        let mut stats = RxStats::new(8000);
        let t0 = Instant::now();
        let mut j_after = |n: u64| {
            for i in 0..n {
                let ms = 100 - X_MS + 20 * i + if i.is_multiple_of(2) { 2 * X_MS } else { 0 };
                let arrival = t0 + Duration::from_millis(ms);
                stats.on_packet(SSRC, i as u16, 160 * i as u32, arrival);
            }
            std::mem::replace(&mut stats, RxStats::new(8000)).snapshot()
        };
        let expect = |n: i32| 2.0 * x * (1.0 - (15.0f64 / 16.0).powi(n - 1));
        for n in [2, 3, 10] {
            let j = j_after(n as u64).jitter_ms;
            assert!(
                (j - expect(n)).abs() < 1e-9,
                "J after {n}: {j}, RFC {}",
                expect(n)
            );
        }
        let s = j_after(300);
        assert!((s.jitter_ms - 2.0 * x).abs() < 0.01, "J {} ms", s.jitter_ms);
        assert_eq!(s.lost_since(&RxSnapshot::default()), 0);
    }

    #[test]
    fn jitter_is_in_ms_at_other_clock_rates_and_across_timestamp_wrap() {
        // 48 kHz, 20 ms packets, timestamps wrapping past u32::MAX, arrivals 3 ms late every
        // other packet: |D| = 3 ms each time.
        let mut stats = RxStats::new(48000);
        let t0 = Instant::now();
        for i in 0..400u64 {
            let ms = 20 * i + if i.is_multiple_of(2) { 3 } else { 0 };
            let ts = (u32::MAX - 100_000).wrapping_add(960 * i as u32);
            stats.on_packet(SSRC, i as u16, ts, t0 + Duration::from_millis(ms));
        }
        let j = stats.snapshot().jitter_ms;
        assert!((j - 3.0).abs() < 0.01, "J {j} ms");
    }
}
