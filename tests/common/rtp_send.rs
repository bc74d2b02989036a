//! The sending half of the test's RTP endpoint ([`super::rtp::RtpPeer`]): 20 ms packets of
//! silence in the negotiated codec, and key presses replayed from the RFC 4733 captures
//! sip-tester ships, each a new event (own timestamp) continuing our sequence numbers and clock.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;

use super::g711;
use super::g722;
use super::pcap::{self, Rtp};

pub(super) use super::rtp_endpoint::PACKET;
/// Audio between two key presses.
pub(super) const DIGIT_GAP_PACKETS: u32 = 6;

/// The phone codecs, by their static payload types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
    G722,
}

impl Codec {
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
            Codec::G722 => 9,
        }
    }

    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        [Codec::Pcmu, Codec::Pcma, Codec::G722]
            .into_iter()
            .find(|c| c.payload_type() == pt)
    }

    fn silence(self) -> Vec<u8> {
        let byte = match self {
            Codec::Pcmu => g711::ULAW_SILENCE,
            Codec::Pcma => g711::ALAW_SILENCE,
            Codec::G722 => g722::SILENCE_BYTE,
        };
        vec![byte; 160]
    }
}

/// One key press as captured: packets with the 20 ms tick they go out in.
#[derive(Debug, Clone)]
pub(super) struct Event {
    pub(super) digit: char,
    pub(super) packets: Vec<(u32, Rtp)>,
}

/// The RFC 4733 packets of `digit` from `/usr/share/sip-tester/dtmf_2833_<name>.pcap`.
pub(super) fn load_event(digit: char) -> Event {
    let name = match digit {
        '0'..='9' => digit.to_string(),
        '#' => "pound".into(),
        '*' => "star".into(),
        _ => panic!("no sip-tester capture for DTMF digit {digit:?}"),
    };
    let path = PathBuf::from(format!("/usr/share/sip-tester/dtmf_2833_{name}.pcap"));
    assert!(
        path.exists(),
        "{} missing: install sip-tester (scripts/install-deps.sh)",
        path.display()
    );
    let packets: Vec<(u32, Rtp)> = pcap::read_udp(&path)
        .into_iter()
        // Rounded: the capture's 20 ms steps are a few microseconds short.
        .filter_map(|u| {
            Some((
                ((u.time.as_micros() + 10_000) / 20_000) as u32,
                Rtp::parse(&u.payload)?,
            ))
        })
        .collect();
    let code = match digit {
        '*' => 10,
        '#' => 11,
        d => d.to_digit(10).expect("matched 0-9 above") as u8,
    };
    assert!(
        !packets.is_empty()
            && packets
                .iter()
                .all(|(_, r)| r.payload.first() == Some(&code)),
        "{} does not hold telephone-event {code}",
        path.display()
    );
    Event { digit, packets }
}

pub(super) enum TxItem {
    Event(Event),
    Gap(u32),
}

pub(super) struct TxState {
    pub(super) remote: Option<SocketAddr>,
    pub(super) learned_remote: Option<SocketAddr>,
    pub(super) codec: Option<Codec>,
    pub(super) learned_codec: Option<Codec>,
    pub(super) event_pt: u8,
    pub(super) sending: bool,
    pub(super) queue: VecDeque<TxItem>,
    /// The event being sent, its RTP timestamp and the tick it is at.
    pub(super) current: Option<(Event, u32, u32)>,
    pub(super) seq: u16,
    pub(super) ts: u32,
    pub(super) ssrc: u32,
    pub(super) sent_packets: u64,
    pub(super) digits_sent: String,
}

/// Sends one tick's packets (to the set or learned address, in the set or learned codec).
pub(super) fn send_tick(tx: &mut TxState, socket: &UdpSocket) {
    let (Some(remote), Some(codec)) = (
        tx.remote.or(tx.learned_remote),
        tx.codec.or(tx.learned_codec),
    ) else {
        return;
    };
    if !tx.sending {
        return;
    }
    for packet in tick(tx, codec) {
        let _ = socket.send_to(&packet, remote);
        tx.sent_packets += 1;
    }
}

/// The packets of one 20 ms tick: an event's packets when a key is pressed, else audio.
fn tick(tx: &mut TxState, codec: Codec) -> Vec<Vec<u8>> {
    if tx.current.is_none() {
        match tx.queue.pop_front() {
            Some(TxItem::Event(e)) => {
                tx.digits_sent.push(e.digit);
                tx.current = Some((e, tx.ts, 0));
            }
            Some(TxItem::Gap(n)) if n > 1 => tx.queue.push_front(TxItem::Gap(n - 1)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some((event, event_ts, at)) = tx.current.take() {
        let (pt, ssrc) = (tx.event_pt, tx.ssrc);
        for (_, r) in event.packets.iter().filter(|(t, _)| *t == at) {
            let p = Rtp {
                payload_type: pt,
                seq: tx.seq,
                timestamp: event_ts,
                ssrc,
                ..r.clone()
            };
            tx.seq = tx.seq.wrapping_add(1);
            out.push(p.to_bytes());
        }
        let last_tick = event.packets.last().map_or(0, |(t, _)| *t);
        if at < last_tick {
            tx.current = Some((event, event_ts, at + 1));
        } else {
            // The next audio may not reuse time the event claimed (its final duration).
            let duration = event.packets.last().map_or(0, |(_, r)| {
                u32::from(u16::from_be_bytes([r.payload[2], r.payload[3]]))
            });
            let end = event_ts.wrapping_add(duration);
            if (end.wrapping_sub(tx.ts) as i32) > 0 {
                tx.ts = end;
            }
        }
    }
    if out.is_empty() {
        let p = Rtp {
            marker: false,
            payload_type: codec.payload_type(),
            seq: tx.seq,
            timestamp: tx.ts,
            ssrc: tx.ssrc,
            payload: codec.silence(),
        };
        tx.seq = tx.seq.wrapping_add(1);
        out.push(p.to_bytes());
    }
    tx.ts = tx.ts.wrapping_add(160);
    out
}
