//! Pipeline descriptions from `pipelines/` (embedded at build time, so the binary runs from any
//! directory): placeholder filling, launching, and a counted handle that tears a pipeline down
//! when dropped.
//!
//! A description is gst-launch syntax; lines starting with `#` are comments. `{name}` (a lower
//! case identifier in braces) is a placeholder; every placeholder must get a value, or rendering
//! fails. Other braces (GStreamer caps lists such as `{ S16LE, F32LE }`) are left alone.

use std::sync::atomic::{AtomicUsize, Ordering};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::codec::Codec;
use super::events::MediaError;
use super::gst::init;

/// Pipelines launched and not yet dropped (read with [`active_pipelines`]).
pub(crate) static ACTIVE_PIPELINES: AtomicUsize = AtomicUsize::new(0);

/// Number of pipelines built and not yet torn down, process-wide (for leak tests and metrics).
pub fn active_pipelines() -> usize {
    ACTIVE_PIPELINES.load(Ordering::Relaxed)
}

/// The pipeline descriptions dialbridge ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineKind {
    /// Caller's RTP → PCM.
    PhoneRx,
    /// PCM frames → RTP to the caller.
    PhoneTx,
}

impl PipelineKind {
    pub const ALL: [PipelineKind; 2] = [PipelineKind::PhoneRx, PipelineKind::PhoneTx];

    /// The file name under `pipelines/`.
    pub fn file_name(self) -> &'static str {
        match self {
            PipelineKind::PhoneRx => "phone-rx.txt",
            PipelineKind::PhoneTx => "phone-tx.txt",
        }
    }

    /// The description text as embedded at build time.
    pub fn template(self) -> &'static str {
        match self {
            PipelineKind::PhoneRx => include_str!("../../pipelines/phone-rx.txt"),
            PipelineKind::PhoneTx => include_str!("../../pipelines/phone-tx.txt"),
        }
    }

    pub fn from_file_name(name: &str) -> Option<PipelineKind> {
        Self::ALL.into_iter().find(|k| k.file_name() == name)
    }
}

/// The GStreamer elements that handle one codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecElements {
    pub depay: &'static str,
    pub decoder: &'static str,
    pub encoder: &'static str,
    pub payloader: &'static str,
}

pub fn codec_elements(codec: Codec) -> CodecElements {
    match codec {
        Codec::PCMU => CodecElements {
            depay: "rtppcmudepay",
            decoder: "mulawdec",
            encoder: "mulawenc",
            payloader: "rtppcmupay",
        },
        Codec::PCMA => CodecElements {
            depay: "rtppcmadepay",
            decoder: "alawdec",
            encoder: "alawenc",
            payloader: "rtppcmapay",
        },
        Codec::G722 => CodecElements {
            depay: "rtpg722depay",
            decoder: "avdec_g722",
            encoder: "avenc_g722",
            payloader: "rtpg722pay",
        },
    }
}

/// The values of every placeholder the phone pipelines use.
pub fn phone_values(codec: Codec, payload_type: u8) -> Vec<(&'static str, String)> {
    let e = codec_elements(codec);
    vec![
        ("clock_rate", codec.rtp_clock_rate().to_string()),
        ("encoding_name", codec.encoding_name().to_string()),
        ("pt", payload_type.to_string()),
        ("rate", codec.audio_rate().to_string()),
        ("depay", e.depay.to_string()),
        ("decoder", e.decoder.to_string()),
        ("encoder", e.encoder.to_string()),
        ("payloader", e.payloader.to_string()),
    ]
}

