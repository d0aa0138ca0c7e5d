//! Cross-site request refusal. The Host check stops pages that reach the
//! bridge under a hostile name (DNS rebinding), but a page from any site can
//! still send requests to `http://127.0.0.1:5000` itself: "simple" POSTs
//! (`text/plain`, HTML forms, `fetch` with `mode: "no-cors"`) and WebSocket
//! handshakes need no CORS permission, and the request runs even though the
//! page cannot read the answer.
//!
//! Browsers say where a request comes from: `Origin` on every POST, every
//! WebSocket handshake and every cross-origin `fetch`, and `Sec-Fetch-Site`
//! on every request (Chromium, Firefox, Safari). Programs that are not
//! browsers (curl, the Vox Deorum MCP server on undici, Python clients, the
//! Godot HTTP client) send neither `Origin` nor `Sec-Fetch-Site`, so they
//! are unaffected. (undici does send `Sec-Fetch-Mode`, which is why only
//! `Sec-Fetch-Site` is read.)

use axum::http::HeaderMap;
use axum::http::header::ORIGIN;

/// Why a request is refused as cross-site, or `None` when it may pass.
///
/// `host` is the request's (already checked) Host header; the bridge's own
/// pages have the origin `http://HOST` (or `https://HOST` behind a TLS
/// proxy). `cors_origin` is the one other origin the owner allowed.
pub fn refusal(headers: &HeaderMap, host: &str, cors_origin: Option<&str>) -> Option<String> {
    let origin = headers.get(ORIGIN).map(|value| value.to_str().unwrap_or("(not text)"));
    if let Some(origin) = origin {
        if is_own_origin(origin, host) || cors_origin.is_some_and(|allowed| allowed == origin) {
            return None;
        }
        return Some(format!(
            "requests from the web page origin {origin} are refused: a page the player opens must not drive \
             the game (allow one origin with --cors ORIGIN)"
        ));
    }
    let site = headers.get("sec-fetch-site").and_then(|value| value.to_str().ok())?;
    if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
        return Some(format!(
            "the browser marked this request Sec-Fetch-Site: {site}; only the bridge's own pages may call it"
        ));
    }
    None
}

/// `http://HOST` or `https://HOST`, exactly (an origin has no path).
fn is_own_origin(origin: &str, host: &str) -> bool {
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    rest.is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(name, value)| (name.parse().unwrap(), value.parse().unwrap())).collect()
    }

    #[test]
    fn programs_that_are_not_browsers_pass() {
        assert_eq!(refusal(&headers(&[]), "127.0.0.1:5000", None), None);
        let undici = headers(&[("sec-fetch-mode", "cors"), ("accept", "*/*")]);
        assert_eq!(refusal(&undici, "127.0.0.1:5000", None), None);
    }

    #[test]
    fn the_bridges_own_pages_pass() {
        let own = headers(&[("origin", "http://127.0.0.1:5000"), ("sec-fetch-site", "same-origin")]);
        assert_eq!(refusal(&own, "127.0.0.1:5000", None), None);
        let named = headers(&[("origin", "http://LOCALHOST:5000")]);
        assert_eq!(refusal(&named, "localhost:5000", None), None);
        let typed = headers(&[("sec-fetch-site", "none")]);
        assert_eq!(refusal(&typed, "127.0.0.1:5000", None), None, "an address typed by the user");
    }

    #[test]
    fn other_origins_and_sites_are_refused() {
        for origin in ["https://evil.example", "http://127.0.0.1:8000", "null", "http://127.0.0.1:5000.evil"]
        {
            let request = headers(&[("origin", origin)]);
            assert!(refusal(&request, "127.0.0.1:5000", None).is_some(), "{origin}");
        }
        for site in ["cross-site", "same-site"] {
            let request = headers(&[("sec-fetch-site", site)]);
            assert!(refusal(&request, "127.0.0.1:5000", None).is_some(), "{site}");
        }
    }

    #[test]
    fn the_cors_origin_passes() {
        let request = headers(&[("origin", "http://localhost:3000"), ("sec-fetch-site", "same-site")]);
        assert_eq!(refusal(&request, "127.0.0.1:5000", Some("http://localhost:3000")), None);
        assert!(refusal(&request, "127.0.0.1:5000", Some("http://localhost:4000")).is_some());
    }
}
