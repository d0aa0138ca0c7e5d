//! `/external/*`: functions agents register for the game to call, and pause
//! control. Validation follows the Vox Deorum bridge.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use gamebridge_hub::{AgentEndpoint, ExternalFunction, PLAYER_IDS};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::envelope;
use crate::extract::{TargetGame, parse_body};
use crate::openapi::Envelope;
use crate::openapi::shapes::{
    Done, ExternalFunction as FunctionShape, ExternalFunctions, ExternalRegistration, PauseStatus,
    PausedPlayers, PlayerPaused, ProductionModeSet, Unregistered,
};
use crate::security::Security;
use crate::{ApiError, ApiState};

/// How long an agent has to answer when its registration says nothing.
pub const DEFAULT_EXTERNAL_TIMEOUT_MS: u64 = 5000;

/// Registers an agent function for the game to call.
///
/// The game gets `external_register {name, async}`; when it calls the
/// function, the bridge POSTs `{args, id}` to `url`. A name already
/// registered is refused with `INVALID_ARGUMENTS`.
#[utoipa::path(
    post,
    path = "/external/register",
    tag = "external",
    operation_id = "external_register",
    request_body = ExternalRegistration,
    responses((status = 200, description = "The registration, or why it was refused.", body = Envelope<FunctionShape>)),
)]
pub async fn register(
    State(state): State<ApiState>,
    TargetGame(game): TargetGame,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body: Value = parse_body(body)?;
    let function = validate_registration(&body, &state.security)?;
    let function = game.register_external(function)?;
    tracing::info!(
        game = game.name(),
        function = function.name,
        url = function.url().unwrap_or_default(),
        "external function registered"
    );
    Ok(envelope::success(&*function))
}

/// The reference's rules: a name like a Lua identifier, an http(s) URL, a
/// boolean `async`, a positive integer `timeout` in milliseconds.
fn validate_registration(body: &Value, security: &Security) -> Result<ExternalFunction, ApiError> {
    let invalid = |message: &str| ApiError::invalid_arguments(message.to_owned());
    let name = body["name"].as_str().ok_or_else(|| invalid("name is required and must be a string"))?;
    if !is_identifier(name) {
        return Err(invalid(
            "Function name must be a valid identifier (letters, numbers, underscores only; ^[a-zA-Z_][a-zA-Z0-9_]*$)",
        ));
    }
    let url = body["url"].as_str().ok_or_else(|| invalid("url is required and must be a string"))?;
    // The bridge would POST game data there: only this machine, unless allowed.
    security.agent_url(url).map_err(|why| invalid(&format!("url {why}")))?;
    let is_async =
        body["async"].as_bool().ok_or_else(|| invalid("async is required and must be a boolean"))?;
    let timeout = match &body["timeout"] {
        Value::Null => DEFAULT_EXTERNAL_TIMEOUT_MS,
        value => value
            .as_u64()
            .filter(|millis| *millis > 0)
            .ok_or_else(|| invalid("timeout must be a positive integer number of milliseconds"))?,
    };
    let description = match &body["description"] {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        _ => return Err(invalid("description must be a string")),
    };
    Ok(ExternalFunction {
        name: name.to_owned(),
        endpoint: AgentEndpoint::Webhook { url: url.to_owned() },
        is_async,
        timeout: Duration::from_millis(timeout),
        description,
        hold: false,
    })
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Unregisters an agent function; the game gets `external_unregister {name}`.
#[utoipa::path(
    delete,
    path = "/external/register/{function}",
    tag = "external",
    operation_id = "external_unregister_by_name",
    params(("function" = String, Path, description = "The function's name.")),
    responses((status = 200, description = "The function is gone, or was not registered.", body = Envelope<Unregistered>)),
)]
pub async fn unregister_by_path(
    TargetGame(game): TargetGame,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let name = params.get("function").map(String::as_str).unwrap_or_default();
    game.unregister_external(name)?;
    Ok(envelope::success(json!({ "name": name, "registered": false })))
}

/// The function to unregister.
#[derive(Deserialize, ToSchema)]
pub struct UnregisterRequest {
    #[schema(required = true, value_type = String)]
    name: Option<String>,
}

/// Unregisters an agent function, named in the body.
///
/// The same as `DELETE /external/register/{function}`, as the seed
/// document describes it.
#[utoipa::path(
    post,
    path = "/external/unregister",
    tag = "external",
    operation_id = "external_unregister",
    request_body = UnregisterRequest,
    responses((status = 200, description = "The function is gone, or was not registered.", body = Envelope<Unregistered>)),
)]
pub async fn unregister(
    TargetGame(game): TargetGame,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: UnregisterRequest = parse_body(body)?;
    let name = request.name.ok_or_else(|| ApiError::invalid_arguments("name is required"))?;
    game.unregister_external(&name)?;
    Ok(envelope::success(json!({ "name": name, "registered": false })))
}

/// The agent functions registered for this game.
#[utoipa::path(
    get,
    path = "/external/functions",
    tag = "external",
    operation_id = "external_functions",
    responses((status = 200, description = "The functions.", body = Envelope<ExternalFunctions>)),
)]
pub async fn functions(TargetGame(game): TargetGame) -> Response {
    let functions = game.external_functions();
    let functions: Vec<&ExternalFunction> = functions.iter().map(|function| &**function).collect();
    envelope::success(json!({ "functions": functions }))
}

