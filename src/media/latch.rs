//! Symmetric RTP without RTP bleed, sans-IO: which source address the phone leg takes audio from
//! and sends to. The first valid packet latches its source. Another source takes over only with
//! the latched stream's SSRC (the caller's NAT mapping moved) or once the latched source has been
//! silent for [`TAKEOVER_SILENCE`] (the phone restarted its stream elsewhere). Anything else is a
//! stranger's packet, dropped: otherwise anyone who finds the port could take the caller's audio
//! path (and the audio sent back) with one packet.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long the latched source must be silent before another source may take over.
pub const TAKEOVER_SILENCE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// From the latched source.
    Latched,
    /// This source is latched now (the first, or one taking over).
    Moved,
    /// Not from the latched source: drop it.
    Stranger,
}

#[derive(Debug, Default)]
pub struct Latch {
    /// The latched source, its SSRC and when it was last heard.
    current: Option<(SocketAddr, u32, Instant)>,
}

impl Latch {
    /// Judges a valid RTP packet of `ssrc` from `from`, arrived at `now`.
    pub fn check(&mut self, from: SocketAddr, ssrc: u32, now: Instant) -> Verdict {
        match self.current {
            Some((addr, _, _)) if addr == from => {
                self.current = Some((from, ssrc, now));
                Verdict::Latched
            }
            Some((_, latched_ssrc, last))
                if latched_ssrc != ssrc
                    && now.saturating_duration_since(last) < TAKEOVER_SILENCE =>
            {
                Verdict::Stranger
            }
            _ => {
                self.current = Some((from, ssrc, now));
                Verdict::Moved
            }
        }
    }

    /// Where to send: the latched source, if any.
    pub fn address(&self) -> Option<SocketAddr> {
        self.current.map(|(addr, _, _)| addr)
    }

    /// Forgets the latched source (a re-INVITE named a new address).
    pub fn reset(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], port))
    }

    #[test]
    fn the_first_source_latches_and_strangers_are_dropped() {
        let mut latch = Latch::default();
        let t0 = Instant::now();
        assert_eq!(latch.check(addr(1), 7, t0), Verdict::Moved);
        assert_eq!(latch.check(addr(1), 7, t0), Verdict::Latched);
        assert_eq!(latch.check(addr(2), 99, t0), Verdict::Stranger);
        assert_eq!(latch.address(), Some(addr(1)));
    }

    #[test]
    fn the_callers_stream_may_move_to_a_new_address() {
        let mut latch = Latch::default();
        let t0 = Instant::now();
        latch.check(addr(1), 7, t0);
        assert_eq!(
            latch.check(addr(2), 7, t0),
            Verdict::Moved,
            "same SSRC: NAT moved"
        );
        assert_eq!(latch.check(addr(1), 7, t0), Verdict::Moved, "and back");
    }

    #[test]
    fn another_source_takes_over_only_after_silence() {
        let mut latch = Latch::default();
        let t0 = Instant::now();
        latch.check(addr(1), 7, t0);
        let almost = t0 + TAKEOVER_SILENCE - Duration::from_millis(1);
        assert_eq!(latch.check(addr(2), 8, almost), Verdict::Stranger);
        assert_eq!(
            latch.check(addr(2), 8, t0 + TAKEOVER_SILENCE),
            Verdict::Moved
        );
        assert_eq!(
            latch.check(addr(1), 7, t0 + TAKEOVER_SILENCE),
            Verdict::Stranger
        );
    }

    #[test]
    fn reset_lets_the_next_source_latch() {
        let mut latch = Latch::default();
        let t0 = Instant::now();
        latch.check(addr(1), 7, t0);
        latch.reset();
        assert_eq!(latch.address(), None);
        assert_eq!(latch.check(addr(2), 8, t0), Verdict::Moved);
    }
}
