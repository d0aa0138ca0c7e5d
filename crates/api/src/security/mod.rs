//! What keeps a bridge that can run code in a game from being driven by
//! anyone but its owner (docs/SECURITY.md). Every request passes, in order:
//!
//! - the Host check: the Host header must name this machine (loopback
//!   names) or a host the owner allowed, so a web page cannot reach the
//!   bridge by DNS rebinding;
//! - the cross-site check ([`cross_site`]): a request a browser marks as
//!   coming from another site, or whose `Origin` is not the bridge's own
//!   (nor the `--cors` origin), is refused, REST and WebSocket alike;
//! - the token, when one is set (`Authorization: Bearer`, or `?token=` for
//!   browser event streams); an Agent Arena game's own routes are served
//!   without it to the game's addresses only ([`game_routes`]);
//! - the media type ([`media_type`]): a request body must be declared JSON,
//!   so an HTML form or a "simple" `text/plain` request cannot carry one.
//!
//! Besides the guard: no CORS headers unless an origin is allowed
//! (`--cors ORIGIN`); agent URLs point at this machine unless a host is
//! allowed ([`Security::agent_url`]); API keys come only from environment
//! variables the owner named; script execution can be switched off
//! (`--no-execute`).

mod cross_site;
pub mod game_routes;
mod media_type;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gamebridge_protocol::{ErrorBody, ErrorCode};

use crate::{ApiError, ApiState};

/// The owner's security settings.
#[derive(Clone, Debug, Default)]
pub struct Security {
    /// Required on every agent-side request when set.
    pub token: Option<String>,
    /// Host names accepted besides the loopback names.
    pub allowed_hosts: Vec<String>,
    /// The one origin browsers may call from (CORS), if any.
    pub cors_origin: Option<String>,
    /// Hosts agent function URLs may point at besides loopback.
    pub agent_hosts: Vec<String>,
    /// Whether `/lua/execute` (and MCP's `execute_lua`) may run scripts.
    pub no_execute: bool,
    /// Environment variables an agent's LLM backend may name as its API key
    /// (`api_key_env`); an agent can never pick any other variable.
    pub llm_key_envs: Vec<String>,
    /// Addresses besides loopback from which an Agent Arena game may use its
    /// own routes without the token.
    pub game_peers: Vec<IpAddr>,
}

/// Routes that need no token even when the bridge has one, and that any
/// site may read: the OpenAPI document and the dashboard's static files.
/// They hold no data and no secrets, like any static page. The document
/// marks these same routes as needing no token.
pub(crate) fn is_static(path: &str) -> bool {
    path == crate::openapi::DOCUMENT_PATH || crate::ui::is_page(path)
}

/// The codes of the guard's refusals, besides the protocol's own.
pub(crate) const UNAUTHORIZED: &str = "UNAUTHORIZED";
pub(crate) const FORBIDDEN: &str = "FORBIDDEN";
pub(crate) const CROSS_SITE: &str = "CROSS_SITE_REQUEST";
pub(crate) const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
pub(crate) const REFUSAL_CODES: &[&str] = &[UNAUTHORIZED, FORBIDDEN, CROSS_SITE, UNSUPPORTED_MEDIA_TYPE];

