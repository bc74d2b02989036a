//! Frames from Janus as the Janus backend reads them: `Incoming::parse`, then the plugin reply,
//! its error, the VideoRoom publisher list and each publisher's audio stream. Whatever parses
//! must serialize and parse back to the same message.
//!
//! `conference::janus::protocol` is private to the crate, so the module's own source file is
//! compiled in here (`#[path]`): the fuzzer runs the very code the bridge runs.

#![no_main]

#[path = "json_same.rs"]
mod json_same;
#[allow(dead_code)]
#[path = "../../src/conference/janus/protocol.rs"]
mod protocol;

use json_same::round_trip;
use libfuzzer_sys::fuzz_target;
use protocol::{Envelope, Incoming, plugin_error, publishers};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(request) = serde_json::from_str::<Envelope>(text) {
        round_trip(&request);
        let _ = request.request.transaction();
    }
    let Some(incoming) = Incoming::parse(text) else {
        return;
    };
    round_trip(&incoming);
    let _ = incoming.transaction();
    let _ = incoming.failure();
    if let Some((data, jsep)) = incoming.into_plugin_reply() {
        let _ = plugin_error(&data);
        for publisher in publishers(&data) {
            round_trip(&publisher);
            let _ = publisher.audio_mid();
        }
        if let Some(jsep) = jsep {
            round_trip(&jsep);
        }
    }
});
