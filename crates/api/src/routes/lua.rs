//! `/lua/*`: calls from agents to the game.

use std::time::Duration;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use bytes::Bytes;
use gamebridge_hub::Answered;
use gamebridge_protocol::{ErrorBody, ErrorCode, RawValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::envelope::{self, Envelope};
use crate::extract::{TargetGame, TimeoutHeader, parse_body, validate_timeout};
use crate::{ApiError, ApiState, openapi};

/// One call of a game function.
#[derive(Deserialize, ToSchema)]
pub struct CallRequest {
    /// The function, as the game registered it (`GET /lua/functions`).
    #[schema(required = true, value_type = String, min_length = 1)]
    function: Option<String>,
    /// Its arguments: an object, or an array passed positionally. Absent
    /// arguments are sent as `{}`.
    #[schema(value_type = Option<Value>)]
    args: Option<Box<RawValue>>,
    /// This call's deadline in milliseconds, at most a day; overrides the
    /// `X-Timeout-Ms` header.
    #[schema(minimum = 1)]
    timeout_ms: Option<u64>,
}

impl CallRequest {
    /// The function name and arguments; absent arguments are `{}`, as the
    /// original bridge sends them.
    fn into_call(self) -> Result<(String, Box<RawValue>), ErrorBody> {
        let function = self
            .function
            .filter(|name| !name.is_empty())
            .ok_or_else(|| ErrorBody::new(ErrorCode::INVALID_ARGUMENTS, "Missing function name"))?;
        Ok((function, self.args.unwrap_or_else(empty_object)))
    }
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).expect("{} is JSON")
}

/// The deadline of a request: body field, then header, then the default.
fn deadline(state: &ApiState, body: Option<u64>, header: TimeoutHeader) -> Result<Duration, ApiError> {
    let from_body = validate_timeout(body, "timeout_ms")?;
    Ok(from_body.or(header.0).unwrap_or(state.default_timeout))
}

/// Calls a function the game registered.
///
/// The game's result comes back verbatim as `result`. When the deadline
/// passes, the call fails with `CALL_TIMEOUT` and a late answer is dropped.
#[utoipa::path(
    post,
    path = "/lua/call",
    tag = "lua",
    operation_id = "lua_call",
    params(TimeoutHeader),
    request_body = CallRequest,
    responses((status = 200, description = "The game's result, or why the call failed.", body = openapi::Envelope<Value>)),
)]
pub async fn call(
    State(state): State<ApiState>,
    TargetGame(game): TargetGame,
    header: TimeoutHeader,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: CallRequest = parse_body(body)?;
    let timeout = deadline(&state, request.timeout_ms, header)?;
    let (function, args) = request.into_call()?;
    Ok(envelope::answered(&game.call_answered(function, args, timeout).await))
}

/// A Lua script to run in the game.
#[derive(Deserialize, ToSchema)]
pub struct ExecuteRequest {
    #[schema(required = true, value_type = String, min_length = 1)]
    script: Option<String>,
    /// The script's deadline in milliseconds, at most a day; overrides the
    /// `X-Timeout-Ms` header.
    #[schema(minimum = 1)]
    timeout_ms: Option<u64>,
}

/// Runs a Lua script in the game.
///
/// Refused with `INVALID_SCRIPT` when the bridge was started with
/// `--no-execute`.
#[utoipa::path(
    post,
    path = "/lua/execute",
    tag = "lua",
    operation_id = "lua_execute",
    params(TimeoutHeader),
    request_body = ExecuteRequest,
    responses((status = 200, description = "The script's result, or why it failed.", body = openapi::Envelope<Value>)),
)]
pub async fn execute(
    State(state): State<ApiState>,
    TargetGame(game): TargetGame,
    header: TimeoutHeader,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if state.security.no_execute {
        return Err(ApiError::handled(
            ErrorCode::INVALID_SCRIPT,
            "script execution is disabled on this bridge (--no-execute)",
        ));
    }
    let request: ExecuteRequest = parse_body(body)?;
    let timeout = deadline(&state, request.timeout_ms, header)?;
    let script = request
        .script
        .filter(|script| !script.trim().is_empty())
        .ok_or_else(|| ApiError::handled(ErrorCode::INVALID_SCRIPT, "Missing Lua script"))?;
    Ok(envelope::answered(&game.execute_answered(script, timeout).await))
}

/// `POST /lua/batch` takes the original's bare array of calls, or
/// `{calls: [...], timeout_ms}` to set a deadline in the body.
#[derive(Deserialize, ToSchema)]
pub struct BatchWithOptions {
    calls: Vec<CallRequest>,
    /// The deadline of the whole batch in milliseconds, at most a day.
    #[schema(minimum = 1)]
    timeout_ms: Option<u64>,
}

/// A bare array of calls (the original's form), or the calls with a
/// deadline. Described, never built: `parse_batch` tells the forms apart
/// itself, as untagged enums cannot carry the raw arguments.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code, reason = "described, never built")]
pub enum BatchRequest {
    Calls(Vec<CallRequest>),
    WithOptions(BatchWithOptions),
}

