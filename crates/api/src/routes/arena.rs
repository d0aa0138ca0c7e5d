//! Agent Arena's game-facing routes, on the bridge's own listener: the
//! simulation posts `/tick` with every agent's observation and gets every
//! agent's action back (both the V1 and the SDK shape), plus `/observe`,
//! `/agents/register`, `/metrics` and the tool routes. Bodies and answers
//! follow the FastAPI original, so the Godot client works unchanged.

use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use gamebridge_agents::arena::MetricsSnapshot;
use gamebridge_agents::arena::{Arena, Backend, Observation, TickError, non_finite};
use gamebridge_protocol::{GameEvent, RawValue};
use serde_json::{Value, json};

use crate::ApiState;
use crate::openapi::arena::{
    AgentRegistered, Detail as DetailShape, ExecuteTool, Experience, ExperienceRecorded, ObserveAnswer,
    ObserveRequest, RegisterAgent, RegisterTool, TickAnswer, TickRequest, ToolExecuted, ToolList,
    ToolRegistered,
};
use crate::security::Security;
use crate::security::game_routes::GameOnly;

/// A FastAPI-style failure: `{detail}` with a status.
pub struct Detail {
    status: StatusCode,
    message: String,
}

fn detail(status: StatusCode, message: impl Into<String>) -> Detail {
    Detail { status, message: message.into() }
}

impl IntoResponse for Detail {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "detail": self.message }))).into_response()
    }
}

fn arena(state: &ApiState) -> Result<&Arena, Detail> {
    state.arena.as_deref().ok_or_else(|| {
        detail(
            StatusCode::NOT_FOUND,
            "no Agent Arena game is served; start the bridge with --game arena=agent-arena",
        )
    })
}

/// The request's bytes, or the reason axum could not read them (too large, say).
fn bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Detail> {
    body.map_err(|rejection| detail(rejection.status(), rejection.body_text()))
}

/// The JSON body (the guard has checked that it is declared JSON), read
/// as the Python servers read it (`NaN` and `Infinity` too).
fn body(body: Result<Bytes, BytesRejection>) -> Result<Value, Detail> {
    Ok(read(body)?.0)
}

/// The body, and whether it carried numbers JSON cannot (see
/// `non_finite`).
fn read(body: Result<Bytes, BytesRejection>) -> Result<(Value, bool), Detail> {
    non_finite::from_slice(&bytes(body)?)
        .map_err(|error| detail(StatusCode::UNPROCESSABLE_ENTITY, format!("the body is not JSON: {error}")))
}

/// Every agent's action for one tick.
///
/// The simulation posts every agent's observation; every agent decides at
/// once, with a deadline, and the answer comes in the shape the tick came
/// in. Needs no token: the Godot client sends none.
///
/// A tick with more agents than the arena's `max_agents` (4,096 unless
/// the profile says otherwise) is refused with 413 Payload Too Large, found
/// while the body is parsed: the body is well-formed, only larger than the
/// bridge will decide, as a body over the byte limit is (also 413), and
/// the 422 of a malformed tick would send the caller looking for a typo.
#[utoipa::path(
    post,
    path = "/tick",
    tag = "arena",
    operation_id = "arena_tick",
    request_body = TickRequest,
    responses(
        (status = 200, description = "Every agent's action.", body = TickAnswer),
        (status = 404, description = "No Agent Arena game is served.", body = DetailShape),
        (status = 413, description = "The body is too large, or has more agents than `max_agents`.", body = DetailShape),
        (status = 422, description = "The body is not a tick.", body = DetailShape),
    ),
)]
pub async fn tick(
    State(state): State<ApiState>,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, Detail> {
    let arena = arena(&state)?;
    let request = bytes(request)?;
    let answer = arena.answer_tick(&request).await.map_err(|error| match error {
        TickError::TooManyAgents { max } => {
            tracing::warn!(max, "a tick with too many agents was refused");
            detail(StatusCode::PAYLOAD_TOO_LARGE, error.to_string())
        }
        TickError::Invalid(message) => detail(StatusCode::UNPROCESSABLE_ENTITY, message),
    })?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], answer).into_response())
}

