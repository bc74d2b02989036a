//! The phone leg of one call: RTP from and to the caller, decoded PCM, DTMF digits and prompts.
//!
//! Per call this costs one tokio task ([`super::phone_task`]: socket, reordering, 20 ms send
//! tick, RFC 4733) and no thread of its own. The codec runs on that task
//! ([`super::phone_codec`]): G.711 in Rust, G.722 in two pipelines fed through Rust-owned source
//! pads linked to their `in` element, so neither needs an `appsrc` thread: the receive pipeline
//! decodes on the task as packets arrive, the send pipeline encodes inside the tick.
//!
//! Contract: [`PhoneLeg::start`] must run inside a tokio runtime. Events go to the caller's
//! bounded channel; when it is full an event is counted in [`super::DROPPED_EVENTS`] and logged.
//! [`PhoneLeg::stop`] (or drop) stops the task and sets any pipelines to NULL; the socket
//! closes when the runtime drops the aborted task, right after.

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app::AppSink;
use tokio::sync::mpsc;

use crate::ivr::Prompt;
use crate::ivr::dtmf::{InbandDetector, Rfc4733Decoder};
use crate::sip::sdes::SrtpAgreement;

use super::codec::Codec;
use super::events::{MediaError, MediaEvent, send_event};
use super::g711::Law;
use super::gst::{init, pcm_sink_callbacks, start_stream};
use super::latch::Latch;
use super::leg_quality::LegQuality;
use super::leg_stats::{Counters, LegStats, PcmTap};
use super::phone_codec::{PcmSink, PhoneCodec};
use super::phone_task::{Control, PhoneTask};
use super::pipeline::{self, LivePipeline, PipelineKind};
use super::prompts::PromptSet;
use super::reorder::Reorder;
use super::srtp::SrtpSession;
use super::tx::{FrameSource, TxFill};

/// Commands waiting for the media task. The call actor sends a handful per prompt, so a full
/// queue means the task is stuck; the command is then dropped and logged.
pub const CONTROL_CAPACITY: usize = 64;

/// What the SDP negotiation decided for this call's phone side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneLegConfig {
    pub codec: Codec,
    /// Payload type of the audio codec (usually its static one).
    pub payload_type: u8,
    /// Payload type of RFC 4733 telephone-events, when negotiated.
    pub telephone_event_pt: Option<u8>,
    /// Where to send RTP until the caller's first packet shows its real address (the SDP
    /// `c=`/`m=` address). `None`: send nothing until then.
    pub remote: Option<SocketAddr>,
    /// How long packets after a hole in the sequence wait for the missing one before the hole
    /// is given up as lost. Packets in order are never held.
    pub jitter_buffer_ms: u32,
    /// Report [`MediaEvent::RtpTimeout`] when no RTP arrived for this long (not while on hold).
    pub rtp_timeout: Option<Duration>,
    /// Run the in-band DTMF detector on the decoded audio.
    pub inband_dtmf: bool,
    /// SRTP keys (SDES); `None`: plain RTP.
    pub srtp: Option<SrtpAgreement>,
}

/// The running phone leg; see the module docs.
pub struct PhoneLeg {
    local: SocketAddr,
    control: mpsc::Sender<Control>,
    pcm_tap: Arc<Mutex<Option<PcmTap>>>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
    /// Reads the caller's RTCP on RTP port + 1, once [`PhoneLeg::listen_rtcp`] started it.
    rtcp_task: Option<tokio::task::JoinHandle<()>>,
    /// G.722's receive and send pipelines (G.711 needs none).
    pipelines: Option<(LivePipeline, LivePipeline)>,
}

