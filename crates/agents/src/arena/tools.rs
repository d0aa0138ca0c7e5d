//! The game's tools (the actions an agent can take), with JSON-Schema
//! parameters. The Godot side describes parameters in a flat form,
//! `{param: {type, description, default}}`; it is converted here, so LLM
//! backends and agents always see JSON Schema.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::Serialize;
use serde_json::{Map, Value, json};

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// JSON Schema of the parameters (an object schema).
    pub parameters: Value,
}

/// Most tools a game can register: `/tools/register` needs no token, and
/// every tool is sent to LLM backends with each decision.
pub const MAX_TOOLS: usize = 256;

pub struct ToolRegistry {
    tools: RwLock<BTreeMap<String, Tool>>,
}

impl Default for ToolRegistry {
    /// Agent Arena's basic tools.
    fn default() -> Self {
        let registry = Self { tools: RwLock::new(BTreeMap::new()) };
        let basic = [
            (
                "move_to",
                "Move to a position",
                json!({
                    "target_position": {"type": "array", "description": "[x, y, z]"},
                    "speed": {"type": "number", "description": "Movement speed", "default": 1.0}
                }),
            ),
            ("idle", "Do nothing this tick", json!({})),
            (
                "pickup_item",
                "Pick up a nearby item",
                json!({"item_id": {"type": "string", "description": "The item's id"}}),
            ),
        ];
        for (name, description, parameters) in basic {
            let _ = registry.register(name, description, &parameters);
        }
        registry
    }
}

impl ToolRegistry {
    /// Adds or replaces a tool; `parameters` may be JSON Schema or the flat
    /// form. A new tool past [`MAX_TOOLS`] is refused.
    pub fn register(&self, name: &str, description: &str, parameters: &Value) -> Result<Tool, String> {
        let tool = Tool {
            name: name.to_owned(),
            description: description.to_owned(),
            parameters: to_json_schema(parameters),
        };
        let mut tools = self.tools.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if tools.len() >= MAX_TOOLS && !tools.contains_key(name) {
            tracing::warn!(
                max = MAX_TOOLS,
                "an Agent Arena tool registration was refused: the game has as many as it takes"
            );
            return Err(format!("at most {MAX_TOOLS} tools can be registered; replace or reuse one"));
        }
        tools.insert(name.to_owned(), tool.clone());
        Ok(tool)
    }

    pub fn list(&self) -> Vec<Tool> {
        self.tools.read().unwrap_or_else(|poisoned| poisoned.into_inner()).values().cloned().collect()
    }

    /// Checks a call of `name`: the tool exists, required parameters are
    /// there; returns the parameters with defaults filled in.
    pub fn validate(&self, name: &str, params: &Value) -> Result<Value, String> {
        let tools = self.tools.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tool = tools.get(name).ok_or_else(|| format!("unknown tool {name:?}"))?;
        let mut params = match params {
            Value::Object(params) => params.clone(),
            Value::Null => Map::new(),
            _ => return Err("params must be an object".into()),
        };
        for required in tool.parameters["required"].as_array().into_iter().flatten().filter_map(Value::as_str)
        {
            if !params.contains_key(required) {
                return Err(format!("{name} needs the parameter {required:?}"));
            }
        }
        for (key, schema) in tool.parameters["properties"].as_object().into_iter().flatten() {
            if let Some(default) = schema.get("default") {
                params.entry(key.clone()).or_insert_with(|| default.clone());
            }
        }
        Ok(Value::Object(params))
    }
}

/// JSON Schema for `parameters`: an object schema stays as it is; the flat
/// form becomes one, with every parameter that has no default required.
pub fn to_json_schema(parameters: &Value) -> Value {
    if parameters.get("type").and_then(Value::as_str) == Some("object") {
        return parameters.clone();
    }
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, spec) in parameters.as_object().into_iter().flatten() {
        let mut property = match spec {
            Value::Object(spec) => spec.clone(),
            Value::String(kind) => Map::from_iter([("type".to_owned(), json!(kind))]),
            _ => Map::new(),
        };
        let optional = property.contains_key("default") || property.remove("required") == Some(json!(false));
        if !optional {
            required.push(json!(name));
        }
        properties.insert(name.clone(), Value::Object(property));
    }
    json!({"type": "object", "properties": properties, "required": required})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flat_godot_form_becomes_json_schema() {
        let flat = json!({
            "target_position": {"type": "array", "description": "where"},
            "speed": {"type": "number", "default": 1.0},
            "mode": "string"
        });
        assert_eq!(
            to_json_schema(&flat),
            json!({"type": "object", "properties": {
                "target_position": {"type": "array", "description": "where"},
                "speed": {"type": "number", "default": 1.0},
                "mode": {"type": "string"}
            }, "required": ["mode", "target_position"]})
        );
        let schema = json!({"type": "object", "properties": {}, "required": []});
        assert_eq!(to_json_schema(&schema), schema, "JSON Schema stays as it is");
    }

    #[test]
    fn calls_are_validated_and_defaults_filled_in() {
        let tools = ToolRegistry::default();
        assert_eq!(
            tools.validate("move_to", &json!({"target_position": [1, 2, 3]})).unwrap(),
            json!({"target_position": [1, 2, 3], "speed": 1.0})
        );
        assert!(tools.validate("move_to", &json!({})).unwrap_err().contains("target_position"));
        assert!(tools.validate("fly", &json!({})).unwrap_err().contains("unknown tool"));
    }

    #[test]
    fn new_tools_past_the_bound_are_refused_and_known_ones_replaced() {
        let tools = ToolRegistry::default();
        let basic = tools.list().len();
        for n in basic..MAX_TOOLS {
            tools.register(&format!("tool{n}"), "", &json!({})).unwrap();
        }
        assert!(tools.register("one_more", "", &json!({})).unwrap_err().contains("at most 256 tools"));
        assert_eq!(tools.register("idle", "Still idle", &json!({})).unwrap().description, "Still idle");
        assert_eq!(tools.list().len(), MAX_TOOLS);
    }
}