/// One agent's decision for one observation.
///
/// Needs no token: the Godot client sends none.
#[utoipa::path(
    post,
    path = "/observe",
    tag = "arena",
    operation_id = "arena_observe",
    request_body = ObserveRequest,
    responses(
        (status = 200, description = "The decision.", body = ObserveAnswer),
        (status = 404, description = "No Agent Arena game is served.", body = DetailShape),
        (status = 422, description = "The body is not JSON.", body = DetailShape),
    ),
)]
pub async fn observe(
    State(state): State<ApiState>,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, Detail> {
    let arena = arena(&state)?;
    let (request, non_finite) = read(request)?;
    // As both originals, an observation without an id is agent "unknown".
    let id = request.get("agent_id").cloned().unwrap_or_else(|| json!("unknown"));
    let tick = request["tick"].as_u64().unwrap_or(0);
    let data = request.get("observations").cloned().unwrap_or_else(|| request.clone());
    arena.metrics().record_observation();
    let decision = arena.decide(tick, &[Observation::flat(id.clone(), data)]).await.remove(0);
    let mut answer = json!({ "agent_id": id, "tool": decision.tool, "params": decision.params, "reasoning": decision.reasoning });
    if non_finite {
        non_finite::scrub(&mut answer);
    }
    Ok(Json(answer).into_response())
}

/// Registers an agent, and how it decides.
///
/// `backend` is `{kind: "rules"}` or `{kind: "llm", base_url, model, …}`;
/// without it the agent gets the arena's default. A new agent past the
/// arena's `max_agents` is refused with 400: the request is small, the
/// arena is full (the route needs no token, so it is bounded).
#[utoipa::path(
    post,
    path = "/agents/register",
    tag = "arena",
    operation_id = "arena_register_agent",
    request_body = RegisterAgent,
    responses(
        (status = 200, description = "The agent is registered.", body = AgentRegistered),
        (status = 400, description = "No `agent_id`, an invalid backend, or as many agents as the arena takes.", body = DetailShape),
        (status = 404, description = "No Agent Arena game is served.", body = DetailShape),
        (status = 422, description = "The body is not JSON.", body = DetailShape),
    ),
)]
pub async fn register_agent(
    State(state): State<ApiState>,
    game_only: Option<Extension<GameOnly>>,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, Detail> {
    let (arena, request) = (arena(&state)?, body(request)?);
    // The original answered 500 here; a missing id is the client's mistake.
    let agent_id = request["agent_id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| detail(StatusCode::BAD_REQUEST, "agent_id is required"))?;
    let backend = match request.get("backend") {
        None | Some(Value::Null) => None,
        Some(_) if game_only.is_some() => {
            return Err(detail(
                StatusCode::UNAUTHORIZED,
                "choosing an agent's backend needs the bridge's token (Authorization: Bearer TOKEN)",
            ));
        }
        Some(spec) => {
            let backend = serde_json::from_value::<Backend>(spec.clone())
                .map_err(|error| detail(StatusCode::BAD_REQUEST, format!("invalid backend: {error}")))?;
            check_backend(&backend, &state.security).map_err(|why| detail(StatusCode::BAD_REQUEST, why))?;
            Some(backend)
        }
    };
    arena.register_agent(agent_id, backend).map_err(|message| detail(StatusCode::BAD_REQUEST, message))?;
    Ok(Json(json!({ "status": "success", "agent_id": agent_id })).into_response())
}

/// An agent's LLM backend must live where webhooks may (this machine, or an
/// allowed host), and may name as its API key only a variable the owner
/// allowed: otherwise an agent could send any secret of the bridge's
/// environment to any server.
fn check_backend(backend: &Backend, security: &Security) -> Result<(), String> {
    let Backend::Llm(config) = backend else { return Ok(()) };
    security.agent_url(&config.base_url).map_err(|why| format!("invalid backend: base_url {why}"))?;
    match &config.api_key_env {
        Some(name) if !security.key_env_allowed(name) => Err(format!(
            "invalid backend: api_key_env {name} is not a variable the bridge's owner allowed \
             (--llm-key-env {name})"
        )),
        _ => Ok(()),
    }
}

/// Agent Arena's counters: ticks, agents, tools, observations, fallbacks.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "arena",
    operation_id = "arena_metrics",
    responses(
        (status = 200, description = "The counters.", body = MetricsSnapshot),
        (status = 404, description = "No Agent Arena game is served.", body = DetailShape),
    ),
)]
pub async fn metrics(State(state): State<ApiState>) -> Result<Response, Detail> {
    Ok(Json(arena(&state)?.metrics().snapshot()).into_response())
}