impl PhoneLeg {
    /// Starts receiving on `socket` and sending silence every 20 ms. Must be called inside a
    /// tokio runtime.
    pub fn start(
        socket: UdpSocket,
        config: PhoneLegConfig,
        prompts: Arc<PromptSet>,
        events: mpsc::Sender<MediaEvent>,
    ) -> Result<PhoneLeg, MediaError> {
        init()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| MediaError::NoRuntime)?;
        let local = socket.local_addr()?;
        socket.set_nonblocking(true)?;
        let socket = {
            let _guard = runtime.enter();
            tokio::net::UdpSocket::from_std(socket)?
        };
        let rate = config.codec.audio_rate();
        let pcm_tap: Arc<Mutex<Option<PcmTap>>> = Arc::new(Mutex::new(None));
        let sink = PcmSink {
            detector: config.inband_dtmf.then(|| InbandDetector::new(rate)),
            tap: pcm_tap.clone(),
            events: events.clone(),
        };
        let (codec, pipelines) = match Law::of(config.codec) {
            Some(law) => (PhoneCodec::g711(law, config.payload_type, sink), None),
            None => {
                let (codec, rx, tx) = launch_pipelines(&config, sink, &events)?;
                (codec, Some((rx, tx)))
            }
        };
        let srtp = config.srtp.as_ref().map(SrtpSession::new).transpose()?;
        let counters = Arc::new(Counters::new(config.codec.rtp_clock_rate()));
        let (control, control_rx) = mpsc::channel(CONTROL_CAPACITY);
        let task = PhoneTask {
            socket,
            audio_pt: config.payload_type,
            telephone_event_pt: config.telephone_event_pt,
            rfc4733: config.telephone_event_pt.map(|_| Rfc4733Decoder::new()),
            rtp_timeout: config.rtp_timeout,
            events,
            counters: counters.clone(),
            codec,
            tx_packets: Vec::new(),
            reorder: Reorder::new(Duration::from_millis(config.jitter_buffer_ms.into())),
            pcm_tap: pcm_tap.clone(),
            rx_frame: rate as usize / 50,
            sdp_remote: config.remote,
            latch: Latch::default(),
            hold: false,
            frames: FrameSource::new(prompts, rate),
            srtp,
        };
        // The task logs for the call that starts it (its call_id on every line).
        let task = runtime.spawn(tracing::Instrument::in_current_span(task.run(control_rx)));
        let security = config.srtp.as_ref().map_or("RTP", |s| s.suite.name());
        tracing::debug!(%local, codec = %config.codec, security, "phone leg started");
        Ok(PhoneLeg {
            local,
            control,
            pcm_tap,
            counters,
            task,
            rtcp_task: None,
            pipelines,
        })
    }

    /// Plays `prompt` from its start, replacing a playing one (which then gets no
    /// [`MediaEvent::PromptDone`]). PromptDone follows once its last packet was sent.
    pub fn play(&self, prompt: Prompt) {
        self.command(Control::Play(prompt));
    }

    /// Stops the playing prompt within one packet; no PromptDone for it.
    pub fn stop_prompt(&self) {
        self.command(Control::StopPrompt);
    }

    /// Applies a re-INVITE: `remote` is the new SDP address (a changed address drops the latch
    /// until the caller's next packet), `hold` stops sending (and the RTP timeout) until a later
    /// update clears it.
    pub fn update_remote(&self, remote: Option<SocketAddr>, hold: bool) {
        self.command(Control::Remote { remote, hold });
    }

    /// Applies the SRTP keys of a re-INVITE's offer: a new key of the caller's takes effect for
    /// the next packet (libsrtp keeps no state across keys). The same keys change nothing.
    pub fn update_srtp(&self, srtp: SrtpAgreement) {
        self.command(Control::Srtp(srtp));
    }

    /// Sets the audio the phone hears while no prompt plays (the conference mix); `None` is
    /// silence.
    pub fn set_tx_fill(&self, fill: Option<TxFill>) {
        self.command(Control::Fill(fill));
    }

    /// Sets where the caller's decoded audio goes (the conference leg); `None` discards it.
    pub fn set_pcm_tap(&self, tap: Option<PcmTap>) {
        *self.pcm_tap.lock().unwrap_or_else(|p| p.into_inner()) = tap;
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    pub fn stats(&self) -> LegStats {
        self.counters.snapshot()
    }

    /// Reads the caller's RTCP on `socket` (our RTP port + 1) for [`PhoneLeg::quality`]; muxed
    /// RTCP on the RTP port is read without it. Must be called inside the leg's runtime.
    pub fn listen_rtcp(&mut self, socket: UdpSocket) -> std::io::Result<()> {
        let task = super::leg_quality::listen_rtcp(socket, self.counters.quality.clone())?;
        if let Some(old) = self.rtcp_task.replace(task) {
            old.abort();
        }
        Ok(())
    }

    /// Jitter of the caller's audio and the caller's last receiver report about ours.
    pub fn quality(&self) -> LegQuality {
        self.counters
            .quality
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .snapshot()
    }

    /// Tears the leg down now (same as dropping it).
    pub fn stop(self) {}

    fn command(&self, command: Control) {
        if let Err(e) = self.control.try_send(command) {
            tracing::error!(local = %self.local, "phone leg command dropped: {e}");
        }
    }
}

impl Drop for PhoneLeg {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(task) = self.rtcp_task.take() {
            task.abort();
        }
        // Dropping a LivePipeline sets it to NULL, which joins its streaming threads.
        self.pipelines.take();
        self.pcm_tap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        tracing::debug!(local = %self.local, "phone leg stopped");
    }
}

/// Links a new source pad of ours to the `in` element of `pipeline` and sends the sticky events
/// (stream start, the caps of `in`, a time segment from 0) that must precede data.
fn feed_pad(pipeline: &LivePipeline, stream_id: &str) -> Result<gst::Pad, MediaError> {
    let error = |reason: String| MediaError::Pipeline {
        file: stream_id.to_string(),
        reason,
    };
    let entry: gst::Element = pipeline.element("in")?;
    let sink = entry
        .static_pad("sink")
        .ok_or_else(|| error("`in` has no sink pad".into()))?;
    let caps: gst::Caps = entry.property("caps");
    let pad = gst::Pad::builder(gst::PadDirection::Src)
        .name(stream_id)
        .build();
    pad.set_active(true)
        .map_err(|e| error(format!("cannot activate feed pad: {e}")))?;
    pad.link(&sink)
        .map_err(|e| error(format!("cannot link feed pad: {e:?}")))?;
    start_stream(&pad, stream_id, &caps);
    Ok(pad)
}

/// Launches G.722's receive and send pipelines, the receive one delivering to `sink`.
fn launch_pipelines(
    config: &PhoneLegConfig,
    mut sink: PcmSink,
    events: &mpsc::Sender<MediaEvent>,
) -> Result<(PhoneCodec, LivePipeline, LivePipeline), MediaError> {
    let values = pipeline::phone_values(config.codec, config.payload_type);
    let on_error = || {
        let events = events.clone();
        move |text: String| send_event(&events, MediaEvent::Error(text))
    };
    let rx = pipeline::launch(PipelineKind::PhoneRx, &values, on_error())?;
    let tx = pipeline::launch(PipelineKind::PhoneTx, &values, on_error())?;
    rx.element::<AppSink>("out")?
        .set_callbacks(pcm_sink_callbacks(move |pcm| sink.deliver(pcm)));
    rx.play()?;
    tx.play()?;
    let codec = PhoneCodec::Pipelines {
        rx_pad: feed_pad(&rx, "phone-rx")?,
        tx_pad: feed_pad(&tx, "phone-tx")?,
        tx_sink: tx.element::<AppSink>("out")?,
    };
    Ok((codec, rx, tx))
}
