//! GStreamer media: the phone leg of a call (RTP ⇄ PCM, DTMF, prompts) and the pipeline
//! descriptions it loads from `pipelines/`.
//!
//! The shape is a thin I/O shell around GStreamer. Rust owns each call's RTP socket and one tokio
//! task per call ([`phone_leg`]): it validates inbound RTP, latches onto the caller's source
//! address (symmetric RTP; strangers' packets are dropped, [`latch`]), decodes RFC 4733 events, and paces outbound packets every 20 ms from a
//! Rust frame source (prompt or silence, [`tx`]), and puts the caller's audio in order
//! ([`reorder`]). GStreamer does the codec work: the receive pipeline (depayloader, decoder) and
//! the send pipeline (encoder, payloader), both fed through a Rust-owned pad so they need no
//! streaming thread of their own. With SRTP ([`srtp`]), libsrtp through `srtpdec`/`srtpenc`
//! decrypts each packet right after the socket and encrypts it right before. Call logic sees
//! only [`MediaEvent`]s.
//!
//! Call [`init`] once at startup: it initialises GStreamer and names the apt package of any
//! missing element, so a broken install fails before the first call instead of during it.

pub mod codec;
pub mod conference_leg;
pub mod latch;
pub mod leg_quality;
pub mod phone_leg;
mod phone_task;
pub mod pipeline;
pub mod prompts;
pub mod reorder;
pub mod rtp;
pub mod srtp;
pub mod tx;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ivr::dtmf::DtmfSource;

pub use codec::Codec;
pub use phone_leg::{LegStats, PcmTap, PhoneLeg, PhoneLegConfig};
pub use prompts::PromptSet;
pub use tx::TxFill;

/// What the phone leg tells its call. Everything GStreamer or the network does reaches call
/// logic as one of these plain events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The caller pressed a key.
    Digit { digit: char, source: DtmfSource },
    /// The prompt started with `play` has been sent completely (not sent for a stopped or
    /// replaced prompt).
    PromptDone,
    /// No RTP arrived for the configured timeout (sent once).
    RtpTimeout,
    /// A pipeline reported an error; the call should end.
    Error(String),
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("GStreamer could not be initialised: {0}")]
    Init(String),
    #[error("GStreamer element {element:?} is missing: install the apt package {package}")]
    MissingElement {
        element: &'static str,
        package: &'static str,
    },
    #[error("pipeline {file}: {reason}")]
    Pipeline { file: String, reason: String },
    #[error("prompt file {}: {reason}", path.display())]
    Prompt { path: PathBuf, reason: String },
    #[error("the phone leg needs a tokio runtime (start it from inside one)")]
    NoRuntime,
    #[error("RTP socket: {0}")]
    Socket(#[from] std::io::Error),
}

/// Events (mostly digits) that could not be delivered because the call's event channel was
/// full. Each one is also logged.
pub static DROPPED_EVENTS: AtomicU64 = AtomicU64::new(0);

/// How many events were dropped because an event channel was full (see [`DROPPED_EVENTS`]).
pub fn dropped_events() -> u64 {
    DROPPED_EVENTS.load(Ordering::Relaxed)
}

/// Number of pipelines built and not yet torn down, process-wide (for leak tests and metrics).
pub fn active_pipelines() -> usize {
    pipeline::ACTIVE_PIPELINES.load(Ordering::Relaxed)
}

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

/// Hands an event to the call without blocking; a full channel counts the event in
/// [`DROPPED_EVENTS`] and logs it, a closed channel (the call is ending) is ignored.
pub(crate) fn send_event(events: &tokio::sync::mpsc::Sender<MediaEvent>, event: MediaEvent) {
    use tokio::sync::mpsc::error::TrySendError;
    match events.try_send(event) {
        Ok(()) => {}
        Err(TrySendError::Full(event)) => {
            DROPPED_EVENTS.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(?event, "media event channel full, event dropped");
        }
        Err(TrySendError::Closed(event)) => {
            tracing::debug!(?event, "media event channel closed, event discarded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_finds_all_elements() {
        init().expect("all GStreamer elements are installed on the build machine");
        init().expect("a second init returns the cached success");
    }

    #[test]
    fn full_channel_counts_dropped_event() {
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        send_event(&tx, MediaEvent::PromptDone);
        let before = dropped_events();
        send_event(
            &tx,
            MediaEvent::Digit {
                digit: '5',
                source: DtmfSource::Rfc4733,
            },
        );
        assert!(dropped_events() > before);
    }
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