/// Chooses the batch form by the body's first byte: serde's untagged enums
/// buffer values and cannot carry the raw arguments through.
fn parse_batch(body: Result<Bytes, BytesRejection>) -> Result<(Vec<CallRequest>, Option<u64>), ApiError> {
    let is_array = body.as_ref().is_ok_and(|bytes| bytes.trim_ascii_start().first() == Some(&b'['));
    if is_array {
        Ok((parse_body(body)?, None))
    } else {
        // The original's words, which its clients' tests look for.
        let BatchWithOptions { calls, timeout_ms } = parse_body(body).map_err(|_| {
            ApiError::invalid_arguments(
                "Request body must be a non-empty array of function calls (or {\"calls\": [...], \"timeout_ms\": N})",
            )
        })?;
        Ok((calls, timeout_ms))
    }
}

/// Each call's envelope, in request order.
#[derive(Serialize, ToSchema)]
pub struct BatchResults<'a> {
    #[schema(value_type = Vec<openapi::Envelope<Value>>)]
    results: Vec<Envelope<'a, &'a RawValue>>,
}

/// Calls several functions in one write to the game.
///
/// Each item succeeds or fails alone; an item without a function name fails
/// with `INVALID_ARGUMENTS` while the others go to the game. An empty batch
/// is refused.
#[utoipa::path(
    post,
    path = "/lua/batch",
    tag = "lua",
    operation_id = "lua_batch",
    params(TimeoutHeader),
    request_body = BatchRequest,
    responses((status = 200, description = "Every call's outcome.", body = openapi::Envelope<BatchResults>)),
)]
pub async fn batch(
    State(state): State<ApiState>,
    TargetGame(game): TargetGame,
    header: TimeoutHeader,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (calls, timeout_ms) = parse_batch(body)?;
    if calls.is_empty() {
        return Err(ApiError::invalid_arguments("Request body must be a non-empty array of function calls"));
    }
    let timeout = deadline(&state, timeout_ms, header)?;

    // An item without a function name fails alone; the others go to the game.
    let mut outcomes: Vec<Option<Answered>> = Vec::with_capacity(calls.len());
    let mut valid = Vec::with_capacity(calls.len());
    for call in calls {
        match call.into_call() {
            Ok(call) => {
                valid.push(call);
                outcomes.push(None);
            }
            Err(error) => outcomes.push(Some(Answered { outcome: Err(error), id: None })),
        }
    }
    let mut answered = game.batch_answered(valid, timeout).await.into_iter();
    let outcomes: Vec<Answered> = outcomes
        .into_iter()
        .map(|outcome| {
            outcome.or_else(|| answered.next()).unwrap_or_else(|| Answered {
                outcome: Err(ErrorBody::new(ErrorCode::INTERNAL_ERROR, "no answer")),
                id: None,
            })
        })
        .collect();
    Ok(envelope::success(BatchResults { results: outcomes.iter().map(Envelope::answered).collect() }))
}

/// The functions the game registered.
#[derive(Serialize, ToSchema)]
pub struct Functions {
    functions: Vec<String>,
    /// With `?detail=true`: each function's `{name, description?,
    /// parameters?}` (its arguments' JSON Schema), as the game or its
    /// manifest described it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    details: Option<Vec<gamebridge_hub::FunctionInfo>>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunctionsQuery {
    /// Also describe each function (`details`).
    detail: Option<bool>,
}

/// The functions agents can call, as the game registered them.
#[utoipa::path(
    get,
    path = "/lua/functions",
    tag = "lua",
    operation_id = "lua_functions",
    params(FunctionsQuery),
    responses((status = 200, description = "The game's functions.", body = openapi::Envelope<Functions>)),
)]
pub async fn functions(TargetGame(game): TargetGame, Query(query): Query<FunctionsQuery>) -> Response {
    let details = query.detail.unwrap_or(false).then(|| game.functions().list());
    envelope::success(Functions { functions: game.functions().names(), details })
}

/// How many pending calls `/lua/pending` lists at most.
const PENDING_LISTED: usize = 100;

/// The calls waiting for the game's answer, oldest first.
#[derive(Serialize, ToSchema)]
pub struct Pending {
    /// How many calls are in flight in all.
    count: usize,
    /// The oldest of them, at most 100.
    calls: Vec<gamebridge_hub::PendingCallInfo>,
}

/// The calls sent to the game and not yet answered, oldest first: which
/// function, for how long, and how long until its caller gives up. Useful
/// when a game seems stuck.
#[utoipa::path(
    get,
    path = "/lua/pending",
    tag = "lua",
    operation_id = "lua_pending",
    responses((status = 200, description = "The calls in flight.", body = openapi::Envelope<Pending>)),
)]
pub async fn pending(TargetGame(game): TargetGame) -> Response {
    envelope::success(Pending { count: game.pending_count(), calls: game.pending_calls(PENDING_LISTED) })
}
