//! The test phone: G.711 from the shared harness, G.722 through GStreamer,
//! an RTP stream builder that sends in real time, and capture helpers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::{AppSink, AppSrc};
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// Payload type the test phone uses for RFC 4733 telephone-events.
pub const TE_PT: u8 = 101;

pub async fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.expect("loopback bind")
}

pub fn leg_socket() -> std::net::UdpSocket {
    std::net::UdpSocket::bind("127.0.0.1:0").expect("loopback bind")
}

// G.711 and tones come from the shared harness (written out independently of GStreamer).
pub use crate::common::g711::{
    alaw_to_linear as alaw_decode, linear_to_alaw as alaw_encode, linear_to_ulaw as ulaw_encode,
    ulaw_to_linear as ulaw_decode,
};
pub use crate::common::goertzel::{rms, share as tone_share, tones};

// --- The phone side ------------------------------------------------------------------------

/// RTP packets the test phone sends, each at a 20 ms slot.
pub struct Stream {
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub packets: Vec<(u64, Vec<u8>)>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream {
            seq: 1000,
            ts: 5000,
            ssrc: 0x1234_5678,
            packets: Vec::new(),
        }
    }

    /// Adds a packet at `slot`. Like a real phone (RFC 3550), the stream numbers its packets in
    /// the order they are sent, events and audio alike, whatever order they are added in.
    pub fn push(&mut self, slot: u64, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        let at = self.packets.partition_point(|(s, _)| *s <= slot);
        self.packets.insert(at, (slot, p));
        let first = self.seq.wrapping_sub(self.packets.len() as u16 - 1);
        for (i, (_, p)) in self.packets.iter_mut().enumerate() {
            p[2..4].copy_from_slice(&first.wrapping_add(i as u16).to_be_bytes());
        }
        self.seq = self.seq.wrapping_add(1);
    }

    /// 20 ms audio packets of G.711 `pcm` at 8 kHz, starting at `slot`.
    pub fn g711(&mut self, slot: u64, pt: u8, pcm: &[i16], encode: fn(i16) -> u8) -> u64 {
        let mut slot = slot;
        for frame in pcm.chunks(160) {
            let payload: Vec<u8> = frame.iter().map(|&s| encode(s)).collect();
            self.push(slot, pt, false, self.ts, &payload);
            self.ts = self.ts.wrapping_add(160);
            slot += 1;
        }
        slot
    }

    /// An RFC 4733 event at `slot`: three updates and the end packet sent three times.
    pub fn event(&mut self, slot: u64, digit: char) {
        let code = "0123456789*#".find(digit).expect("a DTMF digit") as u8;
        let ts = 5000 + 160 * slot as u32; // the audio timestamp of the slot the event starts in
        for i in 0..6u16 {
            let end = i >= 3;
            let duration = 160 * (i.min(3) + 1);
            let mut payload = vec![code, if end { 0x80 } else { 0 } | 10];
            payload.extend_from_slice(&duration.to_be_bytes());
            self.push(slot + u64::from(i.min(4)), TE_PT, i == 0, ts, &payload);
        }
    }

    /// Sends the packets in real time from `socket` to `to`.
    pub async fn send(mut self, socket: Arc<UdpSocket>, to: SocketAddr) {
        self.packets.sort_by_key(|(slot, _)| *slot);
        let start = Instant::now();
        for (slot, packet) in self.packets {
            tokio::time::sleep_until(start + Duration::from_millis(20 * slot)).await;
            socket.send_to(&packet, to).await.expect("loopback send");
        }
    }
}

/// Packets that arrived at `socket` during `window`.
pub async fn capture(socket: &UdpSocket, window: Duration) -> Vec<(Vec<u8>, SocketAddr)> {
    let end = Instant::now() + window;
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(Ok((n, from))) = tokio::time::timeout_at(end, socket.recv_from(&mut buf)).await {
        out.push((buf[..n].to_vec(), from));
    }
    out
}

/// Drains everything already queued at `socket`.
pub async fn flush(socket: &UdpSocket) {
    let _ = capture(socket, Duration::from_millis(1)).await;
}

