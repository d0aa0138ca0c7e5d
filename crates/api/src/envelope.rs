//! The response envelope: `{success:true, result}` or
//! `{success:false, error:{code, message, details?}}`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gamebridge_hub::Answered;
use gamebridge_protocol::{CallResult, ErrorBody, ErrorCode, RawValue, WireId};
use serde::Serialize;

/// One envelope, borrowed from whatever produced it.
#[derive(Serialize)]
pub struct Envelope<'a, T: Serialize> {
    /// `lua_response` when the game answered, with the id it answered under,
    /// as the original passes the DLL's message through.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a WireId>,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ErrorBody>,
}

impl<'a> Envelope<'a, &'a RawValue> {
    /// The envelope of a call outcome; the game's result is copied verbatim.
    pub fn of(outcome: &'a CallResult) -> Self {
        match outcome {
            Ok(result) => Self { kind: None, id: None, success: true, result: Some(result), error: None },
            Err(error) => Self { kind: None, id: None, success: false, result: None, error: Some(error) },
        }
    }

    /// The envelope of a call the game may have answered: with the game's
    /// `type` and `id` when it did.
    pub fn answered(answered: &'a Answered) -> Self {
        let envelope = Self::of(&answered.outcome);
        match &answered.id {
            Some(id) => Self { kind: Some("lua_response"), id: Some(id), ..envelope },
            None => envelope,
        }
    }
}

/// `{success:true, result}` with HTTP 200.
pub fn success<T: Serialize>(result: T) -> Response {
    json_response(
        StatusCode::OK,
        &Envelope { kind: None, id: None, success: true, result: Some(result), error: None },
    )
}

/// The envelope of a call's outcome, with the game's `type` and `id` when
/// it answered. Failures answer HTTP 200 too, as in the original: clients
/// look at `success`.
pub fn answered(answered: &Answered) -> Response {
    json_response(StatusCode::OK, &Envelope::answered(answered))
}

pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(error) => {
            let body = ErrorBody::new(
                ErrorCode::SERIALIZATION_ERROR,
                format!("could not encode the response: {error}"),
            );
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
        }
    }
}

/// A request the bridge refuses or cannot serve.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, body: ErrorBody) -> Self {
        Self { status, body }
    }

    /// A handled failure: HTTP 200 with `success:false`, as the original answers.
    pub fn handled(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::from(ErrorBody::new(code, message))
    }

    pub fn invalid_arguments(message: impl Into<String>) -> Self {
        Self::handled(ErrorCode::INVALID_ARGUMENTS, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorBody::new(ErrorCode::NOT_FOUND, message))
    }
}

impl From<ErrorBody> for ApiError {
    /// A handled failure answers HTTP 200, like every failure the original handles.
    fn from(body: ErrorBody) -> Self {
        Self::new(StatusCode::OK, body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let envelope: Envelope<'_, ()> =
            Envelope { kind: None, id: None, success: false, result: None, error: Some(&self.body) };
        json_response(self.status, &envelope)
    }
}
