//! The functions a game offers agents: those it registered (`lua_register`)
//! and those a manifest describes (a game such as the TF2 mod that never
//! registers anything). Each may carry a JSON Schema of its arguments, so
//! MCP clients see typed tools.
//!
//! The game fills its registrations as it likes, each up to a frame
//! (16 MiB), so they are bounded: [`MAX_GAME_FUNCTIONS`] functions and
//! [`MAX_GAME_FUNCTION_BYTES`] of names, descriptions and schemas. A
//! manifest comes from the operator and is not bounded.

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
    /// MCP tool annotations (`readOnlyHint`, `destructiveHint`,
    /// `idempotentHint`, …), when a manifest says what the function does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
    /// JSON Schema of the result (MCP's `outputSchema`), when known.
    #[serde(default, rename = "outputSchema", skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
}

/// Functions a game may register (`lua_register`); Vox Deorum registers a
/// few hundred.
pub const MAX_GAME_FUNCTIONS: usize = 4096;
/// Bytes of names, descriptions and schemas (as compact JSON) the game's
/// registrations may hold.
pub const MAX_GAME_FUNCTION_BYTES: usize = 16 << 20;

/// A registration past the registry's bounds.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum RegistryFull {
    #[error(
        "the game has registered {MAX_GAME_FUNCTIONS} functions, the most it may; '{0}' is not registered"
    )]
    Functions(String),
    #[error(
        "the game's registrations would hold more than {MAX_GAME_FUNCTION_BYTES} bytes; '{0}' is not registered"
    )]
    Bytes(String),
}

/// The game's own registrations and what they cost.
#[derive(Default)]
struct Registered {
    functions: BTreeMap<String, FunctionInfo>,
    bytes: usize,
}

/// The game-function registry of one game. Changed by the game's messages,
/// read by agents; never on the call path (calls go to the game even for
/// names the bridge has not seen, since the game is the authority).
pub struct FunctionRegistry {
    registered: RwLock<Registered>,
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

    /// Adds or replaces a function the game registered, within the bounds.
    pub fn register(&self, function: FunctionInfo) -> Result<(), RegistryFull> {
        let cost = footprint(&function);
        {
            let mut registered = write(&self.registered);
            let existing = registered.functions.get(&function.name);
            let replaced = existing.map_or(0, footprint);
            if existing.is_none() && registered.functions.len() >= MAX_GAME_FUNCTIONS {
                return Err(RegistryFull::Functions(function.name));
            }
            if registered.bytes - replaced + cost > MAX_GAME_FUNCTION_BYTES {
                return Err(RegistryFull::Bytes(function.name));
            }
            registered.bytes = registered.bytes - replaced + cost;
            registered.functions.insert(function.name.clone(), function);
        }
        self.changed();
        Ok(())
    }

    pub fn unregister(&self, name: &str) -> bool {
        let removed = {
            let mut registered = write(&self.registered);
            let removed = registered.functions.remove(name);
            registered.bytes -= removed.as_ref().map_or(0, footprint);
            removed.is_some()
        };
        if removed {
            self.changed();
        }
        removed
    }

    /// `lua_clear`: the game's registrations go; a manifest stays.
    pub fn clear(&self) {
        *write(&self.registered) = Registered::default();
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
        let registered = &read(&self.registered).functions;
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
        let registered = &read(&self.registered).functions;
        match registered.get(name).filter(|function| function.parameters.is_some()) {
            Some(function) => schema_is_object(function),
            None => read(&self.manifest).get(name).is_some_and(schema_is_object),
        }
    }

    /// Every function, the game's registration completed by the manifest
    /// (a description or schema the game did not give).
    pub fn list(&self) -> Vec<FunctionInfo> {
        let mut all = read(&self.manifest).clone();
        for (name, registered) in read(&self.registered).functions.iter() {
            let merged = match all.remove(name) {
                Some(described) => FunctionInfo {
                    name: name.clone(),
                    description: registered.description.clone().or(described.description),
                    parameters: registered.parameters.clone().or(described.parameters),
                    annotations: registered.annotations.clone().or(described.annotations),
                    output_schema: registered.output_schema.clone().or(described.output_schema),
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
        let registered = &read(&self.registered).functions;
        manifest.len() + registered.keys().filter(|name| !manifest.contains_key(*name)).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What keeping a registration costs: its name, description and schema
/// (as compact JSON, counted without writing it out).
fn footprint(function: &FunctionInfo) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut schema = Count(0);
    if let Some(parameters) = &function.parameters {
        let _ = serde_json::to_writer(&mut schema, parameters);
    }
    function.name.len() + function.description.as_ref().map_or(0, String::len) + schema.0
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
        FunctionInfo {
            name: name.into(),
            description: description.map(Into::into),
            parameters,
            annotations: None,
            output_schema: None,
        }
    }

    #[test]
    fn registrations_are_completed_by_the_manifest_and_changes_are_announced() {
        let (changes, mut seen) = watch::channel(0);
        let registry = FunctionRegistry::new(changes);
        registry.set_manifest(vec![info("ping", Some("Connectivity test"), Some(json!({"type": "object"})))]);
        registry.register(info("ping", None, None)).unwrap();
        registry.register(info("GetCity", Some("A city"), None)).unwrap();
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
    fn registrations_past_the_count_or_the_bytes_are_refused_and_their_room_given_back() {
        let registry = FunctionRegistry::new(watch::channel(0).0);
        for n in 0..MAX_GAME_FUNCTIONS {
            registry.register(info(&format!("F{n}"), None, None)).unwrap();
        }
        assert_eq!(registry.register(info("More", None, None)), Err(RegistryFull::Functions("More".into())));
        registry.register(info("F1", Some("replaced"), None)).expect("a known name may change");
        assert!(registry.unregister("F1"));
        registry.register(info("More", None, None)).expect("an unregistered function gives its place back");
        registry.clear();

        let big = "x".repeat(MAX_GAME_FUNCTION_BYTES / 3);
        registry.register(info("A", Some(&big), None)).unwrap();
        registry.register(info("B", None, Some(json!({"description": big})))).unwrap();
        assert_eq!(registry.register(info("C", Some(&big), None)), Err(RegistryFull::Bytes("C".into())));
        registry.register(info("A", Some("small now"), None)).unwrap();
        registry.register(info("C", Some(&big), None)).expect("a replaced description gives its bytes back");
        assert_eq!(registry.len(), 3);
    }

    #[test]
    fn names_and_typing_agree_with_the_merged_list() {
        let registry = FunctionRegistry::new(watch::channel(0).0);
        registry.set_manifest(vec![
            info("described", None, Some(json!({"type": "object"}))),
            info("loose", None, Some(json!(true))),
        ]);
        registry.register(info("described", Some("registered too"), None)).unwrap();
        registry.register(info("overridden", None, Some(json!({"type": "object"})))).unwrap();
        registry.register(info("bare", None, None)).unwrap();
        registry.register(info("loose", None, Some(json!("not an object")))).unwrap();
        let listed: Vec<String> = registry.list().into_iter().map(|function| function.name).collect();
        assert_eq!(registry.names(), listed);
        for function in registry.list() {
            let typed = matches!(function.parameters, Some(Value::Object(_)));
            assert_eq!(registry.is_typed(&function.name), typed, "{}", function.name);
        }
        assert!(!registry.is_typed("unknown"));
    }
}
