//! The one tokio task of a phone leg: reads the RTP socket, ticks every 20 ms to send a packet,
//! and applies commands from [`super::PhoneLeg`]. Everything here is non-blocking: encoding a
//! frame takes microseconds ([`super::phone_codec`]); the caller's packets are put in order per
//! SSRC ([`super::reorder`]), then audio is decoded and events decoded on the spot; in a call the
//! decoded audio is only queued for the conference leg's encoder thread (GStreamer must never
//! make this task wait).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::ivr::Prompt;
use crate::ivr::dtmf::{DtmfSource, Rfc4733Decoder};

use super::events::{MediaEvent, send_event};
use super::latch::{Latch, Verdict};
use super::leg_stats::{Counters, PcmTap};
use super::phone_codec::PhoneCodec;
use super::reorder::{Playout, Reorder};
use super::rtp::{self, RtpHeader};
use super::srtp::SrtpSession;
use super::tx::{FrameSource, PTIME, TxFill, slot_offset};

/// When the task falls this many packets behind (a stalled runtime), it skips ahead instead of
/// bursting the backlog at the phone; the RTP timestamp jumps with real time.
const MAX_LAG_PACKETS: u64 = 5;

/// RFC 3389 comfort noise. Phones with voice activity detection send only this while the caller
/// is silent: it is not decoded, but it latches and keeps the call alive like audio does.
const COMFORT_NOISE_PT: u8 = 13;

/// Most lost packets concealed with silence in a row; a longer outage is not padded (the
/// conference side re-anchors its timestamps after it).
const MAX_CONCEALED: u16 = 5;

/// Largest datagram we accept; RTP for these codecs is far smaller.
const MAX_DATAGRAM: usize = 2048;

pub(crate) enum Control {
    Play(Prompt),
    StopPrompt,
    Remote {
        remote: Option<SocketAddr>,
        hold: bool,
    },
    Fill(Option<TxFill>),
    Srtp(crate::sip::sdes::SrtpAgreement),
}

pub(crate) struct PhoneTask {
    pub socket: tokio::net::UdpSocket,
    pub audio_pt: u8,
    pub telephone_event_pt: Option<u8>,
    pub rfc4733: Option<Rfc4733Decoder>,
    pub rtp_timeout: Option<Duration>,
    pub events: mpsc::Sender<MediaEvent>,
    pub counters: Arc<Counters>,
    /// Decodes the caller's audio and encodes ours.
    pub codec: PhoneCodec,
    /// The packets of the frame being sent (kept to reuse its allocation).
    pub tx_packets: Vec<Vec<u8>>,
    /// Puts the caller's packets (audio, events, comfort noise) in order, per SSRC, before
    /// they are dispatched by payload type.
    pub reorder: Reorder<(RtpHeader, Vec<u8>)>,
    /// Where decoded audio goes; lost packets are concealed with silence here.
    pub pcm_tap: Arc<Mutex<Option<PcmTap>>>,
    /// Samples in 20 ms of decoded audio.
    pub rx_frame: usize,
    /// The address from SDP, used until a packet arrives.
    pub sdp_remote: Option<SocketAddr>,
    /// The caller's source address (symmetric RTP, strangers dropped).
    pub latch: Latch,
    pub hold: bool,
    pub frames: FrameSource,
    /// Decrypts right after the socket and encrypts right before it; `None`: plain RTP.
    pub srtp: Option<SrtpSession>,
}

/// Timing state of the running task (send slots, last arrival), made when it starts.
struct Clock {
    start: Instant,
    /// Index of the next 20 ms packet slot to send.
    slot: u64,
    discont: bool,
    last_rx: Instant,
    timed_out: bool,
}

