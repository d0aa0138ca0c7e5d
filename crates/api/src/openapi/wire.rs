//! Schemas of the envelope every Vox Deorum route answers with, and of its
//! error body.
//!
//! These are schema-only mirrors: the real envelope borrows what it sends
//! (`crate::envelope::Envelope`), and the error body lives in
//! `gamebridge-protocol` with an open code, so neither can derive a schema
//! itself. The tests below compare each mirror with what the real type
//! serializes, so a field added on either side fails them.

use std::borrow::Cow;

use gamebridge_protocol::ErrorCode as Code;
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::security;

/// `{success, result?, error?}`: `result` when `success` is true, `error`
/// when it is false. Handled failures answer HTTP 200 too, as in the Vox
/// Deorum bridge: look at `success`, not at the status.
#[derive(ToSchema)]
#[allow(dead_code, reason = "described, never built: the real envelope borrows")]
pub struct Envelope<T> {
    /// `lua_response` when the game itself answered a call (`/lua/call`,
    /// `/lua/execute`, batch items), as the Vox Deorum bridge passes the
    /// DLL's message through.
    #[schema(rename = "type")]
    kind: Option<String>,
    /// The id the game answered under, with `type`.
    #[schema(value_type = Option<Value>)]
    id: Option<Value>,
    /// Whether the request succeeded.
    success: bool,
    /// The answer, when `success` is true.
    result: Option<T>,
    /// Why the request failed, when `success` is false.
    error: Option<ErrorBody>,
}

/// `{success: false, error}`: a refusal, such as a missing token or an
/// unknown game.
#[derive(ToSchema)]
#[allow(dead_code, reason = "described, never built: refusals are ApiError")]
pub struct Failure {
    /// Always false.
    success: bool,
    error: ErrorBody,
}

/// `{code, message, details?}`: why a call or request failed.
#[derive(ToSchema)]
#[allow(dead_code, reason = "described, never built: the real body is gamebridge_protocol::ErrorBody")]
pub struct ErrorBody {
    code: ErrorCode,
    /// What went wrong, for people.
    message: String,
    /// More about the failure: a hint, or whatever the game attached.
    details: Option<Value>,
}

/// An error code: one the bridge itself sends, or any code a game reported,
/// passed through unchanged (games usually send `LUA_EXECUTION_ERROR`).
pub struct ErrorCode;

impl ErrorCode {
    /// Every code the bridge itself sends: the protocol's, then the security
    /// guard's refusals.
    pub fn known() -> Vec<String> {
        let protocol = Code::ALL.iter().map(|code| code.as_str().to_owned());
        protocol.chain(security::REFUSAL_CODES.iter().map(|code| (*code).to_owned())).collect()
    }
}

impl PartialSchema for ErrorCode {
    /// Known codes as an enum, but any other string too: a closed enum would
    /// make generated clients reject the codes games send.
    fn schema() -> RefOr<Schema> {
        let known = ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(Self::known()))
            .description(Some("A code the bridge itself sends."));
        let any = ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .description(Some("A code the game reported, passed through unchanged."));
        AnyOfBuilder::new()
            .item(known)
            .item(any)
            .description(Some(
                "The bridge's own codes, or any code a game reported (usually LUA_EXECUTION_ERROR).",
            ))
            .into()
    }
}

impl ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

#[cfg(test)]
mod tests {
    use gamebridge_protocol::{ErrorBody as RealErrorBody, RawValue};
    use serde_json::json;

    use super::*;
    use crate::envelope::Envelope as RealEnvelope;
    use crate::openapi::tests::assert_mirrors;

    #[test]
    fn the_envelope_mirror_matches_both_outcomes() {
        let result = RawValue::from_string("[1]".into()).unwrap();
        let success = Ok(result);
        assert_mirrors::<Envelope<Value>>(&serde_json::to_value(RealEnvelope::of(&success)).unwrap());
        let failure = Err(RealErrorBody::new(Code::CALL_TIMEOUT, "late").with_details(json!("hint")));
        let failure = serde_json::to_value(RealEnvelope::of(&failure)).unwrap();
        assert_mirrors::<Envelope<Value>>(&failure);
        assert_mirrors::<Failure>(&failure);
        assert_mirrors::<ErrorBody>(&failure["error"]);
        let answered =
            gamebridge_hub::Answered { outcome: success, id: Some(gamebridge_protocol::WireId::Number(7)) };
        let answered = serde_json::to_value(RealEnvelope::answered(&answered)).unwrap();
        assert_eq!((answered["type"].as_str(), answered["id"].as_i64()), (Some("lua_response"), Some(7)));
        assert_mirrors::<Envelope<Value>>(&answered);
    }

    #[test]
    fn every_code_of_the_protocol_is_known() {
        let known = ErrorCode::known();
        for code in Code::ALL.iter().map(Code::as_str).chain(["UNAUTHORIZED", "FORBIDDEN"]) {
            assert!(known.iter().any(|known| known == code), "{code}");
        }
    }
}
