//! What an agent decides for one tick: a tool, its parameters, and why.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Decision {
    pub tool: String,
    #[serde(default = "empty_object")]
    pub params: Value,
    #[serde(default)]
    pub reasoning: String,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

impl Decision {
    /// Doing nothing, and why.
    pub fn idle(reasoning: impl Into<String>) -> Self {
        Self { tool: "idle".into(), params: empty_object(), reasoning: reasoning.into() }
    }
}
