//! Call quality as pure functions: the RFC 3550 interarrival jitter estimator and the simplified
//! ITU-T G.107 E-model (R-factor, MOS) with codec figures from ITU-T G.113. No clock, no I/O.

use serde::Serialize;

/// Codec figures for the E-model on the narrowband R scale (R at most 93.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecImpairment {
    /// Equipment impairment factor Ie.
    pub ie: f64,
    /// Packet-loss robustness factor Bpl.
    pub bpl: f64,
    /// Algorithmic delay (frame lookahead) in ms, part of the one-way delay.
    pub lookahead_ms: f64,
}

/// G.711 with packet loss concealment: Ie 0, Bpl 25.1 (ITU-T G.113 Appendix I, Table I.3).
pub const G711: CodecImpairment = CodecImpairment {
    ie: 0.0,
    bpl: 25.1,
    lookahead_ms: 0.0,
};

/// G.722 at 64 kbit/s: Ie,wb of 13–14 on the wideband scale (ITU-T G.113 Amd. 1, Appendix IV;
/// planning guides quote 14), where G.711 sits at 15, so mapped to the narrowband scale
/// (Ie = Ie,wb − 15) it is below 0; the narrowband model cannot credit the wider band, so it
/// counts as 0. For Bpl we use G.711's 25.1 (G.722 receivers conceal losses as well).
pub const G722: CodecImpairment = CodecImpairment {
    ie: 0.0,
    bpl: 25.1,
    lookahead_ms: 1.5,
};

/// Opus (the conference side, about 32 kbit/s wideband or better) has no ITU-T G.113 entry. Its
/// measured quality at these rates is above G.711's (Rämö & Toukomaa, "Voice quality
/// characterization of IETF Opus codec", Interspeech 2011), so Ie is 0 on this scale; its
/// built-in PLC earns the same Bpl as G.711 with PLC. Lookahead 6.5 ms (RFC 6716 §2).
pub const OPUS: CodecImpairment = CodecImpairment {
    ie: 0.0,
    bpl: 25.1,
    lookahead_ms: 6.5,
};

/// G.107's R with every default except delay and equipment impairment.
pub const R_DEFAULT: f64 = 93.2;

/// Delay impairment Id from the one-way mouth-to-ear delay in ms (the G.107 simplification by
/// Cole & Rosenbluth, "Voice over IP performance monitoring", ACM CCR 2001).
pub fn delay_impairment(one_way_ms: f64) -> f64 {
    let d = one_way_ms.max(0.0);
    0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 }
}

/// Effective equipment impairment Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl/BurstR + Bpl) (G.107 §7.6),
/// `loss_pct` in percent; BurstR 1 is random loss.
pub fn effective_impairment(codec: CodecImpairment, loss_pct: f64, burst_r: f64) -> f64 {
    let ppl = loss_pct.clamp(0.0, 100.0);
    let burst_r = if burst_r > 0.0 { burst_r } else { 1.0 };
    codec.ie + (95.0 - codec.ie) * ppl / (ppl / burst_r + codec.bpl)
}

/// R = 93.2 − Id − Ie,eff, clamped to 0..=100.
pub fn r_factor(codec: CodecImpairment, loss_pct: f64, one_way_ms: f64) -> f64 {
    let r = R_DEFAULT - delay_impairment(one_way_ms) - effective_impairment(codec, loss_pct, 1.0);
    r.clamp(0.0, 100.0)
}

/// MOS = 1 + 0.035R + R(R − 60)(100 − R)·7·10⁻⁶ (G.107 Annex B), clamped to 1..=4.5.
pub fn mos(r: f64) -> f64 {
    if r <= 0.0 {
        return 1.0;
    }
    if r >= 100.0 {
        return 4.5;
    }
    (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6).clamp(1.0, 4.5)
}

/// The quality of one direction of one call, as it goes into the call record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quality {
    /// Packets received (or, for a far end's report, sent by us).
    pub packets: u64,
    pub lost: u64,
    pub loss_pct: f64,
    pub jitter_ms: f64,
    /// The one-way delay the R-factor assumed, in ms.
    pub delay_ms: f64,
    pub r_factor: f64,
    pub mos: f64,
}

