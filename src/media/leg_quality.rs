//! What the phone leg measures for the call record: RFC 3550 jitter of the caller's audio, and
//! the caller's RTCP receiver reports about ours (muxed on the RTP port, or on RTP port + 1 by
//! [`listen_rtcp`]). Counting only; it never changes what the leg does with a packet.

use std::net::UdpSocket;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::cdr::quality::JitterEstimator;
use crate::cdr::rtcp::{ReportBlock, report_blocks};

/// Largest RTCP datagram we read.
const MAX_RTCP: usize = 1500;

/// The leg's measurements, behind the leg's one lock (taken once per audio packet).
#[derive(Debug)]
pub(crate) struct QualityState {
    clock_rate: u32,
    start: Instant,
    jitter: JitterEstimator,
    audio_ssrc: Option<u32>,
    /// Audio packets received (not counting events and comfort noise).
    audio_packets: u64,
    /// The SSRC of the audio we send, learnt from our first packet.
    tx_ssrc: Option<u32>,
    /// The latest report block about our audio.
    report: Option<ReportBlock>,
}

/// A snapshot for the call record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegQuality {
    pub clock_rate: u32,
    pub audio_packets: u64,
    pub jitter_ms: f64,
    /// What the caller last reported about our audio; `None`: it sent no receiver report.
    pub report: Option<ReportBlock>,
}

impl QualityState {
    pub(crate) fn new(clock_rate: u32) -> Self {
        QualityState {
            clock_rate,
            start: Instant::now(),
            jitter: JitterEstimator::default(),
            audio_ssrc: None,
            audio_packets: 0,
            tx_ssrc: None,
            report: None,
        }
    }

    /// One audio packet of the caller's, as it arrived.
    pub(crate) fn on_audio(&mut self, ssrc: u32, timestamp: u32, now: Instant) {
        if self.audio_ssrc != Some(ssrc) {
            self.audio_ssrc = Some(ssrc);
            self.jitter.restart();
        }
        self.audio_packets += 1;
        let arrival = now.saturating_duration_since(self.start).as_secs_f64();
        self.jitter.push(arrival, timestamp, self.clock_rate);
    }

    /// One packet we sent (its SSRC names our stream in the caller's reports).
    pub(crate) fn on_sent(&mut self, packet: &[u8]) {
        if self.tx_ssrc.is_none()
            && let Some(ssrc) = packet.get(8..12)
        {
            self.tx_ssrc = Some(u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]));
        }
    }

    /// An RTCP packet from the caller: keeps the report block about our audio (or the only
    /// one, when we have not sent yet).
    pub(crate) fn on_rtcp(&mut self, packet: &[u8]) {
        let blocks = report_blocks(packet);
        let ours = match self.tx_ssrc {
            Some(ssrc) => blocks.iter().find(|b| b.ssrc == ssrc),
            None => blocks.first(),
        };
        if let Some(block) = ours {
            self.report = Some(*block);
        }
    }

    pub(crate) fn snapshot(&self) -> LegQuality {
        LegQuality {
            clock_rate: self.clock_rate,
            audio_packets: self.audio_packets,
            jitter_ms: self.jitter.jitter_ms(self.clock_rate),
            report: self.report,
        }
    }
}

/// Reads the caller's RTCP on `socket` (RTP port + 1) until the returned task is aborted.
pub(crate) fn listen_rtcp(
    socket: UdpSocket,
    state: Arc<Mutex<QualityState>>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    socket.set_nonblocking(true)?;
    let socket = tokio::net::UdpSocket::from_std(socket)?;
    Ok(tokio::spawn(async move {
        let mut buf = vec![0u8; MAX_RTCP];
        while let Ok((len, _)) = socket.recv_from(&mut buf).await {
            state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .on_rtcp(&buf[..len]);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rr(about: u32, lost: u8) -> Vec<u8> {
        let mut p = vec![0x81, 201, 0, 7, 0, 0, 0, 1];
        p.extend_from_slice(&about.to_be_bytes());
        p.extend_from_slice(&[
            0, 0, 0, lost, 0, 0, 0, 9, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 0,
        ]);
        p
    }

    #[test]
    fn keeps_the_report_about_our_stream() {
        let mut q = QualityState::new(8000);
        q.on_rtcp(&rr(5, 1));
        assert_eq!(q.snapshot().report.unwrap().ssrc, 5, "before we sent: any");
        let mut ours = vec![0x80, 0, 0, 1, 0, 0, 0, 0];
        ours.extend_from_slice(&77u32.to_be_bytes());
        q.on_sent(&ours);
        q.on_rtcp(&rr(6, 2));
        assert_eq!(q.snapshot().report.unwrap().ssrc, 5, "not about us");
        q.on_rtcp(&rr(77, 3));
        let report = q.snapshot().report.unwrap();
        assert_eq!(
            (report.ssrc, report.cumulative_lost, report.jitter),
            (77, 3, 40)
        );
    }

    #[test]
    fn counts_audio_and_measures_jitter() {
        let mut q = QualityState::new(8000);
        let t0 = q.start;
        for i in 0..50u32 {
            let late = Duration::from_millis(if i % 2 == 1 { 8 } else { 0 });
            q.on_audio(
                9,
                i * 160,
                t0 + Duration::from_millis(20 * u64::from(i)) + late,
            );
        }
        let s = q.snapshot();
        assert_eq!(s.audio_packets, 50);
        assert!(s.jitter_ms > 4.0 && s.jitter_ms < 8.5, "{s:?}");
    }
}
