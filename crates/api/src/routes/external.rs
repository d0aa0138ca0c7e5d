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

use crate::envelope;
use crate::extract::{TargetGame, parse_body};
use crate::security::Security;
use crate::{ApiError, ApiState};

/// How long an agent has to answer when its registration says nothing.
pub const DEFAULT_EXTERNAL_TIMEOUT_MS: u64 = 5000;

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
        return Err(invalid("name must match ^[a-zA-Z_][a-zA-Z0-9_]*$"));
    }
    let url = body["url"].as_str().ok_or_else(|| invalid("url is required and must be a string"))?;
    let parsed =
        url::Url::parse(url).map_err(|error| invalid(&format!("url is not a valid URL: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(invalid("url must be an http:// or https:// URL with a host"));
    }
    // The bridge would POST game data there: only this machine, unless allowed.
    let host = parsed.host_str().unwrap_or_default();
    if !security.agent_host_allowed(host) {
        return Err(invalid(&format!(
            "url host {host} is not this machine; allow it with --allow-agent-host {host}"
        )));
    }
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
    })
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `DELETE /external/register/{function}`.
pub async fn unregister_by_path(
    TargetGame(game): TargetGame,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let name = params.get("function").map(String::as_str).unwrap_or_default();
    game.unregister_external(name)?;
    Ok(envelope::success(json!({ "name": name, "registered": false })))
}

#[derive(Deserialize)]
pub struct UnregisterRequest {
    name: Option<String>,
}

/// `POST /external/unregister {name}`, as the seed document describes it.
pub async fn unregister(
    TargetGame(game): TargetGame,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: UnregisterRequest = parse_body(body)?;
    let name = request.name.ok_or_else(|| ApiError::invalid_arguments("name is required"))?;
    game.unregister_external(&name)?;
    Ok(envelope::success(json!({ "name": name, "registered": false })))
}

pub async fn functions(TargetGame(game): TargetGame) -> Response {
    let functions = game.external_functions();
    let functions: Vec<&ExternalFunction> = functions.iter().map(|function| &**function).collect();
    envelope::success(json!({ "functions": functions }))
}

fn player_id(params: &HashMap<String, String>) -> Result<i64, ApiError> {
    params
        .get("player")
        .and_then(|text| text.parse::<i64>().ok())
        .filter(|id| PLAYER_IDS.contains(id))
        .ok_or_else(|| {
            ApiError::invalid_arguments(format!(
                "player id must be an integer from {} to {}",
                PLAYER_IDS.start(),
                PLAYER_IDS.end()
            ))
        })
}

/// `POST /external/pause-player/{player}`.
pub async fn pause_player(
    TargetGame(game): TargetGame,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let players = game.set_player_paused(player_id(&params)?, true);
    Ok(envelope::success(json!({ "pausedPlayers": players })))
}

/// `DELETE /external/pause-player/{player}`.
pub async fn unpause_player(
    TargetGame(game): TargetGame,
    Path(params): Path<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let players = game.set_player_paused(player_id(&params)?, false);
    Ok(envelope::success(json!({ "pausedPlayers": players })))
}

pub async fn paused_players(TargetGame(game): TargetGame) -> Response {
    envelope::success(
        json!({ "pausedPlayers": game.paused_players(), "isGamePaused": game.is_game_paused() }),
    )
}

pub async fn clear_paused_players(TargetGame(game): TargetGame) -> Response {
    game.clear_paused_players();
    envelope::success(json!({ "pausedPlayers": [] }))
}

pub async fn pause(TargetGame(game): TargetGame) -> Response {
    game.set_game_paused(true);
    envelope::success(json!({ "isGamePaused": game.is_game_paused() }))
}

pub async fn resume(TargetGame(game): TargetGame) -> Response {
    game.set_game_paused(false);
    envelope::success(json!({ "isGamePaused": game.is_game_paused() }))
}

#[derive(Deserialize)]
pub struct ProductionMode {
    enabled: Option<bool>,
}

pub async fn production_mode(
    TargetGame(game): TargetGame,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let request: ProductionMode = parse_body(body)?;
    let enabled = request
        .enabled
        .ok_or_else(|| ApiError::invalid_arguments("enabled is required and must be a boolean"))?;
    game.set_production_mode(enabled);
    Ok(envelope::success(json!({ "productionMode": enabled })))
}
