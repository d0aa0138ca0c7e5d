//! The official Python MCP SDK (PyPI `mcp`) as the client, in its default
//! mode (protocol revision 2026-07-28 when offered), over streamable HTTP
//! (`/mcp`) and over stdio (`gamebridge mcp`): both must give it the same,
//! valid results. The client is tests/mcp_sdk/python_client.py. Needs
//! python3 with the `mcp` package: CI installs it (.ci/deps); elsewhere the
//! test is skipped without it.

mod support;

use std::path::Path;

use gamebridge_protocol::{GameMessage, RawValue};
use serde_json::{Value, json};
use support::{GameConnection, Harness};

/// A game with one typed function, `GetCity {city: integer}`, that echoes
/// every call.
async fn game_with_get_city() -> (Harness, support::FakeGame, tokio::task::JoinHandle<()>) {
    let (harness, game, mut connection) = Harness::with_one_game().await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "integer"}}, "required": ["city"]});
    register(&mut connection, "GetCity", schema).await;
    harness.sync(&mut connection).await;
    (harness, game, connection.echo_forever())
}

async fn register(connection: &mut GameConnection, function: &str, schema: Value) {
    let parameters = Some(RawValue::from_string(schema.to_string()).unwrap());
    let description = Some(format!("{function} doc"));
    connection.send(&GameMessage::LuaRegister { function: function.into(), description, parameters }).await;
}

/// Runs the SDK client with `target` (`--url …` or `--stdio …`); its report.
async fn python_client(target: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_sdk/python_client.py");
    let output = tokio::process::Command::new("python3").arg(script).args(target).kill_on_drop(true).output();
    // Python and the SDK take a few seconds to start on a loaded machine.
    let output = tokio::time::timeout(support::STEP * 3, output)
        .await
        .expect("the Python client finishes")
        .expect("python3 runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the Python SDK client failed:\n{stderr}");
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("one JSON report, got {stdout}\n{stderr}"))
}

/// What every transport must give the SDK client.
fn check(report: &Value, transport: &str) {
    assert_eq!(report["protocol_version"], "2026-07-28", "{transport}: the SDK's default revision");
    let tools = report["tools"].as_object().unwrap();
    for name in ["GetCity", "call_function", "list_functions", "get_events", "game_status"] {
        assert!(tools.contains_key(name), "{transport}: {name} listed");
    }
    assert_eq!(tools["GetCity"]["inputSchema"]["required"], json!(["city"]), "{transport}");
    assert_eq!(report["call"]["isError"], false, "{transport}: {}", report["call"]);
    assert_eq!(
        report["call"]["structuredContent"],
        json!({"function": "GetCity", "args": {"city": 7}}),
        "{transport}"
    );
    assert_eq!(report["refused"]["isError"], true, "{transport}: a city must be an integer");
    let refusal = report["refused"]["content"][0]["text"].as_str().unwrap();
    assert!(refusal.contains("at /city: \"seven\" is not of type \"integer\""), "{transport}: {refusal}");
    assert_eq!(report["resources"][0]["uri"], "gamebridge://events/recent", "{transport}");
    assert!(report["read"][0]["text"].as_str().unwrap().contains("\"events\""), "{transport}");
}

#[tokio::test]
async fn the_python_sdk_works_over_streamable_http() {
    if !support::python_with("mcp.client") {
        return;
    }
    let (harness, _game, _echo) = game_with_get_city().await;
    let report = python_client(&["--url", &harness.url("/mcp")]).await;
    check(&report, "/mcp");
}

#[tokio::test]
async fn the_python_sdk_works_over_the_stdio_proxy() {
    if !support::python_with("mcp.client") {
        return;
    }
    let (harness, _game, _echo) = game_with_get_city().await;
    let url = harness.bridge.url();
    let proxy = env!("CARGO_BIN_EXE_gamebridge");
    let report = python_client(&["--stdio", proxy, "-q", "mcp", "--url", &url]).await;
    check(&report, "gamebridge mcp");
}
