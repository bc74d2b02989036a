//! DTMF from the three places providers put it: RFC 4733 telephone-events in RTP, SIP INFO
//! bodies, and in-band tones in the decoded audio. All three are sans-IO and never panic on
//! what the network sends; [`DigitMerger`] makes one key press count once across them.

use std::time::{Duration, Instant};

/// Where a digit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfSource {
    Rfc4733,
    SipInfo,
    Inband,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DtmfError {
    #[error("telephone-event payload is {0} bytes, needs at least 4")]
    ShortPayload(usize),
    #[error("event code {0} is not a DTMF digit")]
    NotADigit(u8),
    #[error("unsupported DTMF content type {0:?}")]
    UnsupportedContentType(String),
    #[error("no DTMF digit in the body")]
    NoDigit,
}

/// The 16 DTMF keys in RFC 4733 event-code order (0-9, *, #, A-D).
const EVENT_DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// The key for an RFC 4733 event code, `None` for non-DTMF events (flash, tones, …).
fn event_digit(code: u8) -> Option<char> {
    EVENT_DIGITS.get(usize::from(code)).copied()
}

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

/// Parses a SIP INFO body: `application/dtmf-relay` (`Signal=5\r\nDuration=160`) or
/// `application/dtmf` (`5`).
pub fn parse_info_body(content_type: &str, body: &[u8]) -> Result<char, DtmfError> {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    let text = || std::str::from_utf8(body).map_err(|_| DtmfError::NoDigit);
    if mime.eq_ignore_ascii_case("application/dtmf-relay") {
        text()?
            .lines()
            .filter_map(|line| line.split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("signal"))
            .ok_or(DtmfError::NoDigit)
            .and_then(|(_, value)| signal_digit(value))
    } else if mime.eq_ignore_ascii_case("application/dtmf") {
        signal_digit(text()?)
    } else {
        Err(DtmfError::UnsupportedContentType(content_type.to_owned()))
    }
}

/// A signal value: a key (`5`, `*`, `a`) or an RFC 4733 event code (`10` for `*`).
fn signal_digit(value: &str) -> Result<char, DtmfError> {
    let value = value.trim();
    let mut chars = value.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        let c = c.to_ascii_uppercase();
        if EVENT_DIGITS.contains(&c) {
            return Ok(c);
        }
    }
    value
        .parse::<u8>()
        .ok()
        .and_then(event_digit)
        .ok_or(DtmfError::NoDigit)
}

/// Row (low group) then column (high group) frequencies in Hz.
const DTMF_FREQS: [f32; 8] = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];
/// Samples per block at 8 kHz (12.75 ms). Two full blocks always fit in a 40 ms tone, which
/// ITU-T Q.24 says must be accepted; clicks of ~12 ms never hit two blocks. (A clean tone that
/// covers most of two blocks, from ~17 ms, may be accepted.) The bins still separate
/// neighbouring DTMF tones (>= 73 Hz apart) by more than 10 dB.
const BLOCK_AT_8K: u32 = 102;
/// Consecutive hit blocks before a digit is reported.
const HITS_TO_REPORT: u8 = 2;
/// Consecutive blocks without the digit that end it, so a brief dropout inside a held key is
/// bridged while a 40 ms inter-digit pause is still seen.
const MISSES_TO_END: u8 = 2;
/// Smallest accepted amplitude per tone: -38 dBFS, well below the -25 dBFS we must hear.
const MIN_TONE_AMPLITUDE: f32 = 32767.0 * 0.012_589;
/// Share of the block's energy the two tones must hold: speech, music and noise spread theirs.
const MIN_TONE_SHARE: f32 = 0.6;
/// Max power ratio between the two tones (8 dB either way).
const MAX_TWIST: f32 = 6.31;
/// The strongest tone of a group must beat the others of its group by this ratio (8 dB).
const MIN_PEAK_RATIO: f32 = 6.31;

/// Detects DTMF tones in mono 16-bit PCM with Goertzel filters. A held key is one digit.
pub struct InbandDetector {
    block_len: u32,
    coeffs: [f32; 8],
    /// Goertzel state (s[n-1], s[n-2]) per frequency for the block being filled.
    state: [(f32, f32); 8],
    energy: f32,
    filled: u32,
    /// The candidate of the previous blocks and how many blocks in a row it was seen.
    candidate: Option<char>,
    hits: u8,
    /// The digit already reported and how many blocks in a row it has been missing.
    reported: Option<char>,
    misses: u8,
}

impl InbandDetector {
    /// `sample_rate` is 8000 or 16000 in practice; anything below 8000 is treated as 8000,
    /// because the highest DTMF tone (1633 Hz) needs at least that.
    pub fn new(sample_rate: u32) -> Self {
        let rate = sample_rate.max(8000);
        let block_len = (BLOCK_AT_8K * rate).div_ceil(8000);
        let coeffs = DTMF_FREQS.map(|f| 2.0 * (2.0 * std::f32::consts::PI * f / rate as f32).cos());
        Self {
            block_len,
            coeffs,
            state: [(0.0, 0.0); 8],
            energy: 0.0,
            filled: 0,
            candidate: None,
            hits: 0,
            reported: None,
            misses: 0,
        }
    }