impl Security {
    /// Whether `host` (a Host header, port included) names this bridge.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = strip_port(host);
        is_loopback_name(name) || self.allowed_hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(name))
    }

    /// Whether an agent function may live at `host`.
    pub fn agent_host_allowed(&self, host: &str) -> bool {
        is_loopback_name(host.trim_start_matches('[').trim_end_matches(']'))
            || self.agent_hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    /// Checks a URL the bridge would send game data to on an agent's word (a
    /// webhook, an LLM backend): http(s), with a host on this machine or one
    /// the owner allowed. The error says what is wrong and how to allow it.
    pub fn agent_url(&self, url: &str) -> Result<url::Url, String> {
        let parsed = url::Url::parse(url).map_err(|error| format!("is not a valid URL: {error}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err("must be an http:// or https:// URL with a host".into());
        }
        let host = parsed.host_str().unwrap_or_default();
        if !self.agent_host_allowed(host) {
            return Err(format!("host {host} is not this machine; allow it with --allow-agent-host {host}"));
        }
        Ok(parsed)
    }

    /// Whether an agent may name environment variable `name` as its API key.
    pub fn key_env_allowed(&self, name: &str) -> bool {
        self.llm_key_envs.iter().any(|allowed| allowed == name)
    }

    /// Whether a request from `peer` comes from where an Agent Arena game may
    /// run: this machine, or an address the owner named.
    fn game_peer_allowed(&self, peer: Option<SocketAddr>) -> bool {
        peer.is_some_and(|peer| peer.ip().is_loopback() || self.game_peers.contains(&peer.ip()))
    }

    /// Whether the request carries the token (always, when there is none).
    fn token_matches(&self, request: &Request) -> bool {
        let Some(token) = &self.token else { return true };
        let bearer = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let query = request
            .uri()
            .query()
            .and_then(|query| query.split('&').find_map(|pair| pair.strip_prefix("token=")));
        bearer.or(query).is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
    }
}

/// `localhost`, `127.0.0.0/8` and `::1`.
fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host:port` → `host`, `[::1]:5000` → `::1`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Compares without stopping at the first difference, so timing does not
/// reveal how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |difference, (x, y)| difference | (x ^ y)) == 0
}

/// Checks the Host header, the origin, the token and the media type of
/// every request, in that order.
pub async fn guard(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let security = &state.security;
    let host = request.headers().get(axum::http::header::HOST).and_then(|value| value.to_str().ok());
    let host = match host {
        Some(host) if security.host_allowed(host) => host,
        Some(host) => {
            let message = format!("Host {host:?} is not this bridge's; allow it with --allow-host");
            return refuse(StatusCode::FORBIDDEN, FORBIDDEN, message);
        }
        None => {
            return refuse(StatusCode::BAD_REQUEST, "INVALID_ARGUMENTS", "the request has no Host header");
        }
    };
    let path = request.uri().path();
    if is_static(path) {
        return next.run(request).await;
    }
    if let Some(message) = cross_site::refusal(request.headers(), host, security.cors_origin.as_deref()) {
        tracing::warn!(path, "refused a cross-site request: {message}");
        return refuse(StatusCode::FORBIDDEN, CROSS_SITE, message);
    }
    if !security.token_matches(&request) {
        let game_route = state.arena.is_some() && game_routes::is_game_route(path);
        if !(game_route && security.game_peer_allowed(crate::server::peer(&request))) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                UNAUTHORIZED,
                "this bridge needs its token: Authorization: Bearer TOKEN (or ?token= for event streams)",
            );
        }
        // Served as the game's own request: it sees its game only.
        request.extensions_mut().insert(game_routes::GameOnly);
    }
    if let Some(message) = media_type::refusal(&request) {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_MEDIA_TYPE, message);
    }
    next.run(request).await
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    ApiError::new(status, ErrorBody::new(ErrorCode::new(code), message)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_allowed_hosts_pass() {
        let security = Security { allowed_hosts: vec!["bridge.lan".into()], ..Security::default() };
        for host in
            ["localhost:5000", "127.0.0.1:5000", "127.0.0.1", "[::1]:5000", "LOCALHOST", "bridge.lan:5000"]
        {
            assert!(security.host_allowed(host), "{host}");
        }
        for host in ["evil.example.com", "evil.example.com:5000", "192.168.1.5:5000", "localhost.evil.com"] {
            assert!(!security.host_allowed(host), "{host}");
        }
    }

    #[test]
    fn agent_hosts_are_loopback_unless_allowed() {
        let security = Security { agent_hosts: vec!["agents.lan".into()], ..Security::default() };
        assert!(security.agent_host_allowed("127.0.0.1") && security.agent_host_allowed("[::1]"));
        assert!(security.agent_host_allowed("agents.lan"));
        assert!(!security.agent_host_allowed("example.com"));
    }

    #[test]
    fn an_arena_game_is_served_tokenless_only_from_its_own_addresses() {
        let lan: IpAddr = "192.168.1.20".parse().unwrap();
        let security = Security { game_peers: vec![lan], ..Security::default() };
        let peer = |ip: &str| Some(SocketAddr::new(ip.parse().unwrap(), 40000));
        assert!(security.game_peer_allowed(peer("127.0.0.1")) && security.game_peer_allowed(peer("::1")));
        assert!(security.game_peer_allowed(peer("192.168.1.20")));
        assert!(!security.game_peer_allowed(peer("192.168.1.21")));
        assert!(!security.game_peer_allowed(None), "an unknown peer is not trusted");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
