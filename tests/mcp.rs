//! MCP: game functions as tools for LLM agents, tested with rmcp's own
//! client over streamable HTTP (`/mcp`) and over stdio (`gamebridge mcp`).

mod support;

use std::path::Path;

use gamebridge_protocol::{ErrorBody, ErrorCode, GameMessage, RawValue, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation, ProtocolVersion,
    ReadResourceRequestParams, ResourceUpdatedNotificationParam, SubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use support::{GameConnection, Harness, SimProcess, game_event, within};
use tokio::sync::mpsc;

#[derive(Debug, PartialEq)]
enum Notice {
    ToolsChanged,
    ResourceUpdated(String),
}

struct Client(mpsc::UnboundedSender<Notice>);

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("test", "1"))
            .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        let _ = self.0.send(Notice::ToolsChanged);
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.0.send(Notice::ResourceUpdated(params.uri));
    }
}

type McpClient = RunningService<RoleClient, Client>;

async fn over_http(harness: &Harness) -> (McpClient, mpsc::UnboundedReceiver<Notice>) {
    let (notices, received) = mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_uri(harness.url("/mcp"));
    let client = within("MCP initialize", Client(notices).serve(transport)).await.expect("initialize");
    (client, received)
}

fn arguments(value: Value) -> rmcp::model::JsonObject {
    value.as_object().cloned().unwrap()
}

async fn call(client: &McpClient, tool: &str, args: Value) -> CallToolResult {
    let request = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments(args));
    within("a tool call", client.call_tool(request)).await.expect("call_tool")
}

fn text(result: &CallToolResult) -> String {
    result.content[0].as_text().map(|text| text.text.clone()).unwrap_or_default()
}

/// Answers every call the way a game would: `Fail` fails, others echo.
fn game_answering(mut connection: GameConnection) {
    tokio::spawn(async move {
        loop {
            let (id, function, args) = connection.expect_call().await;
            if function == "Fail" {
                let error = ErrorBody::new(ErrorCode::LUA_EXECUTION_ERROR, "attempt to index a nil value");
                connection.send(&GameMessage::LuaResponse(Response::from_result(id, Err(error)))).await;
            } else {
                connection.answer(id, json!({"function": function, "args": args})).await;
            }
        }
    });
}

async fn register(connection: &mut GameConnection, function: &str, parameters: Option<Value>) {
    let parameters = parameters.map(|schema| RawValue::from_string(schema.to_string()).unwrap());
    connection
        .send(&GameMessage::LuaRegister {
            function: function.into(),
            description: Some(format!("{function} doc")),
            parameters,
        })
        .await;
}

async fn tool_names(client: &rmcp::Peer<RoleClient>) -> Vec<String> {
    within("list_tools", client.list_all_tools())
        .await
        .unwrap()
        .into_iter()
        .map(|tool| tool.name.to_string())
        .collect()
}

#[tokio::test]
async fn game_functions_are_tools_over_streamable_http() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let schema = json!({"type": "object", "properties": {"city": {"type": "integer"}}, "required": ["city"]});
    register(&mut connection, "GetCity", Some(schema.clone())).await;
    register(&mut connection, "Fail", None).await;
    harness.sync(&mut connection).await;
    game_answering(connection);
    let (client, _) = over_http(&harness).await;

    let tools = within("list_tools", client.list_all_tools()).await.unwrap();
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    for expected in [
        "GetCity",
        "Fail",
        "call_function",
        "execute_lua",
        "list_functions",
        "get_events",
        "pause_player",
        "resume_player",
        "game_status",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let get_city = tools.iter().find(|tool| tool.name == "GetCity").unwrap();
    assert_eq!(Value::Object((*get_city.input_schema).clone()), schema, "the game's schema is the tool's");
    assert_eq!(get_city.description.as_deref(), Some("GetCity doc"));

    let result = call(&client, "GetCity", json!({"city": 7})).await;
    assert_eq!(result.is_error, Some(false));
    assert_eq!(result.structured_content, Some(json!({"function": "GetCity", "args": {"city": 7}})));
    let failed = call(&client, "Fail", json!({"args": [1]})).await;
    assert_eq!(failed.is_error, Some(true));
    assert_eq!(text(&failed), "LUA_EXECUTION_ERROR: attempt to index a nil value");
    let generic = call(&client, "call_function", json!({"function": "Anything", "args": [1, 2]})).await;
    assert_eq!(generic.structured_content, Some(json!({"function": "Anything", "args": [1, 2]})));
    let status = call(&client, "game_status", json!({})).await;
    assert_eq!(status.structured_content.unwrap()["games"][0]["name"], "civ5");
    let bad = call(&client, "pause_player", json!({"player_id": 99})).await;
    assert_eq!(bad.is_error, Some(true));
    assert!(text(&bad).starts_with("INVALID_ARGUMENTS"));
}

