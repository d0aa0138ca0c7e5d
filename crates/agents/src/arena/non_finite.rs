//! Numbers JSON cannot carry, as the Python servers read them. Python's
//! `json` accepts `NaN`, `Infinity` and `-Infinity`, and reads `1e400` as
//! infinity; newer Godot writes `1e99999` for an infinite float. A scene
//! that sends them must not lose its tick, so a body the strict parser
//! refuses is read once more with each such number replaced: infinities by
//! the largest finite double of their sign (every comparison the rules make
//! comes out as Python's would), `NaN` by `null` (no comparison holds, as
//! for NaN). Bodies without them never take this path. In answers, the
//! stand-ins become `null`, as the Python servers' JSON encoder writes
//! non-finite floats.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::error::Category;

const LARGEST: &[u8] = b"1.7976931348623157e308";

/// Parses `body`; if it is refused as JSON, parses it again with the
/// numbers JSON cannot carry replaced (then `true`). The error is the
/// strict parser's when there was nothing to replace.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<(T, bool), serde_json::Error> {
    match serde_json::from_slice(body) {
        Err(error) if error.classify() == Category::Syntax => match replace(body) {
            Some(replaced) => serde_json::from_slice(&replaced).map(|read| (read, true)).map_err(|_| error),
            None => Err(error),
        },
        parsed => parsed.map(|read| (read, false)),
    }
}

/// An answer built from a body that carried infinities: their stand-ins
/// (the largest doubles) become `null`.
pub fn scrub(answer: &mut Value) {
    match answer {
        Value::Number(number) if number.as_f64().is_some_and(|n| n == f64::MAX || n == f64::MIN) => {
            *answer = Value::Null;
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        Value::Object(fields) => fields.values_mut().for_each(scrub),
        _ => {}
    }
}

/// The body with every `NaN`, `±Infinity` and overflowing number outside
/// strings replaced, or `None` if it has none.
pub fn replace(body: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let (mut at, mut copied) = (0, 0);
    while at < body.len() {
        match body[at] {
            b'"' => at = string_end(body, at),
            b'N' | b'I' | b'-' | b'0'..=b'9' => {
                let end = token_end(body, at);
                let token = &body[at..end];
                let replacement: Option<(bool, &[u8])> = match token {
                    b"NaN" => Some((false, b"null")),
                    b"Infinity" => Some((false, LARGEST)),
                    b"-Infinity" => Some((true, LARGEST)),
                    number => std::str::from_utf8(number)
                        .ok()
                        .and_then(|text| text.parse::<f64>().ok())
                        .filter(|value| value.is_infinite())
                        .map(|value| (value < 0.0, LARGEST)),
                };
                if let Some((negative, text)) = replacement {
                    let out = out.get_or_insert_with(|| Vec::with_capacity(body.len() + 32));
                    out.extend_from_slice(&body[copied..at]);
                    if negative {
                        out.push(b'-');
                    }
                    out.extend_from_slice(text);
                    copied = end;
                }
                at = end.max(at + 1);
            }
            _ => at += 1,
        }
    }
    let mut out = out?;
    out.extend_from_slice(&body[copied..]);
    Some(out)
}

/// Just past the string that opens at `start`, escapes skipped.
fn string_end(body: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while at < body.len() {
        match body[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    body.len()
}

/// The end of a number or bare word starting at `start`.
fn token_end(body: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while at < body.len() && matches!(body[at], b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'.' | b'+' | b'-')
    {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pythons_non_finite_numbers_are_read_and_strings_left_alone() {
        let body = br#"{"a": NaN, "b": [Infinity, -Infinity, 1e400, -1e99999], "c": "NaN Infinity 1e400", "d": 2.5e3}"#;
        let (mut read, replaced): (Value, bool) = from_slice(body).unwrap();
        assert_eq!(
            (&read, replaced),
            (
                &json!({"a": null, "b": [f64::MAX, -f64::MAX, f64::MAX, -f64::MAX], "c": "NaN Infinity 1e400", "d": 2500.0}),
                true
            )
        );
        scrub(&mut read);
        assert_eq!(read["b"], json!([null, null, null, null]), "written as the Python servers write them");
    }

    #[test]
    fn bodies_without_them_are_untouched_and_bad_json_keeps_its_error() {
        assert_eq!(replace(br#"{"x": [1, -2.5e10, "a\"NaN"], "y": true}"#), None);
        let error = from_slice::<Value>(b"{\"x\": NaN,").unwrap_err();
        assert!(error.to_string().contains("expected value"), "the strict parser's error: {error}");
        assert!(from_slice::<Value>(b"{\"x\": Nope}").is_err());
    }
}
