//! DTMF from the three places providers put it: RFC 4733 telephone-events in RTP, SIP INFO
//! bodies, and in-band tones in the decoded audio. All three are sans-IO and never panic on
//! what the network sends; [`DigitMerger`] makes one key press count once across them.
//! Each decoder has its own file (`rfc4733.rs`, `info.rs`, `inband.rs`); the merger lives
//! here, the shared types in `types.rs`.

mod inband;
mod info;
mod rfc4733;
mod types;

pub use inband::InbandDetector;
pub use info::parse_info_body;
pub use rfc4733::Rfc4733Decoder;
pub use types::{DtmfError, DtmfSource};

use std::time::{Duration, Instant};

/// Merges digits from all sources so each key press counts once: once an out-of-band digit
/// (RFC 4733 or INFO) was seen, in-band detection is ignored for the call (the tone is still in
/// the audio of such providers), and the same digit from another source within `window` is dropped.
pub struct DigitMerger {
    window: Duration,
    out_of_band_seen: bool,
    last: Option<(DtmfSource, char, Instant)>,
}

impl DigitMerger {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            out_of_band_seen: false,
            last: None,
        }
    }

    /// Returns `Some(digit)` when this digit is new and should reach the IVR.
    pub fn accept(&mut self, source: DtmfSource, digit: char, now: Instant) -> Option<char> {
        if source == DtmfSource::Inband {
            if self.out_of_band_seen {
                return None;
            }
        } else {
            self.out_of_band_seen = true;
        }
        if let Some((src, d, at)) = self.last
            && src != source
            && d == digit
            && now.saturating_duration_since(at) < self.window
        {
            return None;
        }
        self.last = Some((source, digit, now));
        Some(digit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merger_rules() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut m = DigitMerger::new(Duration::from_millis(300));
        // In-band counts while no out-of-band digit was seen.
        assert_eq!(m.accept(DtmfSource::Inband, '1', ms(0)), Some('1'));
        // The same press arriving by RFC 4733 shortly after is dropped...
        assert_eq!(m.accept(DtmfSource::Rfc4733, '1', ms(40)), None);
        // ...and from now on in-band is ignored.
        assert_eq!(m.accept(DtmfSource::Inband, '2', ms(1000)), None);
        assert_eq!(m.accept(DtmfSource::Rfc4733, '2', ms(1010)), Some('2'));
        // A provider sending INFO as well as RFC 4733: one press.
        assert_eq!(m.accept(DtmfSource::SipInfo, '2', ms(1100)), None);
        // A quick double press on one source is two presses.
        assert_eq!(m.accept(DtmfSource::Rfc4733, '2', ms(1150)), Some('2'));
        // Outside the window the other source counts again.
        assert_eq!(m.accept(DtmfSource::SipInfo, '2', ms(1500)), Some('2'));
        assert_eq!(m.accept(DtmfSource::Rfc4733, '3', ms(1510)), Some('3'));
    }

    #[test]
    fn merger_info_only_provider() {
        let t0 = Instant::now();
        let mut m = DigitMerger::new(Duration::from_millis(300));
        assert_eq!(m.accept(DtmfSource::SipInfo, '4', t0), Some('4'));
        assert_eq!(
            m.accept(DtmfSource::Inband, '4', t0 + Duration::from_millis(20)),
            None
        );
        assert_eq!(
            m.accept(DtmfSource::SipInfo, '4', t0 + Duration::from_millis(500)),
            Some('4')
        );
    }
}