/// Decodes G.722 RTP packets with GStreamer.
pub fn decode_g722(packets: &[Vec<u8>]) -> Vec<i16> {
    let mut pcm = Vec::new();
    through_pipeline(
        "appsrc name=src format=time caps=application/x-rtp,media=audio,clock-rate=8000,\
         encoding-name=G722,payload=9 ! rtpg722depay ! avdec_g722 ! audioconvert \
         ! audio/x-raw,format=S16LE,channels=1 ! appsink name=sink sync=false",
        |src| {
            for p in packets {
                src.push_buffer(gst::Buffer::from_slice(p.clone()))
                    .expect("push");
            }
        },
        |bytes| {
            pcm.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]])),
            )
        },
    );
    pcm
}

/// Encodes 16 kHz PCM to G.722 RTP payloads of 20 ms with GStreamer.
pub fn encode_g722(pcm: &[i16]) -> Vec<Vec<u8>> {
    let mut payloads = Vec::new();
    through_pipeline(
        "appsrc name=src format=time caps=audio/x-raw,format=S16LE,layout=interleaved,rate=16000,\
         channels=1 ! avenc_g722 ! rtpg722pay min-ptime=20000000 max-ptime=20000000 \
         ! appsink name=sink sync=false",
        |src| {
            for (i, frame) in pcm.chunks(320).enumerate() {
                let bytes: Vec<u8> = frame.iter().flat_map(|s| s.to_le_bytes()).collect();
                let mut buffer = gst::Buffer::from_mut_slice(bytes);
                buffer
                    .get_mut()
                    .expect("fresh")
                    .set_pts(gst::ClockTime::from_mseconds(20 * i as u64));
                src.push_buffer(buffer).expect("push");
            }
        },
        |bytes| payloads.push(bytes[12..].to_vec()),
    );
    payloads
}

/// Runs the test pipeline `desc` (appsrc `src` ... appsink `sink`): `feed` pushes into it, then
/// end of stream; `take` gets the bytes of every buffer that comes out.
fn through_pipeline(desc: &str, feed: impl FnOnce(&AppSrc), mut take: impl FnMut(&[u8])) {
    let pipeline = gst::parse::launch(desc)
        .expect("test pipeline parses")
        .downcast::<gst::Pipeline>()
        .expect("a pipeline");
    let src = pipeline
        .by_name("src")
        .and_downcast::<AppSrc>()
        .expect("appsrc");
    let sink = pipeline
        .by_name("sink")
        .and_downcast::<AppSink>()
        .expect("appsink");
    pipeline
        .set_state(gst::State::Playing)
        .expect("test pipeline plays");
    feed(&src);
    src.end_of_stream().expect("eos");
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(2)) {
        let map = sample
            .buffer()
            .expect("buffer")
            .map_readable()
            .expect("readable");
        take(&map);
    }
    pipeline
        .set_state(gst::State::Null)
        .expect("test pipeline stops");
}

pub fn payload(p: &[u8]) -> &[u8] {
    &p[12..]
}

/// Per-packet RMS of G.711 packets.
pub fn g711_rms(packets: &[(Vec<u8>, SocketAddr)], decode: fn(u8) -> i16) -> Vec<f64> {
    packets
        .iter()
        .map(|(p, _)| rms(&payload(p).iter().map(|&b| decode(b)).collect::<Vec<_>>()))
        .collect()
}

/// Checks that packets are one continuous RTP stream: one SSRC, seq +1, timestamp +160.
pub fn assert_continuous(packets: &[(Vec<u8>, SocketAddr)]) {
    for pair in packets.windows(2) {
        let (a, b) = (&pair[0].0, &pair[1].0);
        assert_eq!(a[8..12], b[8..12], "one SSRC");
        let seq = |p: &[u8]| u16::from_be_bytes([p[2], p[3]]);
        let ts = |p: &[u8]| u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
        assert_eq!(
            seq(b),
            seq(a).wrapping_add(1),
            "continuous sequence numbers"
        );
        assert_eq!(ts(b), ts(a).wrapping_add(160), "continuous timestamps");
    }
}
