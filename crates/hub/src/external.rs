//! Functions agents registered for the game to call (`external_call`, and
//! `step` for lockstep games), and the traits through which the hub reaches
//! those agents. The hub knows no HTTP and no WebSocket: the webhook caller
//! lives in the `agents` crate, the WebSocket agent in the `api` crate.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use gamebridge_protocol::{CallResult, ErrorBody, ErrorCode, RawValue, WireId};
use serde::Serialize;
use serde::ser::SerializeMap;

/// An agent function the game may call.
#[derive(Clone)]
pub struct ExternalFunction {
    pub name: String,
    pub endpoint: AgentEndpoint,
    pub is_async: bool,
    /// How long the agent has to answer.
    pub timeout: Duration,
    pub description: Option<String>,
    /// For `step`: hold each frame up to the link's hold bound rather than
    /// its step deadline (a learner that trains between steps).
    pub hold: bool,
}

/// Where an agent function lives.
#[derive(Clone)]
pub enum AgentEndpoint {
    /// The bridge POSTs each call to this URL.
    Webhook { url: String },
    /// A connected agent (a WebSocket) that receives calls on its connection.
    Channel(Arc<dyn AgentChannel>),
}

impl ExternalFunction {
    /// The webhook URL, for functions registered with one.
    pub fn url(&self) -> Option<&str> {
        match &self.endpoint {
            AgentEndpoint::Webhook { url } => Some(url),
            AgentEndpoint::Channel(_) => None,
        }
    }

    /// Whether whoever answers it is still there: a webhook always is, a
    /// connected agent until its connection closes.
    pub fn is_reachable(&self) -> bool {
        match &self.endpoint {
            AgentEndpoint::Webhook { .. } => true,
            AgentEndpoint::Channel(channel) => !channel.is_closed(),
        }
    }

    /// Who answers it: the webhook URL, or the connected agent as it
    /// describes itself (`websocket agent #3`, `fleet: node-2`).
    pub fn served_by(&self) -> String {
        match &self.endpoint {
            AgentEndpoint::Webhook { url } => url.clone(),
            AgentEndpoint::Channel(channel) => channel.describe(),
        }
    }
}

impl fmt::Debug for ExternalFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalFunction").field("name", &self.name).field("timeout", &self.timeout).finish()
    }
}

/// `{name, url | agent, async, timeout (ms), description?}` for agents.
impl Serialize for ExternalFunction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        match &self.endpoint {
            AgentEndpoint::Webhook { url } => map.serialize_entry("url", url)?,
            AgentEndpoint::Channel(channel) => map.serialize_entry("agent", &channel.describe())?,
        }
        map.serialize_entry("async", &self.is_async)?;
        map.serialize_entry("timeout", &(self.timeout.as_millis() as u64))?;
        if let Some(description) = &self.description {
            map.serialize_entry("description", description)?;
        }
        map.end()
    }
}

/// One call from the game to an agent function.
#[derive(Debug)]
pub struct ExternalRequest {
    pub game: Arc<str>,
    /// The game's id for the call, echoed in its answer.
    pub id: WireId,
    pub args: Box<RawValue>,
}

/// One frame of a lockstep game, waiting for the agent's reply.
#[derive(Debug)]
pub struct StepRequest {
    /// The instance, such as `tempest/3`.
    pub game: Arc<str>,
    /// The frame's number on its connection, from 1.
    pub seq: u64,
    pub frame: Bytes,
    /// The frame's fields, decoded by the game's frame spec, for webhook
    /// agents (connected agents get the bytes alone).
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A frame the game got the default reply for, instead of the agent's.
#[derive(Clone, Debug)]
pub struct StepDefaulted {
    pub game: Arc<str>,
    pub seq: u64,
    /// Why: the agent missed the deadline (`CALL_TIMEOUT`), replied with the
    /// wrong size (`INVALID_ARGUMENTS`), failed, or is gone.
    pub error: ErrorBody,
    /// What the game got.
    pub reply: Bytes,
}

pub type DispatchFuture = Pin<Box<dyn Future<Output = CallResult> + Send>>;
pub type StepFuture = Pin<Box<dyn Future<Output = Result<Bytes, ErrorBody>> + Send>>;

/// Delivers calls to webhook agents. The hub enforces each function's
/// timeout around it, so implementations need not.
pub trait ExternalDispatch: Send + Sync + 'static {
    fn call(&self, function: Arc<ExternalFunction>, request: ExternalRequest) -> DispatchFuture;
    fn step(&self, function: Arc<ExternalFunction>, request: StepRequest) -> StepFuture;
}

