//! GStreamer media: the phone leg of a call (RTP ⇄ PCM, DTMF, prompts) and the pipeline
//! descriptions it loads from `pipelines/`.
//!
//! The shape is a thin I/O shell around GStreamer. Rust owns each call's RTP socket and one tokio
//! task per call ([`phone_leg`]): it validates inbound RTP, latches onto the caller's source
//! address (symmetric RTP; strangers' packets are dropped, [`latch`]), puts the caller's RTP in
//! order per SSRC and then dispatches it by payload type ([`reorder`]: audio to the decoder,
//! RFC 4733 events to their decoder), and paces outbound packets every 20 ms from a Rust frame
//! source (prompt or silence, [`tx`]). G.711 is coded in Rust on that task; for G.722 GStreamer
//! does the codec work: the receive pipeline (depayloader, decoder) and the send pipeline
//! (encoder, payloader), both fed through a Rust-owned pad so they need no streaming thread of
//! their own. With SRTP ([`srtp`]), libsrtp
//! through `srtpdec`/`srtpenc` decrypts each packet right after the socket and encrypts it right
//! before. Call logic sees only [`MediaEvent`]s.
//!
//! Call [`init`] once at startup: it initialises GStreamer and names the apt package of any
//! missing element, so a broken install fails before the first call instead of during it.

pub mod codec;
pub mod conference_leg;
mod events;
mod g711;
mod gst;
pub mod latch;
pub mod leg_quality;
mod leg_stats;
mod phone_codec;
pub mod phone_leg;
mod phone_task;
pub mod pipeline;
pub mod prompts;
pub mod reorder;
pub mod rtp;
pub mod srtp;
pub mod tx;

pub use codec::Codec;
pub use events::{DROPPED_EVENTS, MediaError, MediaEvent, dropped_events};
pub use gst::{REQUIRED_ELEMENTS, init, warm_up_dtls};
pub use leg_stats::{LegStats, PcmTap};
pub use phone_leg::{PhoneLeg, PhoneLegConfig};
pub use pipeline::active_pipelines;
pub use prompts::PromptSet;
pub use tx::TxFill;
