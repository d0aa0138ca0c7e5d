//! The TF2 mod's all-strings encoding on any JSON: every leaf becomes a
//! string and the shape stays.
#![no_main]

use gamebridge_protocol::strings::stringify_values;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn same_shape(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_shape(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(key, value)| y.get(key).is_some_and(|other| same_shape(value, other)))
        }
        (Value::Array(_) | Value::Object(_), _) => false,
        (_, Value::String(_)) => true,
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    let encoded = stringify_values(&value);
    assert!(same_shape(&value, &encoded), "{value} -> {encoded}");
});
