//! One call from the test's phone: sipp does the SIP (a twin-controlled scenario), the test's
//! [`RtpPeer`] is the media endpoint announced in the offer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::rtp::RtpPeer;
use super::sdp::AudioSdp;
use super::sipp::{Offer, Sipp, SippOutcome, SippRun};

/// Longest wait for one prompt to be heard completely (welcome is 5.8 s).
pub const PROMPT: Duration = Duration::from_secs(15);

/// How long the bridge may take to answer an INVITE.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Caller {
    pub rtp: RtpPeer,
    pub sipp: SippRun,
    /// The bridge's SDP answer.
    pub answer: AudioSdp,
}

impl Caller {
    /// Calls `remote` with `scenario` (one of the twin-controlled call scenarios), offering
    /// the static payload types `static_pts` in that order plus telephone-event 101, with the
    /// RTP port of a fresh [`RtpPeer`]. `customize` adds sipp options. Returns once the call is
    /// answered; the RTP peer then sends to the answer's address.
    pub fn dial(
        dir: &Path,
        scenario: &str,
        remote: SocketAddr,
        static_pts: &[u8],
        customize: impl FnOnce(Sipp) -> Sipp,
    ) -> Caller {
        let rtp = RtpPeer::new();
        let offer = Offer::with_dtmf(rtp.port(), static_pts);
        Caller::dial_with(dir, scenario, remote, rtp, &offer, customize)
    }

    /// Like [`dial`](Self::dial) with a given RTP peer and offer.
    pub fn dial_with(
        dir: &Path,
        scenario: &str,
        remote: SocketAddr,
        rtp: RtpPeer,
        offer: &Offer,
        customize: impl FnOnce(Sipp) -> Sipp,
    ) -> Caller {
        let sipp = customize(Sipp::new(dir, scenario, remote).offer(offer));
        let mut sipp = sipp.spawn();
        let answered = sipp.wait_event("answered", ANSWER_TIMEOUT);
        let answer = answered.sdp();
        assert_eq!(
            answer.addr.ip(),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            "the SDP answer should carry media.public_address 127.0.0.1:\n{}",
            answer.text
        );
        rtp.set_remote(answer.addr);
        Caller { rtp, sipp, answer }
    }

    /// The one audio codec of the answer (its first payload type), checked to be `pt` and to be
    /// the only audio codec; telephone-event must keep the offered type 101 when `dtmf`.
    pub fn assert_answer(&self, pt: u8, dtmf: bool) {
        let a = &self.answer;
        assert_eq!(
            a.payload_types.first(),
            Some(&pt),
            "answer should choose payload type {pt}:\n{}",
            a.text
        );
        let audio: Vec<u8> = a
            .payload_types
            .iter()
            .copied()
            .filter(|p| [0, 8, 9].contains(p))
            .collect();
        assert_eq!(
            audio,
            vec![pt],
            "answer should list one audio codec:\n{}",
            a.text
        );
        if dtmf {
            assert_eq!(
                a.payload_type_of("telephone-event"),
                Some(101),
                "answer should keep telephone-event at the offered payload type 101:\n{}",
                a.text
            );
        }
    }

    /// Through the IVR into a room without PIN: hears the welcome prompt (louder than silence),
    /// types `room` and `#` by RFC 4733, hears "joining", and waits until the bridge behind
    /// `signaling` counts one call joined (the first of the test).
    pub fn join_room(&self, room: &str, signaling: SocketAddr) {
        let welcome = self.rtp.expect_prompt("welcome", PROMPT);
        // The prompts peak around RMS 7000; silence through G.711/G.722 is near 0.
        assert!(
            welcome.peak_rms() > 2000.0,
            "the welcome prompt is too quiet: peak RMS {:.0}",
            welcome.peak_rms()
        );
        self.rtp.send_digits(&format!("{room}#"));
        self.rtp.expect_prompt("joining", PROMPT);
        super::metrics::wait_for(
            signaling,
            "dialbridge_calls_joined_total",
            "1",
            Duration::from_secs(5),
            |v| v == 1.0,
        );
    }

    /// Lets sipp send BYE and waits for the scenario to end successfully.
    pub fn hang_up(mut self) -> SippOutcome {
        self.sipp.send_event("hangup");
        let outcome = self.sipp.finish();
        outcome.assert_success();
        outcome
    }
}
