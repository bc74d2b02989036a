//! Text frames of the built-in signaling protocol, both directions: the server reads
//! `Envelope<ClientMessage>` (through a `serde_json::Value` first, as `connection.rs` does),
//! the builtin conference backend reads `Envelope<ServerMessage>`. Whatever parses must
//! serialize and parse back to the same message.

#![no_main]

#[path = "json_same.rs"]
mod json_same;

use dialbridge::signaling::protocol::{ClientMessage, Envelope, ServerMessage};
use json_same::round_trip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = serde_json::from_slice::<Envelope<ClientMessage>>(data) {
        round_trip(&m);
    }
    if let Ok(m) = serde_json::from_slice::<Envelope<ServerMessage>>(data) {
        round_trip(&m);
    }
    if let Ok(m) = serde_json::from_slice::<ClientMessage>(data) {
        round_trip(&m);
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = value.get("request_id").and_then(|v| v.as_u64());
        let _ = value
            .get("type")
            .and_then(|t| t.as_str())
            .map(|t| ClientMessage::TYPES.contains(&t));
        if let Ok(m) = serde_json::from_value::<Envelope<ClientMessage>>(value.clone()) {
            round_trip(&m);
        }
        if let Ok(m) = serde_json::from_value::<Envelope<ServerMessage>>(value) {
            round_trip(&m);
        }
    }
});
