//! MCP: every game function as a tool for LLM agents, over streamable HTTP
//! at `/mcp` (the `gamebridge mcp` command bridges it to stdio).
//!
//! Tools are built at each listing from the hub: one per game function, with
//! its description and JSON-Schema input when the game or a manifest gave
//! one (`{args}` otherwise), prefixed by the game's name when several games
//! are served; and the generic tools `call_function`, `execute_lua`,
//! `list_functions`, `get_events`, `pause_player`, `resume_player`,
//! `game_status`. A game error is a tool error carrying its code and message.
//! Clients hear `tools/list_changed` when functions come and go, and
//! `resources/updated` for the event resource they subscribed to.
//! Arguments are checked against the tool's `inputSchema` first
//! ([`arguments`]).

mod arguments;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::Duration;

use gamebridge_hub::Game;
use gamebridge_protocol::{CallResult, RawValue};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, JsonObject,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceUpdatedNotificationParam,
    ServerCapabilities, ServerConfig, SubscribeRequestParams, SubscriptionFilter, Tool, ToolAnnotations,
    UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::ApiState;
use arguments::FunctionSchemas;

/// The resource holding recent events.
pub const EVENTS_URI: &str = "gamebridge://events/recent";
/// Events the resource and `get_events` return at most.
const RECENT_EVENTS: usize = 100;

/// Generic tools, always offered.
const GENERIC: &[&str] = &[
    "call_function",
    "execute_lua",
    "list_functions",
    "get_events",
    "pause_player",
    "resume_player",
    "game_status",
];

/// One MCP client session.
#[derive(Default)]
struct Session {
    peer: Mutex<Option<Peer<RoleServer>>>,
    subscriptions: Mutex<HashSet<String>>,
}

/// Every live session, to notify them.
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<Vec<Weak<Session>>>>);

impl Sessions {
    fn peers(&self) -> Vec<(Arc<Session>, Peer<RoleServer>)> {
        let mut sessions = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        sessions.retain(|session| session.strong_count() > 0);
        sessions
            .iter()
            .filter_map(Weak::upgrade)
            .filter_map(|session| {
                let peer = session.peer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()?;
                (!peer.is_transport_closed()).then_some((session, peer))
            })
            .collect()
    }
}

