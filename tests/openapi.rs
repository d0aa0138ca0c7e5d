//! `GET /openapi.json`: the document is valid OpenAPI (checked by
//! openapi-spec-validator from PyPI), every route it lists is served, and
//! real answers match the schemas it gives them.

#[path = "openapi/schema_check.rs"]
mod schema_check;
mod support;

use gamebridge_api::security::Security;
use reqwest::Method;
use serde_json::{Value, json};
use support::{GameConnection, Harness, game_event};

/// The document, fetched over HTTP from `harness`.
async fn document(harness: &Harness) -> Value {
    let response = harness.http.get(harness.url("/openapi.json")).send().await.expect("GET /openapi.json");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("the document is JSON")
}

/// A bridge with one connected game, `civ5`, that registered `GetTurn`, sent
/// an event, and echoes every call from then on.
async fn bridge_with_a_game() -> (Harness, support::FakeGame) {
    let (harness, game, mut connection): (_, _, GameConnection) = Harness::with_one_game().await;
    connection.register("GetTurn").await;
    connection.send(&game_event("TurnStart", json!({"turn": 1}))).await;
    harness.sync(&mut connection).await;
    connection.echo_forever();
    (harness, game)
}

/// The operations of the document: (method, path template).
fn operations(document: &Value) -> Vec<(Method, String)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys().filter(|key| *key != "parameters") {
            operations.push((method.to_uppercase().parse().unwrap(), path.clone()));
        }
    }
    operations
}

/// A concrete path for a template: the fake game's name, sample values.
fn concrete(template: &str) -> String {
    template.replace("{name}", "civ5").replace("{function}", "Sample").replace("{player}", "1")
}

/// Whether an answer is the bridge's own "no such route" (its fallback's
/// 404 or axum's 405), rather than an answer of a route that exists.
fn is_missing_route(status: u16, body: &str) -> bool {
    status == 405 || (status == 404 && body.contains("Endpoint not found"))
}

async fn send(harness: &Harness, method: Method, path: &str, body: Option<&str>) -> reqwest::Response {
    let mut request = harness.http.request(method, harness.url(path));
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_owned());
    }
    support::within("an answer", request.send()).await.expect("request")
}

