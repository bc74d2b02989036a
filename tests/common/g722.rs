//! G.722 decoding for the test's RTP endpoint, through GStreamer's `avdec_g722` (from
//! gstreamer1.0-libav): appsrc ! avdec_g722 ! appsink, fed one RTP payload at a time.

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// Encoded G.722 silence: `avenc_g722` turns zero samples into a steady stream of 0xFA bytes
/// (measured with gst-launch on this machine), so a 20 ms frame is 160 of them.
pub const SILENCE_BYTE: u8 = 0xFA;

pub struct G722Decoder {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    sink: gst_app::AppSink,
}

impl G722Decoder {
    pub fn new() -> G722Decoder {
        gst::init().expect("GStreamer initialises (the library is installed; the crate links it)");
        let desc = "appsrc name=src format=time do-timestamp=true \
                    caps=audio/G722,rate=16000,channels=1 \
                    ! avdec_g722 ! audioconvert ! audioresample \
                    ! audio/x-raw,format=S16LE,rate=16000,channels=1 \
                    ! appsink name=sink sync=false";
        let pipeline = gst::parse::launch(desc)
            .unwrap_or_else(|e| {
                panic!("cannot build the G.722 decoder ({e}): install gstreamer1.0-libav (scripts/install-deps.sh)")
            })
            .downcast::<gst::Pipeline>()
            .expect("a multi-element launch line is a pipeline");
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .expect("the launch line names an appsrc `src`");
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .expect("the launch line names an appsink `sink`");
        pipeline
            .set_state(gst::State::Playing)
            .unwrap_or_else(|e| panic!("G.722 decoder pipeline does not start: {e}"));
        G722Decoder {
            pipeline,
            src,
            sink,
        }
    }

    /// Queues one RTP payload (any whole number of bytes; 160 per 20 ms).
    pub fn push(&mut self, payload: &[u8]) {
        // An error here means the pipeline stopped; `pull` then returns nothing, which the
        // test reports as silence.
        let _ = self
            .src
            .push_buffer(gst::Buffer::from_slice(payload.to_vec()));
    }

    /// Everything decoded so far, as 16 kHz mono samples.
    pub fn pull(&mut self) -> Vec<i16> {
        let mut out = Vec::new();
        while let Some(sample) = self.sink.try_pull_sample(gst::ClockTime::ZERO) {
            let Some(buffer) = sample.buffer() else {
                continue;
            };
            let Ok(map) = buffer.map_readable() else {
                continue;
            };
            out.extend(
                map.chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]])),
            );
        }
        out
    }
}

impl Drop for G722Decoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn decodes_silence_frames() {
        let mut d = G722Decoder::new();
        for _ in 0..10 {
            d.push(&[SILENCE_BYTE; 160]);
        }
        let mut samples = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while samples.len() < 3200 && Instant::now() < deadline {
            samples.extend(d.pull());
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(samples.len(), 3200, "10 frames of 20 ms at 16 kHz");
        // The decoder settles at a DC offset of about 200, which the analysis ignores.
        let rms = super::super::audio::ac_rms(&samples[640..]);
        assert!(rms < 20.0, "silence decodes to an AC RMS of {rms:.0}");
    }
}
