//! The core of gamebridge: games, their sessions, pending calls, the
//! game-function registry and the event bus.
//!
//! The hub knows no transport and no HTTP. A game-side link (a pipe, a socket,
//! a mailbox folder) attaches a [`Session`] to a [`Game`] when its game
//! connects, feeds it the [`GameMessage`](gamebridge_protocol::GameMessage)s it
//! reads, and drains an [`Outbound`] channel to write. Agent-side APIs call
//! [`Game::call`], [`Game::execute`] and [`Game::batch`].
//!
//! The call path takes no global lock: the current session is an atomic
//! pointer, pending calls live in a sharded map, and ids come from an atomic
//! counter.

mod events;
mod game;
mod pending;
mod registry;
mod session;
mod stats;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

pub use events::{EventBus, HubEvent, HubEventKind};
pub use game::{Game, GameStatus, LinkState};
pub use pending::CallIds;
pub use registry::{FunctionInfo, FunctionRegistry};
pub use session::{Outbound, SessionGuard};
pub use stats::{GameStats, StatsSnapshot};

/// Every game the bridge serves.
pub struct Hub {
    games: ArcSwap<Vec<Arc<Game>>>,
    events: EventBus,
    ids: Arc<CallIds>,
    started: Instant,
}

/// A second game with a name already in use.
#[derive(Debug, thiserror::Error)]
#[error("a game named {0:?} already exists")]
pub struct DuplicateGame(pub String);

impl Default for Hub {
    fn default() -> Self {
        Self {
            games: ArcSwap::from_pointee(Vec::new()),
            events: EventBus::new(1024),
            ids: Arc::new(CallIds::new()),
            started: Instant::now(),
        }
    }
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds a game reached through `link` (a link spec, shown to agents).
    pub fn add_game(&self, name: &str, link: &str) -> Result<Arc<Game>, DuplicateGame> {
        let game = Arc::new(Game::new(name, link, self.events.clone(), self.ids.clone()));
        let mut duplicate = false;
        self.games.rcu(|games| {
            duplicate = games.iter().any(|existing| existing.name() == name);
            let mut games = Vec::clone(games);
            if !duplicate {
                games.push(game.clone());
            }
            games
        });
        if duplicate { Err(DuplicateGame(name.to_owned())) } else { Ok(game) }
    }

    /// The game called `name`.
    pub fn game(&self, name: &str) -> Option<Arc<Game>> {
        self.games.load().iter().find(|game| game.name() == name).cloned()
    }

    /// The game unprefixed routes address: the only one, or the first added.
    pub fn default_game(&self) -> Option<Arc<Game>> {
        self.games.load().first().cloned()
    }

    /// All games, in the order they were added.
    pub fn games(&self) -> Arc<Vec<Arc<Game>>> {
        self.games.load_full()
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}
