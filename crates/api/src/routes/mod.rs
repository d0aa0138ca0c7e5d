//! Route table. Game routes are mounted twice: unprefixed (the default game)
//! and under `/games/{name}`.

mod lua;
mod system;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::routing::{get, post};

use crate::{ApiError, ApiState, BODY_LIMIT};

pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/", get(system::discovery))
        .route("/stats", get(system::stats))
        .route("/shutdown", post(system::shutdown))
        .route("/games", get(system::games))
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
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    let mut error = ApiError::not_found(format!("Endpoint not found: {method} {uri}"));
    error.body.details = Some("See GET / for the available endpoints".into());
    error
}
