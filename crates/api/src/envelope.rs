//! The response envelope: `{success:true, result}` or
//! `{success:false, error:{code, message, details?}}`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gamebridge_protocol::{CallResult, ErrorBody, ErrorCode, RawValue};
use serde::Serialize;

/// One envelope, borrowed from whatever produced it.
#[derive(Serialize)]
pub struct Envelope<'a, T: Serialize> {
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
            Ok(result) => Self { success: true, result: Some(result), error: None },
            Err(error) => Self { success: false, result: None, error: Some(error) },
        }
    }
}

/// `{success:true, result}` with HTTP 200.
pub fn success<T: Serialize>(result: T) -> Response {
    json_response(StatusCode::OK, &Envelope { success: true, result: Some(result), error: None })
}

/// The envelope of a call outcome. Failures answer HTTP 200 too, as in the
/// original: clients look at `success`.
pub fn outcome(outcome: &CallResult) -> Response {
    json_response(StatusCode::OK, &Envelope::of(outcome))
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
        let envelope: Envelope<'_, ()> = Envelope { success: false, result: None, error: Some(&self.body) };
        json_response(self.status, &envelope)
    }
}
