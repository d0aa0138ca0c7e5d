//! Every message of the pipe protocol (the README's "The pipe protocol"), in both directions.
//!
//! Messages are JSON objects tagged by `type`. Payloads the bridge only
//! forwards (call arguments, results, event payloads) stay as [`RawValue`]:
//! they are validated once and copied verbatim, never rebuilt as a tree.
//!
//! Parsing goes through one flat struct per direction instead of serde's
//! internally tagged enums, because those buffer the whole object first and
//! cannot hold borrowed raw values.

mod bridge;
mod game;
mod id;

pub use bridge::BridgeMessage;
pub use game::{EventName, GameEvent, GameMessage};
pub use id::WireId;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{CallResult, ErrorBody, ErrorCode};

/// A frame that is not a message this protocol knows.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("{kind} message without field {field:?}")]
    MissingField { kind: &'static str, field: &'static str },
}

/// The answer half of a call: `{id, success, result | error}`, as carried by
/// `lua_response` and `external_response`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Response {
    pub id: WireId,
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl Response {
    /// Builds the wire response for a call outcome.
    pub fn from_result(id: WireId, outcome: CallResult) -> Self {
        match outcome {
            Ok(result) => Self { id, success: true, result: Some(result), error: None },
            Err(error) => Self { id, success: false, result: None, error: Some(error) },
        }
    }

    /// The outcome this response reports. A failure without an error body is
    /// reported as `LUA_EXECUTION_ERROR`; a success without a result as `null`.
    pub fn into_result(self) -> CallResult {
        if self.success {
            Ok(self.result.unwrap_or_else(null))
        } else {
            Err(self.error.unwrap_or_else(|| {
                ErrorBody::new(ErrorCode::LUA_EXECUTION_ERROR, "the game reported a failure without details")
            }))
        }
    }
}

/// A JSON `null`, for results that carry no value.
pub fn null() -> Box<RawValue> {
    raw("null")
}

fn missing(kind: &'static str, field: &'static str) -> ParseError {
    ParseError::MissingField { kind, field }
}

/// A raw JSON value from text the caller knows to be valid JSON.
fn raw(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).expect("static JSON is valid")
}

/// A raw JSON value copied from a borrowed one.
fn owned(value: &RawValue) -> Box<RawValue> {
    value.to_owned()
}

#[cfg(test)]
mod tests;
