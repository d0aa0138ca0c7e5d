//! Request extraction: which game a route addresses, JSON bodies, and the
//! per-request deadline — each failing with an envelope, never a bare error.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use gamebridge_hub::Game;
use gamebridge_protocol::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use utoipa::openapi::Type;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::ObjectBuilder;

use crate::security::game_routes::GameOnly;
use crate::{ApiError, ApiState, BODY_LIMIT};

/// The game a request addresses: `/games/{name}/…`, or the default game;
/// for an Agent Arena game's own tokenless request, that game.
pub struct TargetGame(pub Arc<Game>);

impl FromRequestParts<ApiState> for TargetGame {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        if parts.extensions.get::<GameOnly>().is_some()
            && let Some(arena) = &state.arena
        {
            return Ok(TargetGame(arena.game().clone()));
        }
        let named = RawPathParams::from_request_parts(parts, state).await.ok().and_then(|params| {
            params.iter().find(|(key, _)| *key == "name").map(|(_, value)| value.to_owned())
        });
        match named {
            Some(name) => state.hub.game(&name).map(TargetGame).ok_or_else(|| {
                let known: Vec<String> =
                    state.hub.games().iter().map(|game| game.name().to_owned()).collect();
                ApiError::not_found(format!("no game named '{name}'; games: {}", known.join(", ")))
            }),
            None => state.hub.default_game().map(TargetGame).ok_or_else(|| {
                ApiError::not_found("no game is configured; start the bridge with --game NAME=SPEC")
            }),
        }
    }
}

/// The deadline a request asked for with the `X-Timeout-Ms` header, if any.
pub struct TimeoutHeader(pub Option<Duration>);

impl<S: Send + Sync> FromRequestParts<S> for TimeoutHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("x-timeout-ms") else {
            return Ok(TimeoutHeader(None));
        };
        let millis = value.to_str().ok().and_then(|text| text.trim().parse::<u64>().ok());
        // An unreadable value is refused rather than ignored: the caller meant a deadline.
        validate_timeout(Some(millis.unwrap_or(0)), "X-Timeout-Ms header").map(TimeoutHeader)
    }
}

/// The header in the OpenAPI document.
impl IntoParams for TimeoutHeader {
    fn into_params(_parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let millis = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(MAX_TIMEOUT.as_millis() as u64));
        vec![
            ParameterBuilder::new()
                .name("X-Timeout-Ms")
                .parameter_in(ParameterIn::Header)
                .description(Some(
                    "The request's deadline in milliseconds (default 300000, `--timeout-ms`); \
                     a `timeout_ms` body field wins over it.",
                ))
                .schema(Some(millis))
                .build(),
        ]
    }
}

/// Longest deadline a request may ask for.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// A deadline in milliseconds must be a positive integer of at most a day.
pub fn validate_timeout(millis: Option<u64>, source: &str) -> Result<Option<Duration>, ApiError> {
    match millis {
        None => Ok(None),
        Some(millis) if millis > 0 && Duration::from_millis(millis) <= MAX_TIMEOUT => {
            Ok(Some(Duration::from_millis(millis)))
        }
        Some(_) => Err(ApiError::invalid_arguments(format!(
            "{source} must be a positive integer number of milliseconds, at most {}",
            MAX_TIMEOUT.as_millis()
        ))),
    }
}

/// Parses a JSON request body (the guard has checked that it is declared
/// JSON). An empty body reads as `{}`, as Express reads the bodiless
/// `POST`s that Vox Deorum clients send with a JSON content type.
pub fn parse_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("request body exceeds the limit of {} bytes", BODY_LIMIT)
        } else {
            format!("could not read the request body: {rejection}")
        };
        ApiError::new(status, ErrorBody::new(ErrorCode::INVALID_ARGUMENTS, message))
    })?;
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &body };
    serde_json::from_slice(body).map_err(|error| {
        ApiError::invalid_arguments(format!("request body is not the expected JSON: {error}"))
    })
}