/// The `/mcp` service, for the API router.
pub fn service(state: ApiState, sessions: Sessions) -> StreamableHttpService<GameMcp, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default().with_cancellation_token(state.shutdown.child_token());
    let schemas = Arc::new(FunctionSchemas::default());
    StreamableHttpService::new(
        move || {
            Ok(GameMcp {
                state: state.clone(),
                sessions: sessions.clone(),
                session: Arc::default(),
                schemas: schemas.clone(),
            })
        },
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// `DELETE /mcp` ends a session; rmcp answers 202 Accepted, which the
/// TypeScript SDK (the Inspector, many clients) takes for a failure ("Session
/// termination failed: 202": it expects 200 or 204). The session is gone
/// by then, so the answer is 204 No Content.
pub async fn session_ended_no_content(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let delete = request.method() == axum::http::Method::DELETE;
    let mut response = next.run(request).await;
    if delete && response.status() == axum::http::StatusCode::ACCEPTED {
        *response.status_mut() = axum::http::StatusCode::NO_CONTENT;
        *response.body_mut() = axum::body::Body::empty();
        response.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
    }
    response
}

/// Tells the sessions that subscribed the old way (`resources/subscribe`,
/// and every session for the tool list) what changed. Sessionless clients of
/// the 2026-07-28 protocol follow the same changes through `listen`.
pub async fn notify(state: ApiState, sessions: Sessions) {
    let mut changes = Changes::follow(&state);
    loop {
        let change = tokio::select! {
            change = changes.next() => change,
            () = state.shutdown.cancelled() => return,
        };
        match change {
            Some(Change::Tools) => {
                for (_, peer) in sessions.peers() {
                    let _ = peer.notify_tool_list_changed().await;
                }
            }
            Some(Change::Events) => {
                for (session, peer) in sessions.peers() {
                    let subscribed = session
                        .subscriptions
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .contains(EVENTS_URI);
                    if subscribed {
                        let _ = peer
                            .notify_resource_updated(ResourceUpdatedNotificationParam::new(EVENTS_URI))
                            .await;
                    }
                }
            }
            None => return,
        }
    }
}

/// What MCP clients hear about.
enum Change {
    /// The tool list changed (a game registered or dropped functions).
    Tools,
    /// New events arrived (the events resource changed).
    Events,
}

/// The bridge's changes, one at a time, for one listener.
struct Changes {
    functions: tokio::sync::watch::Receiver<u64>,
    events: gamebridge_hub::EventCursor,
}

impl Changes {
    fn follow(state: &ApiState) -> Self {
        Self { functions: state.hub.function_changes(), events: state.hub.events().subscribe(None) }
    }

    /// The next change; `None` once the bridge is going away.
    async fn next(&mut self) -> Option<Change> {
        tokio::select! {
            changed = self.functions.changed() => {
                changed.ok()?;
                // Registrations come in bursts; one notice for the burst.
                tokio::time::sleep(Duration::from_millis(20)).await;
                self.functions.borrow_and_update();
                Some(Change::Tools)
            }
            _ = self.events.next(RECENT_EVENTS) => Some(Change::Events),
        }
    }
}

/// The MCP server of one session.
pub struct GameMcp {
    state: ApiState,
    sessions: Sessions,
    session: Arc<Session>,
    /// Game functions' compiled input schemas, shared by the sessions.
    schemas: Arc<FunctionSchemas>,
}

impl GameMcp {
    fn register(&self, peer: Peer<RoleServer>) {
        let mut slot = self.session.peer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.is_none() {
            *slot = Some(peer);
            self.sessions
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(Arc::downgrade(&self.session));
        }
    }

    /// A tool per game function, named for MCP.
    fn function_tools(&self) -> Vec<Tool> {
        let games = self.state.hub.games();
        let prefixed = games.len() > 1;
        let mut tools = Vec::new();
        for game in games.iter() {
            for function in game.functions().list() {
                let Some(name) = function_tool_name(game, &function.name, prefixed) else {
                    continue;
                };
                let description = function
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("The game function {}", function.name));
                let description =
                    if prefixed { format!("[{}] {description}", game.name()) } else { description };
                // A typed tool takes the function's own arguments; any other takes them in `args`.
                let schema = match &function.parameters {
                    Some(Value::Object(schema)) => schema.clone(),
                    _ => object(json!({"type": "object", "properties": {
                        "args": {"description": "The function's arguments, any JSON (an array is passed positionally)"}
                    }})),
                };
                let mut tool = Tool::new(name, description, Arc::new(schema));
                // What a manifest says of the function: hints for the client, the result's schema.
                tool.annotations =
                    function.annotations.and_then(|annotations| serde_json::from_value(annotations).ok());
                tool.output_schema = match function.output_schema {
                    Some(Value::Object(schema)) => Some(Arc::new(schema)),
                    _ => None,
                };
                tools.push(tool);
            }
        }
        tools
    }

    /// The game and function the tool `name` stands for, and whether the
    /// tool's arguments are the function's own (typed), found without
    /// building the tool list and cloning every schema.
    fn find_function(&self, name: &str) -> Option<(Arc<Game>, String, bool)> {
        let games = self.state.hub.games();
        let prefixed = games.len() > 1;
        games.iter().find_map(|game| {
            let function = (game.functions().names().into_iter())
                .find(|function| function_tool_name(game, function, prefixed).as_deref() == Some(name))?;
            let typed = game.functions().is_typed(&function);
            Some((game.clone(), function, typed))
        })
    }

    fn generic_tools(&self) -> Vec<Tool> {
        generic_definitions()
            .into_iter()
            .filter(|(name, ..)| *name != "execute_lua" || !self.state.security.no_execute)
            .map(|(name, description, schema)| {
                Tool::new(name, description, Arc::new(object(schema)))
                    .with_annotations(generic_annotations(name))
            })
            .collect()
    }

    fn game(&self, args: &JsonObject) -> Result<Arc<Game>, String> {
        match args.get("game").and_then(Value::as_str) {
            Some(name) => {
                self.state.hub.game(name).ok_or_else(|| format!("NOT_FOUND: no game named '{name}'"))
            }
            None => {
                self.state.hub.default_game().ok_or_else(|| "NOT_FOUND: no game is configured".to_owned())
            }
        }
    }

    async fn call_generic(&self, name: &str, args: &JsonObject) -> Result<Value, String> {
        let timeout = self.state.default_timeout;
        match name {
            "call_function" => {
                let function = args
                    .get("function")
                    .and_then(Value::as_str)
                    .ok_or("INVALID_ARGUMENTS: function is required")?;
                let raw = raw(args.get("args").unwrap_or(&json!({})));
                outcome(self.game(args)?.call(function.to_owned(), raw, timeout).await)
            }
            "execute_lua" if self.state.security.no_execute => {
                Err("INVALID_SCRIPT: script execution is disabled on this bridge (--no-execute)".to_owned())
            }
            "execute_lua" => {
                let script =
                    args.get("script").and_then(Value::as_str).ok_or("INVALID_SCRIPT: script is required")?;
                outcome(self.game(args)?.execute(script.to_owned(), timeout).await)
            }
            "list_functions" => Ok(json!({ "functions": self.game(args)?.functions().list() })),
            "get_events" => {
                let since = args.get("since").and_then(Value::as_u64);
                let limit =
                    args.get("limit").and_then(Value::as_u64).unwrap_or(RECENT_EVENTS as u64).clamp(1, 1000)
                        as usize;
                let types = args.get("types").and_then(Value::as_str).map(str::to_owned);
                // A game that does not exist is an error, not an empty list.
                let game = match args.get("game") {
                    Some(_) => Some(self.game(args)?.name().to_owned()),
                    None => None,
                };
                Ok(self.recent_events(since, limit, types, game).await)
            }
            "pause_player" | "resume_player" => {
                let player = args
                    .get("player_id")
                    .and_then(Value::as_i64)
                    .filter(|id| gamebridge_hub::PLAYER_IDS.contains(id));
                let player = player.ok_or("INVALID_ARGUMENTS: player_id must be an integer from 0 to 63")?;
                let game = self.game(args)?;
                let players = game.set_player_paused(player, name == "pause_player");
                game.control_written().await;
                Ok(json!({ "pausedPlayers": players }))
            }
            "game_status" => {
                let games: Vec<_> = self.state.hub.games().iter().map(|game| game.status()).collect();
                Ok(json!({ "games": games, "uptime": self.state.hub.uptime().as_secs() }))
            }
            _ => Err(format!("INVALID_FUNCTION: no tool named {name}")),
        }
    }

    /// Events after `since` (or the most recent ones), filtered by type and
    /// game. `limit` counts events read from the log, before the filters.
    async fn recent_events(
        &self,
        since: Option<u64>,
        limit: usize,
        types: Option<String>,
        game: Option<String>,
    ) -> Value {
        let log = self.state.hub.events().clone();
        let since = since.unwrap_or_else(|| log.latest().saturating_sub(limit as u64));
        let events = tokio::task::spawn_blocking(move || log.read(since, limit).0).await.unwrap_or_default();
        let types: Option<HashSet<String>> =
            types.map(|list| list.split(',').map(|kind| kind.trim().to_owned()).collect());
        let events: Vec<Value> = events
            .iter()
            .filter(|event| types.as_ref().is_none_or(|types| types.contains(&event.event_type)))
            .filter(|event| game.as_deref().is_none_or(|game| *event.game == *game))
            .map(|event| json!({ "seq": event.seq, "game": &*event.game, "type": event.event_type, "data": event.data_json() }))
            .collect();
        json!({ "events": events, "latest": self.state.hub.events().latest() })
    }
}