    /// Feed samples (any chunk size); returns digits whose tone just ended or was held long
    /// enough, each once.
    pub fn push(&mut self, samples: &[i16]) -> Vec<char> {
        let mut digits = Vec::new();
        for &sample in samples {
            let x = f32::from(sample);
            for (s, &coeff) in self.state.iter_mut().zip(&self.coeffs) {
                let s0 = x + coeff * s.0 - s.1;
                *s = (s0, s.0);
            }
            self.energy += x * x;
            self.filled += 1;
            if self.filled == self.block_len {
                let hit = self.classify_block();
                digits.extend(self.track(hit));
                self.state = [(0.0, 0.0); 8];
                self.energy = 0.0;
                self.filled = 0;
            }
        }
        digits
    }

    /// The key whose two tones dominate the finished block, if any.
    fn classify_block(&self) -> Option<char> {
        let n = self.block_len as f32;
        // Goertzel power scaled to the energy of the matching sinusoid in the block.
        let power = std::array::from_fn::<f32, 8, _>(|i| {
            let (s1, s2) = self.state[i];
            (s1 * s1 + s2 * s2 - self.coeffs[i] * s1 * s2) * 2.0 / n
        });
        let (rows, cols) = power.split_at(4);
        let row = strongest(rows)?;
        let col = strongest(cols)?;
        let (pr, pc) = (rows[row], cols[col]);
        let min_energy = MIN_TONE_AMPLITUDE * MIN_TONE_AMPLITUDE * n / 2.0;
        let ok = pr >= min_energy
            && pc >= min_energy
            && pr <= pc * MAX_TWIST
            && pc <= pr * MAX_TWIST
            && pr + pc >= MIN_TONE_SHARE * self.energy;
        ok.then(|| KEYPAD[row][col])
    }

    /// Debounces block results into key presses.
    fn track(&mut self, hit: Option<char>) -> Option<char> {
        if hit.is_some() && hit == self.candidate {
            self.hits = self.hits.saturating_add(1);
        } else {
            self.candidate = hit;
            self.hits = u8::from(hit.is_some());
        }
        if self.reported.is_some() && hit != self.reported {
            self.misses += 1;
            if self.misses >= MISSES_TO_END {
                self.reported = None;
            }
        } else {
            self.misses = 0;
        }
        if self.hits >= HITS_TO_REPORT && self.candidate != self.reported {
            self.reported = self.candidate;
            self.misses = 0;
            return self.candidate;
        }
        None
    }
}

