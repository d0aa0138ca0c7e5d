//! The functions a game offers agents: those it registered (`lua_register`)
//! and those a manifest describes (a game such as the TF2 mod that never
//! registers anything). Each may carry a JSON Schema of its arguments, so
//! MCP clients see typed tools.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

/// A function agents can call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments (an object schema), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// The game-function registry of one game. Changed by the game's messages,
/// read by agents; never on the call path (calls go to the game even for
/// names the bridge has not seen, since the game is the authority).
pub struct FunctionRegistry {
    registered: RwLock<BTreeMap<String, FunctionInfo>>,
    manifest: RwLock<BTreeMap<String, FunctionInfo>>,
    /// Bumped on every change, for those who follow the tool list (MCP).
    changes: watch::Sender<u64>,
}

impl FunctionRegistry {
    pub(crate) fn new(changes: watch::Sender<u64>) -> Self {
        Self { registered: RwLock::default(), manifest: RwLock::default(), changes }
    }

    fn changed(&self) {
        self.changes.send_modify(|version| *version += 1);
    }

    pub fn register(&self, function: FunctionInfo) {
        write(&self.registered).insert(function.name.clone(), function);
        self.changed();
    }

    pub fn unregister(&self, name: &str) -> bool {
        let removed = write(&self.registered).remove(name).is_some();
        if removed {
            self.changed();
        }
        removed
    }

    /// `lua_clear`: the game's registrations go; a manifest stays.
    pub fn clear(&self) {
        write(&self.registered).clear();
        self.changed();
    }

    /// Describes functions the game offers without registering them.
    pub fn set_manifest(&self, functions: Vec<FunctionInfo>) {
        *write(&self.manifest) =
            functions.into_iter().map(|function| (function.name.clone(), function)).collect();
        self.changed();
    }

    /// Every function's name, in order, without cloning descriptions or
    /// schemas (`/lua/functions` and each MCP tool call ask).
    pub fn names(&self) -> Vec<String> {
        let manifest = read(&self.manifest);
        let registered = read(&self.registered);
        let only_registered = registered.keys().filter(|name| !manifest.contains_key(*name));
        let mut names: Vec<String> = manifest.keys().chain(only_registered).cloned().collect();
        names.sort_unstable();
        names
    }

    /// Whether `name` has an object schema of its arguments, the game's
    /// own or else the manifest's, as `list` merges them.
    pub fn is_typed(&self, name: &str) -> bool {
        let schema_is_object =
            |function: &FunctionInfo| matches!(function.parameters, Some(Value::Object(_)));
        let registered = read(&self.registered);
        match registered.get(name).filter(|function| function.parameters.is_some()) {
            Some(function) => schema_is_object(function),
            None => read(&self.manifest).get(name).is_some_and(schema_is_object),
        }
    }

    /// Every function, the game's registration completed by the manifest
    /// (a description or schema the game did not give).
    pub fn list(&self) -> Vec<FunctionInfo> {
        let mut all = read(&self.manifest).clone();
        for (name, registered) in read(&self.registered).iter() {
            let merged = match all.remove(name) {
                Some(described) => FunctionInfo {
                    name: name.clone(),
                    description: registered.description.clone().or(described.description),
                    parameters: registered.parameters.clone().or(described.parameters),
                },
                None => registered.clone(),
            };
            all.insert(name.clone(), merged);
        }
        all.into_values().collect()
    }

    /// How many functions `list` would give, without cloning their schemas
    /// (`/games` and `/stats` ask on every request).
    pub fn len(&self) -> usize {
        let manifest = read(&self.manifest);
        let registered = read(&self.registered);
        manifest.len() + registered.keys().filter(|name| !manifest.contains_key(*name)).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn info(name: &str, description: Option<&str>, parameters: Option<Value>) -> FunctionInfo {
        FunctionInfo { name: name.into(), description: description.map(Into::into), parameters }
    }

    #[test]
    fn registrations_are_completed_by_the_manifest_and_changes_are_announced() {
        let (changes, mut seen) = watch::channel(0);
        let registry = FunctionRegistry::new(changes);
        registry.set_manifest(vec![info("ping", Some("Connectivity test"), Some(json!({"type": "object"})))]);
        registry.register(info("ping", None, None));
        registry.register(info("GetCity", Some("A city"), None));
        assert_eq!(
            registry.list(),
            [
                info("GetCity", Some("A city"), None),
                info("ping", Some("Connectivity test"), Some(json!({"type": "object"})))
            ]
        );
        assert_eq!(registry.len(), 2, "a function both registered and described counts once");
        registry.clear();
        assert_eq!(registry.names(), ["ping"], "the manifest stays after lua_clear");
        assert_eq!(registry.len(), 1);
        assert!(seen.has_changed().unwrap());
        assert_eq!(*seen.borrow_and_update(), 4);
    }

    #[test]
    fn names_and_typing_agree_with_the_merged_list() {
        let registry = FunctionRegistry::new(watch::channel(0).0);
        registry.set_manifest(vec![
            info("described", None, Some(json!({"type": "object"}))),
            info("loose", None, Some(json!(true))),
        ]);
        registry.register(info("described", Some("registered too"), None));
        registry.register(info("overridden", None, Some(json!({"type": "object"}))));
        registry.register(info("bare", None, None));
        registry.register(info("loose", None, Some(json!("not an object"))));
        let listed: Vec<String> = registry.list().into_iter().map(|function| function.name).collect();
        assert_eq!(registry.names(), listed);
        for function in registry.list() {
            let typed = matches!(function.parameters, Some(Value::Object(_)));
            assert_eq!(registry.is_typed(&function.name), typed, "{}", function.name);
        }
        assert!(!registry.is_typed("unknown"));
    }
}
