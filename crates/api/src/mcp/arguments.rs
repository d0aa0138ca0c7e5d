//! Tool arguments checked against the tool's own `inputSchema` before
//! anything runs. A model that sends `{"x": 3}` to a tool requiring `x` and
//! `y` is told which field is wrong and what was expected, as a tool error it
//! can act on, and the game never sees the call (a game function given
//! half its arguments may do half a thing, or fail with a Lua error that
//! says nothing of the arguments).
//!
//! Each schema is compiled once: the generic tools' at first use, a game
//! function's at its first call, kept until the registry changes (the
//! hub's function-changes version moves). A schema that does not compile
//! checks nothing: the game declared it and stays the authority, as it is
//! for the functions without one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gamebridge_hub::{Game, Hub};
use jsonschema::Validator;
use serde_json::Value;

/// Problems one refusal lists at most, and the length of each.
const MAX_ISSUES: usize = 10;
const MAX_ISSUE_CHARS: usize = 300;

/// Compiled schemas of game functions, shared by every MCP session.
#[derive(Default)]
pub struct FunctionSchemas(Mutex<Compiled>);

#[derive(Default)]
struct Compiled {
    /// The registry version the validators were compiled at.
    version: u64,
    /// (game, function) → its validator; `None` when it has no schema or
    /// one that does not compile.
    validators: HashMap<(String, String), Option<Arc<Validator>>>,
}

impl FunctionSchemas {
    /// Checks `args` against `function`'s schema in `game`.
    pub fn check(
        &self,
        hub: &Hub,
        game: &Game,
        function: &str,
        tool: &str,
        args: &Value,
    ) -> Result<(), String> {
        match self.validator(hub, game, function) {
            Some(validator) => check(&validator, tool, args),
            None => Ok(()),
        }
    }

    fn validator(&self, hub: &Hub, game: &Game, function: &str) -> Option<Arc<Validator>> {
        // The version is read before the schema: a change in between only
        // makes the next call compile again.
        let version = *hub.function_changes().borrow();
        let key = (game.name().to_owned(), function.to_owned());
        {
            let mut compiled = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if compiled.version != version {
                compiled.validators.clear();
                compiled.version = version;
            }
            if let Some(validator) = compiled.validators.get(&key) {
                return validator.clone();
            }
        }
        let schema = game.functions().list().into_iter().find(|info| info.name == function)?.parameters;
        let validator = schema.and_then(|schema| compile(&schema, &key.1)).map(Arc::new);
        let mut compiled = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if compiled.version == version {
            compiled.validators.insert(key, validator.clone());
        }
        validator
    }
}

/// The validator of `schema`, or `None` (logged) when it does not compile.
pub fn compile(schema: &Value, tool: &str) -> Option<Validator> {
    match jsonschema::validator_for(schema) {
        Ok(validator) => Some(validator),
        Err(error) => {
            tracing::warn!(tool, %error, "the tool's inputSchema does not compile; its arguments go unchecked");
            None
        }
    }
}

/// `Ok` when `args` satisfy `validator`; otherwise the tool error's text:
/// `INVALID_ARGUMENTS:`, then each problem with where it is.
pub fn check(validator: &Validator, tool: &str, args: &Value) -> Result<(), String> {
    let issues: Vec<String> = validator
        .iter_errors(args)
        .take(MAX_ISSUES)
        .map(|error| {
            let path = error.instance_path().to_string();
            let issue = if path.is_empty() { error.to_string() } else { format!("at {path}: {error}") };
            issue.chars().take(MAX_ISSUE_CHARS).collect()
        })
        .collect();
    if issues.is_empty() {
        return Ok(());
    }
    Err(format!(
        "INVALID_ARGUMENTS: the arguments do not match {tool}'s inputSchema, so nothing was run; fix and call again: {}",
        issues.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_refusal_names_the_field_and_what_was_expected() {
        let schema = json!({"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
            "required": ["x", "y"]});
        let validator = compile(&schema, "Move").unwrap();
        assert_eq!(check(&validator, "Move", &json!({"x": 3, "y": 4})), Ok(()));
        let missing = check(&validator, "Move", &json!({"x": 3})).unwrap_err();
        assert!(missing.starts_with("INVALID_ARGUMENTS: "), "{missing}");
        assert!(missing.contains("\"y\" is a required property"), "{missing}");
        let wrong = check(&validator, "Move", &json!({"x": "three", "y": 4})).unwrap_err();
        assert!(wrong.contains("at /x: \"three\" is not of type \"integer\""), "{wrong}");
    }

    #[test]
    fn a_schema_that_does_not_compile_checks_nothing() {
        assert!(compile(&json!({"type": 12}), "Broken").is_none());
    }
}
