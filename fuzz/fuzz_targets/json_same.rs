//! Shared by the JSON targets: "the same message" after a round trip. serde_json parses floats
//! with best-effort precision by default (its `float_roundtrip` feature is off), so a relayed
//! SDP/ICE payload's floats may move by an ulp; everything else must be exact.

use serde_json::Value;

pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            _ if x == y => true,
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
                (x - y).abs() <= f64::EPSILON * 4.0 * x.abs().max(y.abs())
            }
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Serializes what parsed, parses that again and checks both are the same message: what one
/// side of the protocol writes, the other must read.
pub fn round_trip<T>(message: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let text = serde_json::to_string(message).expect("a parsed message serializes");
    let again: T = match serde_json::from_str(&text) {
        Ok(again) => again,
        Err(e) => panic!("{message:?} serialized as {text} does not parse again: {e}"),
    };
    let (first, second) = (
        serde_json::to_value(message).expect("serializes"),
        serde_json::to_value(&again).expect("serializes"),
    );
    assert!(same(&first, &second), "{first} came back as {second}");
}