impl PhoneTask {
    pub async fn run(mut self, mut control: mpsc::Receiver<Control>) {
        let start = Instant::now();
        let mut clock = Clock {
            start,
            slot: 0,
            discont: true,
            last_rx: start,
            timed_out: false,
        };
        let mut frame = vec![0i16; self.frames.frame_len()];
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let tick = tokio::time::sleep_until(start);
        tokio::pin!(tick);
        loop {
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((len, from)) => {
                        if self.on_datagram(&buf[..len], from) {
                            clock.last_rx = Instant::now();
                        }
                    }
                    Err(e) => {
                        // Not expected on an unconnected UDP socket; back off so an error that
                        // repeats cannot spin the task.
                        tracing::debug!("RTP receive error: {e}");
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                },
                () = &mut tick => {
                    self.on_tick(&mut clock, &mut frame);
                    tick.as_mut().reset(clock.start + slot_offset(clock.slot));
                }
                command = control.recv() => match command {
                    Some(command) => self.on_control(command, &mut clock),
                    None => break,
                },
            }
        }
    }

    /// Handles one datagram; returns whether it was RTP we expect (which keeps the call alive).
    /// With SRTP only authenticated packets go on, decrypted: a forged one cannot latch.
    fn on_datagram(&mut self, packet: &[u8], from: SocketAddr) -> bool {
        let plain;
        let packet = match self.srtp.as_ref() {
            None => packet,
            Some(srtp) => match rtp::parse(packet).ok().and_then(|_| srtp.unprotect(packet)) {
                Some(decrypted) => {
                    plain = decrypted;
                    &plain[..]
                }
                None => {
                    self.counters
                        .rx_srtp_rejected
                        .fetch_add(1, Ordering::Relaxed);
                    crate::metrics::SRTP_REJECTED.inc();
                    tracing::trace!(%from, "dropped SRTP that failed authentication");
                    return false;
                }
            },
        };
        let header = match rtp::parse(packet) {
            Ok(header) => header,
            Err(rtp::RtpError::Rtcp(_)) => {
                // Muxed RTCP (RFC 5761): only its receiver reports are read, for the record.
                self.lock_quality().on_rtcp(packet);
                return false;
            }
            Err(e) => {
                self.counters.rx_invalid.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(%from, "dropped datagram: {e}");
                return false;
            }
        };
        let pt = header.payload_type;
        let is_audio = pt == self.audio_pt;
        let is_event = Some(pt) == self.telephone_event_pt;
        if !is_audio && !is_event && pt != COMFORT_NOISE_PT {
            self.counters
                .rx_unexpected_pt
                .fetch_add(1, Ordering::Relaxed);
            tracing::trace!(%from, pt, "dropped RTP of an unexpected payload type");
            return false;
        }
        match self
            .latch
            .check(from, header.ssrc, std::time::Instant::now())
        {
            Verdict::Latched => {}
            Verdict::Moved => tracing::debug!(%from, "RTP latched to the caller's source address"),
            Verdict::Stranger => {
                self.counters.rx_foreign.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(%from, "dropped RTP from a source other than the caller's");
                return false;
            }
        }
        self.counters.rx_packets.fetch_add(1, Ordering::Relaxed);
        let now = std::time::Instant::now();
        if is_audio {
            // Interarrival jitter is measured on arrival, before the jitter buffer.
            self.lock_quality()
                .on_audio(header.ssrc, header.timestamp, now);
        }
        let mut out = Vec::new();
        self.reorder.push(
            header.ssrc,
            header.sequence,
            (header, packet.to_vec()),
            now,
            &mut out,
        );
        self.play(out);
        true
    }

    /// Hands the caller's packets, in order, to what their payload type is for: audio is decoded
    /// (on this thread: the receive pipeline has no thread of its own), telephone-events go to
    /// the RFC 4733 decoder, comfort noise ends here. A short run of lost packets becomes as
    /// much silence.
    fn play(&mut self, playout: Vec<Playout<(RtpHeader, Vec<u8>)>>) {
        let late = self.reorder.late;
        self.counters.rx_late.store(late, Ordering::Relaxed);
        for item in playout {
            match item {
                Playout::Packet((header, packet)) => self.dispatch(header, packet),
                Playout::Lost(n) => {
                    self.counters
                        .rx_lost
                        .fetch_add(u64::from(n), Ordering::Relaxed);
                    let silence = vec![0i16; self.rx_frame * usize::from(n.min(MAX_CONCEALED))];
                    let mut tap = self.pcm_tap.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(tap) = tap.as_mut() {
                        tap(&silence);
                    }
                }
            }
        }
    }

    /// One in-order packet, by payload type.
    fn dispatch(&mut self, header: RtpHeader, packet: Vec<u8>) {
        let pt = header.payload_type;
        if pt == self.audio_pt {
            self.codec.decode(&header, packet);
        } else if Some(pt) == self.telephone_event_pt
            && let Some(decoder) = self.rfc4733.as_mut()
        {
            match decoder.push(header.timestamp, header.payload(&packet)) {
                Ok(Some(digit)) => {
                    tracing::debug!(%digit, "RFC 4733 digit");
                    let event = MediaEvent::Digit {
                        digit,
                        source: DtmfSource::Rfc4733,
                    };
                    send_event(&self.events, event);
                }
                Ok(None) => {}
                Err(e) => {
                    self.counters.rx_dtmf_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("bad telephone-event: {e}");
                }
            }
        }
    }

    /// Sends every packet slot that is due, then checks the RTP timeout.
    fn on_tick(&mut self, clock: &mut Clock, frame: &mut [i16]) {
        let mut given_up = Vec::new();
        self.reorder.poll(std::time::Instant::now(), &mut given_up);
        if !given_up.is_empty() {
            self.play(given_up);
        }
        let now = Instant::now();
        let due = ((now - clock.start).as_nanos() / PTIME.as_nanos()) as u64;
        if due >= clock.slot + MAX_LAG_PACKETS {
            tracing::debug!(
                behind = due - clock.slot,
                "phone leg send tick late; skipping ahead"
            );
            clock.slot = due;
            clock.discont = true;
        }
        while clock.slot <= due {
            let finished = self.frames.next_frame(frame);
            self.send_frame(frame, clock.slot, std::mem::take(&mut clock.discont));
            clock.slot += 1;
            if finished.is_some() {
                send_event(&self.events, MediaEvent::PromptDone);
            }
        }
        if let Some(timeout) = self.rtp_timeout
            && !self.hold
            && !clock.timed_out
            && now - clock.last_rx >= timeout
        {
            clock.timed_out = true;
            tracing::info!(?timeout, "no RTP from the caller");
            send_event(&self.events, MediaEvent::RtpTimeout);
        }
    }

    /// Encodes one frame and sends the resulting packet(s) to the caller.
    fn send_frame(&mut self, frame: &[i16], slot: u64, discont: bool) {
        let mut packets = std::mem::take(&mut self.tx_packets);
        if !self.codec.encode(frame, slot, discont, &mut packets) {
            self.counters.tx_errors.fetch_add(1, Ordering::Relaxed);
        }
        let target = if self.hold {
            None
        } else {
            self.latch.address().or(self.sdp_remote)
        };
        for packet in packets.drain(..) {
            if let Some(target) = target {
                self.send_packet(&packet, target);
            }
        }
        self.tx_packets = packets;
    }

    fn send_packet(&mut self, packet: &[u8], target: SocketAddr) {
        let protected;
        let packet = match self.srtp.as_ref() {
            None => packet,
            Some(srtp) => match srtp.protect(packet) {
                Some(p) => {
                    protected = p;
                    &protected[..]
                }
                None => {
                    self.counters.tx_errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            },
        };
        let counter: &AtomicU64 = match self.socket.try_send_to(packet, target) {
            Ok(_) if self.counters.tx_packets.load(Ordering::Relaxed) == 0 => {
                self.lock_quality().on_sent(packet);
                &self.counters.tx_packets
            }
            Ok(_) => &self.counters.tx_packets,
            Err(e) => {
                tracing::trace!(%target, "RTP send failed: {e}");
                &self.counters.tx_errors
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn lock_quality(&self) -> std::sync::MutexGuard<'_, super::leg_quality::QualityState> {
        self.counters
            .quality
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn on_control(&mut self, command: Control, clock: &mut Clock) {
        match command {
            Control::Play(prompt) => self.frames.play(prompt),
            Control::StopPrompt => self.frames.stop(),
            Control::Fill(fill) => self.frames.set_fill(fill),
            Control::Srtp(agreement) => match self.srtp.as_mut() {
                Some(srtp) => {
                    if let Err(e) = srtp.update(&agreement) {
                        tracing::warn!("SRTP rekey failed: {e}");
                        send_event(&self.events, MediaEvent::Error(e.to_string()));
                    }
                }
                None => tracing::warn!("SRTP keys for a plain RTP leg ignored"),
            },
            Control::Remote { remote, hold } => {
                if remote != self.sdp_remote {
                    self.sdp_remote = remote;
                    self.latch.reset();
                }
                if self.hold && !hold {
                    // Coming off hold: give the caller a full timeout to resume sending.
                    clock.last_rx = Instant::now();
                }
                self.hold = hold;
            }
        }
    }
}
