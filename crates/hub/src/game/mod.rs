//! A game the bridge serves: its current session, registries, pause state
//! and counters. The call path is in `calls`, agent-side control (external
//! functions, pause) in `control`.

mod calls;
mod control;
mod lockstep;

pub use calls::Answered;
pub use lockstep::Lockstep;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwapOption;
use gamebridge_protocol::BridgeMessage;
use serde::Serialize;
use tokio::sync::mpsc;

use self::calls::lost_connection;
use crate::events::{EventLog, HubEventKind};
use crate::external::{ExternalDispatch, ExternalRegistry};
use crate::pause::PauseState;
use crate::pending::{CallIds, PendingCallInfo};
use crate::registry::FunctionRegistry;
use crate::session::{Outbound, Session, SessionGuard};
use crate::stats::GameStats;

/// Where a game's link stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// The link has not started yet.
    Starting,
    /// Trying to reach the game (first attempt or after a loss).
    Connecting,
    /// Waiting for the game to connect to us.
    Listening,
    Connected,
    Disconnected,
    Stopped,
}

struct LinkStatus {
    state: LinkState,
    since: Instant,
    detail: Option<String>,
}

/// What agents see of a game (`GET /games`).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct GameStatus {
    pub name: String,
    pub link: String,
    pub state: LinkState,
    pub connected: bool,
    /// Seconds in the current state.
    pub state_seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub functions: usize,
    pub pending_calls: usize,
    /// For a lockstep game: its frame spec, deadline and hold bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "utoipa", schema(value_type = Option<Lockstep>))]
    pub lockstep: Option<Arc<Lockstep>>,
    /// For an instance of a listening game (`tempest/3`): that game.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_of: Option<String>,
    /// For a lockstep game: who answers its frames (the agent function
    /// `step`, its own or its listening game's), if anyone does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_agent: Option<String>,
}

pub struct Game {
    name: Arc<str>,
    link: String,
    session: ArcSwapOption<Session>,
    functions: FunctionRegistry,
    stats: Arc<GameStats>,
    status: Mutex<LinkStatus>,
    external: ExternalRegistry,
    pause: PauseState,
    /// For an instance of a listening game (`tempest/3`), the game itself.
    parent: Option<Arc<Game>>,
    /// Whether a session is attached, for those who wait on it.
    connected: tokio::sync::watch::Sender<bool>,
    /// Set by a lockstep link.
    lockstep: ArcSwapOption<Lockstep>,
    shared: Arc<Shared>,
}

/// What every game of a hub shares.
pub(crate) struct Shared {
    pub events: Arc<EventLog>,
    /// Bumped whenever any game's functions, or the set of games, change.
    pub function_changes: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever an agent function is registered or unregistered.
    pub external_changes: tokio::sync::watch::Sender<u64>,
    pub ids: CallIds,
    pub dispatch: Arc<dyn ExternalDispatch>,
}

