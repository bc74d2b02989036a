//! Every pipeline description in `pipelines/` builds a real GStreamer pipeline for every codec,
//! has the `in`/`out` elements the phone leg wires to, and reaches PLAYING.

use std::path::Path;

use dialbridge::media::pipeline::{self, PipelineKind};
use dialbridge::media::{self, Codec};
use gstreamer as gst;
use gstreamer::prelude::*;

#[test]
fn every_pipeline_file_parses_for_every_codec() {
    media::init().expect("GStreamer and all needed elements are installed");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("pipelines/ exists") {
        let path = entry.expect("readable directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        files += 1;
        let name = path.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name");
        let kind = PipelineKind::from_file_name(name)
            .unwrap_or_else(|| panic!("{name} is not embedded by media::pipeline"));
        let on_disk = std::fs::read_to_string(&path).expect("readable pipeline file");
        assert_eq!(on_disk, kind.template(), "{name}: embedded copy is stale, rebuild");
        for codec in Codec::ALL {
            for pt in [codec.static_payload_type(), 96] {
                let values = pipeline::phone_values(codec, pt, 60);
                let p = pipeline::launch(kind, &values, |e| panic!("pipeline error: {e}"))
                    .unwrap_or_else(|e| panic!("{name} for {codec}/{pt}: {e}"));
                let entry: gst::Element = p.element("in").expect("an element named in");
                assert!(entry.static_pad("sink").is_some(), "{name}: `in` takes input");
                let _: gstreamer_app::AppSink = p.element("out").expect("an appsink named out");
                p.play().unwrap_or_else(|e| panic!("{name} for {codec}: {e}"));
                let (result, state, _) = p.pipeline().state(gst::ClockTime::from_seconds(5));
                assert!(result.is_ok(), "{name} for {codec}: state change {result:?}");
                assert_eq!(state, gst::State::Playing, "{name} for {codec}");
            }
        }
    }
    assert_eq!(files, PipelineKind::ALL.len(), "one file per PipelineKind");
    assert_eq!(media::active_pipelines(), 0, "dropping a LivePipeline tears it down");
}

#[test]
fn unknown_placeholder_is_an_error_naming_the_file() {
    let err = pipeline::render("phone-tx.txt", PipelineKind::PhoneTx.template(), &[])
        .expect_err("no values for the placeholders")
        .to_string();
    assert!(err.contains("phone-tx.txt") && err.contains("placeholder"), "{err}");
}
