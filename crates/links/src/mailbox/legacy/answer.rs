//! The mod's answers in `PREFIX_resp.json`: `{id, status, data, …}`, with
//! `status` `ok`, `pending` or `error` (and `message`).

use gamebridge_protocol::{ErrorBody, ErrorCode};
use serde_json::{Map, Value, json};

/// One answer as the mod wrote it.
#[derive(Debug, PartialEq)]
pub struct Answer {
    /// The id of the command it answers.
    pub id: String,
    pub outcome: Result<Value, ErrorBody>,
}

impl Answer {
    /// The answer in `bytes`, once the whole file is there: a file that does
    /// not parse (yet: the mod writes in place) or has no id is none.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let Value::Object(mut answer) = serde_json::from_slice::<Value>(bytes).ok()? else { return None };
        let id = match answer.remove("id")? {
            Value::String(id) => id,
            other => other.to_string(),
        };
        let status = answer.remove("status");
        let data = answer.remove("data");
        let outcome = match status.as_ref().and_then(Value::as_str) {
            Some("ok") => Ok(with_extra_fields(data.unwrap_or(Value::Null), answer)),
            Some("pending") => {
                let mut pending = Map::from_iter([("status".to_owned(), json!("pending"))]);
                pending.insert("data".to_owned(), data.unwrap_or(Value::Null));
                Ok(with_extra_fields(Value::Object(pending), answer))
            }
            Some("error") => {
                let message =
                    answer.get("message").and_then(Value::as_str).unwrap_or("the game reported an error");
                Err(ErrorBody::new(ErrorCode::LUA_EXECUTION_ERROR, message))
            }
            other => Err(ErrorBody::new(
                ErrorCode::SERIALIZATION_ERROR,
                format!("the game answered with an unknown status {other:?}"),
            )),
        };
        Some(Self { id, outcome })
    }
}

/// The mod sometimes answers with fields beside `data` (`pause`:
/// `{status: "ok", message: "Ignored - game stays at 4x"}`); they are kept:
/// added to an object result, or next to any other result as `{data, …}`.
fn with_extra_fields(data: Value, extra: Map<String, Value>) -> Value {
    if extra.is_empty() {
        return data;
    }
    match data {
        Value::Object(mut fields) => {
            for (key, value) in extra {
                fields.entry(key).or_insert(value);
            }
            Value::Object(fields)
        }
        other => {
            let mut fields = Map::from_iter([("data".to_owned(), other)]);
            fields.extend(extra);
            Value::Object(fields)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(answer: Value) -> Answer {
        Answer::parse(answer.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn fields_beside_data_are_kept_message_too() {
        let paused = parse(json!({"id": "a", "status": "ok", "message": "Ignored - game stays at 4x"}));
        assert_eq!(paused.outcome.unwrap(), json!({"data": null, "message": "Ignored - game stays at 4x"}));
        let queued = parse(json!({"id": "b", "status": "ok", "data": {"a": 1}, "queued": "3"}));
        assert_eq!(queued.outcome.unwrap(), json!({"a": 1, "queued": "3"}));
        assert_eq!(parse(json!({"id": "c", "status": "ok", "data": [1]})).outcome.unwrap(), json!([1]));
    }

    #[test]
    fn errors_pending_and_unreadable_answers() {
        let failed = parse(json!({"id": "a", "status": "error", "message": "Invalid town_id parameter"}));
        assert_eq!(failed.outcome.unwrap_err().message, "Invalid town_id parameter");
        let pending = parse(json!({"id": 7, "status": "pending", "data": {"job": "1"}}));
        assert_eq!(
            (pending.id.as_str(), pending.outcome.unwrap()["status"].as_str()),
            ("7", Some("pending"))
        );
        assert_eq!(Answer::parse(br#"{"id": "a", "status": "ok", "da"#), None, "half written");
        assert_eq!(Answer::parse(br#"{"status": "ok"}"#), None, "no id");
    }
}
