//! The per-peer pieces around webrtcbin: the send branch (a tee pad held until the peer is
//! connected and adapted to its payload type) and the receive side of each webrtcbin src pad.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::AppSink;

use super::mix::Mixer;
use super::shared::lock;

/// Mixer stream ids, unique per process.
static NEXT_STREAM: AtomicU64 = AtomicU64::new(1);

/// A new mixer stream id.
pub fn next_stream_id() -> u64 {
    NEXT_STREAM.fetch_add(1, Ordering::Relaxed)
}

/// Makes the branch leaving `tee_pad` say what the peer expects: its payload type `pt` (in
/// caps, and in every packet when it differs from the encoder's `base_pt`), and caps without the
/// `sprop-*` hints the payloader adds. webrtcbin matches a remote offer to our transceiver by
/// strict caps intersection, so `sprop-maxcapturerate=8000` would refuse an offer saying 16000
/// and silently make the m-line recvonly.
pub fn adapt_send_branch(tee_pad: &gst::Pad, pt: u8, base_pt: u8) {
    tee_pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        rewrite_caps(info, pt);
        gst::PadProbeReturn::Ok
    });
    if pt != base_pt {
        tee_pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            rewrite_payload_type(info, pt);
            gst::PadProbeReturn::Ok
        });
    }
}

/// Drops the branch's audio (events pass) until `connected`. Before ICE and DTLS are up,
/// webrtcbin would block the tee's thread or discard it; letting it queue up sends a stale burst
/// with a sequence gap behind it, and the peer's jitter buffer then waits for the "lost"
/// packets (a quarter second more to first audio).
pub fn hold_until_connected(tee_pad: &gst::Pad, connected: Arc<AtomicBool>) {
    tee_pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if connected.load(Ordering::Relaxed) {
            gst::PadProbeReturn::Ok
        } else {
            // Take and release the buffer ourselves: returning Drop with the buffer still in
            // the info unrefs it twice in gstreamer-rs 0.25 (a GStreamer-CRITICAL per frame).
            drop(info.take_buffer());
            gst::PadProbeReturn::Handled
        }
    });
}

fn rewrite_payload_type(info: &mut gst::PadProbeInfo, pt: u8) {
    if let Some(gst::PadProbeData::Buffer(buffer)) = &mut info.data {
        let buffer = buffer.make_mut();
        if let Ok(mut map) = buffer.map_writable()
            && map.len() >= 12
        {
            map[1] = (map[1] & 0x80) | (pt & 0x7f);
        }
    }
}

fn rewrite_caps(info: &mut gst::PadProbeInfo, pt: u8) {
    if let Some(gst::PadProbeData::Event(event)) = &mut info.data
        && let gst::EventView::Caps(caps) = event.view()
    {
        let mut caps = caps.caps_owned();
        if let Some(s) = caps.make_mut().structure_mut(0) {
            s.set("payload", i32::from(pt));
            s.remove_fields(["sprop-stereo", "sprop-maxcapturerate"]);
        }
        *event = gst::event::Caps::new(&caps);
    }
}

/// What a new webrtcbin src pad should be linked to (not yet added to the pipeline), with its
/// mixer stream id: Opus audio goes to a receive bin feeding the mixer, anything else to a
/// fakesink (an unlinked pad would stop webrtcbin's streaming thread).
pub fn receiver(
    pad: &gst::Pad,
    description: &str,
    mixer: &Arc<Mutex<Mixer>>,
) -> Result<(u64, gst::Element), String> {
    let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
    let is_opus = caps.structure(0).is_some_and(|s| {
        s.get::<&str>("encoding-name")
            .is_ok_and(|e| e.eq_ignore_ascii_case("OPUS"))
    });
    let stream = next_stream_id();
    if !is_opus {
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("async", false)
            .build()
            .map_err(|e| e.to_string())?;
        return Ok((stream, sink));
    }
    let bin = gst::parse::bin_from_description(description, true)
        .map_err(|e| format!("receive bin does not parse: {e}"))?;
    let sink = bin
        .by_name("out")
        .and_then(|e| e.downcast::<AppSink>().ok())
        .ok_or("receive bin has no appsink named out")?;
    let mixer = mixer.clone();
    sink.set_callbacks(crate::media::gst::pcm_sink_callbacks(move |pcm| {
        lock(&mixer).push(stream, pcm)
    }));
    Ok((stream, bin.upcast()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes a caps event and one RTP packet through an adapted pad; returns what arrived.
    fn through_branch(pt: u8) -> (gst::Caps, Vec<u8>) {
        gst::init().expect("GStreamer is installed on the build machine");
        let got: Arc<Mutex<Vec<u8>>> = Arc::default();
        let sink = {
            let got = got.clone();
            gst::Pad::builder(gst::PadDirection::Sink)
                .chain_function(move |_, _, buffer| {
                    let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                    *lock(&got) = map.to_vec();
                    Ok(gst::FlowSuccess::Ok)
                })
                .build()
        };
        let src = gst::Pad::builder(gst::PadDirection::Src).build();
        src.link(&sink).unwrap();
        adapt_send_branch(&src, pt, 111);
        src.set_active(true).unwrap();
        sink.set_active(true).unwrap();
        let caps = gst::Caps::builder("application/x-rtp")
            .field("payload", 111i32)
            .field("encoding-name", "OPUS")
            .field("sprop-stereo", "0")
            .field("sprop-maxcapturerate", "8000")
            .build();
        src.push_event(gst::event::StreamStart::new("t"));
        src.push_event(gst::event::Caps::new(&caps));
        src.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
            gst::ClockTime,
        >::new()));
        let packet = vec![0x80, 0x80 | 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xAA];
        let original = gst::Buffer::from_slice(packet.clone());
        let shared = original.clone(); // the tee shares buffers between branches
        src.push(shared).unwrap();
        assert_eq!(
            original.map_readable().unwrap().as_slice(),
            packet,
            "other branches untouched"
        );
        let caps = sink.current_caps().expect("caps arrived");
        let data = lock(&got).clone();
        (caps, data)
    }

    #[test]
    fn caps_lose_sprop_hints_and_keep_the_payload_type() {
        let (caps, data) = through_branch(111);
        let s = caps.structure(0).unwrap();
        assert_eq!(s.get::<i32>("payload").unwrap(), 111);
        assert!(
            !s.has_field("sprop-stereo") && !s.has_field("sprop-maxcapturerate"),
            "{caps}"
        );
        assert_eq!(data[1], 0x80 | 111);
    }

    #[test]
    fn another_payload_type_is_rewritten_in_caps_and_packets() {
        let (caps, data) = through_branch(109);
        assert_eq!(
            caps.structure(0).unwrap().get::<i32>("payload").unwrap(),
            109
        );
        assert_eq!(
            data[1],
            0x80 | 109,
            "marker bit kept, payload type replaced"
        );
        assert_eq!(data[12], 0xAA);
    }
}