impl Game {
    pub(crate) fn new(name: &str, link: &str, parent: Option<Arc<Game>>, shared: Arc<Shared>) -> Self {
        Self {
            name: name.into(),
            link: link.to_owned(),
            session: ArcSwapOption::empty(),
            functions: FunctionRegistry::new(shared.function_changes.clone()),
            stats: Arc::default(),
            status: Mutex::new(LinkStatus {
                state: LinkState::Starting,
                since: Instant::now(),
                detail: None,
            }),
            external: ExternalRegistry::default(),
            pause: PauseState::default(),
            parent,
            connected: tokio::sync::watch::Sender::new(false),
            lockstep: ArcSwapOption::empty(),
            shared,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn link(&self) -> &str {
        &self.link
    }

    /// The listening game this is an instance of, if any.
    pub fn parent(&self) -> Option<&Arc<Game>> {
        self.parent.as_ref()
    }

    pub fn functions(&self) -> &FunctionRegistry {
        &self.functions
    }

    pub fn stats(&self) -> &GameStats {
        &self.stats
    }

    /// Counts a lockstep frame (and whether it got the default reply) on
    /// this game and, for an instance, on its listening game too: the
    /// instance's counters leave with it, the listening game's totals stay.
    pub fn record_step(&self, missed: bool) {
        for game in std::iter::once(self).chain(self.parent.as_deref()) {
            game.stats.record_step(missed);
        }
    }

    /// Counts a frame that could not be read, as [`Game::record_step`] does.
    pub fn record_bad_frame(&self) {
        for game in std::iter::once(self).chain(self.parent.as_deref()) {
            game.stats.record_bad_frame();
        }
    }

    pub fn is_connected(&self) -> bool {
        self.session.load().is_some()
    }

    /// Waits until the game is connected (`true`) or disconnected (`false`).
    pub async fn wait_until_connected(&self, connected: bool) {
        let mut state = self.connected.subscribe();
        // The sender lives as long as the game, which `self` keeps alive.
        let _ = state.wait_for(|now| *now == connected).await;
    }

    /// Attaches a new connection; the link holds the guard while it lasts.
    /// The game is first told what agents set up while it was away: external
    /// functions, paused players, production mode, a manual pause.
    pub fn attach(self: &Arc<Self>, outbound: mpsc::Sender<Outbound>) -> SessionGuard {
        let guard = SessionGuard::new(self.clone(), outbound);
        let restore = self.restore_messages();
        if !restore.is_empty() {
            guard.session().send_detached(Outbound::Batch(restore));
        }
        if let Some(previous) = self.session.swap(Some(guard.session().clone())) {
            previous.pending.close(&lost_connection(&self.name));
        }
        // A listening game counts its instances' connects.
        for game in std::iter::once(&**self).chain(self.parent.as_deref()) {
            game.stats.record_connect();
        }
        self.set_state(LinkState::Connected, None);
        self.connected.send_replace(true);
        self.publish(HubEventKind::LinkStatus { connected: true });
        guard
    }

    pub(crate) fn detach(&self, session: &Arc<Session>) {
        let failed = session.pending.close(&lost_connection(&self.name));
        let previous = self.session.compare_and_swap(session, None::<Arc<Session>>);
        let was_current = previous.as_ref().is_some_and(|current| Arc::ptr_eq(current, session));
        if failed > 0 {
            tracing::warn!(game = %self.name, failed, "game disconnected; pending calls failed with DLL_DISCONNECTED");
        }
        if was_current {
            // The game forgets its paused players when the bridge goes away.
            self.pause.on_disconnect();
            self.set_state(LinkState::Disconnected, None);
            self.connected.send_replace(false);
            self.publish(HubEventKind::LinkStatus { connected: false });
        }
    }

    /// Records what the link is doing, for `/games` and `/health`.
    pub fn set_state(&self, state: LinkState, detail: Option<String>) {
        let mut status = self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if status.state != state {
            status.since = Instant::now();
        }
        status.state = state;
        status.detail = detail;
    }

    /// The `limit` oldest calls waiting for this game's answer, oldest first.
    pub fn pending_calls(&self, limit: usize) -> Vec<PendingCallInfo> {
        self.session.load().as_ref().map_or_else(Vec::new, |session| session.pending.oldest(limit))
    }

    /// How many calls wait for this game's answer.
    pub fn pending_count(&self) -> usize {
        self.session.load().as_ref().map_or(0, |session| session.pending.len())
    }

    pub fn status(&self) -> GameStatus {
        let status = self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let pending_calls = self.pending_count();
        let lockstep = self.lockstep();
        let step_agent =
            lockstep.as_ref().and_then(|_| self.find_external("step")).map(|step| step.served_by());
        GameStatus {
            name: self.name.to_string(),
            link: self.link.clone(),
            state: status.state,
            connected: self.is_connected(),
            state_seconds: status.since.elapsed().as_secs(),
            detail: status.detail.clone(),
            functions: self.functions.len(),
            pending_calls,
            lockstep,
            instance_of: self.parent.as_ref().map(|parent| parent.name.to_string()),
            step_agent,
        }
    }

    /// Publishes (and counts) an event of this game: from its link, or from
    /// the Agent Arena routes.
    pub fn publish_event(&self, event: gamebridge_protocol::GameEvent) {
        self.stats.record_event();
        self.publish(HubEventKind::Game(event));
    }

    pub(crate) fn publish(&self, kind: HubEventKind) {
        self.shared.events.publish(&self.name, &kind);
    }

    pub(crate) fn pause(&self) -> &PauseState {
        &self.pause
    }

    /// Sends a control message if the game is connected; otherwise the state
    /// it carries is restored when the game connects.
    fn send_control(&self, message: BridgeMessage) {
        if let Some(session) = self.session.load_full() {
            session.send_detached(Outbound::One(message));
        }
    }

    /// Waits (a second at most) until the control messages sent so far are
    /// written to the game, so an answer to the agent comes after them, as
    /// the original bridge wrote to the pipe before answering.
    pub async fn control_written(&self) {
        let Some(session) = self.session.load_full() else { return };
        let (written, done) = crate::session::Written::new();
        session.send_detached(Outbound::Barrier(written));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), done).await;
    }

    fn restore_messages(&self) -> Vec<BridgeMessage> {
        let mut messages: Vec<BridgeMessage> = self
            .external
            .list()
            .iter()
            .map(|function| BridgeMessage::ExternalRegister {
                name: function.name.clone(),
                is_async: function.is_async,
            })
            .collect();
        messages.extend(self.pause.restore_messages());
        messages
    }
}
