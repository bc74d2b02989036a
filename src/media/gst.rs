//! GStreamer set-up shared by the phone and conference legs: [`init`] with the check that every
//! needed element is installed, the DTLS warm-up, and the two pad/sink helpers that move data
//! between Rust and a pipeline.

use std::sync::OnceLock;

use super::events::MediaError;

/// Every element the phone leg needs, with the Debian package that ships it.
pub const REQUIRED_ELEMENTS: &[(&str, &str)] = &[
    ("capsfilter", "libgstreamer1.0-0"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("audioconvert", "gstreamer1.0-plugins-base"),
    ("audioresample", "gstreamer1.0-plugins-base"),
    ("rtppcmudepay", "gstreamer1.0-plugins-good"),
    ("rtppcmupay", "gstreamer1.0-plugins-good"),
    ("rtppcmadepay", "gstreamer1.0-plugins-good"),
    ("rtppcmapay", "gstreamer1.0-plugins-good"),
    ("rtpg722depay", "gstreamer1.0-plugins-good"),
    ("rtpg722pay", "gstreamer1.0-plugins-good"),
    ("mulawdec", "gstreamer1.0-plugins-good"),
    ("mulawenc", "gstreamer1.0-plugins-good"),
    ("alawdec", "gstreamer1.0-plugins-good"),
    ("alawenc", "gstreamer1.0-plugins-good"),
    ("avdec_g722", "gstreamer1.0-libav"),
    ("avenc_g722", "gstreamer1.0-libav"),
];

/// Initialises GStreamer (once per process; later calls return the first result) and checks
/// that every element in [`REQUIRED_ELEMENTS`] exists.
pub fn init() -> Result<(), MediaError> {
    /// Why the first init failed; kept so every later call reports the same.
    enum Failure {
        Gst(String),
        Missing(&'static str, &'static str),
    }
    static INIT: OnceLock<Result<(), Failure>> = OnceLock::new();
    let result = INIT.get_or_init(|| {
        gstreamer::init().map_err(|e| Failure::Gst(e.to_string()))?;
        match REQUIRED_ELEMENTS
            .iter()
            .find(|(e, _)| gstreamer::ElementFactory::find(e).is_none())
        {
            Some(&(element, package)) => Err(Failure::Missing(element, package)),
            None => Ok(()),
        }
    });
    match result {
        Ok(()) => Ok(()),
        Err(Failure::Missing(element, package)) => {
            Err(MediaError::MissingElement { element, package })
        }
        Err(Failure::Gst(reason)) => Err(MediaError::Init(reason.clone())),
    }
}

/// Makes GStreamer's DTLS elements create their process-wide certificate now, on a background
/// thread. The first `dtlsdec` of a process generates it (an RSA key), and otherwise the first
/// caller's connection setup waits for that.
pub fn warm_up_dtls() {
    let spawned = std::thread::Builder::new()
        .name("dtls-warm-up".into())
        .spawn(|| {
            if let Err(e) = gstreamer::ElementFactory::make("dtlsdec").build() {
                tracing::warn!("DTLS warm-up failed: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("DTLS warm-up not started: {e}");
    }
}

/// Sends the sticky events that must precede data on a source pad of ours that feeds an
/// element: stream start, the caps, and a time segment from 0.
pub(crate) fn start_stream(pad: &gstreamer::Pad, stream_id: &str, caps: &gstreamer::Caps) {
    use gstreamer::prelude::*;
    pad.push_event(gstreamer::event::StreamStart::new(stream_id));
    pad.push_event(gstreamer::event::Caps::new(caps));
    pad.push_event(gstreamer::event::Segment::new(
        &gstreamer::FormattedSegment::<gstreamer::ClockTime>::new(),
    ));
}

/// AppSink callbacks that hand every buffer to `on_pcm` as mono S16LE samples. One Vec is
/// reused, so the streaming thread does not allocate per buffer.
pub(crate) fn pcm_sink_callbacks(
    mut on_pcm: impl FnMut(&[i16]) + Send + 'static,
) -> gstreamer_app::AppSinkCallbacks {
    use gstreamer as gst;
    let mut pcm: Vec<i16> = Vec::new();
    gstreamer_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| {
            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Flushing)?;
            let Some(buffer) = sample.buffer() else {
                return Ok(gst::FlowSuccess::Ok);
            };
            let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
            pcm.clear();
            pcm.extend(
                map.chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]])),
            );
            on_pcm(&pcm);
            Ok(gst::FlowSuccess::Ok)
        })
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_finds_all_elements() {
        init().expect("all GStreamer elements are installed on the build machine");
        init().expect("a second init returns the cached success");
    }
}
