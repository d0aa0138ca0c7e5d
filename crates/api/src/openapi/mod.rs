//! The OpenAPI document of the REST API, served at `GET /openapi.json`.
//!
//! Every REST handler carries `#[utoipa::path]` and is registered with
//! utoipa-axum's `routes!`, which adds it to the router and to the document
//! in one step (routes/mod.rs), so the document lists exactly the routes the
//! bridge serves. This module adds what belongs to no single handler: the
//! `info`, the token's security schemes, the `name` parameter of the
//! `/games/{name}/…` copies, the guard's refusals, and serving the result.

pub mod arena;
pub mod shapes;
mod wire;

use std::sync::Arc;

use axum::Extension;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required,
    ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;

pub use wire::{Envelope, Failure};

use crate::ApiState;
use crate::security::game_routes::GAME_ROUTES;
use crate::security::is_static;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/openapi.json";

const DESCRIPTION: &str = "\
gamebridge connects running games to AI agents. This is its REST API, compatible with the \
Vox Deorum bridge.

Answers are envelopes: `{success: true, result}` or `{success: false, error: {code, message, \
details?}}`. Handled failures answer HTTP 200 as in the original, so look at `success`.

Every route that addresses one game also exists under `/games/{name}/…`; the unprefixed \
routes address the first game configured. A call's deadline is its `timeout_ms` body field or \
its `X-Timeout-Ms` header (default 300 s, `--timeout-ms`).

Two endpoints are not described here because they are not REST: `GET /agent`, the WebSocket \
agents connect to (docs/WEBSOCKET.md), and `/mcp`, the Model Context Protocol endpoint \
(streamable HTTP; the README's MCP section).";

const TOKEN: &str = "Needed only when the bridge was started with `--token` (or \
`GAMEBRIDGE_TOKEN`); without a token the bridge needs no credentials. See docs/SECURITY.md.";

/// Name of the response every route can answer when the bridge has a token.
const UNAUTHORIZED: &str = "Unauthorized";
/// Name of the response to a Host header that is not this bridge's.
const FORBIDDEN: &str = "Forbidden";
/// Name of the response of a `/games/{name}/…` route to an unknown game.
const UNKNOWN_GAME: &str = "UnknownGame";

/// The document before any route is added: info, security, tags.
pub fn base() -> OpenApi {
    let info = InfoBuilder::new()
        .title("gamebridge")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(DESCRIPTION));
    let bearer = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some(TOKEN)).build();
    let query = ApiKeyValue::with_description(
        "token",
        "The same token as `?token=`, for clients that cannot set headers (browsers' EventSource).",
    );
    // Refusals refer to the Failure schema; it and what it refers to are added here.
    let mut failure = vec![(Failure::name().into_owned(), Failure::schema())];
    Failure::schemas(&mut failure);
    let components = ComponentsBuilder::new()
        .schemas_from_iter(failure)
        .security_scheme("bearer", SecurityScheme::Http(bearer))
        .security_scheme("token_query", SecurityScheme::ApiKey(ApiKey::Query(query)))
        .response(
            UNAUTHORIZED,
            refusal("The bridge has a token and the request did not carry it (`UNAUTHORIZED`)."),
        )
        .response(
            FORBIDDEN,
            refusal("The Host header does not name this bridge (`FORBIDDEN`); see --allow-host."),
        )
        .response(UNKNOWN_GAME, refusal("No game has this name (`NOT_FOUND`)."))
        .build();
    let tags = [
        ("system", "Discovery, health, statistics, the games, shutdown, this document."),
        ("lua", "Calls from agents to the game's functions."),
        ("external", "Functions agents register for the game to call, and pause control."),
        ("events", "Game events: a Server-Sent Events stream, and history."),
        ("metrics", "Counters for Prometheus."),
        ("arena", "Agent Arena: the routes its Godot simulation and agents use."),
    ]
    .map(|(name, description)| TagBuilder::new().name(name).description(Some(description)).build());
    OpenApiBuilder::new()
        .info(info)
        .components(Some(components))
        .security(Some([
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("token_query", Vec::<String>::new()),
        ]))
        .tags(Some(tags))
        .build()
}

/// A refusal answered with `{success: false, error}`.
fn refusal(description: &str) -> utoipa::openapi::Response {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(Failure::name()))).build();
    ResponseBuilder::new().description(description).content("application/json", content).build()
}

/// Prepares game routes to be nested under `/games/{name}`: each path gets
/// the `name` parameter, each operation its own id (`game_…`, as ids must be
/// unique) and the unknown-game answer.
pub fn for_named_game(mut router: OpenApiRouter<ApiState>) -> OpenApiRouter<ApiState> {
    let name = game_name_parameter();
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        item.parameters.get_or_insert_with(Vec::new).insert(0, name.clone());
        for operation in operations_mut(item) {
            if let Some(id) = &mut operation.operation_id {
                *id = format!("game_{id}");
            }
            operation
                .responses
                .responses
                .insert("404".into(), RefOr::Ref(Ref::from_response_name(UNKNOWN_GAME)));
        }
    }
    router
}

fn game_name_parameter() -> Parameter {
    ParameterBuilder::new()
        .name("name")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The game, as named with `--game NAME=SPEC` (`GET /games` lists them)."))
        .schema(Some(String::schema()))
        .build()
}

