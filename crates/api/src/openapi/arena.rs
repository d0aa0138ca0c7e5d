//! Schemas of the Agent Arena routes' bodies and answers. They follow the
//! FastAPI original rather than the envelope, and the handlers read and
//! build them as plain JSON, so these types are described, never built.
//! Where a body comes in two shapes, serde's `untagged` (which utoipa reads)
//! makes the schema a `oneOf`; that is the only reason for the serde derives.

#![allow(dead_code, reason = "schema-only types: described, never built")]

use std::borrow::Cow;

use gamebridge_agents::Decision;
use gamebridge_agents::arena::Tool;
use gamebridge_agents::llm::LlmConfig;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// A FastAPI-style failure: no arena is served (404), or the body is not
/// what the route reads (400, 422).
#[derive(ToSchema)]
pub struct Detail {
    detail: String,
}

/// `POST /tick`: every agent's observation for one tick, in the Godot
/// client's V1 shape or the later SDK shape. The answer comes in the same shape.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TickRequest {
    V1(TickV1),
    Sdk(TickSdk),
}

#[derive(Deserialize, ToSchema)]
pub struct TickV1 {
    /// 0 when absent.
    tick: Option<u64>,
    perceptions: Vec<Perception>,
    simulation_state: Option<Value>,
}

/// One agent's perception (V1). Other keys are kept and passed to the
/// agent; values of other types are passed on as they are. An entry
/// without an `agent_id` (text or number) is answered `idle` with the
/// reason, beside every other agent's action.
#[derive(Deserialize, ToSchema)]
pub struct Perception {
    agent_id: String,
    /// The tick's when absent.
    tick: Option<u64>,
    /// `[x, y, z]`, by default the origin (as are rotation and velocity).
    position: Option<Vec<f64>>,
    rotation: Option<Vec<f64>>,
    velocity: Option<Vec<f64>>,
    visible_entities: Option<Vec<Value>>,
    inventory: Option<Vec<Value>>,
    /// 100 by default, as is energy.
    health: Option<f64>,
    energy: Option<f64>,
    custom_data: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
pub struct TickSdk {
    /// 0 when absent.
    tick: Option<u64>,
    agents: Vec<SdkAgent>,
}

#[derive(Deserialize, ToSchema)]
pub struct SdkAgent {
    agent_id: String,
    observations: Value,
}

/// Every agent's action, in the shape the tick came in.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum TickAnswer {
    V1(TickV1Answer),
    Sdk(TickSdkAnswer),
}

#[derive(Serialize, ToSchema)]
pub struct TickV1Answer {
    tick: u64,
    actions: Vec<V1Action>,
    metrics: TickMetrics,
}

#[derive(Serialize, ToSchema)]
pub struct V1Action {
    /// As the tick sent it (`null` for an entry without one).
    agent_id: Value,
    /// The request's tick.
    tick: u64,
    tool: String,
    params: Value,
    reasoning: String,
}

#[derive(Serialize, ToSchema)]
pub struct TickMetrics {
    tick_time_ms: f64,
    agents_processed: u64,
    /// Every action, one per agent (as the original counts).
    actions_generated: u64,
}

#[derive(Serialize, ToSchema)]
pub struct TickSdkAnswer {
    tick: u64,
    actions: Vec<SdkAction>,
}

#[derive(Serialize, ToSchema)]
pub struct SdkAction {
    /// As the tick sent it (`null` for an entry without one).
    agent_id: Value,
    action: Decision,
}

/// `POST /observe`: one agent's observation. Without `observations`, the
/// whole body is the observation.
#[derive(ToSchema)]
pub struct ObserveRequest {
    agent_id: String,
    tick: Option<u64>,
    observations: Option<Value>,
}

/// One agent's decision.
#[derive(ToSchema)]
pub struct ObserveAnswer {
    agent_id: String,
    tool: String,
    params: Value,
    reasoning: String,
}

/// `POST /agents/register`: an agent, and how it decides (the arena's
/// default backend when absent).
#[derive(ToSchema)]
pub struct RegisterAgent {
    #[schema(min_length = 1)]
    agent_id: String,
    backend: Option<Backend>,
}

/// How an agent decides: `{kind: "rules"}`, or `{kind: "llm", …}` with
/// the model's settings (`gamebridge_agents::arena::Backend`).
///
/// Built from `LlmConfig`'s derived schema, so it follows that type; the
/// schema derived for the internally tagged enum itself nests an `allOf`
/// in a `oneOf`, which client generators such as openapi-python-client
/// cannot read.
pub struct Backend;

impl PartialSchema for Backend {
    fn schema() -> RefOr<Schema> {
        let kind = |name: &str| ObjectBuilder::new().schema_type(Type::String).enum_values(Some([name]));
        let rules = ObjectBuilder::new().property("kind", kind("rules")).required("kind");
        let RefOr::T(Schema::Object(settings)) = LlmConfig::schema() else {
            unreachable!("LlmConfig derives an object schema")
        };
        let mut llm = ObjectBuilder::new().property("kind", kind("llm")).required("kind").build();
        llm.properties.extend(settings.properties);
        llm.required.extend(settings.required);
        llm.description = settings.description;
        OneOfBuilder::new().item(rules).item(llm).description(Some("How an agent decides.")).into()
    }
}

impl ToSchema for Backend {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Backend")
    }
}

/// `status` is `success`.
#[derive(ToSchema)]
pub struct AgentRegistered {
    status: String,
    agent_id: String,
}

/// `POST /tools/execute`: a tool call, checked against the tool's schema.
#[derive(ToSchema)]
pub struct ExecuteTool {
    /// The tool; `tool_name` or `tool` (as the Godot client sends it) is required.
    tool_name: Option<String>,
    /// `tool_name` under the name the Godot client uses.
    tool: Option<String>,
    params: Option<Value>,
    agent_id: Option<String>,
    tick: Option<u64>,
}

/// `{success, result, error}`. One of the original server's nineteen
/// tools answers as it does (`move_to`: `{success, path, estimated_time}`);
/// a tool the game registered answers with its parameters, defaults
/// filled in. `error` is `""` on success, as the original's.
#[derive(ToSchema)]
pub struct ToolExecuted {
    success: bool,
    result: Option<Value>,
    error: String,
}

#[derive(ToSchema)]
pub struct ToolList {
    /// Every tool by its name.
    tools: std::collections::BTreeMap<String, Tool>,
    count: u64,
}

/// `POST /tools/register`: parameters as JSON Schema, or in the flat Godot
/// form `{param: {type, description, default}}`.
#[derive(ToSchema)]
pub struct RegisterTool {
    #[schema(min_length = 1)]
    name: String,
    description: Option<String>,
    parameters: Option<Value>,
}

/// `POST /experience`: something that happened to an agent (the Godot
/// scene's hazards and agents send it: a collision, damage, a trap).
#[derive(ToSchema)]
#[allow(dead_code, reason = "described, never built: the route keeps the body as it came")]
pub struct Experience {
    agent_id: String,
    tick: Option<u64>,
    /// `collision`, `damage`, `trapped`, …
    event_type: Option<String>,
    description: Option<String>,
    position: Option<Vec<f64>>,
    object_name: Option<String>,
    damage_taken: Option<f64>,
    metadata: Option<Value>,
}

/// `{success: true}`, or `{success: false, error}` without an `agent_id`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "described, never built")]
pub struct ExperienceRecorded {
    success: bool,
    error: Option<String>,
}

/// `status` is `success`; `tool` is as registered, parameters as JSON Schema.
#[derive(ToSchema)]
pub struct ToolRegistered {
    status: String,
    tool: Tool,
}
