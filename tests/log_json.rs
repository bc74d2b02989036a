//! `--log-format json` (here through `DIALBRIDGE_LOG_FORMAT`, as a unit file would set it):
//! every stderr line of a bridge that took one call into a room is one JSON object with
//! timestamp, level, target and message, and every line that the call's own modules wrote while
//! it ran carries its call_id, so a log shipper can gather one call's story.

mod common;

use std::time::Duration;

use common::bridge::{Bridge, Config};
use common::call::{Caller, PROMPT};
use common::metrics;
use common::tools;
use serde_json::Value;

/// The modules whose lines belong to a call.
const CALL_MODULES: [&str; 4] = [
    "dialbridge::call",
    "dialbridge::ivr",
    "dialbridge::media",
    "dialbridge::conference",
];

#[test]
fn json_log_lines_carry_the_call_id() {
    let dir = tools::test_dir();
    let mut config = Config::trunk();
    config
        .env
        .push(("DIALBRIDGE_LOG_FORMAT".into(), "json".into()));
    let bridge = Bridge::start(&dir, &config);
    let call = Caller::dial(&dir, "uac_call.xml", bridge.sip, &[0], |s| s);
    call.rtp.expect_prompt("welcome", PROMPT);
    call.rtp.send_digits("1234#");
    call.rtp.expect_prompt("joining", PROMPT);
    call.hang_up();
    metrics::wait_idle(bridge.signaling, Duration::from_secs(5));

    let log = std::fs::read_to_string(&bridge.log).expect("read the bridge log");
    let lines: Vec<Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "target", "message"] {
            assert!(line.get(field).is_some(), "no {field} in {line}");
        }
    }
    let call_id = |line: &Value| {
        line.pointer("/span/call_id")
            .and_then(Value::as_str)
            .map(String::from)
    };
    let incoming = lines
        .iter()
        .find(|l| l["message"] == "incoming call")
        .expect("an `incoming call` line");
    let id = call_id(incoming).expect("the incoming call line has the call's call_id");
    assert!(!id.is_empty());

    let from_call_modules: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            let target = l["target"].as_str().unwrap_or_default();
            CALL_MODULES.iter().any(|m| target.starts_with(m))
        })
        .collect();
    assert!(
        from_call_modules.len() >= 5,
        "too few lines from the call's modules to tell anything: {from_call_modules:#?}"
    );
    let without: Vec<&&Value> = from_call_modules
        .iter()
        .filter(|l| call_id(l).as_deref() != Some(id.as_str()))
        .collect();
    assert!(
        without.is_empty(),
        "lines of the call without its call_id {id}: {without:#?}"
    );
}