#[tokio::test]
async fn clients_hear_when_the_tool_list_changes() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let (client, mut notices) = over_http(&harness).await;
    assert!(!tool_names(&client).await.contains(&"EndTurn".to_owned()));
    register(&mut connection, "EndTurn", None).await;
    assert_eq!(within("tools/list_changed", notices.recv()).await, Some(Notice::ToolsChanged));
    assert!(tool_names(&client).await.contains(&"EndTurn".to_owned()));
}

#[tokio::test]
async fn events_are_a_resource_clients_subscribe_to() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let (client, mut notices) = over_http(&harness).await;
    let resources = within("list_resources", client.list_all_resources()).await.unwrap();
    assert_eq!(resources[0].uri, "gamebridge://events/recent");
    #[allow(deprecated)]
    within("subscribe", client.subscribe(SubscribeRequestParams::new("gamebridge://events/recent")))
        .await
        .unwrap();
    connection.send(&game_event("TurnStart", json!({"turn": 9}))).await;
    loop {
        if within("resources/updated", notices.recv()).await
            == Some(Notice::ResourceUpdated("gamebridge://events/recent".into()))
        {
            break;
        }
    }
    let read = within(
        "read_resource",
        client.read_resource(ReadResourceRequestParams::new("gamebridge://events/recent")),
    )
    .await
    .unwrap();
    let rmcp::model::ResourceContents::TextResourceContents { text, .. } = &read.contents[0] else {
        panic!("text contents")
    };
    let events: Value = serde_json::from_str(text).unwrap();
    let types: Vec<&str> =
        events["events"].as_array().unwrap().iter().map(|event| event["type"].as_str().unwrap()).collect();
    assert!(types.contains(&"TurnStart"), "{types:?}");
    let recent = call(&client, "get_events", json!({"types": "TurnStart"})).await;
    assert_eq!(recent.structured_content.unwrap()["events"][0]["data"]["payload"], json!({"turn": 9}));
}

#[tokio::test]
async fn with_several_games_tools_are_prefixed_by_the_game() {
    let (harness, _games, mut civ, mut lab) = Harness::with_two_games().await;
    register(&mut civ, "GetCity", None).await;
    register(&mut lab, "Reset", None).await;
    harness.sync(&mut civ).await;
    harness.sync_game("lab", &mut lab).await;
    let (client, _) = over_http(&harness).await;
    let names = tool_names(&client).await;
    assert!(
        names.contains(&"civ5_GetCity".to_owned()) && names.contains(&"lab_Reset".to_owned()),
        "{names:?}"
    );
    game_answering(lab);
    let reset = call(&client, "lab_Reset", json!({"args": {"hard": true}})).await;
    assert_eq!(reset.structured_content, Some(json!({"function": "Reset", "args": {"hard": true}})));
}

#[tokio::test]
async fn the_tf2_manifest_gives_typed_tools_that_reach_the_mod() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("tf2");
    let runs = dir.path().join("runs.log");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/tf2.json");
    let spec = format!("mailbox:{}?legacy&manifest={}", prefix.display(), manifest.display());
    let harness = Harness::start_in(dir, &[("tf2", spec)]).await;
    harness.wait_connected("tf2").await;
    let _game = SimProcess::start("tf2_mod.lua", &[("TF2_PREFIX", &prefix), ("TF2_RUNS", &runs)]);
    let (client, _) = over_http(&harness).await;
    let tools = within("list_tools", client.list_all_tools()).await.unwrap();
    assert!(tools.len() >= 50 + 7, "the whole catalogue and the generic tools: {}", tools.len());
    let set_speed = tools.iter().find(|tool| tool.name == "set_speed").unwrap();
    assert_eq!(set_speed.input_schema["required"], json!(["speed"]));
    assert_eq!(set_speed.input_schema["properties"]["speed"]["maximum"], 4);
    let pong = call(&client, "ping", json!({})).await;
    assert_eq!(text(&pong), "\"pong\"");
    let state = call(&client, "query_game_state", json!({})).await;
    assert_eq!(state.structured_content.unwrap()["year"], "1855");
}

