//! The core of gamebridge: games, their sessions, pending calls, the
//! function registries, pause state and the event stream.
//!
//! The hub knows no transport and no HTTP. A game-side link (a pipe, a socket,
//! a mailbox folder) attaches a session to a [`Game`] when its game connects,
//! feeds it the [`GameMessage`](gamebridge_protocol::GameMessage)s it reads,
//! and drains an [`Outbound`] channel to write. Agent-side APIs call
//! [`Game::call`], [`Game::execute`] and [`Game::batch`], register external
//! functions, and read events through [`EventLog`] cursors. Calls from the
//! game to agents go through an [`ExternalDispatch`] the binary provides.
//!
//! The call path takes no global lock: the current session is an atomic
//! pointer, pending calls live in a sharded map, and ids come from an atomic
//! counter.

mod events;
mod external;
mod game;
mod pause;
mod pending;
mod registry;
mod session;
mod stats;
mod turn_mutex;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

pub use events::{
    DEFAULT_EVENT_RING_BYTES, Delivery, EventCursor, EventLog, HubEventKind, Journal, SharedEvent,
    SharedEvents, SharedFrom, SharedJournal, StoredEvent,
};
pub use external::{
    AgentChannel, AgentEndpoint, DispatchFuture, ExternalDispatch, ExternalFunction, ExternalRequest,
    MAX_EXTERNAL_FUNCTION_BYTES, MAX_EXTERNAL_FUNCTIONS, NoDispatch, StepDefaulted, StepFuture, StepRequest,
};
pub use game::{Answered, Game, GameStatus, LinkState, Lockstep};
pub use pause::PLAYER_IDS;
pub use pending::{CallIds, MAX_PENDING_CALLS, PendingCallInfo};
pub use registry::{
    FunctionInfo, FunctionRegistry, MAX_GAME_FUNCTION_BYTES, MAX_GAME_FUNCTIONS, RegistryFull,
};
pub use session::{MAX_EXTERNAL_CALLS, Outbound, SessionGuard, Written};
pub use stats::{GameStats, LatencySlot, StatsSnapshot};

use game::Shared;

/// Events kept in memory for replay unless configured otherwise.
pub const DEFAULT_EVENT_CAPACITY: usize = 10_000;

/// How a hub is built.
pub struct HubConfig {
    /// Events kept in memory for replay.
    pub event_capacity: usize,
    /// Bytes of events kept in memory for replay: the game decides how large
    /// an event is, so a count alone does not bound memory.
    pub event_bytes: usize,
    /// A file every event is appended to, for history across restarts.
    pub journal: Option<PathBuf>,
    /// How calls from games reach agent functions.
    pub dispatch: Arc<dyn ExternalDispatch>,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            event_capacity: DEFAULT_EVENT_CAPACITY,
            event_bytes: DEFAULT_EVENT_RING_BYTES,
            journal: None,
            dispatch: Arc::new(NoDispatch),
        }
    }
}

/// Every game the bridge serves.
pub struct Hub {
    games: ArcSwap<Vec<Arc<Game>>>,
    shared: Arc<Shared>,
    started: Instant,
    /// The fleet's journal, while this bridge is in a fleet.
    shared_journal: std::sync::RwLock<Option<Arc<dyn SharedJournal>>>,
}

/// A second game with a name already in use.
#[derive(Debug, thiserror::Error)]
#[error("a game named {0:?} already exists")]
pub struct DuplicateGame(pub String);

impl Hub {
    /// A hub with the default configuration (no journal, no agent transport).
    pub fn new() -> Arc<Self> {
        Self::with_config(HubConfig::default()).expect("a hub without a journal always builds")
    }

