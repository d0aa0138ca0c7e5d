//! Safe defaults: the Host check against DNS rebinding, the token, CORS,
//! agent URLs, script execution, and files private to the user.

mod support;

use gamebridge::bridge::RunningBridge;
use gamebridge::config::BridgeConfig;
use gamebridge_api::security::Security;
use serde_json::{Value, json};
use support::{Harness, error_code};

async fn secured(security: Security) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("unix:{}", dir.path().join("none.sock").display());
    Harness::start_configured(dir, &[("civ5", spec)], |config| config.security = security).await
}

async fn status_and_body(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_foreign_host_header_is_refused() {
    let harness = secured(Security::default()).await;
    let (status, body) =
        status_and_body(harness.http.get(harness.url("/health")).header("Host", "evil.example.com")).await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "a DNS-rebound page cannot reach the bridge");
    let (status, _) =
        status_and_body(harness.http.get(harness.url("/health")).header("Host", "localhost:5000")).await;
    assert_eq!(status, 200);
    let allowed = secured(Security { allowed_hosts: vec!["bridge.lan".into()], ..Security::default() }).await;
    let (status, _) =
        status_and_body(allowed.http.get(allowed.url("/health")).header("Host", "bridge.lan:5000")).await;
    assert_eq!(status, 200, "configured names are accepted");
}

