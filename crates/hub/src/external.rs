//! Functions agents registered for the game to call (`external_call`), and
//! the trait through which the hub reaches those agents. The hub knows no
//! HTTP: the webhook caller lives in the `agents` crate.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use gamebridge_protocol::{CallResult, ErrorBody, ErrorCode, RawValue, WireId};
use serde::Serialize;

/// An agent function the game may call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExternalFunction {
    pub name: String,
    /// Where the bridge POSTs `{args, id}`.
    pub url: String,
    #[serde(rename = "async")]
    pub is_async: bool,
    /// Milliseconds the agent has to answer.
    #[serde(rename = "timeout", serialize_with = "as_millis")]
    pub timeout: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_millis() as u64)
}

/// One call from the game to an agent function.
#[derive(Debug)]
pub struct ExternalRequest {
    pub game: Arc<str>,
    /// The game's id for the call, echoed in its answer.
    pub id: WireId,
    pub args: Box<RawValue>,
}

pub type DispatchFuture = Pin<Box<dyn Future<Output = CallResult> + Send>>;

/// Delivers external calls to agents. The hub enforces each function's
/// timeout around it, so implementations need not.
pub trait ExternalDispatch: Send + Sync + 'static {
    fn call(&self, function: Arc<ExternalFunction>, request: ExternalRequest) -> DispatchFuture;
}

/// For hubs built without a way to reach agents.
pub struct NoDispatch;

impl ExternalDispatch for NoDispatch {
    fn call(&self, function: Arc<ExternalFunction>, _request: ExternalRequest) -> DispatchFuture {
        let message = format!("no agent transport is configured to call '{}'", function.name);
        Box::pin(async move { Err(ErrorBody::new(ErrorCode::INTERNAL_ERROR, message)) })
    }
}

/// The agent functions of one game.
#[derive(Default)]
pub struct ExternalRegistry {
    functions: RwLock<BTreeMap<String, Arc<ExternalFunction>>>,
}

impl ExternalRegistry {
    /// Adds a function; a name already registered is refused.
    pub fn register(&self, function: ExternalFunction) -> Result<Arc<ExternalFunction>, ErrorBody> {
        let mut functions = self.functions.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if functions.contains_key(&function.name) {
            return Err(ErrorBody::new(
                ErrorCode::INVALID_ARGUMENTS,
                format!("external function '{}' is already registered; unregister it first", function.name),
            ));
        }
        let function = Arc::new(function);
        functions.insert(function.name.clone(), function.clone());
        Ok(function)
    }

    pub fn unregister(&self, name: &str) -> Option<Arc<ExternalFunction>> {
        self.functions.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(name)
    }

    pub fn get(&self, name: &str) -> Option<Arc<ExternalFunction>> {
        self.functions.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(name).cloned()
    }

    pub fn list(&self) -> Vec<Arc<ExternalFunction>> {
        self.functions.read().unwrap_or_else(|poisoned| poisoned.into_inner()).values().cloned().collect()
    }
}