impl ServerHandler for GameMcp {
    fn get_info(&self) -> ServerConfig {
        server_config()
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.register(context.peer);
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut tools = self.function_tools();
        tools.extend(self.generic_tools());
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let generic = self.generic_tools().into_iter().find(|tool| tool.name == name);
        generic.or_else(|| self.function_tools().into_iter().find(|tool| tool.name == name))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.unwrap_or_default());
        let name = request.name.as_ref();
        let answer = if GENERIC.contains(&name) {
            match GENERIC_SCHEMAS.get(name).map(|schema| arguments::check(schema, name, &args)) {
                Some(Err(refused)) => Err(refused),
                _ => self.call_generic(name, args.as_object().expect("an object")).await,
            }
        } else {
            let Some((game, function, typed)) = self.find_function(name) else {
                return Err(ErrorData::invalid_params(format!("unknown tool: {name}"), None));
            };
            // A typed tool's arguments are the function's; otherwise they are in `args`.
            if typed {
                match self.schemas.check(&self.state.hub, &game, &function, name, &args) {
                    Ok(()) => outcome(game.call(function, raw(&args), self.state.default_timeout).await),
                    Err(refused) => Err(refused),
                }
            } else {
                let call_args = args.get("args").cloned().unwrap_or(json!({}));
                outcome(game.call(function, raw(&call_args), self.state.default_timeout).await)
            }
        };
        let result = match answer {
            Ok(Value::Object(object)) => CallToolResult::structured(Value::Object(object)),
            Ok(value) => CallToolResult::success(vec![ContentBlock::text(value.to_string())]),
            Err(error) => CallToolResult::error(vec![ContentBlock::text(error)]),
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let events = Resource::new(EVENTS_URI, "recent-events")
            .with_description("The latest game events (JSON); subscribe to hear of new ones")
            .with_mime_type("application/json");
        Ok(ListResourcesResult::with_all_items(vec![events]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri != EVENTS_URI {
            return Err(ErrorData::resource_not_found(format!("no such resource: {}", request.uri), None));
        }
        let events = self.recent_events(None, RECENT_EVENTS, None, None).await;
        // The same type `resources/list` gives (`text` would say text/plain).
        let contents = ResourceContents::TextResourceContents {
            uri: EVENTS_URI.into(),
            mime_type: Some("application/json".into()),
            text: events.to_string(),
            meta: None,
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    /// Sessionless clients (protocol 2026-07-28) may follow the tool list
    /// and the events resource.
    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        Some(requested.intersection(&offered_subscriptions()))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let failed =
            |error: rmcp::service::SubscriptionSendError| ErrorData::internal_error(error.to_string(), None);
        let mut changes = Changes::follow(&self.state);
        loop {
            let change = tokio::select! {
                change = changes.next() => change,
                () = context.cancelled() => return Ok(()),
                () = self.state.shutdown.cancelled() => return Ok(()),
            };
            // The sink drops what the client did not ask for.
            match change {
                Some(Change::Tools) if context.accepted().tools_list_changed == Some(true) => {
                    context.sink().notify_tool_list_changed().await.map_err(failed)?;
                }
                Some(Change::Events) if subscribed_to_events(context.accepted()) => {
                    context.sink().notify_resource_updated(EVENTS_URI).await.map_err(failed)?;
                }
                Some(_) => {}
                None => return Ok(()),
            }
        }
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.register(context.peer);
        self.session
            .subscriptions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(request.uri);
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session
            .subscriptions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&request.uri);
        Ok(())
    }
}

/// The generic tools: name, description, input schema.
fn generic_definitions() -> [(&'static str, &'static str, Value); 7] {
    let game = json!({"type": "string", "description": "Which game, when several are served"});
    let player = json!({"type": "integer", "minimum": 0, "maximum": 63});
    [
        (
            "call_function",
            "Call a game function by name",
            json!({"type": "object", "properties": {
            "function": {"type": "string"}, "args": {"description": "Arguments, any JSON"}, "game": game},
            "required": ["function"]}),
        ),
        (
            "execute_lua",
            "Run a Lua script in the game and return its result",
            json!({"type": "object",
            "properties": {"script": {"type": "string"}, "game": game}, "required": ["script"]}),
        ),
        (
            "list_functions",
            "The game's functions with their descriptions and parameters",
            json!({"type": "object", "properties": {"game": game}}),
        ),
        (
            "get_events",
            "Recent game events, oldest first",
            json!({"type": "object", "properties": {
            "since": {"type": "integer", "description": "Only events after this sequence number"},
            "types": {"type": "string", "description": "Comma-separated event types"},
            "game": {"type": "string", "description": "Only this game's events"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 1000}}}),
        ),
        (
            "pause_player",
            "Pause the game whenever this player's turn comes",
            json!({"type": "object", "properties": {"player_id": player, "game": game}, "required": ["player_id"]}),
        ),
        (
            "resume_player",
            "Stop pausing the game on this player's turn",
            json!({"type": "object", "properties": {"player_id": player, "game": game}, "required": ["player_id"]}),
        ),
        (
            "game_status",
            "Every game: link, state, functions, pending calls",
            json!({"type": "object", "properties": {}}),
        ),
    ]
}

/// What each generic tool does to the game, for clients that ask before
/// running a tool: the three that only read are read-only; `execute_lua`
/// may do anything; pausing and resuming set a state, so repeating them
/// changes nothing more. `call_function` runs an unknown function: no hint.
fn generic_annotations(name: &str) -> ToolAnnotations {
    let annotations = ToolAnnotations::new();
    match name {
        "list_functions" | "get_events" | "game_status" => annotations.read_only(true),
        "execute_lua" => annotations.read_only(false).destructive(true).idempotent(false),
        "pause_player" | "resume_player" => annotations.read_only(false).destructive(false).idempotent(true),
        _ => annotations,
    }
}

/// The generic tools' compiled input schemas, compiled at first use.
static GENERIC_SCHEMAS: LazyLock<HashMap<&'static str, jsonschema::Validator>> = LazyLock::new(|| {
    generic_definitions()
        .into_iter()
        .filter_map(|(name, _, schema)| Some((name, arguments::compile(&schema, name)?)))
        .collect()
});

