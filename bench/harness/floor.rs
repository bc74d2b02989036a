//! The codec floor: what G.711 -> Opus -> G.711 costs in GStreamer alone (both directions of a
//! call are one chain: mulawdec -> opusenc -> opusdec -> mulawenc), measured in this process
//! while it does nothing else.

use gstreamer as gst;
use gstreamer::prelude::*;

use super::procstat;

/// Transcodes `audio_s` seconds of 8 kHz µ-law and returns the CPU seconds it took.
pub fn measure(audio_s: f64) -> Result<f64, String> {
    gst::init().map_err(|e| e.to_string())?;
    let buffers = (audio_s * 50.0).ceil() as u64;
    let description = format!(
        "audiotestsrc wave=sine freq=440 samplesperbuffer=160 num-buffers={buffers} \
         ! audio/x-raw,format=S16LE,rate=8000,channels=1 ! mulawenc ! mulawdec \
         ! opusenc bitrate=32000 frame-size=20 ! opusdec ! audio/x-raw,rate=8000,channels=1 \
         ! mulawenc ! fakesink sync=false"
    );
    let pipeline = gst::parse::launch(&description).map_err(|e| e.to_string())?;
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