/// The index of the group's strongest tone, if it beats every other one by [`MIN_PEAK_RATIO`].
fn strongest(group: &[f32]) -> Option<usize> {
    let (best, &peak) = group.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    let clear = group
        .iter()
        .enumerate()
        .all(|(i, &p)| i == best || p * MIN_PEAK_RATIO <= peak);
    clear.then_some(best)
}

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

    #[test]
    fn info_bodies() {
        let relay = "application/dtmf-relay";
        assert_eq!(parse_info_body(relay, b"Signal=5\r\nDuration=160"), Ok('5'));
        assert_eq!(
            parse_info_body(relay, b"Duration=100\n  signal = #  \n"),
            Ok('#')
        );
        assert_eq!(parse_info_body(relay, b"SIGNAL=10\r\n"), Ok('*'));
        assert_eq!(parse_info_body(relay, b"Signal=11"), Ok('#'));
        assert_eq!(parse_info_body(relay, b"Signal=b"), Ok('B'));
        assert_eq!(parse_info_body(relay, b"Signal=0"), Ok('0'));
        let with_params = " Application/DTMF-Relay ; charset=utf-8";
        assert_eq!(parse_info_body(with_params, b"Signal=*"), Ok('*'));
        assert_eq!(parse_info_body("application/dtmf", b"5"), Ok('5'));
        assert_eq!(parse_info_body("APPLICATION/DTMF", b" 11\r\n"), Ok('#'));
    }

    #[test]
    fn info_garbage_is_an_error() {
        let relay = "application/dtmf-relay";
        for body in [
            &b""[..],
            b"Signal=",
            b"Signal=99",
            b"Signal=55",
            b"Signal=E",
            b"Duration=160",
            b"Signal",
            b"Sig=5",
            b"\xff\xfe=5",
            b"Signal=\xff",
        ] {
            assert_eq!(
                parse_info_body(relay, body),
                Err(DtmfError::NoDigit),
                "{body:?}"
            );
        }
        assert_eq!(
            parse_info_body("application/dtmf", b"12345"),
            Err(DtmfError::NoDigit)
        );
        assert_eq!(
            parse_info_body("text/plain", b"\xff"),
            Err(DtmfError::UnsupportedContentType("text/plain".into()))
        );
        // Pseudo-random bytes: errors or digits, never a panic.
        let mut x = 0x1234_5678_u32;
        for len in 0..300 {
            let body: Vec<u8> = (0..len % 40)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 24) as u8
                })
                .collect();
            let _ = parse_info_body(relay, &body);
            let _ = parse_info_body("application/dtmf", &body);
        }
    }

    const KEYS: &str = "123A456B789C*0#D";

    fn freqs_of(key: char) -> (f32, f32) {
        let i = KEYS.find(key).expect("test keys are DTMF keys");
        (DTMF_FREQS[i / 4], DTMF_FREQS[4 + i % 4])
    }

    /// Sum of sines, each at `dbfs` amplitude, for `ms` milliseconds.
    fn sines(freqs: &[f32], rate: u32, ms: u32, dbfs: f32) -> Vec<i16> {
        let amp = 32767.0 * 10f32.powf(dbfs / 20.0);
        (0..rate * ms / 1000)
            .map(|n| {
                let t = n as f32 / rate as f32;
                let v: f32 = freqs
                    .iter()
                    .map(|f| (2.0 * std::f32::consts::PI * f * t).sin())
                    .sum();
                (v * amp).round() as i16
            })
            .collect()
    }

    fn tone(key: char, rate: u32, ms: u32, dbfs: f32) -> Vec<i16> {
        let (r, c) = freqs_of(key);
        sines(&[r, c], rate, ms, dbfs)
    }

    fn silence(rate: u32, ms: u32) -> Vec<i16> {
        vec![0; (rate * ms / 1000) as usize]
    }

    fn detect(rate: u32, audio: &[i16], chunk: usize) -> Vec<char> {
        let mut det = InbandDetector::new(rate);
        audio.chunks(chunk).flat_map(|c| det.push(c)).collect()
    }

    #[test]
    fn inband_all_sixteen_keys_at_8k_and_16k() {
        for rate in [8000, 16000] {
            for key in KEYS.chars() {
                for dbfs in [-3.0, -10.0, -25.0] {
                    let mut audio = silence(rate, 30);
                    audio.extend(tone(key, rate, 60, dbfs));
                    audio.extend(silence(rate, 60));
                    assert_eq!(
                        detect(rate, &audio, 160),
                        [key],
                        "{key} at {rate} Hz, {dbfs} dBFS"
                    );
                }
            }
        }
    }

    #[test]
    fn inband_40ms_accepted_and_12ms_rejected_at_any_alignment() {
        for rate in [8000, 16000] {
            for offset_ms in 0..13 {
                let mut audio = silence(rate, offset_ms);
                audio.extend(tone('8', rate, 40, -20.0));
                audio.extend(silence(rate, 100));
                audio.extend(tone('9', rate, 12, -20.0));
                audio.extend(silence(rate, 100));
                assert_eq!(
                    detect(rate, &audio, 80),
                    ['8'],
                    "offset {offset_ms} ms at {rate} Hz"
                );
            }
        }
    }

    #[test]
    fn inband_sequence_with_gaps_in_odd_chunks() {
        for rate in [8000, 16000] {
            let mut audio = Vec::new();
            for key in "1234#".chars() {
                audio.extend(tone(key, rate, 70, -12.0));
                audio.extend(silence(rate, 50));
            }
            assert_eq!(detect(rate, &audio, 37).iter().collect::<String>(), "1234#");
        }
    }

    #[test]
    fn inband_held_key_is_one_digit_and_repeat_needs_gap() {
        let rate = 8000;
        let mut audio = tone('5', rate, 1500, -10.0);
        audio.extend(silence(rate, 40));
        audio.extend(tone('5', rate, 60, -10.0));
        // A key change without a pause is a new digit at once.
        audio.extend(tone('6', rate, 60, -10.0));
        assert_eq!(detect(rate, &audio, 160), ['5', '5', '6']);
    }

    #[test]
    fn inband_tolerates_frequency_error() {
        let (r, c) = freqs_of('D');
        for factor in [0.985, 1.015] {
            let mut audio = sines(&[r * factor, c * factor], 8000, 60, -15.0);
            audio.extend(silence(8000, 40));
            assert_eq!(detect(8000, &audio, 160), ['D'], "factor {factor}");
        }
    }

    #[test]
    fn inband_ignores_test_tones_noise_and_silence() {
        for rate in [8000, 16000] {
            for freqs in [
                &[1000.0][..],
                &[440.0],
                &[350.0, 440.0],
                &[941.0],
                &[1209.0],
            ] {
                for dbfs in [-3.0, -20.0, -40.0] {
                    let audio = sines(freqs, rate, 2000, dbfs);
                    assert!(
                        detect(rate, &audio, 160).is_empty(),
                        "{freqs:?} {dbfs} dBFS"
                    );
                }
            }
            let mut x = 1_u32;
            let noise: Vec<i16> = (0..rate * 3)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as i16 / 4
                })
                .collect();
            assert!(detect(rate, &noise, 160).is_empty(), "noise at {rate}");
            assert!(detect(rate, &silence(rate, 2000), 160).is_empty());
        }
    }

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