    /// Fails only when the journal cannot be opened.
    pub fn with_config(config: HubConfig) -> std::io::Result<Arc<Self>> {
        let events = match &config.journal {
            Some(path) => EventLog::with_journal(config.event_capacity, config.event_bytes, path)?,
            None => EventLog::bounded(config.event_capacity, config.event_bytes),
        };
        let shared = Shared {
            events: Arc::new(events),
            function_changes: tokio::sync::watch::Sender::new(0),
            external_changes: tokio::sync::watch::Sender::new(0),
            ids: CallIds::new(),
            dispatch: config.dispatch,
        };
        Ok(Arc::new(Self {
            games: ArcSwap::from_pointee(Vec::new()),
            shared: Arc::new(shared),
            started: Instant::now(),
            shared_journal: std::sync::RwLock::new(None),
        }))
    }

    /// Adds a game reached through `link` (a link spec, shown to agents).
    pub fn add_game(&self, name: &str, link: &str) -> Result<Arc<Game>, DuplicateGame> {
        let game = Arc::new(Game::new(name, link, None, self.shared.clone()));
        let mut duplicate = false;
        let previous = self.games.rcu(|games| {
            duplicate = games.iter().any(|existing| existing.name() == name);
            let mut games = Vec::clone(games);
            if !duplicate {
                games.push(game.clone());
            }
            games
        });
        if duplicate {
            return Err(DuplicateGame(name.to_owned()));
        }
        // With several games, event data says which game each event came
        // from; once it does, it always does.
        if !previous.is_empty() {
            self.shared.events.tag_games(true);
        }
        self.games_changed();
        Ok(game)
    }

    /// Adds the next instance of a listening game: `NAME/1`, `NAME/2`, …,
    /// reusing the lowest number no live instance holds.
    pub fn add_instance(&self, parent: &Arc<Game>) -> Arc<Game> {
        let mut added = None;
        self.games.rcu(|games| {
            let taken: std::collections::BTreeSet<u32> = games
                .iter()
                .filter(|game| game.parent().is_some_and(|own| Arc::ptr_eq(own, parent)))
                .filter_map(|game| game.name().rsplit_once('/')?.1.parse().ok())
                .collect();
            let number = (1..).find(|number| !taken.contains(number)).expect("a free instance number");
            let name = format!("{}/{number}", parent.name());
            let game = Arc::new(Game::new(&name, parent.link(), Some(parent.clone()), self.shared.clone()));
            added = Some(game.clone());
            let mut games = Vec::clone(games);
            games.push(game);
            games
        });
        self.shared.events.tag_games(true);
        self.games_changed();
        added.expect("rcu ran at least once")
    }

    /// Removes a game (an instance whose connection ended).
    pub fn remove_game(&self, name: &str) {
        self.games.rcu(|games| games.iter().filter(|game| game.name() != name).cloned().collect::<Vec<_>>());
        self.games_changed();
    }

    /// The instances of a listening game that are connected.
    pub fn connected_instances(&self, parent: &str) -> usize {
        self.games
            .load()
            .iter()
            .filter(|game| game.parent().is_some_and(|own| own.name() == parent) && game.is_connected())
            .count()
    }

    /// From now on every event's data names its game (`game`), however
    /// many games there are: for a fleet node, whose games come and go.
    pub fn name_games_in_events(&self) {
        self.shared.events.tag_games(true);
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

    pub fn events(&self) -> &Arc<EventLog> {
        &self.shared.events
    }

    /// Changes whenever the games or their functions change (the MCP tool
    /// list follows it).
    pub fn function_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.function_changes.subscribe()
    }

    /// Changes whenever an agent function is registered or unregistered
    /// for any game (a fleet node tells the fleet which it serves).
    pub fn external_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.external_changes.subscribe()
    }

    /// Sets (or, with `None`, clears) the journal shared by the fleet.
    pub fn set_shared_journal(&self, journal: Option<Arc<dyn SharedJournal>>) {
        *self.shared_journal.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = journal;
    }

    /// The fleet's journal, while this bridge is in a fleet.
    pub fn shared_journal(&self) -> Option<Arc<dyn SharedJournal>> {
        self.shared_journal.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn games_changed(&self) {
        self.shared.function_changes.send_modify(|version| *version += 1);
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}