#[tokio::test]
async fn the_stdio_server_forwards_to_the_bridge() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    register(&mut connection, "GetCity", None).await;
    harness.sync(&mut connection).await;
    let url = harness.bridge.url();
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gamebridge")).configure(|command| {
        command.args(["-q", "mcp", "--url", &url]);
    });
    let (notices, mut received) = mpsc::unbounded_channel();
    let client = within("stdio initialize", Client(notices).serve(TokioChildProcess::new(command).unwrap()))
        .await
        .unwrap();
    assert!(tool_names(&client).await.contains(&"GetCity".to_owned()));
    let answering = async {
        let (id, function, args) = connection.expect_call().await;
        connection.answer(id, json!({"function": function, "args": args})).await;
        connection
    };
    let (result, mut connection) = tokio::join!(call(&client, "GetCity", json!({"args": [3]})), answering);
    assert_eq!(result.structured_content, Some(json!({"function": "GetCity", "args": [3]})));
    register(&mut connection, "EndTurn", None).await;
    assert_eq!(within("forwarded list_changed", received.recv()).await, Some(Notice::ToolsChanged));
}

/// A client of the 2026-07-28 protocol: `server/discover`, no session, no
/// `initialize`; notifications come only through `subscriptions/listen`.
struct SessionlessClient;

impl ClientHandler for SessionlessClient {}

fn discover() -> rmcp::service::ClientLifecycleMode {
    rmcp::service::ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] }
}

#[tokio::test]
async fn sessionless_clients_listen_for_tool_list_changes_and_new_events() {
    let (harness, _game, connection) = Harness::with_one_game().await;
    let transport = StreamableHttpClientTransport::from_uri(harness.url("/mcp"));
    let client =
        within("MCP discovery", rmcp::serve_client_with_lifecycle(SessionlessClient, transport, discover()))
            .await
            .expect("server/discover");
    listening_hears_tools_and_events(&client, connection).await;
}

#[tokio::test]
async fn the_stdio_server_relays_subscriptions_of_sessionless_clients() {
    let (harness, _game, connection) = Harness::with_one_game().await;
    let url = harness.bridge.url();
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gamebridge")).configure(|command| {
        command.args(["-q", "mcp", "--url", &url]);
    });
    let transport = TokioChildProcess::new(command).unwrap();
    let client = within(
        "stdio discovery",
        rmcp::serve_client_with_lifecycle(SessionlessClient, transport, discover()),
    )
    .await
    .expect("server/discover");
    listening_hears_tools_and_events(&client, connection).await;
}

/// `subscriptions/listen` for the tool list and the events: acknowledged
/// for what is offered, then a notice for a new function and a new event.
async fn listening_hears_tools_and_events(client: &rmcp::Peer<RoleClient>, mut connection: GameConnection) {
    let filter = rmcp::model::SubscriptionFilter::builder()
        .tools_list_changed()
        .resource_subscription("gamebridge://events/recent")
        .resource_subscription("gamebridge://not-offered")
        .build();
    let mut subscription = within("subscriptions/listen", client.listen(filter)).await.expect("listen");
    assert_eq!(
        subscription.acknowledged().resource_subscriptions.as_deref(),
        Some(&["gamebridge://events/recent".to_owned()][..]),
        "only the events resource is offered"
    );

    register(&mut connection, "EndTurn", None).await;
    let notice = within("tools/list_changed", subscription.next()).await.expect("a notification");
    assert!(
        matches!(notice, Some(rmcp::model::ServerNotification::ToolListChangedNotification(_))),
        "{notice:?}"
    );
    assert!(tool_names(client).await.contains(&"EndTurn".to_owned()));

    connection.send(&game_event("TurnStart", json!({"turn": 9}))).await;
    let notice = within("resources/updated", subscription.next()).await.expect("a notification");
    let Some(rmcp::model::ServerNotification::ResourceUpdatedNotification(updated)) = notice else {
        panic!("expected resources/updated, got {notice:?}")
    };
    assert_eq!(updated.params.uri, "gamebridge://events/recent");
}

