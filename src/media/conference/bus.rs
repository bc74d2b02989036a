//! The conference pipeline's bus, handled in the posting thread (nothing piles up on a bus
//! nobody polls): an error inside a peer's elements fails that peer only; any other error is
//! the shared send side's and ends the leg.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::peer::PeerShared;
use super::shared::{ConferenceMediaEvent, Events, lock};

/// Peers by the prefix of their element names (`peer7` in `peer7-webrtc`).
pub type PeerIndex = Arc<Mutex<HashMap<String, Arc<PeerShared>>>>;

pub fn install_handler(pipeline: &gst::Pipeline, events: Events, index: PeerIndex) {
    let bus = pipeline.bus().expect("a pipeline always has a bus");
    bus.set_sync_handler(move |_, message| {
        if let gst::MessageView::Error(e) = message.view() {
            let reason = format!("{} ({:?})", e.error(), e.debug());
            let peer = message.src().and_then(top_level_name).and_then(|name| {
                let prefix = name.split('-').next().unwrap_or_default();
                lock(&index).get(prefix).cloned()
            });
            match peer {
                Some(peer) => peer.fail(reason),
                None => {
                    tracing::warn!("conference pipeline error: {reason}");
                    events.send(ConferenceMediaEvent::Error { reason });
                }
            }
        }
        gst::BusSyncReply::Drop
    });
}

/// The name of `object`'s ancestor that is a direct child of the pipeline.
fn top_level_name(object: &gst::Object) -> Option<String> {
    let mut current = object.clone();
    loop {
        let parent = current.parent()?;
        if parent.parent().is_none() {
            return Some(current.name().to_string());
        }
        current = parent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_pipeline_child_an_element_belongs_to() {
        gst::init().expect("GStreamer is installed on the build machine");
        let pipeline = gst::Pipeline::new();
        let bin = gst::Bin::with_name("peer3-rx0");
        let inner = gst::ElementFactory::make("identity").build().unwrap();
        bin.add(&inner).unwrap();
        pipeline.add(&bin).unwrap();
        assert_eq!(
            top_level_name(inner.upcast_ref()).as_deref(),
            Some("peer3-rx0")
        );
        assert_eq!(
            top_level_name(bin.upcast_ref()).as_deref(),
            Some("peer3-rx0")
        );
        assert_eq!(top_level_name(pipeline.upcast_ref()), None);
    }
}
