//! The caller's side of the send pipeline: a Rust-owned source pad linked to the pipeline's `in`
//! capsfilter (sticky events sent), so the phone's 20 ms frames enter the pipeline without an
//! `appsrc` thread.
//!
//! Timestamps follow the frames (no jitter from the pushing thread's scheduling) but stay
//! anchored to the pipeline's running time, which RTCP sender reports map to wall-clock time:
//! after a stall or a burst of more than [`RESYNC_NS`] they are re-anchored (marked DISCONT).
//! The bound is tight because a receiver plays out by these timestamps (mapped through our RTCP
//! sender reports): drift ahead is delay for the room.

use gstreamer as gst;
use gstreamer::prelude::*;

use super::shared::ConferenceLegError;

/// How far (ns) the frames' timestamps may drift from the pipeline's running time.
pub const RESYNC_NS: u64 = 60_000_000;

pub struct Feed {
    pad: gst::Pad,
    rate: u32,
    next_pts: Option<gst::ClockTime>,
}

impl Feed {
    /// Links a new source pad to `entry` (a capsfilter) and sends its caps.
    pub fn new(entry: &gst::Element, rate: u32) -> Result<Feed, ConferenceLegError> {
        let error = |reason: String| ConferenceLegError::Pipeline(reason);
        let sink = entry
            .static_pad("sink")
            .ok_or_else(|| error("`in` has no sink pad".into()))?;
        let caps: gst::Caps = entry.property("caps");
        let pad = gst::Pad::builder(gst::PadDirection::Src)
            .name("conference-feed")
            .build();
        pad.set_active(true)
            .map_err(|e| error(format!("cannot activate feed pad: {e}")))?;
        pad.link(&sink)
            .map_err(|e| error(format!("cannot link feed pad: {e:?}")))?;
        crate::media::gst::start_stream(&pad, "conference-feed", &caps);
        Ok(Feed {
            pad,
            rate,
            next_pts: None,
        })
    }

    /// Encodes `pcm` (mono S16 at the feed's rate). `now`: the pipeline's running time.
    pub fn push(&mut self, pcm: &[i16], now: Option<gst::ClockTime>) {
        if pcm.is_empty() {
            return;
        }
        let duration =
            gst::ClockTime::from_nseconds(pcm.len() as u64 * 1_000_000_000 / u64::from(self.rate));
        let (pts, discont) = timestamp(self.next_pts, now);
        let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut buffer = gst::Buffer::from_mut_slice(bytes);
        {
            let buffer = buffer
                .get_mut()
                .expect("a new buffer has one reference: writable");
            buffer.set_pts(pts);
            buffer.set_duration(duration);
            if discont {
                buffer.set_flags(gst::BufferFlags::DISCONT);
            }
        }
        self.next_pts = Some(pts + duration);
        if let Err(e) = self.pad.push(buffer) {
            tracing::debug!("conference send pipeline refused a frame: {e:?}");
        }
    }
}

/// The next frame's timestamp and whether it is a discontinuity.
fn timestamp(next: Option<gst::ClockTime>, now: Option<gst::ClockTime>) -> (gst::ClockTime, bool) {
    match (next, now) {
        (Some(next), Some(now)) if next.nseconds().abs_diff(now.nseconds()) < RESYNC_NS => {
            (next, false)
        }
        (Some(next), None) => (next, false),
        (_, now) => (now.unwrap_or(gst::ClockTime::ZERO), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn t(ms: u64) -> Option<gst::ClockTime> {
        Some(gst::ClockTime::from_nseconds(ms * MS))
    }

    #[test]
    fn frames_follow_each_other_until_they_drift_too_far() {
        assert_eq!(
            timestamp(None, t(500)),
            (t(500).unwrap(), true),
            "first frame anchors"
        );
        assert_eq!(
            timestamp(t(520), t(530)),
            (t(520).unwrap(), false),
            "scheduling jitter"
        );
        assert_eq!(
            timestamp(t(520), t(480)),
            (t(520).unwrap(), false),
            "a small burst"
        );
        assert_eq!(
            timestamp(t(520), t(420)),
            (t(420).unwrap(), true),
            "ahead by more than the bound: would be held back, so re-anchored"
        );
        assert_eq!(
            timestamp(t(520), t(900)),
            (t(900).unwrap(), true),
            "after a stall"
        );
        assert_eq!(
            timestamp(t(520), None),
            (t(520).unwrap(), false),
            "no clock yet"
        );
    }
}