/// Strips comments and fills placeholders. `file` only names the description in errors.
pub fn render(file: &str, template: &str, values: &[(&str, String)]) -> Result<String, MediaError> {
    let error = |reason: String| MediaError::Pipeline {
        file: file.to_string(),
        reason,
    };
    let text: Vec<&str> = template
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let text = text.join(" ");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let name_len = after.find('}').unwrap_or(after.len());
        let name = &after[..name_len];
        let is_placeholder = name_len < after.len()
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if is_placeholder {
            let value = values
                .iter()
                .find(|(k, _)| *k == name)
                .ok_or_else(|| error(format!("unknown placeholder {{{name}}}")))?;
            out.push_str(&value.1);
            rest = &after[name_len + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A launched pipeline. Dropping it sets it to NULL (which joins its streaming threads) and
/// decrements [`active_pipelines`].
#[derive(Debug)]
pub struct LivePipeline {
    pipeline: gst::Pipeline,
    file: &'static str,
}

impl LivePipeline {
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    /// The element called `name` in the description, as type `T`.
    pub fn element<T: IsA<gst::Element>>(&self, name: &str) -> Result<T, MediaError> {
        self.pipeline
            .by_name(name)
            .and_then(|e| e.downcast::<T>().ok())
            .ok_or_else(|| self.error(format!("no element named {name:?} of the expected type")))
    }

    /// Sets the pipeline to PLAYING.
    pub fn play(&self) -> Result<(), MediaError> {
        self.pipeline
            .set_state(gst::State::Playing)
            .map(|_| ())
            .map_err(|e| self.error(format!("cannot start: {e}")))
    }

    fn error(&self, reason: String) -> MediaError {
        MediaError::Pipeline {
            file: self.file.to_string(),
            reason,
        }
    }
}

impl Drop for LivePipeline {
    fn drop(&mut self) {
        if let Err(e) = self.pipeline.set_state(gst::State::Null) {
            tracing::warn!(file = self.file, "pipeline did not stop cleanly: {e}");
        }
        ACTIVE_PIPELINES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Renders and parses `kind` into a pipeline (still in NULL state). Every bus message is handled
/// in the posting thread and dropped, so nothing piles up on a bus nobody polls; errors are
/// logged and passed to `on_error`.
pub fn launch(
    kind: PipelineKind,
    values: &[(&str, String)],
    on_error: impl Fn(String) + Send + Sync + 'static,
) -> Result<LivePipeline, MediaError> {
    init()?;
    let file = kind.file_name();
    let error = |reason: String| MediaError::Pipeline {
        file: file.to_string(),
        reason,
    };
    let description = render(file, kind.template(), values)?;
    let element = gst::parse::launch_full(&description, None, gst::ParseFlags::FATAL_ERRORS)
        .map_err(|e| error(format!("does not parse: {e} (description: {description})")))?;
    let pipeline = element
        .downcast::<gst::Pipeline>()
        .map_err(|_| error("is a single element, not a pipeline".into()))?;
    let bus = pipeline.bus().expect("a pipeline always has a bus");
    bus.set_sync_handler(move |_, message| {
        match message.view() {
            gst::MessageView::Error(e) => {
                let text = format!("{file}: {} ({:?})", e.error(), e.debug());
                tracing::warn!("pipeline error: {text}");
                on_error(text);
            }
            gst::MessageView::Warning(w) => {
                tracing::debug!("pipeline warning: {file}: {} ({:?})", w.error(), w.debug());
            }
            _ => {}
        }
        gst::BusSyncReply::Drop
    });
    ACTIVE_PIPELINES.fetch_add(1, Ordering::Relaxed);
    Ok(LivePipeline { pipeline, file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_fills_placeholders_and_strips_comments() {
        let t = "# comment\n a x={x}\n ! b caps=\"audio/x-raw,format={ S16LE, F32LE }\" y={y_2}\n";
        let v = [
            ("x", "1".to_string()),
            ("y_2", "two".to_string()),
            ("unused", "u".to_string()),
        ];
        assert_eq!(
            render("t", t, &v).unwrap(),
            "a x=1 ! b caps=\"audio/x-raw,format={ S16LE, F32LE }\" y=two"
        );
    }

    #[test]
    fn render_rejects_unknown_placeholder() {
        let err = render("t.txt", "a x={nope}", &[]).unwrap_err().to_string();
        assert!(err.contains("t.txt") && err.contains("{nope}"), "{err}");
    }

    #[test]
    fn render_leaves_unclosed_brace() {
        assert_eq!(render("t", "a {b", &[]).unwrap(), "a {b");
    }

    #[test]
    fn shipped_templates_render_for_every_codec() {
        for kind in PipelineKind::ALL {
            assert_eq!(PipelineKind::from_file_name(kind.file_name()), Some(kind));
            for codec in Codec::ALL {
                let text =
                    render(kind.file_name(), kind.template(), &phone_values(codec, 96)).unwrap();
                assert!(!text.contains("{pt}") && !text.contains('#'), "{text}");
            }
        }
    }
}
