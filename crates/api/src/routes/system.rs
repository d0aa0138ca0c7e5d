//! Discovery, health, statistics, the list of games, and shutdown.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use gamebridge_hub::{GameStatus, StatsSnapshot};
use serde::Serialize;
use serde_json::json;

use crate::ApiState;
use crate::envelope::{self, json_response};
use crate::extract::TargetGame;

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn discovery(State(state): State<ApiState>) -> Response {
    let games: Vec<String> = state.hub.games().iter().map(|game| game.name().to_owned()).collect();
    let result = json!({
        "service": "gamebridge",
        "version": VERSION,
        "status": "running",
        "games": games,
        "endpoints": {
            "health": "GET /health",
            "stats": "GET /stats",
            "shutdown": "POST /shutdown",
            "games": "GET /games (each game's routes also live under /games/{name}/...)",
            "lua": {
                "call": "POST /lua/call {function, args?, timeout_ms?}",
                "batch": "POST /lua/batch [{function, args?}, ...]",
                "execute": "POST /lua/execute {script, timeout_ms?}",
                "functions": "GET /lua/functions",
            },
        },
        "documentation": "See README.md; deadlines: timeout_ms body field or X-Timeout-Ms header (default 60000)",
    });
    match &state.arena {
        // One answer for both kinds of client: Agent Arena's {status, agents, metrics}
        // beside the Vox envelope {success, result}.
        Some(arena) => json_response(
            StatusCode::OK,
            &json!({
                "success": true, "result": result, "status": "running",
                "agents": arena.agent_count(), "metrics": arena.metrics().snapshot(),
            }),
        ),
        None => envelope::success(result),
    }
}

#[derive(Serialize)]
struct Health<'a> {
    success: bool,
    dll_connected: bool,
    uptime: u64,
    version: &'static str,
    game: &'a str,
}

/// `{success, result:{success, dll_connected, uptime, version}}`, nested as
/// the original's code (not its docs) does it.
pub async fn health(State(state): State<ApiState>, TargetGame(game): TargetGame) -> Response {
    let connected = game.is_connected();
    let health = Health {
        success: connected,
        dll_connected: connected,
        uptime: state.hub.uptime().as_secs(),
        version: VERSION,
        game: game.name(),
    };
    match &state.arena {
        // Agent Arena's {status:"ok", agents} beside the Vox envelope.
        Some(arena) => json_response(
            StatusCode::OK,
            &json!({ "success": true, "result": health, "status": "ok", "agents": arena.agent_count() }),
        ),
        None => envelope::success(health),
    }
}

#[derive(Serialize)]
struct GameStats {
    #[serde(flatten)]
    status: GameStatus,
    calls: StatsSnapshot,
}

pub async fn stats(State(state): State<ApiState>) -> Response {
    let games: Vec<GameStats> = state
        .hub
        .games()
        .iter()
        .map(|game| GameStats { status: game.status(), calls: game.stats().snapshot() })
        .collect();
    let default = games.first();
    envelope::success(json!({
        "uptime": state.hub.uptime().as_secs(),
        "dll": {
            "connected": default.is_some_and(|game| game.status.connected),
            "pendingRequests": default.map_or(0, |game| game.status.pending_calls),
            "connects": default.map_or(0, |game| game.calls.connects),
        },
        "lua": { "registeredFunctions": default.map_or(0, |game| game.status.functions) },
        "games": games,
    }))
}

pub async fn games(State(state): State<ApiState>) -> Response {
    let games: Vec<GameStatus> = state.hub.games().iter().map(|game| game.status()).collect();
    envelope::success(json!({ "games": games }))
}

pub async fn shutdown(State(state): State<ApiState>) -> Response {
    tracing::info!("shutdown requested over HTTP");
    state.shutdown.cancel();
    json_response(StatusCode::ACCEPTED, &json!({ "success": true, "message": "Shutdown initiated" }))
}
