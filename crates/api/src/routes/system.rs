//! Discovery, health, statistics, the list of games, and shutdown.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use gamebridge_hub::{GameStatus, StatsSnapshot};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::ApiState;
use crate::envelope::{self, json_response};
use crate::extract::TargetGame;
use crate::openapi::Envelope;
use crate::openapi::shapes::{Discovery, Games, ShutdownStarted, Stats};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What this bridge is: its version, games and main routes.
///
/// With an Agent Arena game served, Agent Arena's `status`, `agents` and
/// `metrics` come beside the envelope.
#[utoipa::path(
    get,
    path = "/",
    tag = "system",
    operation_id = "discovery",
    responses((status = 200, description = "The bridge.", body = Envelope<Discovery>)),
)]
pub async fn discovery(
    State(state): State<ApiState>,
    axum::Extension(document): axum::Extension<crate::openapi::Document>,
) -> Response {
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
            "events": "GET /events (Server-Sent Events; ?since=, ?types=, ?game=)",
            "agents": "GET /agent (WebSocket: register agent functions, step frames, events)",
            "mcp": "POST /mcp (Model Context Protocol: the game's functions as tools)",
            "dashboard": "GET /ui",
            "openapi": "GET /openapi.json",
        },
        "routes": *document.routes,
        "documentation": format!(
            "Every route is in GET /openapi.json and the repository's README.md; deadlines: \
             timeout_ms body field or X-Timeout-Ms header (default {} ms)",
            state.default_timeout.as_millis()
        ),
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

/// One game's link and the bridge's uptime.
#[derive(Serialize, ToSchema)]
pub struct Health<'a> {
    /// Whether the game is connected, as the original reports it.
    success: bool,
    dll_connected: bool,
    /// Seconds since the bridge started.
    uptime: u64,
    version: &'static str,
    game: &'a str,
}

/// Whether the game is connected.
///
/// `{success, result: {success, dll_connected, uptime, version, game}}`,
/// nested as the original's code (not its docs) does it. With an Agent Arena
/// game served, Agent Arena's `status` and `agents` come beside the envelope.
#[utoipa::path(
    get,
    path = "/health",
    tag = "system",
    operation_id = "health",
    responses((status = 200, description = "The game's link.", body = Envelope<Health>)),
)]
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

/// One game: its status and call counters.
#[derive(Serialize, ToSchema)]
pub struct GameStats {
    #[serde(flatten)]
    status: GameStatus,
    calls: StatsSnapshot,
}

/// Uptime, the default game's link, and every game's counters.
#[utoipa::path(
    get,
    path = "/stats",
    tag = "system",
    operation_id = "stats",
    responses((status = 200, description = "The statistics.", body = Envelope<Stats>)),
)]
pub async fn stats(State(state): State<ApiState>) -> Response {
    let games: Vec<GameStats> = state
        .hub
        .games()
        .iter()
        .map(|game| GameStats { status: game.status(), calls: game.stats().snapshot() })
        .collect();
    let default = games.first();
    let external: Vec<String> = state.hub.default_game().map_or_else(Vec::new, |game| {
        game.external_functions().iter().map(|function| function.name.clone()).collect()
    });
    let event_pipe = json!({
        "enabled": state.event_pipe.is_some(),
        "clients": state.event_pipe.as_ref().map_or(0, |pipe| pipe.clients()),
        "pipeName": state.event_pipe.as_ref().map_or("", |pipe| pipe.name.as_str()),
    });
    // The original reports Node's heap; a native process has one figure,
    // its resident memory, which all four fields carry (in MB).
    let resident = crate::process_memory::resident_megabytes();
    envelope::success(json!({
        "uptime": state.hub.uptime().as_secs(),
        "dll": {
            "connected": default.is_some_and(|game| game.status.connected),
            "pendingRequests": default.map_or(0, |game| game.status.pending_calls),
            "reconnectAttempts": default.map_or(0, |game| game.calls.reconnect_attempts),
            "connects": default.map_or(0, |game| game.calls.connects),
        },
        "lua": {
            "registeredFunctions": default.map_or(0, |game| game.status.functions),
            "executeEnabled": !state.security.no_execute,
        },
        "external": { "registeredFunctions": external.len(), "functionNames": external },
        "eventPipe": event_pipe,
        "memory": { "used": resident, "total": resident, "heapUsed": resident, "heapTotal": resident },
        "sse": {
            "activeClients": state.sse_clients.load(std::sync::atomic::Ordering::Relaxed),
            "eventPipeStats": event_pipe,
        },
        "arena": state.arena.as_ref().map(|arena| json!({
            "game": arena.game().name(), "agents": arena.agent_count(), "metrics": arena.metrics().snapshot(),
        })),
        "games": games,
    }))
}

/// Every game: its link spec, state, functions and pending calls.
#[utoipa::path(
    get,
    path = "/games",
    tag = "system",
    operation_id = "games",
    responses((status = 200, description = "The games.", body = Envelope<Games>)),
)]
pub async fn games(State(state): State<ApiState>) -> Response {
    let games: Vec<GameStatus> = state.hub.games().iter().map(|game| game.status()).collect();
    envelope::success(json!({ "games": games }))
}

/// Stops the bridge.
#[utoipa::path(
    post,
    path = "/shutdown",
    tag = "system",
    operation_id = "shutdown",
    responses((status = 202, description = "The bridge is stopping.", body = ShutdownStarted)),
)]
pub async fn shutdown(State(state): State<ApiState>) -> Response {
    tracing::info!("shutdown requested over HTTP");
    state.shutdown.cancel();
    json_response(StatusCode::ACCEPTED, &json!({ "success": true, "message": "Shutdown initiated" }))
}
