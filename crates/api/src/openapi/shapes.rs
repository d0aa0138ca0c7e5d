//! Schemas of the Vox Deorum routes' bodies and answers that handlers read
//! or build as plain JSON (`json!`, `body["name"]`) rather than as types.
//!
//! These types are described, never built: the handlers stay as they are,
//! and tests/openapi.rs checks real answers against these schemas, so a
//! field added to a handler's `json!` without one here fails it.

#![allow(dead_code, reason = "schema-only types: described, never built")]

use std::collections::BTreeMap;

use gamebridge_hub::GameStatus;
use serde_json::Value;
use utoipa::ToSchema;

use crate::routes::events::HistoryEvent;

/// `GET /`: what this bridge is and serves.
#[derive(ToSchema)]
pub struct Discovery {
    /// Always `gamebridge`.
    service: String,
    version: String,
    /// Always `running`.
    status: String,
    /// The games' names; the first is the default game.
    games: Vec<String>,
    /// The main routes, for people.
    endpoints: BTreeMap<String, Value>,
    /// Every route, `METHOD PATH: what it does`, from the OpenAPI document
    /// (`/openapi.json`), and the WebSocket, MCP and dashboard routes.
    routes: Vec<String>,
    documentation: String,
}

/// `GET /stats`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct Stats {
    /// Seconds since the bridge started.
    uptime: u64,
    /// The default game's link, in the original's terms.
    dll: DllStats,
    lua: LuaStats,
    external: ExternalStats,
    event_pipe: EventPipeStats,
    memory: MemoryStats,
    sse: SseStats,
    /// Present when an Agent Arena game is served.
    arena: Option<ArenaStats>,
    /// Every game: its status and call counters.
    games: Vec<crate::routes::system::GameStats>,
}

/// The default game's link.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct DllStats {
    connected: bool,
    /// Calls waiting for the game.
    pending_requests: u64,
    /// Failed attempts to reach the game since it was last connected.
    reconnect_attempts: u64,
    /// Times the game connected.
    connects: u64,
}

/// The default game's agent functions.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ExternalStats {
    registered_functions: u64,
    function_names: Vec<String>,
}

/// The event pipe (`--event-pipe`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct EventPipeStats {
    enabled: bool,
    /// Clients connected now.
    clients: u64,
    /// The node-ipc id, empty without an event pipe.
    pipe_name: String,
}

/// The bridge's resident memory in MB, in all four fields (the original
/// reported Node's heap here).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct MemoryStats {
    used: u64,
    total: u64,
    heap_used: u64,
    heap_total: u64,
}

/// Event streams.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct SseStats {
    /// SSE clients connected now.
    active_clients: u64,
    event_pipe_stats: EventPipeStats,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct LuaStats {
    /// Functions the default game registered.
    registered_functions: u64,
    /// Whether `POST /lua/execute` runs scripts (off with `--no-execute`).
    execute_enabled: bool,
}

/// The Agent Arena game, when one is served.
#[derive(ToSchema)]
pub struct ArenaStats {
    game: String,
    /// Agents registered with `/agents/register`.
    agents: u64,
    metrics: gamebridge_agents::arena::MetricsSnapshot,
}

/// `GET /games`.
#[derive(ToSchema)]
pub struct Games {
    games: Vec<GameStatus>,
}

/// `POST /shutdown`, answered with 202 before the bridge stops.
#[derive(ToSchema)]
pub struct ShutdownStarted {
    /// Always true.
    success: bool,
    /// `Shutdown initiated`.
    message: String,
}

/// `POST /external/register`: an agent function for the game to call.
#[derive(ToSchema)]
pub struct ExternalRegistration {
    /// The name the game calls it by.
    #[schema(pattern = "^[a-zA-Z_][a-zA-Z0-9_]*$")]
    name: String,
    /// Where the bridge POSTs `{args, id}`; on this machine unless the owner
    /// allowed the host (`--allow-agent-host`).
    #[schema(format = "uri")]
    url: String,
    /// Whether the game goes on without waiting for the answer.
    #[schema(rename = "async")]
    is_async: bool,
    /// How long the agent has to answer, in milliseconds.
    #[schema(minimum = 1, default = 5000)]
    timeout: Option<u64>,
    description: Option<String>,
}

/// A registered agent function, as `GET /external/functions` lists it.
/// Mirrors `gamebridge_hub::ExternalFunction`, whose `Serialize` is written
/// by hand; the test below compares the two.
#[derive(ToSchema)]
pub struct ExternalFunction {
    name: String,
    /// The webhook, for functions registered over REST.
    url: Option<String>,
    /// The connected agent, for functions a WebSocket agent registered.
    agent: Option<String>,
    #[schema(rename = "async")]
    is_async: bool,
    /// Milliseconds the agent has to answer.
    timeout: u64,
    description: Option<String>,
}

#[derive(ToSchema)]
pub struct ExternalFunctions {
    functions: Vec<ExternalFunction>,
}

/// A function that is no longer registered.
#[derive(ToSchema)]
pub struct Unregistered {
    name: String,
    /// Always false.
    registered: bool,
}

/// The players whose turns pause the game. The pause routes answer at the
/// top level, as the Vox Deorum bridge does, not inside `result`.
#[derive(ToSchema, serde::Serialize)]
#[schema(rename_all = "camelCase")]
pub struct PausedPlayers {
    success: bool,
    paused_players: Vec<i64>,
}

/// The original's answer to a player id outside 0–63.
#[derive(ToSchema, serde::Serialize)]
pub struct InvalidPlayer {
    /// Always `false`.
    success: bool,
    /// `"Invalid player ID"`.
    error: String,
}

/// `POST|DELETE /external/pause-player/{player}`.
#[derive(ToSchema, serde::Serialize)]
#[allow(dead_code, reason = "described, never built")]
#[serde(untagged)]
pub enum PlayerPaused {
    Paused(PausedPlayers),
    Invalid(InvalidPlayer),
}

/// `GET /external/paused-players`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct PauseStatus {
    success: bool,
    paused_players: Vec<i64>,
    /// Paused by hand, or the active player is a paused player.
    is_game_paused: bool,
}

/// `{"success":true}`.
#[derive(ToSchema)]
pub struct Done {
    success: bool,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ProductionModeSet {
    success: bool,
    production_mode: bool,
}

/// `GET /events/history`: one page of past events, oldest first.
#[derive(ToSchema)]
pub struct History {
    events: Vec<HistoryEvent<'static>>,
    /// The last sequence number read: pass it as `since` for the next page.
    next: Option<u64>,
    /// Events in the range that are no longer kept.
    missed: u64,
    /// The newest event's sequence number.
    latest: u64,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use gamebridge_hub::{AgentEndpoint, ExternalFunction as RealFunction};

    use super::*;
    use crate::openapi::tests::assert_mirrors;

    #[test]
    fn the_external_function_mirror_matches_what_the_hub_sends() {
        let function = RealFunction {
            name: "Advise".into(),
            endpoint: AgentEndpoint::Webhook { url: "http://127.0.0.1:9/advise".into() },
            is_async: true,
            timeout: Duration::from_millis(250),
            description: Some("asks the advisor".into()),
            hold: false,
        };
        assert_mirrors::<ExternalFunction>(&serde_json::to_value(&function).unwrap());
    }
}
