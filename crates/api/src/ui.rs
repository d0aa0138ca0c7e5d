//! The dashboard at `/ui`: plain HTML, CSS and JavaScript compiled into the
//! binary, so it works offline and needs no build step. The page holds no
//! data; its script reads the same API agents use, with the bridge's token
//! when one is set, so the page itself is served without one.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;

/// Paths of the page and its assets: served without the token.
pub const PATHS: &[&str] = &["/ui", "/ui/", "/ui/app.js", "/ui/style.css"];

const INDEX: &str = include_str!("../ui/index.html");
const SCRIPT: &str = include_str!("../ui/app.js");
const STYLE: &str = include_str!("../ui/style.css");

/// Scripts and styles from this bridge only, no inline script, no framing:
/// game-provided text cannot run as code here.
const POLICY: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { asset("text/html; charset=utf-8", INDEX) }))
        .route("/ui/", get(|| async { Redirect::permanent("/ui") }))
        .route("/ui/app.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/ui/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache"), (CONTENT_SECURITY_POLICY, POLICY)], body)
}