/// The player id of a pause route, if it is one.
fn player_id(params: &HashMap<String, String>) -> Option<i64> {
    params.get("player").and_then(|text| text.parse::<i64>().ok()).filter(|id| PLAYER_IDS.contains(id))
}

/// The original's own refusal of a player id: HTTP 200 with
/// `{"success":false,"error":"Invalid player ID"}` (a string, not the
/// envelope's error object), which Vox Deorum clients test for.
fn invalid_player() -> Response {
    top_level(json!({ "success": false, "error": "Invalid player ID" }))
}

/// The pause routes answer at the top level, as the original does
/// (`{"success":true,"pausedPlayers":[3]}`), not inside `result`.
fn top_level(answer: Value) -> Response {
    envelope::json_response(axum::http::StatusCode::OK, &answer)
}

/// Pauses the game whenever it is this player's turn.
///
/// The game gets `pause_player {playerID}`. An id outside 0–63 answers
/// `{"success":false,"error":"Invalid player ID"}`.
#[utoipa::path(
    post,
    path = "/external/pause-player/{player}",
    tag = "external",
    operation_id = "external_pause_player",
    params(("player" = i64, Path, minimum = 0, maximum = 63, description = "The player's id.")),
    responses((status = 200, description = "The paused players.", body = PlayerPaused)),
)]
pub async fn pause_player(
    TargetGame(game): TargetGame,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let Some(player) = player_id(&params) else { return invalid_player() };
    let players = game.set_player_paused(player, true);
    game.control_written().await;
    top_level(json!({ "success": true, "pausedPlayers": players }))
}

/// Stops pausing the game on this player's turns.
///
/// The game gets `unpause_player {playerID}`. An id outside 0–63 answers
/// `{"success":false,"error":"Invalid player ID"}`.
#[utoipa::path(
    delete,
    path = "/external/pause-player/{player}",
    tag = "external",
    operation_id = "external_unpause_player",
    params(("player" = i64, Path, minimum = 0, maximum = 63, description = "The player's id.")),
    responses((status = 200, description = "The paused players.", body = PlayerPaused)),
)]
pub async fn unpause_player(
    TargetGame(game): TargetGame,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let Some(player) = player_id(&params) else { return invalid_player() };
    let players = game.set_player_paused(player, false);
    game.control_written().await;
    top_level(json!({ "success": true, "pausedPlayers": players }))
}

/// The paused players, and whether the game is paused now.
#[utoipa::path(
    get,
    path = "/external/paused-players",
    tag = "external",
    operation_id = "external_paused_players",
    responses((status = 200, description = "The pause state.", body = PauseStatus)),
)]
pub async fn paused_players(TargetGame(game): TargetGame) -> Response {
    top_level(json!({
        "success": true, "pausedPlayers": game.paused_players(), "isGamePaused": game.is_game_paused()
    }))
}

/// Unpauses every player; the game gets `clear_paused_players`.
#[utoipa::path(
    delete,
    path = "/external/paused-players",
    tag = "external",
    operation_id = "external_clear_paused_players",
    responses((status = 200, description = "No player is paused.", body = PausedPlayers)),
)]
pub async fn clear_paused_players(TargetGame(game): TargetGame) -> Response {
    game.clear_paused_players();
    game.control_written().await;
    top_level(json!({ "success": true, "pausedPlayers": [] }))
}

/// Pauses the game now, whoever's turn it is.
///
/// On Windows the bridge holds the named mutex `TurnByTurn`, which the
/// Vox Deorum DLL checks; on every system the game also gets `pause_game`
/// (for DLLs and games that understand it). Answers `{"success":true}`.
#[utoipa::path(
    post,
    path = "/external/pause",
    tag = "external",
    operation_id = "external_pause",
    responses((status = 200, description = "Done.", body = Done)),
)]
pub async fn pause(TargetGame(game): TargetGame) -> Response {
    game.set_game_paused(true);
    game.control_written().await;
    top_level(json!({ "success": true }))
}

/// Undoes `POST /external/pause` (releases the mutex; the game gets
/// `resume_game`). Answers `{"success":true}`.
#[utoipa::path(
    post,
    path = "/external/resume",
    tag = "external",
    operation_id = "external_resume",
    responses((status = 200, description = "Done.", body = Done)),
)]
pub async fn resume(TargetGame(game): TargetGame) -> Response {
    game.set_game_paused(false);
    game.control_written().await;
    top_level(json!({ "success": true }))
}

/// Whether the game runs in production mode.
#[derive(Deserialize, ToSchema)]
pub struct ProductionMode {
    #[schema(required = true, value_type = bool)]
    enabled: Option<bool>,
}

/// Switches the game's production mode; the game gets
/// `set_production_mode {enabled}`.
#[utoipa::path(
    post,
    path = "/external/production-mode",
    tag = "external",
    operation_id = "external_production_mode",
    request_body = ProductionMode,
    responses((status = 200, description = "The mode now.", body = ProductionModeSet)),
)]
pub async fn production_mode(
    TargetGame(game): TargetGame,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: ProductionMode = parse_body(body)?;
    let enabled = request
        .enabled
        .ok_or_else(|| ApiError::invalid_arguments("enabled is required and must be a boolean"))?;
    game.set_production_mode(enabled);
    game.control_written().await;
    Ok(top_level(json!({ "success": true, "productionMode": enabled })))
}
