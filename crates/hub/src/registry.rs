//! The functions a game registered (`lua_register`), mirrored for agents.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::Serialize;

/// A registered game function.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The game-function registry of one game. Changed by the game's messages,
/// read by agents; never on the call path (calls go to the game even for
/// names the bridge has not seen, since the game is the authority).
#[derive(Default)]
pub struct FunctionRegistry {
    functions: RwLock<BTreeMap<String, Option<String>>>,
}

impl FunctionRegistry {
    pub fn register(&self, name: String, description: Option<String>) {
        self.write().insert(name, description);
    }

    pub fn unregister(&self, name: &str) -> bool {
        self.write().remove(name).is_some()
    }

    pub fn clear(&self) {
        self.write().clear();
    }

    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    pub fn list(&self) -> Vec<FunctionInfo> {
        self.read()
            .iter()
            .map(|(name, description)| FunctionInfo { name: name.clone(), description: description.clone() })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Option<String>>> {
        self.functions.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Option<String>>> {
        self.functions.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
