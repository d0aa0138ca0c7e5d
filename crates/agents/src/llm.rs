//! An OpenAI-compatible chat-completions client as a decision backend
//! (llama.cpp's server, vLLM and Ollama all speak this API): the
//! observation goes in as the user message, the game's tools as function
//! tools; the first tool call becomes the action. A model that answers in
//! text instead is read for a JSON action `{tool, params, reasoning}`.

use gamebridge_protocol::RawValue;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Decision;
use crate::arena::Tool;

/// Where and how to ask a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct LlmConfig {
    /// For example `http://127.0.0.1:8080/v1` (llama.cpp's `llama-server`).
    pub base_url: String,
    #[serde(default = "default_model")]
    pub model: String,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// The environment variable holding the API key (default
    /// `GAMEBRIDGE_LLM_API_KEY`); keys never go in files. An agent may name
    /// only a variable the bridge's owner allowed (`--llm-key-env`).
    #[serde(default)]
    pub api_key_env: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
}

fn default_model() -> String {
    "default".into()
}

const SYSTEM_PROMPT: &str = "You control one agent in a simulation. Read its observation and choose its next \
action by calling exactly one of the tools. If you cannot call tools, answer with one JSON object \
{\"tool\": NAME, \"params\": {...}, \"reasoning\": TEXT}.";

#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
}

impl Default for LlmClient {
    fn default() -> Self {
        Self { http: crate::outgoing_client() }
    }
}

impl LlmClient {
    pub async fn decide(
        &self,
        config: &LlmConfig,
        tools: &[Tool],
        observation: &Value,
        experiences: &[Box<RawValue>],
    ) -> Result<Decision, String> {
        let functions: Vec<Value> = tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name, "description": tool.description, "parameters": tool.parameters }})
            })
            .collect();
        let mut messages = vec![
            json!({"role": "system", "content": config.system_prompt.as_deref().unwrap_or(SYSTEM_PROMPT)}),
            json!({"role": "user", "content": observation.to_string()}),
        ];
        if !experiences.is_empty() {
            let reported = json!(experiences).to_string();
            messages
                .push(json!({"role": "user", "content": format!("What happened to you since: {reported}")}));
        }
        let mut body = json!({
            "model": config.model,
            "messages": messages,
            "tools": functions,
            "tool_choice": "auto",
        });
        if let Some(temperature) = config.temperature {
            body["temperature"] = json!(temperature);
        }
        if let Some(max_tokens) = config.max_tokens {
            body["max_tokens"] = json!(max_tokens);
        }
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let mut request = self.http.post(&url).json(&body);
        if let Some(key) = api_key(config) {
            request = request.bearer_auth(key);
        }
        let response =
            request.send().await.map_err(|error| format!("the model at {url} is unreachable: {error}"))?;
        let status = response.status();
        let answer: Value =
            response.json().await.map_err(|error| format!("the model answered no JSON: {error}"))?;
        if !status.is_success() {
            return Err(format!("the model answered HTTP {status}: {}", answer["error"]["message"]));
        }
        read_decision(&answer["choices"][0]["message"])
    }
}

/// The API key's variable when a backend names none: one the owner sets for
/// gamebridge alone, so no other secret of the environment is ever sent.
pub const DEFAULT_KEY_ENV: &str = "GAMEBRIDGE_LLM_API_KEY";

fn api_key(config: &LlmConfig) -> Option<String> {
    let name = config.api_key_env.as_deref().unwrap_or(DEFAULT_KEY_ENV);
    std::env::var(name).ok().filter(|key| !key.is_empty())
}

/// The action in a chat message: its first tool call, or a JSON object in its text.
pub fn read_decision(message: &Value) -> Result<Decision, String> {
    let text = message["content"].as_str().unwrap_or_default();
    if let Some(call) = message["tool_calls"].as_array().and_then(|calls| calls.first()) {
        let function = &call["function"];
        let tool = function["name"].as_str().ok_or("a tool call without a function name")?;
        // Arguments are a JSON string in the API; some servers send an object.
        let params = match &function["arguments"] {
            Value::String(arguments) if arguments.trim().is_empty() => json!({}),
            Value::String(arguments) => serde_json::from_str(arguments)
                .map_err(|error| format!("tool arguments are not JSON: {error}"))?,
            Value::Null => json!({}),
            other => other.clone(),
        };
        let reasoning = if text.is_empty() { format!("the model called {tool}") } else { text.to_owned() };
        return Ok(Decision { tool: tool.to_owned(), params, reasoning });
    }
    json_action_in(text)
        .ok_or_else(|| format!("the model chose no action: {}", text.chars().take(200).collect::<String>()))
}

/// The first JSON object in `text` that names a `tool`.
fn json_action_in(text: &str) -> Option<Decision> {
    text.match_indices('{').find_map(|(start, _)| {
        let mut objects = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        let value = objects.next()?.ok()?;
        value.get("tool")?.as_str()?;
        serde_json::from_value(value).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_tool_call_is_the_action() {
        let message = json!({"content": "", "tool_calls": [
            {"function": {"name": "move_to", "arguments": "{\"target_position\": [1, 2, 3]}"}},
            {"function": {"name": "idle", "arguments": "{}"}}
        ]});
        let decision = read_decision(&message).unwrap();
        assert_eq!(
            (decision.tool.as_str(), &decision.params),
            ("move_to", &json!({"target_position": [1, 2, 3]}))
        );
    }

    #[test]
    fn a_json_action_in_text_is_the_fallback() {
        let message = json!({"content": "I think {not json} so: {\"tool\": \"pickup_item\", \"params\": {\"item_id\": \"berry\"}, \"reasoning\": \"hungry\"} done"});
        let decision = read_decision(&message).unwrap();
        assert_eq!(decision.tool, "pickup_item");
        assert_eq!(decision.reasoning, "hungry");
        assert!(read_decision(&json!({"content": "I would rather not."})).unwrap_err().contains("no action"));
    }
}