#[tokio::test]
async fn the_document_is_openapi_3_and_describes_the_routes() {
    let (harness, _game) = bridge_with_a_game().await;
    let document = document(&harness).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3."), "{}", document["openapi"]);
    assert_eq!(document["info"]["title"], "gamebridge");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/",
        "/health",
        "/stats",
        "/games",
        "/shutdown",
        "/lua/call",
        "/lua/batch",
        "/lua/execute",
        "/lua/functions",
        "/external/register",
        "/external/register/{function}",
        "/external/unregister",
        "/external/functions",
        "/external/pause-player/{player}",
        "/external/paused-players",
        "/external/pause",
        "/external/resume",
        "/external/production-mode",
        "/events",
        "/events/history",
        "/metrics/prometheus",
        "/tick",
        "/observe",
        "/agents/register",
        "/metrics",
        "/tools/execute",
        "/tools/list",
        "/tools/register",
        "/experience",
        "/openapi.json",
        "/games/{name}/lua/call",
        "/games/{name}/health",
        "/games/{name}/events",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert_eq!(paths["/games/{name}/lua/call"]["parameters"][0]["name"], "name");

    let call = &paths["/lua/call"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let call = schema_check::resolve(&document, call);
    assert!(call["required"].as_array().unwrap().contains(&json!("function")), "{call}");

    let events = &paths["/events"]["get"]["responses"]["200"]["content"];
    assert!(events.get("text/event-stream").is_some(), "{events}");
    let prometheus = &paths["/metrics/prometheus"]["get"]["responses"]["200"]["content"];
    assert!(
        prometheus.as_object().unwrap().keys().all(|kind| kind.starts_with("text/plain")),
        "{prometheus}"
    );

    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(document["security"].as_array().unwrap().contains(&json!({"bearer": []})));
    assert!(document["info"]["description"].as_str().unwrap().contains("/agent"), "says what is left out");
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let (harness, _game) = bridge_with_a_game().await;
    let document = document(&harness).await;
    let missing = send(&harness, Method::GET, "/lua/nothing", None).await;
    let status = missing.status().as_u16();
    assert!(is_missing_route(status, &missing.text().await.unwrap()), "the check recognizes a missing route");

    let mut operations = operations(&document);
    assert!(operations.len() >= 40, "{} operations", operations.len());
    // Shutdown stops the bridge: last.
    operations.sort_by_key(|(_, path)| path == "/shutdown");
    for (method, template) in operations {
        let path = concrete(&template);
        let body = (method == Method::POST).then_some("{}");
        let response = send(&harness, method.clone(), &path, body).await;
        let status = response.status().as_u16();
        // Event streams never end: their headers are answer enough.
        let text = if template.ends_with("/events") { String::new() } else { response.text().await.unwrap() };
        assert!(
            !is_missing_route(status, &text),
            "{method} {path} ({template}) is not served: {status} {text}"
        );
        assert!(
            document["paths"][&template][method.as_str().to_lowercase()]["responses"]
                .get(status.to_string())
                .is_some(),
            "{method} {path} answered {status}, which its operation does not document: {text}"
        );
    }
}

/// A sample request: method, documented path, concrete path, body.
type Sample = (Method, &'static str, &'static str, Option<&'static str>);

/// Sends each sample and checks the answer against the schema the document
/// gives for the method, path and status.
async fn assert_answers_match(harness: &Harness, document: &Value, samples: &[Sample]) {
    for (method, template, path, body) in samples {
        let response = send(harness, method.clone(), path, *body).await;
        let status = response.status().as_u16().to_string();
        let answer: Value = response.json().await.unwrap_or_else(|_| panic!("{method} {path} answers JSON"));
        let operation = &document["paths"][template][method.as_str().to_lowercase()];
        assert!(operation.is_object(), "{method} {template} is documented");
        let documented = operation["responses"].get(&status);
        let documented =
            documented.unwrap_or_else(|| panic!("{method} {path}: status {status} undocumented"));
        let documented = schema_check::resolve(document, documented);
        let schema = &documented["content"]["application/json"]["schema"];
        if let Err(mismatch) = schema_check::check(document, schema, &answer) {
            panic!("{method} {path} ({status}) does not match its schema: {mismatch}\nanswer: {answer}");
        }
    }
}

#[tokio::test]
async fn vox_answers_match_their_schemas() {
    let (harness, _game) = bridge_with_a_game().await;
    let document = document(&harness).await;
    use Method as M;
    let samples: &[Sample] = &[
        (M::GET, "/", "/", None),
        (M::GET, "/health", "/health", None),
        (M::GET, "/games/{name}/health", "/games/civ5/health", None),
        (M::GET, "/games/{name}/health", "/games/nothing/health", None),
        (M::GET, "/stats", "/stats", None),
        (M::GET, "/games", "/games", None),
        (M::GET, "/lua/functions", "/lua/functions", None),
        (M::POST, "/lua/call", "/lua/call", Some(r#"{"function": "GetTurn", "args": [1]}"#)),
        (M::POST, "/lua/call", "/lua/call", Some(r#"{"args": {}}"#)),
        (M::POST, "/lua/batch", "/lua/batch", Some(r#"[{"function": "A"}, {"args": []}]"#)),
        (M::POST, "/lua/batch", "/lua/batch", Some(r#"{"calls": [{"function": "A"}], "timeout_ms": 5000}"#)),
        (M::POST, "/lua/execute", "/lua/execute", Some(r#"{"script": "return 1", "timeout_ms": 50}"#)),
        (
            M::POST,
            "/external/register",
            "/external/register",
            Some(
                r#"{"name": "Advise", "url": "http://127.0.0.1:9/advise", "async": false, "description": "d"}"#,
            ),
        ),
        (M::GET, "/external/functions", "/external/functions", None),
        (M::POST, "/external/pause-player/{player}", "/external/pause-player/3", None),
        (M::DELETE, "/external/pause-player/{player}", "/external/pause-player/3", None),
        (M::POST, "/external/pause", "/external/pause", None),
        (M::GET, "/external/paused-players", "/external/paused-players", None),
        (M::POST, "/external/resume", "/external/resume", None),
        (M::DELETE, "/external/paused-players", "/external/paused-players", None),
        (M::POST, "/external/production-mode", "/external/production-mode", Some(r#"{"enabled": true}"#)),
        (M::POST, "/external/unregister", "/external/unregister", Some(r#"{"name": "Advise"}"#)),
        (M::DELETE, "/external/register/{function}", "/external/register/Nothing", None),
        (M::GET, "/events/history", "/events/history?since=0&limit=10", None),
    ];
    assert_answers_match(&harness, &document, samples).await;
}

#[tokio::test]
async fn arena_answers_match_their_schemas() {
    let harness = Harness::start(&[("arena", "agent-arena".into())]).await;
    let document = document(&harness).await;
    use Method as M;
    let samples: &[Sample] = &[
        (
            M::POST,
            "/agents/register",
            "/agents/register",
            Some(r#"{"agent_id": "a1", "backend": {"kind": "rules"}}"#),
        ),
        (M::POST, "/agents/register", "/agents/register", Some(r#"{"backend": null}"#)),
        (
            M::POST,
            "/tick",
            "/tick",
            Some(r#"{"tick": 1, "perceptions": [{"agent_id": "a1", "tick": 1, "position": [0, 0, 0]}]}"#),
        ),
        (
            M::POST,
            "/tick",
            "/tick",
            Some(r#"{"tick": 2, "agents": [{"agent_id": "a1", "observations": {}}]}"#),
        ),
        (M::POST, "/tick", "/tick", Some(r#"{"perceptions": []}"#)),
        (M::POST, "/observe", "/observe", Some(r#"{"agent_id": "a1", "tick": 3, "observations": {}}"#)),
        (M::GET, "/tools/list", "/tools/list", None),
        (
            M::POST,
            "/tools/register",
            "/tools/register",
            Some(
                r#"{"name": "craft", "description": "Craft", "parameters": {"recipe": {"type": "string"}}}"#,
            ),
        ),
        (
            M::POST,
            "/tools/execute",
            "/tools/execute",
            Some(r#"{"tool_name": "craft", "params": {"recipe": "axe"}, "agent_id": "a1", "tick": 3}"#),
        ),
        (M::POST, "/tools/execute", "/tools/execute", Some(r#"{"tool_name": "craft", "params": {}}"#)),
        (M::POST, "/tools/execute", "/tools/execute", Some(r#"{"tool": "idle", "params": {}}"#)),
        (
            M::POST,
            "/experience",
            "/experience",
            Some(r#"{"agent_id": "a1", "tick": 3, "event_type": "damage"}"#),
        ),
        (M::POST, "/experience", "/experience", Some(r#"{"tick": 3}"#)),
        (M::GET, "/metrics", "/metrics", None),
    ];
    assert_answers_match(&harness, &document, samples).await;
}

#[tokio::test]
async fn bodies_the_bridge_accepts_match_their_request_schemas() {
    let harness = Harness::start(&[("arena", "agent-arena".into())]).await;
    let document = document(&harness).await;
    let llm = r#"{"agent_id": "a2", "backend": {"kind": "llm", "base_url": "http://127.0.0.1:8080/v1", "model": "m"}}"#;
    let bodies = [
        ("/lua/call", r#"{"function": "GetTurn", "args": [1], "timeout_ms": 500}"#),
        ("/lua/call", r#"{"function": "GetUnits", "args": {"player": 1}}"#),
        ("/lua/batch", r#"[{"function": "A"}, {"function": "B", "args": {"x": 1}}]"#),
        ("/lua/batch", r#"{"calls": [{"function": "A"}], "timeout_ms": 5000}"#),
        ("/lua/execute", r#"{"script": "return 1"}"#),
        (
            "/external/register",
            r#"{"name": "Advise", "url": "http://127.0.0.1:9/a", "async": true, "timeout": 100}"#,
        ),
        ("/external/unregister", r#"{"name": "Advise"}"#),
        ("/external/production-mode", r#"{"enabled": false}"#),
        ("/tick", r#"{"tick": 1, "perceptions": [{"agent_id": "a1", "tick": 1, "health": 50}]}"#),
        ("/tick", r#"{"tick": 2, "agents": [{"agent_id": "a1", "observations": {"x": 1}}]}"#),
        ("/observe", r#"{"agent_id": "a1", "observations": {}}"#),
        ("/agents/register", r#"{"agent_id": "a1", "backend": {"kind": "rules"}}"#),
        ("/agents/register", llm),
        ("/tools/execute", r#"{"tool_name": "idle", "params": {}}"#),
        ("/tools/execute", r#"{"tool": "idle", "params": {}}"#),
        (
            "/experience",
            r#"{"agent_id": "a1", "tick": 7, "event_type": "collision", "description": "hit a wall", "position": [1, 0, 2], "object_name": "Wall", "damage_taken": 0.0, "metadata": {}}"#,
        ),
        ("/tools/register", r#"{"name": "craft", "parameters": {"recipe": {"type": "string"}}}"#),
    ];
    let request_schema =
        |path: &str| &document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
    for (path, body) in bodies {
        let body: Value = serde_json::from_str(body).unwrap();
        if let Err(mismatch) = schema_check::check(&document, request_schema(path), &body) {
            panic!("POST {path}: {body} does not match the request schema: {mismatch}");
        }
    }
    let without_function = json!({"args": {}});
    assert!(schema_check::check(&document, request_schema("/lua/call"), &without_function).is_err());
}

#[tokio::test]
async fn the_document_needs_no_token_and_documents_the_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("unix:{}", dir.path().join("none.sock").display());
    let security = Security { token: Some("s3cret".into()), ..Security::default() };
    let harness =
        Harness::start_configured(dir, &[("civ5", spec)], |config| config.security = security).await;
    let document = document(&harness).await;
    // Without the token: the refusal matches the 401 the document gives.
    let samples: &[Sample] =
        &[(Method::GET, "/health", "/health", None), (Method::GET, "/stats", "/stats", None)];
    assert_answers_match(&harness, &document, samples).await;
    let refused = send(&harness, Method::GET, "/health", None).await;
    assert_eq!(refused.status().as_u16(), 401, "the routes still need the token");
    assert_eq!(document["paths"]["/openapi.json"]["get"]["security"], json!([{}]));
}

#[tokio::test]
async fn openapi_spec_validator_accepts_the_document() {
    let (harness, _game) = bridge_with_a_game().await;
    let text = harness.http.get(harness.url("/openapi.json")).send().await.unwrap().text().await.unwrap();
    let file = harness.dir.path().join("openapi.json");
    std::fs::write(&file, text).unwrap();

    let installed =
        std::process::Command::new("python3").args(["-c", "import openapi_spec_validator"]).output();
    assert!(
        installed.is_ok_and(|output| output.status.success()),
        "this test needs the validator from PyPI: python3 -m pip install openapi-spec-validator"
    );
    let output = tokio::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .await
        .expect("run openapi-spec-validator");
    let report =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "openapi-spec-validator refused the document:\n{report}");
    assert!(report.contains("OK"), "{report}");
}
