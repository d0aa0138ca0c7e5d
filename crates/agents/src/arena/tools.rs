//! The game's tools (the actions an agent can take), with JSON-Schema
//! parameters. The Godot side describes parameters in a flat form,
//! `{param: {type, description, default}}`; it is converted here, so LLM
//! backends and agents always see JSON Schema.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::basic_tools;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct Tool {
    pub name: String,
    pub description: String,
    /// JSON Schema of the parameters (an object schema).
    pub parameters: Value,
    /// JSON Schema of what a call returns.
    pub returns: Value,
    /// One of the original server's own tools, answered as it answers.
    #[serde(skip)]
    pub basic: bool,
}

/// Most tools a game can register: `/tools/register` needs no token, and
/// every tool is sent to LLM backends with each decision.
pub const MAX_TOOLS: usize = 256;

pub struct ToolRegistry {
    tools: RwLock<BTreeMap<String, Tool>>,
}

impl Default for ToolRegistry {
    /// The original server's nineteen tools.
    fn default() -> Self {
        let tools = basic_tools::schemas().into_iter().map(|(name, description, parameters, returns)| {
            let tool =
                Tool { name: name.into(), description: description.into(), parameters, returns, basic: true };
            (tool.name.clone(), tool)
        });
        Self { tools: RwLock::new(tools.collect()) }
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
            returns: json!({"type": "object"}),
            basic: false,
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

    /// Runs a call of `name` as the original's dispatcher does: the tool
    /// exists, its required parameters are there, it takes every one
    /// given. One of the original's tools answers as the original's does;
    /// a tool the game registered answers with the checked call, defaults
    /// filled in (the game carries it out).
    pub fn execute(&self, name: &str, params: &Value) -> Result<Value, String> {
        let tools = self.tools.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tool = tools.get(name).ok_or_else(|| format!("Tool '{name}' not found"))?;
        let invalid = || format!("Invalid parameters for tool '{name}'");
        let mut params = match params {
            Value::Object(params) => params.clone(),
            Value::Null => Map::new(),
            _ => return Err(invalid()),
        };
        let required = tool.parameters["required"].as_array().into_iter().flatten().filter_map(Value::as_str);
        let properties = tool.parameters["properties"].as_object();
        if tool.basic {
            if required.clone().any(|required| !params.contains_key(required)) {
                return Err(invalid());
            }
            if let Some(unexpected) =
                params.keys().find(|key| !properties.is_some_and(|known| known.contains_key(*key)))
            {
                return Err(format!("{name}() got an unexpected keyword argument '{unexpected}'"));
            }
            return basic_tools::answer(name, &params);
        }
        if let Some(missing) = required.clone().find(|required| !params.contains_key(*required)) {
            return Err(format!("{}: {missing:?} is required", invalid()));
        }
        for (key, schema) in properties.into_iter().flatten() {
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
    fn the_originals_tools_answer_as_the_original_does() {
        let tools = ToolRegistry::default();
        assert_eq!(tools.list().len(), 19);
        let run = |name: &str, params: Value| tools.execute(name, &params);
        assert_eq!(
            run("move_to", json!({"target_position": [1, 2, 3]})).unwrap(),
            json!({"success": true, "path": [], "estimated_time": 0.0})
        );
        assert_eq!(
            run("collect", json!({"target": "Berry1"})).unwrap(),
            json!({"success": true, "collected": "Berry1", "message": "Collected Berry1"})
        );
        assert_eq!(
            run("measure_distance", json!({"point_a": [0, 0, 0], "point_b": [3, 4, 0]})).unwrap(),
            json!(5.0)
        );
        assert_eq!(
            run("raycast", json!({"origin": [0, 0, 0], "direction": [1, 0, 0]})).unwrap()["distance"],
            100.0
        );
        assert_eq!(run("explore_direction", json!({"direction": "North"})).unwrap()["direction"], "north");
        assert_eq!(run("explore_direction", json!({"direction": "up"})).unwrap()["success"], false);
        assert_eq!(run("move_to", json!({})).unwrap_err(), "Invalid parameters for tool 'move_to'");
        assert_eq!(
            run("idle", json!({"why": 1})).unwrap_err(),
            "idle() got an unexpected keyword argument 'why'"
        );
        assert_eq!(run("fly", json!({})).unwrap_err(), "Tool 'fly' not found");
    }

    #[test]
    fn a_tool_the_game_registered_answers_with_the_checked_call() {
        let tools = ToolRegistry::default();
        tools
            .register("craft", "", &json!({"recipe": "string", "count": {"type": "integer", "default": 1}}))
            .unwrap();
        assert_eq!(
            tools.execute("craft", &json!({"recipe": "axe"})).unwrap(),
            json!({"recipe": "axe", "count": 1})
        );
        assert!(tools.execute("craft", &json!({})).unwrap_err().contains("\"recipe\" is required"));
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
