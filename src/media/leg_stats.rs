//! What a phone leg counts and what it hands out while running, shared by the leg
//! (`phone_leg.rs`) and its task (`phone_task.rs`): the PCM tap, the atomic counters and their
//! snapshot, and the quality state the call record reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::leg_quality::QualityState;

/// Receives the caller's decoded audio (mono S16 at the codec's audio rate) as packets arrive,
/// about every 20 ms, on the leg's tokio task: must not block.
pub type PcmTap = Box<dyn FnMut(&[i16]) + Send>;

/// Counters of one leg.
#[derive(Debug)]
pub(crate) struct Counters {
    pub rx_packets: AtomicU64,
    pub rx_invalid: AtomicU64,
    pub rx_unexpected_pt: AtomicU64,
    pub rx_dtmf_errors: AtomicU64,
    pub rx_lost: AtomicU64,
    pub rx_late: AtomicU64,
    pub rx_foreign: AtomicU64,
    pub rx_srtp_rejected: AtomicU64,
    pub tx_packets: AtomicU64,
    pub tx_errors: AtomicU64,
    /// Jitter and the caller's receiver reports, for the call record.
    pub quality: Arc<Mutex<QualityState>>,
}

impl Counters {
    pub fn new(clock_rate: u32) -> Self {
        let zero = || AtomicU64::new(0);
        Counters {
            rx_packets: zero(),
            rx_invalid: zero(),
            rx_unexpected_pt: zero(),
            rx_dtmf_errors: zero(),
            rx_lost: zero(),
            rx_late: zero(),
            rx_foreign: zero(),
            rx_srtp_rejected: zero(),
            tx_packets: zero(),
            tx_errors: zero(),
            quality: Arc::new(Mutex::new(QualityState::new(clock_rate))),
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> LegStats {
        let c = self;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LegStats {
            rx_packets: get(&c.rx_packets),
            rx_invalid: get(&c.rx_invalid),
            rx_unexpected_pt: get(&c.rx_unexpected_pt),
            rx_dtmf_errors: get(&c.rx_dtmf_errors),
            rx_lost: get(&c.rx_lost),
            rx_late: get(&c.rx_late),
            rx_foreign: get(&c.rx_foreign),
            rx_srtp_rejected: get(&c.rx_srtp_rejected),
            tx_packets: get(&c.tx_packets),
            tx_errors: get(&c.tx_errors),
        }
    }
}

/// A snapshot of a leg's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// Valid RTP packets of the audio, telephone-event or comfort-noise payload type.
    pub rx_packets: u64,
    /// Packets that are not valid RTP (dropped).
    pub rx_invalid: u64,
    /// Valid RTP with another payload type (dropped).
    pub rx_unexpected_pt: u64,
    /// Telephone-event payloads the RFC 4733 decoder rejected.
    pub rx_dtmf_errors: u64,
    /// Packets (of any accepted payload type) given up as lost (a hole that outwaited
    /// `jitter_buffer_ms`).
    pub rx_lost: u64,
    /// Packets that came after their place was passed, or twice (dropped).
    pub rx_late: u64,
    /// Valid RTP from a source other than the caller's (dropped; see `media::latch`).
    pub rx_foreign: u64,
    /// SRTP packets that failed authentication or replayed an old one (dropped).
    pub rx_srtp_rejected: u64,
    pub tx_packets: u64,
    /// Outbound packets the socket refused or the pipeline failed to produce.
    pub tx_errors: u64,
}