impl Quality {
    /// Scores a direction: `packets` arrived, `lost` did not, `jitter_ms` measured and
    /// `delay_ms` one-way delay (network, buffers, packetisation) for `codec`.
    pub fn score(
        codec: CodecImpairment,
        packets: u64,
        lost: u64,
        jitter_ms: f64,
        delay_ms: f64,
    ) -> Quality {
        let expected = packets + lost;
        let loss_pct = if expected == 0 {
            0.0
        } else {
            100.0 * lost as f64 / expected as f64
        };
        let r = r_factor(codec, loss_pct, delay_ms + codec.lookahead_ms);
        Quality {
            packets,
            lost,
            loss_pct: round2(loss_pct),
            jitter_ms: round2(jitter_ms),
            delay_ms: round2(delay_ms + codec.lookahead_ms),
            r_factor: round2(r),
            mos: round2(mos(r)),
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// RFC 3550 §6.4.1 / A.8 interarrival jitter, in RTP timestamp units.
#[derive(Debug, Clone, Default)]
pub struct JitterEstimator {
    last_transit: Option<f64>,
    jitter: f64,
}

impl JitterEstimator {
    /// One packet: its arrival in seconds on any steady clock, its RTP timestamp and clock rate.
    pub fn push(&mut self, arrival_s: f64, rtp_timestamp: u32, clock_rate: u32) {
        let transit = arrival_s * f64::from(clock_rate) - f64::from(rtp_timestamp);
        if let Some(last) = self.last_transit {
            let mut d = (transit - last).abs();
            // A timestamp wrap (or a new stream) looks like a jump of ~2³² units: not jitter.
            if d > f64::from(u32::MAX) / 2.0 {
                d = self.jitter;
            }
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// The estimate in ms.
    pub fn jitter_ms(&self, clock_rate: u32) -> f64 {
        if clock_rate == 0 {
            return 0.0;
        }
        1000.0 * self.jitter / f64::from(clock_rate)
    }

    /// Forgets the previous packet (the stream restarted), keeping the estimate.
    pub fn restart(&mut self) {
        self.last_transit = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} is not within {tol} of {b}");
    }

    #[test]
    fn mos_matches_g107_annex_b_reference_points() {
        // G.107 Figure B.1 / Table B.1: R 93.2 → 4.41, 80 → 4.02, 70 → 3.60, 60 → 3.10, 50 → 2.58.
        near(mos(93.2), 4.41, 0.005);
        near(mos(80.0), 4.02, 0.005);
        near(mos(70.0), 3.60, 0.005);
        near(mos(60.0), 3.10, 0.005);
        near(mos(50.0), 2.58, 0.005);
        assert_eq!(mos(-3.0), 1.0);
        assert_eq!(mos(120.0), 4.5);
    }

    #[test]
    fn clean_g711_without_delay_is_the_g107_default() {
        near(r_factor(G711, 0.0, 0.0), 93.2, 1e-9);
    }

    #[test]
    fn loss_follows_the_ie_eff_formula() {
        // 10 % random loss with Bpl 25.1: Ie,eff = 95·10/35.1 = 27.07.
        near(effective_impairment(G711, 10.0, 1.0), 27.066, 0.001);
        near(r_factor(G711, 10.0, 0.0), 66.13, 0.01);
        // Bursty loss hurts more than random loss at the same rate.
        assert!(effective_impairment(G711, 5.0, 2.0) > effective_impairment(G711, 5.0, 1.0));
        // All lost: R bottoms out, MOS is 1.
        assert!(r_factor(G711, 100.0, 0.0) < 20.0);
    }

    #[test]
    fn delay_impairment_has_the_knee_at_177_ms() {
        near(delay_impairment(100.0), 2.4, 1e-9);
        near(delay_impairment(177.3), 4.2552, 1e-4);
        near(delay_impairment(300.0), 7.2 + 0.11 * 122.7, 1e-9);
        assert_eq!(delay_impairment(-5.0), 0.0);
    }

    #[test]
    fn score_rounds_and_handles_no_packets() {
        let q = Quality::score(G711, 0, 0, 0.0, 40.0);
        assert_eq!(q.loss_pct, 0.0);
        assert!(q.mos > 4.3);
        let lossy = Quality::score(G711, 90, 10, 3.0, 40.0);
        assert_eq!(lossy.loss_pct, 10.0);
        assert!(lossy.mos < q.mos - 0.5, "{lossy:?} vs {q:?}");
    }

    #[test]
    fn jitter_is_zero_for_a_steady_stream_and_grows_with_variation() {
        let mut j = JitterEstimator::default();
        for i in 0..100u32 {
            j.push(f64::from(i) * 0.02, 1000 + i * 160, 8000);
        }
        near(j.jitter_ms(8000), 0.0, 1e-6);
        // Every other packet 10 ms late: |D| alternates 10 ms; the estimate converges to it.
        let mut j = JitterEstimator::default();
        for i in 0..500u32 {
            let late = if i % 2 == 1 { 0.010 } else { 0.0 };
            j.push(f64::from(i) * 0.02 + late, i * 160, 8000);
        }
        near(j.jitter_ms(8000), 10.0, 0.1);
    }

    #[test]
    fn a_timestamp_wrap_is_not_jitter() {
        let mut j = JitterEstimator::default();
        let start = u32::MAX - 320;
        for i in 0..10u32 {
            j.push(f64::from(i) * 0.02, start.wrapping_add(i * 160), 8000);
        }
        near(j.jitter_ms(8000), 0.0, 1e-6);
    }
}