/// Arguments that do not match a tool's `inputSchema` are a tool error that
/// says what to fix, and the game is not called: the next call it sees is
/// the first valid one.
#[tokio::test]
async fn arguments_are_checked_against_the_tools_schema_before_the_game_is_called() {
    let (harness, _game, mut connection) = Harness::with_one_game().await;
    let schema = json!({"type": "object", "required": ["x", "y"],
        "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}});
    register(&mut connection, "MoveUnit", Some(schema)).await;
    harness.sync(&mut connection).await;
    let (client, _) = over_http(&harness).await;

    let missing = call(&client, "MoveUnit", json!({"x": 3})).await;
    assert_eq!(missing.is_error, Some(true));
    let message = text(&missing);
    assert!(message.starts_with("INVALID_ARGUMENTS: "), "{message}");
    assert!(message.contains("\"y\" is a required property"), "names the missing field: {message}");
    let wrong = call(&client, "MoveUnit", json!({"x": "three", "y": 4})).await;
    assert!(text(&wrong).contains("at /x: \"three\" is not of type \"integer\""), "{}", text(&wrong));

    let lots = call(&client, "get_events", json!({"limit": "lots"})).await;
    assert_eq!(lots.is_error, Some(true));
    assert!(text(&lots).contains("at /limit: \"lots\" is not of type \"integer\""), "{}", text(&lots));
    let too_many = call(&client, "pause_player", json!({"player_id": 64})).await;
    assert!(
        text(&too_many).contains("at /player_id: 64 is greater than the maximum of 63"),
        "{}",
        text(&too_many)
    );

    let valid = async {
        let (id, function, args) = connection.expect_call().await;
        connection.answer(id, json!({"function": function, "args": args})).await;
        (function, args)
    };
    let (moved, seen) = tokio::join!(call(&client, "MoveUnit", json!({"x": 3, "y": 4})), valid);
    assert_eq!(
        seen,
        ("MoveUnit".to_owned(), json!({"x": 3, "y": 4})),
        "the refused calls never reached the game"
    );
    assert_eq!(moved.is_error, Some(false));
}

/// Tools say what they do: the generic tools' hints, and what a manifest
/// declares (the TF2 manifest's hints and an output schema).
#[tokio::test]
async fn tools_carry_annotations_and_the_manifests_output_schema() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let (client, _) = over_http(&harness).await;
    let tools = within("list_tools", client.list_all_tools()).await.unwrap();
    let annotations = |name: &str| {
        let tool = tools.iter().find(|tool| tool.name == name).unwrap_or_else(|| panic!("{name} listed"));
        serde_json::to_value(tool.annotations.clone().unwrap_or_default()).unwrap()
    };
    for read_only in ["list_functions", "get_events", "game_status"] {
        assert_eq!(annotations(read_only)["readOnlyHint"], true, "{read_only}");
    }
    assert_eq!(annotations("execute_lua")["destructiveHint"], true);
    assert_eq!(annotations("execute_lua")["readOnlyHint"], false);
    assert_eq!(annotations("pause_player")["idempotentHint"], true);
    let get_events = tools.iter().find(|tool| tool.name == "get_events").unwrap();
    assert_eq!(get_events.input_schema["properties"]["game"]["type"], "string", "get_events takes a game");

    let dir = tempfile::tempdir().unwrap();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/tf2.json");
    let spec = format!("mailbox:{}?legacy&manifest={}", dir.path().join("tf2").display(), manifest.display());
    let tf2 = Harness::start_in(dir, &[("tf2", spec)]).await;
    let (client, _) = over_http(&tf2).await;
    let tools = within("list_tools", client.list_all_tools()).await.unwrap();
    let tool = |name: &str| tools.iter().find(|tool| tool.name == name).unwrap().clone();
    assert_eq!(tool("query_towns").annotations.unwrap().read_only_hint, Some(true));
    assert_eq!(tool("delete_line").annotations.unwrap().destructive_hint, Some(true));
    assert_eq!(tool("set_speed").annotations.unwrap().idempotent_hint, Some(true));
    let state = tool("query_game_state");
    assert_eq!(
        state.output_schema.expect("an output schema")["properties"]["year"]["description"],
        "The current year"
    );
}

/// `get_events {game}` gives that game's events only; the events resource
/// reads back as the JSON it is listed as.
#[tokio::test]
async fn events_are_filtered_by_game_and_read_back_as_json() {
    let (harness, _games, mut civ, mut lab) = Harness::with_two_games().await;
    civ.send(&game_event("CivTurn", json!({"turn": 1}))).await;
    lab.send(&game_event("LabTick", json!({"tick": 2}))).await;
    harness.sync(&mut civ).await;
    // Once the lab has answered a call, the bridge has its earlier event too.
    harness.sync_game("lab", &mut lab).await;
    let (client, _) = over_http(&harness).await;
    let types = |result: CallToolResult| -> Vec<String> {
        let events = result.structured_content.unwrap()["events"].as_array().unwrap().clone();
        events.iter().map(|event| event["type"].as_str().unwrap().to_owned()).collect()
    };
    let civ_only = types(call(&client, "get_events", json!({"game": "civ5"})).await);
    assert!(
        civ_only.contains(&"CivTurn".to_owned()) && !civ_only.contains(&"LabTick".to_owned()),
        "{civ_only:?}"
    );
    let lab_only = types(call(&client, "get_events", json!({"game": "lab"})).await);
    assert!(
        lab_only.contains(&"LabTick".to_owned()) && !lab_only.contains(&"CivTurn".to_owned()),
        "{lab_only:?}"
    );
    let unknown = call(&client, "get_events", json!({"game": "nope"})).await;
    assert_eq!(unknown.is_error, Some(true));

    let listed = within("list_resources", client.list_all_resources()).await.unwrap();
    assert_eq!(listed[0].mime_type.as_deref(), Some("application/json"));
    let read = within(
        "read_resource",
        client.read_resource(ReadResourceRequestParams::new("gamebridge://events/recent")),
    )
    .await
    .unwrap();
    let rmcp::model::ResourceContents::TextResourceContents { mime_type, .. } = &read.contents[0] else {
        panic!("text contents")
    };
    assert_eq!(mime_type.as_deref(), Some("application/json"), "read back as it is listed");
}

/// Ending a session (`DELETE /mcp`) answers 204, as the TypeScript SDK
/// expects (it reports 202 as a failed termination).
#[tokio::test]
async fn ending_a_session_answers_no_content() {
    let (harness, _game, _connection) = Harness::with_one_game().await;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}});
    let response = harness
        .http
        .post(harness.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let session = response.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let deleted = harness
        .http
        .delete(harness.url("/mcp"))
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
}