/// A connected agent that answers on its own connection.
pub trait AgentChannel: Send + Sync + 'static {
    fn call(&self, function: &str, request: ExternalRequest) -> DispatchFuture;
    fn step(&self, request: StepRequest) -> StepFuture;
    /// The game got the default reply for a frame this agent was asked
    /// for: the agent hears of it, so what it records matches what the
    /// game applied. Must not wait (the game's loop calls it).
    fn step_defaulted(&self, notice: StepDefaulted);
    /// How the agent is shown in `/external/functions`.
    fn describe(&self) -> String;
    /// Whether the agent is gone for good (its connection closed), so its
    /// registrations are not worth keeping for a game that comes back.
    fn is_closed(&self) -> bool {
        false
    }
}

/// For hubs built without a way to reach webhook agents.
pub struct NoDispatch;

impl NoDispatch {
    fn unavailable(function: &ExternalFunction) -> ErrorBody {
        ErrorBody::new(
            ErrorCode::INTERNAL_ERROR,
            format!("no agent transport is configured to call '{}'", function.name),
        )
    }
}

impl ExternalDispatch for NoDispatch {
    fn call(&self, function: Arc<ExternalFunction>, _request: ExternalRequest) -> DispatchFuture {
        let error = Self::unavailable(&function);
        Box::pin(async move { Err(error) })
    }

    fn step(&self, function: Arc<ExternalFunction>, _request: StepRequest) -> StepFuture {
        let error = Self::unavailable(&function);
        Box::pin(async move { Err(error) })
    }
}

/// Agent functions one game may have registered: agents register a
/// handful each, but every registration is kept until unregistered.
pub const MAX_EXTERNAL_FUNCTIONS: usize = 1024;
/// Bytes of names, URLs and descriptions those registrations may hold.
pub const MAX_EXTERNAL_FUNCTION_BYTES: usize = 4 << 20;

/// The agent functions of one game, within [`MAX_EXTERNAL_FUNCTIONS`] and
/// [`MAX_EXTERNAL_FUNCTION_BYTES`].
#[derive(Default)]
pub struct ExternalRegistry {
    functions: RwLock<BTreeMap<String, Arc<ExternalFunction>>>,
}

/// What keeping a registration costs.
fn footprint(function: &ExternalFunction) -> usize {
    function.name.len()
        + function.url().map_or(0, str::len)
        + function.description.as_ref().map_or(0, String::len)
}

impl ExternalRegistry {
    /// Adds a function; a name already registered, or one past the bounds,
    /// is refused with `INVALID_ARGUMENTS`.
    pub fn register(&self, function: ExternalFunction) -> Result<Arc<ExternalFunction>, ErrorBody> {
        let mut functions = self.functions.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if functions.contains_key(&function.name) {
            return Err(ErrorBody::new(
                ErrorCode::INVALID_ARGUMENTS,
                format!("external function '{}' is already registered; unregister it first", function.name),
            ));
        }
        if functions.len() >= MAX_EXTERNAL_FUNCTIONS {
            tracing::warn!(
                function = function.name,
                max = MAX_EXTERNAL_FUNCTIONS,
                "external function registration refused: too many"
            );
            return Err(ErrorBody::new(
                ErrorCode::INVALID_ARGUMENTS,
                format!(
                    "{MAX_EXTERNAL_FUNCTIONS} external functions are registered for this game, the most it takes; unregister some first"
                ),
            ));
        }
        let held: usize = functions.values().map(|function| footprint(function)).sum();
        if held + footprint(&function) > MAX_EXTERNAL_FUNCTION_BYTES {
            tracing::warn!(
                function = function.name,
                max = MAX_EXTERNAL_FUNCTION_BYTES,
                "external function registration refused: too many bytes"
            );
            return Err(ErrorBody::new(
                ErrorCode::INVALID_ARGUMENTS,
                format!(
                    "the external functions of this game would hold more than {MAX_EXTERNAL_FUNCTION_BYTES} bytes of names, URLs and descriptions; unregister some or shorten the description"
                ),
            ));
        }
        let function = Arc::new(function);
        functions.insert(function.name.clone(), function.clone());
        Ok(function)
    }

    pub fn unregister(&self, name: &str) -> Option<Arc<ExternalFunction>> {
        self.functions.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(name)
    }

    /// Removes every function served by `channel` (its agent disconnected).
    pub fn unregister_channel(&self, channel: &Arc<dyn AgentChannel>) -> Vec<String> {
        let mut functions = self.functions.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let gone: Vec<String> = functions
            .values()
            .filter(|function| {
                matches!(&function.endpoint, AgentEndpoint::Channel(own) if Arc::ptr_eq(own, channel))
            })
            .map(|function| function.name.clone())
            .collect();
        for name in &gone {
            functions.remove(name);
        }
        gone
    }

    pub fn get(&self, name: &str) -> Option<Arc<ExternalFunction>> {
        self.functions.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(name).cloned()
    }

    pub fn list(&self) -> Vec<Arc<ExternalFunction>> {
        self.functions.read().unwrap_or_else(|poisoned| poisoned.into_inner()).values().cloned().collect()
    }
}
