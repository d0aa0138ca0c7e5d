//! Agent functions registered on this node for another node's game, kept
//! while that game is away and registered again when it comes back. An
//! emulator machine that restarts then costs the learners on other machines
//! nothing: they keep their registrations and never need to know it left.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gamebridge_hub::{ExternalFunction, Game};

/// How long the functions of a game that does not come back are kept.
pub const KEPT_FOR: Duration = Duration::from_secs(600);

#[derive(Default)]
pub struct Orphans {
    kept: HashMap<String, Kept>,
}

struct Kept {
    functions: Vec<Arc<ExternalFunction>>,
    since: Instant,
}

impl Orphans {
    /// Keeps the agent functions of `game`, which is leaving this node.
    pub fn keep(&mut self, game: &Game) {
        let functions: Vec<_> =
            game.external_functions().into_iter().filter(|function| function.is_reachable()).collect();
        if !functions.is_empty() {
            self.kept.insert(game.name().to_owned(), Kept { functions, since: Instant::now() });
        }
    }

    /// Registers on `game`, back on this node, the functions kept for it
    /// whose agents are still there.
    pub fn restore(&mut self, game: &Game) {
        let Some(kept) = self.kept.remove(game.name()) else { return };
        let mut restored = Vec::new();
        for function in kept.functions.iter().filter(|function| function.is_reachable()) {
            match game.register_external(ExternalFunction::clone(function)) {
                Ok(_) => restored.push(function.name.as_str()),
                Err(error) => tracing::warn!(
                    game = game.name(),
                    function = function.name,
                    error = error.message,
                    "an agent function could not be registered again"
                ),
            }
        }
        if !restored.is_empty() {
            tracing::info!(game = game.name(), functions = ?restored, "the game is back: its agent functions are registered again");
        }
    }

    /// Forgets what was kept longer than [`KEPT_FOR`], or whose agents left.
    pub fn expire(&mut self) {
        self.kept.retain(|_, kept| {
            kept.since.elapsed() < KEPT_FOR && kept.functions.iter().any(|function| function.is_reachable())
        });
    }
}