/// Adds what the security guard does to every operation: routes that need
/// no token say so (the guard's own lists: static documents, and an Agent
/// Arena game's routes, open to the game's own addresses), the others can
/// answer 401; any route answers 403 to a foreign Host header or a
/// cross-site request.
fn add_refusals(document: &mut OpenApi) {
    let with_token = document.security.clone().unwrap_or_default();
    for (path, item) in document.paths.paths.iter_mut() {
        let tokenless = is_static(path);
        let game_route = GAME_ROUTES.contains(&path.as_str());
        for operation in operations_mut(item) {
            let responses = &mut operation.responses.responses;
            if tokenless || game_route {
                let mut requirements = vec![SecurityRequirement::default()];
                if game_route {
                    requirements.extend(operation.security.take().unwrap_or_else(|| with_token.clone()));
                }
                operation.security = Some(requirements);
            }
            if !tokenless {
                responses.insert("401".into(), RefOr::Ref(Ref::from_response_name(UNAUTHORIZED)));
            }
            responses.insert("403".into(), RefOr::Ref(Ref::from_response_name(FORBIDDEN)));
        }
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The finished document as JSON, rendered once when the router is built,
/// and its routes one per line for `GET /`.
#[derive(Clone)]
pub struct Document {
    json: Bytes,
    pub routes: Arc<Vec<String>>,
}

/// Routes the document leaves out: not REST.
const NOT_IN_THE_DOCUMENT: [&str; 3] = [
    "GET /agent: WebSocket agents: register functions, answer calls and frames, subscribe to events (docs/WEBSOCKET.md)",
    "POST /mcp: MCP over streamable HTTP: game functions as tools, events as resources",
    "GET /ui: the dashboard",
];

impl Document {
    pub fn new(mut document: OpenApi) -> Self {
        add_refusals(&mut document);
        let json = Bytes::from(document.to_json().expect("an OpenAPI document serializes"));
        Self { json, routes: Arc::new(route_list(&document)) }
    }
}

/// `METHOD PATH: summary` for every operation of `document`, then the
/// routes it leaves out.
fn route_list(document: &OpenApi) -> Vec<String> {
    let mut routes = Vec::new();
    for (path, item) in &document.paths.paths {
        let operations =
            [("GET", &item.get), ("POST", &item.post), ("PUT", &item.put), ("DELETE", &item.delete)];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            match operation.summary.as_deref() {
                Some(summary) => {
                    let summary = summary.split_whitespace().collect::<Vec<_>>().join(" ");
                    routes.push(format!("{method} {path}: {}", summary.trim_end_matches('.')))
                }
                None => routes.push(format!("{method} {path}")),
            }
        }
    }
    routes.extend(NOT_IN_THE_DOCUMENT.map(str::to_owned));
    routes
}

/// The OpenAPI 3.1 document of this API.
///
/// Needs no token, even on a bridge that has one: it holds no secrets.
/// Generate a client from it with any OpenAPI 3.1 generator.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "system",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object)),
)]
pub async fn serve_document(Extension(document): Extension<Document>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document.json).into_response()
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::Value;
    use utoipa::openapi::schema::Schema;

    use super::*;

    /// Fails unless every key of `value` is a property of `T`'s schema and
    /// every required property is in `value`: a schema mirror of a type
    /// that cannot derive its own must follow what the type sends.
    pub fn assert_mirrors<T: ToSchema>(value: &Value) {
        let RefOr::T(Schema::Object(schema)) = T::schema() else {
            panic!("{} is not an object schema", T::name())
        };
        let object = value.as_object().unwrap_or_else(|| panic!("{value} is not an object"));
        for key in object.keys() {
            assert!(schema.properties.contains_key(key), "{} lacks {key:?}, which {value} has", T::name());
        }
        for key in &schema.required {
            assert!(object.contains_key(key), "{} requires {key:?}, which {value} lacks", T::name());
        }
    }

    #[test]
    fn game_routes_get_the_name_parameter_and_their_own_ids() {
        let (_, document) = crate::routes::router().split_for_parts();
        let item = &document.paths.paths["/games/{name}/lua/call"];
        assert_eq!(item.parameters.as_ref().unwrap()[0].name, "name");
        assert_eq!(item.post.as_ref().unwrap().operation_id.as_deref(), Some("game_lua_call"));
        let unprefixed = document.paths.paths["/lua/call"].post.as_ref().unwrap();
        assert_eq!(unprefixed.operation_id.as_deref(), Some("lua_call"));
    }

    #[test]
    fn tokenless_routes_say_so_and_the_others_can_answer_401() {
        let (_, document) = crate::routes::router().split_for_parts();
        let Document { json, .. } = Document::new(document);
        let document: Value = serde_json::from_slice(&json).unwrap();
        let path = DOCUMENT_PATH;
        let item = document["paths"][path].as_object().unwrap_or_else(|| panic!("{path} is documented"));
        for operation in item.values() {
            assert_eq!(operation["security"], serde_json::json!([{}]), "{path}");
            assert!(operation["responses"].get("401").is_none(), "{path}");
        }
        let tick = &document["paths"]["/tick"]["post"];
        assert_eq!(tick["security"][0], serde_json::json!({}), "the game's own route may go without");
        assert!(tick["responses"].get("401").is_some(), "from elsewhere it needs the token");
        assert!(document["paths"]["/lua/call"]["post"]["responses"].get("401").is_some());
    }
}
