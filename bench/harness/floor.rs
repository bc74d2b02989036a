//! The codec floor: the transcoding work of one call in GStreamer alone, measured in this
//! process while it does nothing else. Both directions of a call are one chain here: µ-law
//! decode, then the conference leg's own send description (Opus encode, payload) and its own
//! receive description (depayload, Opus decode, convert/resample), then µ-law encode. Using the
//! bridge's descriptions keeps the encoder settings (voice mode, bitrate) the same on both sides
//! of the ratio.

use dialbridge::media::conference_leg::{OpusSettings, recv_description, send_description};
use gstreamer as gst;
use gstreamer::prelude::*;

use super::procstat;

/// The receive description's sink, replaced by the phone side's encoder.
const RECV_SINK: &str = "appsink name=out";

/// The floor pipeline for `buffers` 20 ms frames of a 440 Hz tone (what the callers send).
fn description(buffers: u64) -> Result<String, String> {
    let send = send_description(8000, 1, OpusSettings::default()).map_err(|e| e.to_string())?;
    let recv = recv_description(8000).map_err(|e| e.to_string())?;
    let sink = recv
        .find(RECV_SINK)
        .ok_or("conference-recv.txt lost its appsink")?;
    Ok(format!(
        "audiotestsrc wave=sine freq=440 volume=0.25 samplesperbuffer=160 num-buffers={buffers} \
         ! audio/x-raw,format=S16LE,rate=8000,channels=1 ! mulawenc ! mulawdec ! {send} \
         fanout. ! {} mulawenc ! fakesink sync=false",
        &recv[..sink]
    ))
}

/// Transcodes `audio_s` seconds of 8 kHz µ-law and returns the CPU seconds it took.
pub fn measure(audio_s: f64) -> Result<f64, String> {
    gst::init().map_err(|e| e.to_string())?;
    let buffers = (audio_s * 50.0).ceil() as u64;
    let pipeline = gst::parse::launch(&description(buffers)?).map_err(|e| e.to_string())?;
    // The send description's queue drops the oldest frames when the encoder falls behind; fed
    // as fast as it goes here, it must not drop any.
    let queue = pipeline
        .downcast_ref::<gst::Bin>()
        .and_then(|bin| bin.by_name("encode"))
        .ok_or("conference-send.txt lost its queue \"encode\"")?;
    queue.set_property_from_str("leaky", "no");
    let before = procstat::sample("self").ok_or("no /proc/self")?;
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    let bus = pipeline.bus().ok_or("a pipeline has a bus")?;
    let mut result = Ok(());
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(600)) {
        match msg.view() {
            gst::MessageView::Eos(..) => break,
            gst::MessageView::Error(e) => {
                result = Err(e.error().to_string());
                break;
            }
            _ => {}
        }
    }
    let after = procstat::sample("self").ok_or("no /proc/self")?;
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    Ok((after.cpu_ticks - before.cpu_ticks) as f64 / procstat::CLK_TCK)
}
