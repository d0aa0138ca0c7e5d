//! A game the bridge serves: its current session, registry and counters.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use gamebridge_protocol::{BridgeMessage, CallResult, ErrorBody, ErrorCode, RawValue, WireId};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout_at;

use crate::events::{EventBus, HubEvent, HubEventKind};
use crate::pending::CallIds;
use crate::registry::FunctionRegistry;
use crate::session::{Outbound, Session, SessionGuard};
use crate::stats::GameStats;

/// Where a game's link stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
}

pub struct Game {
    name: Arc<str>,
    link: String,
    session: ArcSwapOption<Session>,
    functions: FunctionRegistry,
    stats: GameStats,
    status: Mutex<LinkStatus>,
    events: EventBus,
    ids: Arc<CallIds>,
}

impl Game {
    pub(crate) fn new(name: &str, link: &str, events: EventBus, ids: Arc<CallIds>) -> Self {
        Self {
            name: name.into(),
            link: link.to_owned(),
            session: ArcSwapOption::empty(),
            functions: FunctionRegistry::default(),
            stats: GameStats::default(),
            status: Mutex::new(LinkStatus {
                state: LinkState::Starting,
                since: Instant::now(),
                detail: None,
            }),
            events,
            ids,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn link(&self) -> &str {
        &self.link
    }

    pub fn functions(&self) -> &FunctionRegistry {
        &self.functions
    }

    pub fn stats(&self) -> &GameStats {
        &self.stats
    }

    pub fn is_connected(&self) -> bool {
        self.session.load().is_some()
    }

    /// Calls a game function (`lua_call`).
    pub async fn call(&self, function: String, args: Box<RawValue>, timeout: Duration) -> CallResult {
        let outcome =
            self.request(timeout, |id| Outbound::One(BridgeMessage::LuaCall { id, function, args })).await;
        self.stats.record_outcomes([&outcome]);
        outcome
    }

    /// Runs a Lua script in the game (`lua_execute`).
    pub async fn execute(&self, script: String, timeout: Duration) -> CallResult {
        let outcome =
            self.request(timeout, |id| Outbound::One(BridgeMessage::LuaExecute { id, script })).await;
        self.stats.record_outcomes([&outcome]);
        outcome
    }

    /// Calls several functions, written to the game in one go; each call
    /// succeeds or fails on its own, and all share one deadline.
    pub async fn batch(&self, calls: Vec<(String, Box<RawValue>)>, timeout: Duration) -> Vec<CallResult> {
        let deadline = tokio::time::Instant::now() + timeout;
        let count = calls.len();
        let outcomes = match self.send_batch(calls, deadline).await {
            Ok(waiting) => {
                let mut outcomes = Vec::with_capacity(count);
                for call in waiting {
                    outcomes.push(call.wait(deadline, self.name()).await);
                }
                outcomes
            }
            Err(error) => vec![Err(error); count],
        };
        self.stats.record_outcomes(&outcomes);
        outcomes
    }

    async fn send_batch(
        &self,
        calls: Vec<(String, Box<RawValue>)>,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<PendingCall>, ErrorBody> {
        let session = self.current_session()?;
        let mut waiting = Vec::with_capacity(calls.len());
        let mut messages = Vec::with_capacity(calls.len());
        for (function, args) in calls {
            let (call, id) = PendingCall::register(&session, &self.ids)?;
            messages.push(BridgeMessage::LuaCall { id, function, args });
            waiting.push(call);
        }
        self.send(&session, Outbound::Batch(messages), deadline).await?;
        Ok(waiting)
    }

    async fn request(&self, timeout: Duration, message: impl FnOnce(WireId) -> Outbound) -> CallResult {
        let deadline = tokio::time::Instant::now() + timeout;
        let session = self.current_session()?;
        let (call, id) = PendingCall::register(&session, &self.ids)?;
        self.send(&session, message(id), deadline).await?;
        call.wait(deadline, self.name()).await
    }

    fn current_session(&self) -> Result<Arc<Session>, ErrorBody> {
        self.session.load_full().ok_or_else(|| self.not_connected())
    }

    async fn send(
        &self,
        session: &Session,
        outbound: Outbound,
        deadline: tokio::time::Instant,
    ) -> Result<(), ErrorBody> {
        match timeout_at(deadline, session.outbound.send(outbound)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_closed)) => Err(self.not_connected()),
            Err(_elapsed) => Err(call_timeout("the game's write queue stayed full")),
        }
    }

    fn not_connected(&self) -> ErrorBody {
        ErrorBody::new(ErrorCode::DLL_DISCONNECTED, format!("game '{}' is not connected", self.name))
    }

    /// Attaches a new connection; the link holds the guard while it lasts.
    pub fn attach(self: &Arc<Self>, outbound: mpsc::Sender<Outbound>) -> SessionGuard {
        let guard = SessionGuard::new(self.clone(), outbound);
        if let Some(previous) = self.session.swap(Some(guard.session().clone())) {
            previous.pending.close(&lost_connection(&self.name));
        }
        self.stats.record_connect();
        self.set_state(LinkState::Connected, None);
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
            self.set_state(LinkState::Disconnected, None);
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

    pub fn status(&self) -> GameStatus {
        let status = self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let pending_calls = self.session.load().as_ref().map_or(0, |session| session.pending.len());
        GameStatus {
            name: self.name.to_string(),
            link: self.link.clone(),
            state: status.state,
            connected: self.is_connected(),
            state_seconds: status.since.elapsed().as_secs(),
            detail: status.detail.clone(),
            functions: self.functions.len(),
            pending_calls,
        }
    }

    pub(crate) fn publish(&self, kind: HubEventKind) {
        self.events.publish(HubEvent { game: self.name.clone(), kind });
    }
}

/// A registered call waiting for its answer. Dropping it before the answer
/// (the agent hung up, the deadline passed) removes it from the pending map,
/// so abandoned calls never accumulate.
struct PendingCall {
    session: Arc<Session>,
    id: u64,
    answer: Option<oneshot::Receiver<CallResult>>,
}

impl PendingCall {
    fn register(session: &Arc<Session>, ids: &CallIds) -> Result<(Self, WireId), ErrorBody> {
        let id = ids.next();
        let answer = session
            .pending
            .register(id)
            .map_err(|_| ErrorBody::new(ErrorCode::DLL_DISCONNECTED, "the game disconnected"))?;
        Ok((Self { session: session.clone(), id, answer: Some(answer) }, CallIds::to_wire(id)))
    }

    async fn wait(mut self, deadline: tokio::time::Instant, game: &str) -> CallResult {
        let answer = self.answer.take().expect("a pending call is awaited once");
        match timeout_at(deadline, answer).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_dropped)) => Err(lost_connection(game)),
            Err(_elapsed) => Err(call_timeout("the game did not answer in time")),
        }
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        self.session.pending.forget(self.id);
    }
}

fn lost_connection(game: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::DLL_DISCONNECTED,
        format!("lost connection to game '{game}' while waiting for a response"),
    )
}

fn call_timeout(why: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::CALL_TIMEOUT, format!("Function call timed out: {why}"))
}