#[tokio::test]
async fn with_a_token_every_agent_route_needs_it() {
    let harness = secured(Security { token: Some("s3cret".into()), ..Security::default() }).await;
    for path in ["/health", "/lua/functions", "/games", "/events/history", "/external/functions"] {
        let (status, body) = status_and_body(harness.http.get(harness.url(path))).await;
        assert_eq!((status, error_code(&body)), (401, "UNAUTHORIZED"), "{path}");
        let (status, _) = status_and_body(harness.http.get(harness.url(path)).bearer_auth("wrong")).await;
        assert_eq!(status, 401, "{path} with a wrong token");
        let (status, _) = status_and_body(harness.http.get(harness.url(path)).bearer_auth("s3cret")).await;
        assert_eq!(status, 200, "{path} with the token");
    }
    let (status, _) = status_and_body(
        harness
            .http
            .post(harness.url("/lua/call"))
            .header("content-type", "application/json")
            .body(r#"{"function":"F"}"#),
    )
    .await;
    assert_eq!(status, 401);
    let events = harness.http.get(harness.url("/events?token=s3cret")).send().await.unwrap();
    assert_eq!(events.status().as_u16(), 200, "browsers' EventSource can pass ?token=");
}

#[tokio::test]
async fn with_a_token_the_arena_games_own_routes_stay_open_to_it_and_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let civ = format!("unix:{}", dir.path().join("none.sock").display());
    let security = Security { token: Some("s3cret".into()), ..Security::default() };
    let games = [("civ5", civ), ("arena", "agent-arena".into())];
    let harness = Harness::start_configured(dir, &games, |config| config.security = security).await;
    let post = |path: &str, body: &str| {
        harness.http.post(harness.url(path)).header("content-type", "application/json").body(body.to_owned())
    };
    // What the unchanged Godot client sends, without a token, from this machine.
    let (status, body) = status_and_body(post("/tick", r#"{"tick":1,"perceptions":[]}"#)).await;
    assert_eq!((status, body["tick"].as_u64()), (200, Some(1)), "the Godot client sends no token");
    for path in ["/metrics", "/tools/list"] {
        let (status, _) = status_and_body(harness.http.get(harness.url(path))).await;
        assert_eq!(status, 200, "{path}");
    }
    let (status, _) = status_and_body(post("/tools/execute", r#"{"tool_name":"idle","params":{}}"#)).await;
    assert_eq!(status, 200);
    let (status, _) = status_and_body(post("/agents/register", r#"{"agent_id":"a1"}"#)).await;
    assert_eq!(status, 200);
    // Its /health answers for the arena game, not for the default game.
    let (status, health) = status_and_body(harness.http.get(harness.url("/health"))).await;
    assert_eq!((status, health["result"]["game"].as_str()), (200, Some("arena")), "{health}");
    let (_, health) = status_and_body(harness.http.get(harness.url("/health")).bearer_auth("s3cret")).await;
    assert_eq!(health["result"]["game"], "civ5", "with the token, the default game");
    // Nothing else is open, and the game cannot choose how agents decide.
    for path in ["/lua/functions", "/games", "/games/civ5/health", "/events/history", "/stats"] {
        let (status, _) = status_and_body(harness.http.get(harness.url(path))).await;
        assert_eq!(status, 401, "{path}");
    }
    let llm = r#"{"agent_id":"a2","backend":{"kind":"rules"}}"#;
    let (status, body) = status_and_body(post("/agents/register", llm)).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = status_and_body(post("/agents/register", llm).bearer_auth("s3cret")).await;
    assert_eq!(status, 200, "with the token");
}

#[tokio::test]
async fn listening_beyond_loopback_needs_a_token() {
    let refused = RunningBridge::start(BridgeConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..BridgeConfig::default()
    })
    .await;
    let message = refused.err().expect("refused").to_string();
    assert!(message.contains("without a token"), "{message}");
    let mut config = BridgeConfig { listen: "0.0.0.0:0".parse().unwrap(), ..BridgeConfig::default() };
    config.security.token = Some("s3cret".into());
    let bridge = RunningBridge::start(config).await.expect("with a token it starts");
    bridge.stop().await.unwrap();
}

#[tokio::test]
async fn cors_is_off_unless_an_origin_is_allowed() {
    let closed = secured(Security::default()).await;
    let response = closed
        .http
        .get(closed.url("/health"))
        .header("Origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none(), "no CORS by default");

    let open =
        secured(Security { cors_origin: Some("http://localhost:3000".into()), ..Security::default() }).await;
    let response =
        open.http.get(open.url("/health")).header("Origin", "http://localhost:3000").send().await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "http://localhost:3000");
    let preflight = open
        .http
        .request(reqwest::Method::OPTIONS, open.url("/lua/call"))
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.headers()["access-control-allow-origin"], "http://localhost:3000");
    let other =
        open.http.get(open.url("/health")).header("Origin", "https://evil.example.com").send().await.unwrap();
    assert_ne!(
        other.headers().get("access-control-allow-origin").and_then(|value| value.to_str().ok()),
        Some("https://evil.example.com")
    );
}

#[tokio::test]
async fn agent_urls_stay_on_this_machine_unless_allowed() {
    let closed = secured(Security::default()).await;
    let body = json!({"name": "Analyze", "url": "http://agents.example.com/x", "async": false});
    let refused = closed.post("/external/register", body.clone()).await;
    assert_eq!(error_code(&refused), "INVALID_ARGUMENTS");
    assert!(refused["error"]["message"].as_str().unwrap().contains("--allow-agent-host agents.example.com"));
    let local = json!({"name": "Local", "url": "http://[::1]:4000/x", "async": false});
    assert_eq!(closed.post("/external/register", local).await["success"], true);
    let open =
        secured(Security { agent_hosts: vec!["agents.example.com".into()], ..Security::default() }).await;
    assert_eq!(open.post("/external/register", body).await["success"], true);
}

#[tokio::test]
async fn no_execute_refuses_scripts() {
    let harness = secured(Security { no_execute: true, ..Security::default() }).await;
    let refused = harness.post("/lua/execute", json!({"script": "os.exit()"})).await;
    assert_eq!(error_code(&refused), "INVALID_SCRIPT");
    assert!(refused["error"]["message"].as_str().unwrap().contains("--no-execute"));
}

#[cfg(unix)]
#[tokio::test]
async fn a_listening_socket_is_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("games.sock");
    let spec = format!("unix:{}?listen", socket.display());
    let harness = Harness::start_in(dir, &[("lab", spec)]).await;
    harness.wait_listening("lab").await;
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
}
