//! Every pipeline description in `pipelines/` builds a real GStreamer pipeline for every codec
//! and reaches PLAYING; the phone leg's also have the `in`/`out` elements it wires to.

use std::path::Path;

use dialbridge::media::pipeline::{self, PipelineKind};
use dialbridge::media::{self, Codec};
use gstreamer as gst;
use gstreamer::prelude::*;

/// Values for descriptions the phone leg does not own (the conference leg's, filled at run time
/// by its code): the phone's audio rate and Opus RTP parameters. A new placeholder fails
/// `render` by name: add a sample value here.
fn other_values(codec: Codec) -> Vec<(&'static str, String)> {
    vec![
        ("rate", codec.audio_rate().to_string()),
        ("pt", "111".into()),
        ("ssrc", "305419896".into()),
        ("bitrate", "32000".into()),
        ("complexity", "10".into()),
        ("dtx", "false".into()),
    ]
}

#[test]
fn every_pipeline_file_parses_for_every_codec() {
    media::init().expect("GStreamer and all needed elements are installed");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut phone_files = 0;
    for entry in std::fs::read_dir(&dir).expect("pipelines/ exists") {
        let path = entry.expect("readable directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name");
        let on_disk = std::fs::read_to_string(&path).expect("readable pipeline file");
        let kind = PipelineKind::from_file_name(name);
        if let Some(kind) = kind {
            phone_files += 1;
            assert_eq!(
                on_disk,
                kind.template(),
                "{name}: embedded copy is stale, rebuild"
            );
        }
        for codec in Codec::ALL {
            for pt in [codec.static_payload_type(), 96] {
                match kind {
                    Some(kind) => check_phone_pipeline(kind, &pipeline::phone_values(codec, pt)),
                    None => check_other(name, &on_disk, &other_values(codec)),
                }
            }
        }
    }
    assert_eq!(
        phone_files,
        PipelineKind::ALL.len(),
        "one file per PipelineKind"
    );
    assert_eq!(
        media::active_pipelines(),
        0,
        "dropping a LivePipeline tears it down"
    );
}

/// A phone pipeline launches through `media::pipeline`, has the `in`/`out` elements the phone
/// leg wires to, and reaches PLAYING.
fn check_phone_pipeline(kind: PipelineKind, values: &[(&str, String)]) {
    let name = kind.file_name();
    let p = pipeline::launch(kind, values, |e| panic!("pipeline error: {e}"))
        .unwrap_or_else(|e| panic!("{name} with {values:?}: {e}"));
    let entry: gst::Element = p.element("in").expect("an element named in");
    assert!(
        entry.static_pad("sink").is_some(),
        "{name}: `in` takes input"
    );
    let _: gstreamer_app::AppSink = p.element("out").expect("an appsink named out");
    p.play().unwrap_or_else(|e| panic!("{name}: {e}"));
    let (result, state, _) = p.pipeline().state(gst::ClockTime::from_seconds(5));
    assert!(result.is_ok(), "{name}: state change {result:?}");
    assert_eq!(state, gst::State::Playing, "{name}");
}

/// Any other description renders, parses into real elements and reaches PLAYING.
fn check_other(name: &str, text: &str, values: &[(&str, String)]) {
    let description = pipeline::render(name, text, values).unwrap_or_else(|e| panic!("{e}"));
    let element = gst::parse::launch_full(&description, None, gst::ParseFlags::FATAL_ERRORS)
        .unwrap_or_else(|e| panic!("{name} does not parse: {e}\n{description}"));
    let pipeline = element.downcast::<gst::Pipeline>().unwrap_or_else(|e| {
        let pipeline = gst::Pipeline::new();
        pipeline
            .add(&e)
            .expect("a fresh pipeline takes any element");
        pipeline
    });
    pipeline
        .set_state(gst::State::Playing)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let (result, state, _) = pipeline.state(gst::ClockTime::from_seconds(5));
    assert!(
        result.is_ok() && state == gst::State::Playing,
        "{name}: {result:?} {state:?}"
    );
    pipeline
        .set_state(gst::State::Null)
        .expect("a playing pipeline stops");
}

#[test]
fn unknown_placeholder_is_an_error_naming_the_file() {
    let err = pipeline::render("phone-tx.txt", PipelineKind::PhoneTx.template(), &[])
        .expect_err("no values for the placeholders")
        .to_string();
    assert!(
        err.contains("phone-tx.txt") && err.contains("placeholder"),
        "{err}"
    );
}
