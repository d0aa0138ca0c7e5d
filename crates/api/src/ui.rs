//! The dashboard at `/ui`: plain HTML, CSS and JavaScript compiled into the
//! binary, so it works offline and needs no build step. The page holds no
//! data; its script reads the same API agents use, with the bridge's token
//! when one is set, so the page itself is served without one.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;

/// The page's assets: path, content type, body. The scripts are classic
/// scripts sharing one scope, loaded in this order (`defer`), one concern
/// each, so no bundler is needed.
const ASSETS: &[(&str, &str, &str)] = &[
    ("/ui", HTML, include_str!("../ui/index.html")),
    ("/ui/style.css", CSS, include_str!("../ui/style.css")),
    ("/ui/common.js", SCRIPT, include_str!("../ui/common.js")),
    ("/ui/chart.js", SCRIPT, include_str!("../ui/chart.js")),
    ("/ui/games.js", SCRIPT, include_str!("../ui/games.js")),
    ("/ui/console.js", SCRIPT, include_str!("../ui/console.js")),
    ("/ui/events.js", SCRIPT, include_str!("../ui/events.js")),
    ("/ui/app.js", SCRIPT, include_str!("../ui/app.js")),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SCRIPT: &str = "text/javascript; charset=utf-8";

/// Whether `path` is the page or one of its assets: served without the token.
pub fn is_page(path: &str) -> bool {
    path == "/ui/" || ASSETS.iter().any(|(asset, ..)| *asset == path)
}

/// Scripts and styles from this bridge only, no inline script, no framing:
/// game-provided text cannot run as code here.
const POLICY: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS.iter().fold(
        Router::new().route("/ui/", get(|| async { Redirect::permanent("/ui") })),
        |router, &(path, kind, body)| router.route(path, get(move || async move { asset(kind, body) })),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache"), (CONTENT_SECURITY_POLICY, POLICY)], body)
}