/// Runs a tool call, as the original server does.
///
/// `{tool_name | tool, params, agent_id, tick}` → `{success, result,
/// error}`: one of the original's nineteen tools answers as its stand-in
/// does, a tool the game registered with its parameters (defaults filled
/// in); `error` is `""` on success, else why the call failed (also, with
/// 200 as the original, for a body that names no tool).
#[utoipa::path(
    post,
    path = "/tools/execute",
    tag = "arena",
    operation_id = "arena_execute_tool",
    request_body = ExecuteTool,
    responses(
        (status = 200, description = "The tool's answer, or why the call failed.", body = ToolExecuted),
        (status = 404, description = "No Agent Arena game is served.", body = DetailShape),
        (status = 422, description = "The body is not JSON.", body = DetailShape),
    ),
)]
pub async fn execute_tool(
    State(state): State<ApiState>,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, Detail> {
    let (arena, request) = (arena(&state)?, body(request)?);
    // The archived Python server reads `tool_name`; the Godot client
    // (agent_arena.cpp) sends `tool`, and drops every answer that is not 200.
    let Some(name) = request["tool_name"].as_str().or_else(|| request["tool"].as_str()) else {
        return Ok(Json(
            json!({ "success": false, "result": null, "error": "tool_name (or tool) is required" }),
        )
        .into_response());
    };
    arena.metrics().record_tool();
    // The original's ToolExecutionResponse has `error: str = ""`.
    let answer = match arena.tools().execute(name, &request["params"]) {
        Ok(result) => json!({ "success": true, "result": result, "error": "" }),
        Err(error) => json!({ "success": false, "result": null, "error": error }),
    };
    Ok(Json(answer).into_response())
}

/// Something that happened to an agent, as the Godot scene reports it.
///
/// Published to every event client as an `experience` event of the arena
/// game, with the body as its payload, so agents (WebSocket, SSE, MCP)
/// learn of it. Answers `{success: true}` as the original servers do, or
/// `{success: false, error: "Missing agent_id"}`.
#[utoipa::path(
    post,
    path = "/experience",
    tag = "arena",
    operation_id = "arena_experience",
    request_body = Experience,
    responses(
        (status = 200, description = "Recorded.", body = ExperienceRecorded),
        (status = 404, description = "No Agent Arena game is served.", body = DetailShape),
        (status = 422, description = "The body is not JSON.", body = DetailShape),
    ),
)]
pub async fn experience(
    State(state): State<ApiState>,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, Detail> {
    let (arena, request) = (arena(&state)?, body(request)?);
    if request["agent_id"].as_str().is_none_or(str::is_empty) {
        return Ok(Json(json!({ "success": false, "error": "Missing agent_id" })).into_response());
    }
    // Written again rather than passed on: a body with `NaN` is not JSON.
    let payload = RawValue::from_string(request.to_string())
        .map_err(|error| detail(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()))?;
    arena.metrics().record_experience();
    let agent_id = request["agent_id"].as_str().unwrap_or_default();
    if !arena.experiences().record(agent_id, payload.clone()) {
        tracing::warn!(
            agent_id,
            "an experience was not kept for the agent's next decision: the arena keeps at most 8 MiB of them"
        );
    }
    arena.game().publish_event(GameEvent::named("experience", payload));
    Ok(Json(json!({ "success": true })).into_response())
}

/// The game's tools, parameters as JSON Schema.
#[utoipa::path(
    get,
    path = "/tools/list",
    tag = "arena",
    operation_id = "arena_list_tools",
    responses(
        (status = 200, description = "The tools.", body = ToolList),
        (status = 404, description = "No Agent Arena game is served.", body = DetailShape),
    ),
)]
pub async fn list_tools(State(state): State<ApiState>) -> Result<Response, Detail> {
    let tools: serde_json::Map<String, Value> =
        (arena(&state)?.tools().list().into_iter()).map(|tool| (tool.name.clone(), json!(tool))).collect();
    Ok(Json(json!({ "count": tools.len(), "tools": tools })).into_response())
}

/// Adds or replaces a tool.
///
/// `{name, description, parameters}`; parameters as JSON Schema or in the
/// flat Godot form `{param: {type, description, default}}`. A new tool
/// past 256 is refused with 400 (the route needs no token).
#[utoipa::path(
    post,
    path = "/tools/register",
    tag = "arena",
    operation_id = "arena_register_tool",
    request_body = RegisterTool,
    responses(
        (status = 200, description = "The tool as registered.", body = ToolRegistered),
        (status = 400, description = "As many tools as the game can register.", body = DetailShape),
        (status = 404, description = "No Agent Arena game is served.", body = DetailShape),
        (status = 422, description = "The body has no `name`.", body = DetailShape),
    ),
)]
pub async fn register_tool(
    State(state): State<ApiState>,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, Detail> {
    let (arena, request) = (arena(&state)?, body(request)?);
    let name = request["name"]
        .as_str()
        .filter(|name| !name.is_empty())
        .ok_or_else(|| detail(StatusCode::UNPROCESSABLE_ENTITY, "name is required"))?;
    let description = request["description"].as_str().unwrap_or_default();
    let tool = (arena.tools().register(name, description, &request["parameters"]))
        .map_err(|message| detail(StatusCode::BAD_REQUEST, message))?;
    Ok(Json(json!({ "status": "success", "tool": tool })).into_response())
}