/// What gamebridge's MCP servers offer: tools that change, and subscribable
/// resources (shared by `/mcp` and the stdio proxy).
pub fn server_config() -> ServerConfig {
    let capabilities = ServerCapabilities::builder()
        .enable_tools()
        .enable_tool_list_changed()
        .enable_resources()
        .enable_resources_subscribe()
        .build();
    ServerConfig::new(capabilities)
        .with_server_info(Implementation::new("gamebridge", env!("CARGO_PKG_VERSION")))
        .with_instructions("Game functions as tools. A failed game call is a tool error: CODE: message.")
}

/// What `subscriptions/listen` offers: the tool list and the events resource.
pub fn offered_subscriptions() -> SubscriptionFilter {
    SubscriptionFilter::builder().tools_list_changed().resource_subscription(EVENTS_URI).build()
}

/// Whether a subscription filter asks for the events resource.
pub fn subscribed_to_events(filter: &SubscriptionFilter) -> bool {
    filter.resource_subscriptions.as_ref().is_some_and(|uris| uris.iter().any(|uri| uri == EVENTS_URI))
}

/// A name MCP accepts: letters, digits, `_` and `-`, at most 64 characters.
pub fn tool_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .collect();
    cleaned.chars().take(64).collect()
}

/// The tool name of `game`'s `function`: prefixed by the game's name when
/// several games are served; `None` when it would shadow a generic tool.
fn function_tool_name(game: &Game, function: &str, prefixed: bool) -> Option<String> {
    let base = if prefixed { format!("{}_{}", game.name(), function) } else { function.to_owned() };
    let name = tool_name(&base);
    (!GENERIC.contains(&name.as_str())).then_some(name)
}

/// A call's result as JSON, or its error as `CODE: message`.
fn outcome(result: CallResult) -> Result<Value, String> {
    match result {
        Ok(raw) => Ok(serde_json::from_str(raw.get()).unwrap_or(Value::Null)),
        Err(error) => Err(format!("{}: {}", error.code, error.message)),
    }
}

fn raw(value: &Value) -> Box<RawValue> {
    RawValue::from_string(value.to_string()).expect("serde_json output is JSON")
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(object) => object,
        _ => JsonObject::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::tool_name;

    #[test]
    fn tool_names_are_valid_for_mcp() {
        assert_eq!(tool_name("civ5_GetCity"), "civ5_GetCity");
        assert_eq!(tool_name("tempest/3.Get Unit!"), "tempest_3_Get_Unit_");
        assert_eq!(tool_name(&"x".repeat(100)).len(), 64);
    }
}
