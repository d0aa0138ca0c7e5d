//! Route table. Game routes are mounted twice: unprefixed (the default game)
//! and under `/games/{name}`. `/events` covers every game (filter with
//! `?game=`); `/games/{name}/events` one game.

mod arena;
pub(crate) mod events;
mod external;
mod lua;
mod prometheus;
mod system;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{delete, get, post};

use crate::{ApiError, ApiState, BODY_LIMIT};

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/", get(system::discovery))
        .route("/stats", get(system::stats))
        .route("/shutdown", post(system::shutdown))
        .route("/games", get(system::games))
        .route("/events", get(events::events))
        .route("/events/history", get(events::history))
        .route("/games/{name}/events", get(events::events))
        .route("/agent", get(crate::agent_ws::upgrade))
        .route("/metrics/prometheus", get(prometheus::prometheus))
        .route("/tick", post(arena::tick))
        .route("/observe", post(arena::observe))
        .route("/agents/register", post(arena::register_agent))
        .route("/metrics", get(arena::metrics))
        .route("/tools/execute", post(arena::execute_tool))
        .route("/tools/list", get(arena::list_tools))
        .route("/tools/register", post(arena::register_tool))
        .merge(game_routes())
        .nest("/games/{name}", game_routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Routes that address one game.
fn game_routes() -> Router<ApiState> {
    Router::new()
        .route("/health", get(system::health))
        .route("/lua/call", post(lua::call))
        .route("/lua/batch", post(lua::batch))
        .route("/lua/execute", post(lua::execute))
        .route("/lua/functions", get(lua::functions))
        .route("/external/register", post(external::register))
        .route("/external/register/{function}", delete(external::unregister_by_path))
        .route("/external/unregister", post(external::unregister))
        .route("/external/functions", get(external::functions))
        .route(
            "/external/pause-player/{player}",
            post(external::pause_player).delete(external::unpause_player),
        )
        .route(
            "/external/paused-players",
            get(external::paused_players).delete(external::clear_paused_players),
        )
        .route("/external/pause", post(external::pause))
        .route("/external/resume", post(external::resume))
        .route("/external/production-mode", post(external::production_mode))
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    let mut error = ApiError::not_found(format!("Endpoint not found: {method} {uri}"));
    error.body.details = Some("See GET / for the available endpoints".into());
    error
}
