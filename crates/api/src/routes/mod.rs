//! Route table, and with it the OpenAPI document's paths. Game routes are
//! mounted twice: unprefixed (the default game) and under `/games/{name}`.
//! `/events` covers every game (filter with `?game=`); `/games/{name}/events`
//! one game.

mod arena;
pub(crate) mod events;
mod external;
mod fleet;
mod lua;
mod prometheus;
pub(crate) mod system;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{ApiError, ApiState, BODY_LIMIT, openapi};

/// Every route, each registered once into both the router and the OpenAPI
/// document (`routes!`), so the document cannot list a route the bridge
/// does not serve, nor miss one it does; `/agent` alone is left out, as it
/// is a WebSocket (the document's description says so).
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(system::discovery))
        .routes(routes!(system::stats))
        .routes(routes!(system::shutdown))
        .routes(routes!(system::games))
        .routes(routes!(openapi::serve_document))
        .routes(routes!(events::events))
        .routes(routes!(events::history))
        .routes(routes!(fleet::fleet_events))
        // A WebSocket, not REST: served, but not in the document.
        .route("/agent", get(crate::agent_ws::upgrade))
        .routes(routes!(prometheus::prometheus))
        .routes(routes!(arena::tick))
        .routes(routes!(arena::observe))
        .routes(routes!(arena::register_agent))
        .routes(routes!(arena::metrics))
        .routes(routes!(arena::execute_tool))
        .routes(routes!(arena::list_tools))
        .routes(routes!(arena::register_tool))
        .routes(routes!(arena::experience))
        .merge(game_routes())
        // One game's events live beside its other routes.
        .nest("/games/{name}", openapi::for_named_game(game_routes().routes(routes!(events::events))))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Routes that address one game.
fn game_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(system::health))
        .routes(routes!(lua::call))
        .routes(routes!(lua::batch))
        .routes(routes!(lua::execute))
        .routes(routes!(lua::functions))
        .routes(routes!(lua::pending))
        .routes(routes!(external::register))
        .routes(routes!(external::unregister_by_path))
        .routes(routes!(external::unregister))
        .routes(routes!(external::functions))
        .routes(routes!(external::pause_player, external::unpause_player))
        .routes(routes!(external::paused_players, external::clear_paused_players))
        .routes(routes!(external::pause))
        .routes(routes!(external::resume))
        .routes(routes!(external::production_mode))
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    let mut error = ApiError::not_found(format!("Endpoint not found: {method} {uri}"));
    error.body.details = Some("See GET / for the available endpoints".into());
    error
}