/// With no bridge listening, `gamebridge mcp` says so in one line and
/// exits non-zero.
#[tokio::test]
async fn the_stdio_server_says_plainly_when_the_bridge_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_gamebridge"))
        .args(["mcp", "--url", &url])
        .stdin(std::process::Stdio::null())
        .output();
    let output = within("gamebridge mcp to give up", output).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(&format!("could not reach the bridge at {url}: ")), "{stderr}");
    assert!(stderr.contains("; is `gamebridge serve` running?"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn the_tools_of_a_game_on_another_fleet_node_are_listed_and_called_here() {
    let server = support::nats::NatsServer::start().await;
    let (_a, _game, mut connection) = support::fleet::civ5_node(&server).await;
    register(&mut connection, "GetCity", None).await;
    game_answering(connection);
    let b = support::fleet::agent_node(&server, "box-b").await;
    let (client, mut notices) = over_http(&b).await;
    // The tool arrives with the game's hello; the list says when it changed.
    while !tool_names(&client).await.contains(&"GetCity".to_owned()) {
        within("the tool list to change", notices.recv()).await.unwrap();
    }
    let result = call(&client, "GetCity", json!({"city": 3})).await;
    assert_ne!(result.is_error, Some(true), "{result:?}");
    assert!(text(&result).contains("GetCity"), "answered by the game on box-a: {}", text(&result));
}
