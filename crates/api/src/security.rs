//! What keeps a bridge that can run code in a game from being driven by
//! anyone but its owner (docs/SECURITY.md):
//!
//! - the Host header must name this machine (loopback names) or a host the
//!   owner allowed, so a web page cannot reach the bridge by DNS rebinding;
//! - with a token, every agent-side request must carry it
//!   (`Authorization: Bearer`, or `?token=` for browser event streams);
//! - no CORS headers unless an origin is allowed (`--cors ORIGIN`);
//! - agent function URLs point at this machine unless a host is allowed;
//! - script execution can be switched off (`--no-execute`).

use std::net::IpAddr;

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
}

/// Routes that need no token even when the bridge has one: the ones the
/// Agent Arena game posts to (a Godot client sends none), and the OpenAPI
/// document (it holds no secrets, like a static page). The document marks
/// these same routes as needing no token.
pub(crate) const TOKENLESS_ROUTES: &[&str] = &["/tick", "/observe", crate::openapi::DOCUMENT_PATH];

/// The codes of the guard's refusals, besides the protocol's own.
pub(crate) const UNAUTHORIZED: &str = "UNAUTHORIZED";
pub(crate) const FORBIDDEN: &str = "FORBIDDEN";
pub(crate) const REFUSAL_CODES: &[&str] = &[UNAUTHORIZED, FORBIDDEN];

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

/// Checks the Host header, then the token, of every request.
pub async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let security = &state.security;
    let host = request.headers().get(axum::http::header::HOST).and_then(|value| value.to_str().ok());
    match host {
        Some(host) if security.host_allowed(host) => {}
        Some(host) => {
            let message = format!("Host {host:?} is not this bridge's; allow it with --allow-host");
            return refuse(StatusCode::FORBIDDEN, FORBIDDEN, message);
        }
        None => {
            return refuse(StatusCode::BAD_REQUEST, "INVALID_ARGUMENTS", "the request has no Host header");
        }
    }
    // The dashboard's page and assets are static and hold no data; its script sends the token.
    let path = request.uri().path();
    let tokenless = TOKENLESS_ROUTES.contains(&path) || crate::ui::PATHS.contains(&path);
    if !tokenless && !security.token_matches(&request) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            UNAUTHORIZED,
            "this bridge needs its token: Authorization: Bearer TOKEN (or ?token= for event streams)",
        );
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
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
