//! RFC 4733 telephone-events in RTP: [`Rfc4733Decoder`] reports each event's digit once,
//! keyed by its RTP timestamp, and never panics on a short or non-DTMF payload.

use super::types::{DtmfError, event_digit};

/// How many recent event timestamps the decoder remembers. Late repeats of an event come
/// within a few packets, so a handful covers reordering without growing per call.
const RECENT_EVENTS: usize = 8;

/// Decodes RFC 4733 telephone-event payloads. A digit is reported once per event, keyed by the
/// RTP timestamp (all packets of one event share it); the marker bit is not trusted.
#[derive(Debug, Default)]
pub struct Rfc4733Decoder {
    /// Timestamps of recently reported events, a ring written at `next`.
    recent: [Option<u32>; RECENT_EVENTS],
    next: usize,
    /// The newest event: (timestamp, code, longest duration seen, end bit seen). Lets a key
    /// held past the 16-bit duration limit, which RFC 4733 §2.5.1.3 continues under a new
    /// timestamp, stay one key press.
    last: Option<(u32, u8, u16, bool)>,
}

impl Rfc4733Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one telephone-event payload with its RTP timestamp. Returns the digit the first time
    /// an event (timestamp) is seen, `Ok(None)` for its repeats.
    pub fn push(&mut self, rtp_timestamp: u32, payload: &[u8]) -> Result<Option<char>, DtmfError> {
        let &[code, flags, dur_hi, dur_lo, ..] = payload else {
            return Err(DtmfError::ShortPayload(payload.len()));
        };
        let digit = event_digit(code).ok_or(DtmfError::NotADigit(code))?;
        let duration = u16::from_be_bytes([dur_hi, dur_lo]);
        let end = flags & 0x80 != 0;

        if self.recent.contains(&Some(rtp_timestamp)) {
            if let Some((ts, c, d, e)) = &mut self.last
                && *ts == rtp_timestamp
                && *c == code
            {
                *d = (*d).max(duration);
                *e |= end;
            }
            return Ok(None);
        }
        // A segment of a long event starts where the previous one ran out of duration bits.
        let continues = matches!(self.last, Some((ts, c, u16::MAX, false))
            if c == code && rtp_timestamp.wrapping_sub(ts) <= u32::from(u16::MAX) + 1);
        self.recent[self.next] = Some(rtp_timestamp);
        self.next = (self.next + 1) % RECENT_EVENTS;
        self.last = Some((rtp_timestamp, code, duration, end));
        Ok((!continues).then_some(digit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(code: u8, end: bool, duration: u16) -> [u8; 4] {
        let [hi, lo] = duration.to_be_bytes();
        [code, if end { 0x80 | 10 } else { 10 }, hi, lo]
    }

    /// All packets of one key press, as a sender emits them: updates, then 3 end packets.
    fn key_press(code: u8, updates: u16) -> Vec<[u8; 4]> {
        let mut packets: Vec<_> = (1..=updates).map(|i| event(code, false, i * 160)).collect();
        packets.extend([event(code, true, (updates + 1) * 160); 3]);
        packets
    }

    fn feed(dec: &mut Rfc4733Decoder, ts: u32, packets: &[[u8; 4]]) -> Vec<char> {
        packets
            .iter()
            .filter_map(|p| dec.push(ts, p).expect("valid payload"))
            .collect()
    }

    #[test]
    fn rfc4733_one_digit_per_event_with_end_repeats() {
        let mut dec = Rfc4733Decoder::new();
        assert_eq!(feed(&mut dec, 1000, &key_press(5, 6)), ['5']);
        assert_eq!(feed(&mut dec, 3000, &key_press(11, 3)), ['#']);
        // The same key again is a new event with a new timestamp: a new press.
        assert_eq!(feed(&mut dec, 5000, &key_press(11, 3)), ['#']);
    }

    #[test]
    fn rfc4733_needs_no_marker_or_first_packet() {
        // The marker bit is not an input at all; here even the first packets were lost.
        let mut dec = Rfc4733Decoder::new();
        assert_eq!(feed(&mut dec, 42, &[event(10, true, 800); 3]), ['*']);
        assert_eq!(
            feed(
                &mut dec,
                9000,
                &[event(15, false, 480), event(15, true, 640)]
            ),
            ['D']
        );
    }

    #[test]
    fn rfc4733_late_repeats_of_earlier_events_are_not_reported() {
        let mut dec = Rfc4733Decoder::new();
        assert_eq!(dec.push(1000, &event(1, false, 160)), Ok(Some('1')));
        assert_eq!(dec.push(2000, &event(2, false, 160)), Ok(Some('2')));
        assert_eq!(dec.push(1000, &event(1, true, 800)), Ok(None));
        assert_eq!(dec.push(3000, &event(3, true, 800)), Ok(Some('3')));
        assert_eq!(dec.push(2000, &event(2, true, 800)), Ok(None));
        assert_eq!(dec.push(1000, &event(1, true, 800)), Ok(None));
    }

    #[test]
    fn rfc4733_long_event_segments_are_one_press() {
        let mut dec = Rfc4733Decoder::new();
        assert_eq!(dec.push(100, &event(7, false, u16::MAX)), Ok(Some('7')));
        assert_eq!(dec.push(100 + 65535, &event(7, false, 800)), Ok(None));
        assert_eq!(dec.push(100 + 65535, &event(7, true, 960)), Ok(None));
        assert_eq!(dec.push(200_000, &event(7, true, 960)), Ok(Some('7')));
    }

    #[test]
    fn rfc4733_bad_payloads() {
        let mut dec = Rfc4733Decoder::new();
        assert_eq!(dec.push(1, &[]), Err(DtmfError::ShortPayload(0)));
        assert_eq!(dec.push(1, &[5, 0, 1]), Err(DtmfError::ShortPayload(3)));
        assert_eq!(
            dec.push(1, &event(16, false, 160)),
            Err(DtmfError::NotADigit(16))
        );
        assert_eq!(
            dec.push(1, &event(255, true, 0)),
            Err(DtmfError::NotADigit(255))
        );
        // A rejected event leaves no trace: the timestamp still works for a real digit.
        assert_eq!(dec.push(1, &[9, 0, 0, 160, 0xAA]), Ok(Some('9')));
    }
}
