//! The agent-side HTTP API: Vox Deorum-compatible REST over the hub.
//!
//! Paths, envelope (`{success, result}` / `{success:false, error:{code,
//! message}}`) and error codes follow the Vox Deorum bridge service, so its
//! agents work unchanged; handled failures answer HTTP 200 as the original
//! does. Every game route also exists under `/games/{name}/…`; unprefixed
//! routes address the first game configured.
//!
//! Events reach agents as Server-Sent Events (`/events`, with replay) and,
//! for agents that prefer a socket, through the [`event_pipe`].
//!
//! `GET /openapi.json` describes every REST route (the `openapi` module).

pub mod agent_ws;
mod envelope;
pub mod event_pipe;
mod extract;
pub mod mcp;
mod openapi;
mod process_memory;
mod routes;
pub mod security;
pub mod server;
mod ui;

use std::sync::Arc;

use axum::Router;
use gamebridge_hub::Hub;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use envelope::ApiError;

/// A call's deadline when the request sets none: the Vox Deorum bridge's
/// (it grew from 10 s to 300 s because slow machines and diplomacy screens
/// stall the game for minutes).
pub const DEFAULT_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Request bodies larger than this are refused (the original's limit).
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub hub: Arc<Hub>,
    /// Cancelled by `POST /shutdown`; the whole bridge stops with it.
    pub shutdown: CancellationToken,
    /// Ends event streams (SSE, the event pipe): after `shutdown`, once the
    /// games' links have stopped, so the last `dll_status` reaches clients.
    pub streams_end: CancellationToken,
    /// Event streams open now (`/stats`: `sse.activeClients`).
    pub sse_clients: Arc<std::sync::atomic::AtomicU64>,
    /// The event pipe, when one is served (`/stats`: `eventPipe`).
    pub event_pipe: Option<Arc<event_pipe::EventPipe>>,
    /// Default deadline of a call when the request sets none.
    pub default_timeout: std::time::Duration,
    /// How often event streams send `ping` (the original: every 5 s).
    pub ping_interval: std::time::Duration,
    /// The Agent Arena game, when one is served (`/tick` and its routes).
    pub arena: Option<Arc<gamebridge_agents::arena::Arena>>,
    /// Host check, token, CORS, agent hosts, script execution.
    pub security: Arc<security::Security>,
    /// Header timeout and connection cap of the listener.
    pub limits: server::ConnectionLimits,
}

impl ApiState {
    pub fn new(hub: Arc<Hub>, shutdown: CancellationToken) -> Self {
        Self {
            hub,
            streams_end: shutdown.clone(),
            shutdown,
            sse_clients: Arc::default(),
            event_pipe: None,
            default_timeout: DEFAULT_CALL_TIMEOUT,
            ping_interval: std::time::Duration::from_secs(5),
            arena: None,
            security: Arc::default(),
            limits: server::ConnectionLimits::default(),
        }
    }
}

/// The complete router; MCP sessions are announced to through `sessions`.
pub fn router(state: ApiState, sessions: mcp::Sessions) -> Router {
    let mcp = Router::new()
        .fallback_service(mcp::service(state.clone(), sessions))
        .layer(axum::middleware::from_fn(mcp::session_ended_no_content));
    let guard = axum::middleware::from_fn_with_state(state.clone(), security::guard);
    let (routes, document) = routes::router().split_for_parts();
    let document = axum::Extension(openapi::Document::new(document));
    let router = routes.layer(document).merge(ui::router()).nest_service("/mcp", mcp).layer(guard);
    let router = match &state.security.cors_origin {
        Some(origin) => router.layer(cors(origin)),
        None => router,
    };
    router.with_state(state)
}

/// CORS for the one allowed origin; without `--cors`, browsers get none.
fn cors(origin: &str) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderValue, Method, header};
    let origin = HeaderValue::from_str(origin).unwrap_or_else(|_| HeaderValue::from_static("null"));
    tower_http::cors::CorsLayer::new()
        .allow_origin(origin)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::HeaderName::from_static("x-timeout-ms"),
        ])
}

/// Serves the API on `listener` until `state.shutdown` is cancelled.
pub async fn serve(listener: TcpListener, state: ApiState) -> std::io::Result<()> {
    let shutdown = state.shutdown.clone();
    let limits = state.limits;
    let sessions = mcp::Sessions::default();
    tokio::spawn(mcp::notify(state.clone(), sessions.clone()));
    server::run(listener, router(state, sessions), limits, shutdown).await
}
