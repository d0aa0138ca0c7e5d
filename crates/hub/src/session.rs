//! One live connection between the bridge and a game, as a link sees it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gamebridge_protocol::{BridgeMessage, ErrorBody, GameEvent, GameMessage};
use tokio::sync::{mpsc, oneshot};

use crate::game::Game;
use crate::pending::{CallIds, PendingCalls};
use crate::registry::FunctionInfo;

/// What the hub asks a link to write to its game. A batch is written in one
/// go, as the Vox Deorum bridge does for `/lua/batch`.
#[derive(Debug)]
pub enum Outbound {
    One(BridgeMessage),
    Batch(Vec<BridgeMessage>),
    /// No message: signals once everything queued before it is written (a
    /// link that writes streams keeps it until its write is flushed; others
    /// let it go when they take it).
    Barrier(Written),
}

impl Outbound {
    pub fn messages(&self) -> &[BridgeMessage] {
        match self {
            Outbound::One(message) => std::slice::from_ref(message),
            Outbound::Batch(messages) => messages,
            Outbound::Barrier(_) => &[],
        }
    }
}

/// Fires when dropped: "what came before me is written".
#[derive(Debug)]
pub struct Written(Option<oneshot::Sender<()>>);

impl Written {
    pub(crate) fn new() -> (Self, oneshot::Receiver<()>) {
        let (sender, receiver) = oneshot::channel();
        (Self(Some(sender)), receiver)
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(());
        }
    }
}

/// Calls from one connection's game to agents (`external_call`) in
/// flight at once, from the call until its answer is queued to the game.
/// Each holds a task, its arguments and its answer; a game that sends calls
/// faster than agents answer, or never reads the answers, would otherwise
/// grow the bridge without end.
pub const MAX_EXTERNAL_CALLS: usize = 4096;

pub(crate) struct Session {
    pub outbound: mpsc::Sender<Outbound>,
    pub pending: PendingCalls,
    /// `external_call`s in flight (see [`MAX_EXTERNAL_CALLS`]).
    external_calls: AtomicUsize,
    /// Whether a call was refused since one was last accepted (one log line per episode).
    external_full: AtomicBool,
}

/// One place among the [`MAX_EXTERNAL_CALLS`]; given back when dropped.
pub(crate) struct ExternalCallSlot(Arc<Session>);

impl ExternalCallSlot {
    /// A place for one more call, unless the connection has as many as it
    /// takes; then `Err(first)`, `first` when the previous call was accepted.
    pub fn take(session: &Arc<Session>) -> Result<Self, bool> {
        if session.external_calls.fetch_add(1, Ordering::AcqRel) >= MAX_EXTERNAL_CALLS {
            session.external_calls.fetch_sub(1, Ordering::AcqRel);
            return Err(!session.external_full.swap(true, Ordering::Relaxed));
        }
        if session.external_full.load(Ordering::Relaxed) {
            session.external_full.store(false, Ordering::Relaxed);
        }
        Ok(Self(session.clone()))
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.0
    }
}

impl Drop for ExternalCallSlot {
    fn drop(&mut self) {
        self.0.external_calls.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Session {
    /// Queues messages without waiting: answers and control messages to the
    /// game must not stall the link's reader (see [`SessionGuard::receive`]).
    pub fn send_detached(&self, outbound: Outbound) {
        match self.outbound.try_send(outbound) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(outbound)) => {
                let sender = self.outbound.clone();
                tokio::spawn(async move {
                    let _ = sender.send(outbound).await;
                });
            }
        }
    }
}

/// Held by a link while its game is connected. Dropping it detaches the
/// session: every call still waiting fails at once with `DLL_DISCONNECTED`.
pub struct SessionGuard {
    game: Arc<Game>,
    session: Arc<Session>,
}

impl SessionGuard {
    pub(crate) fn new(game: Arc<Game>, outbound: mpsc::Sender<Outbound>) -> Self {
        let session = Arc::new(Session {
            outbound,
            pending: PendingCalls::default(),
            external_calls: AtomicUsize::new(0),
            external_full: AtomicBool::new(false),
        });
        Self { game, session }
    }

    pub(crate) fn session(&self) -> &Arc<Session> {
        &self.session
    }

    pub fn game(&self) -> &Arc<Game> {
        &self.game
    }

    /// Handles one message from the game. Never blocks: the link's reader must
    /// keep reading even when its writer is slow, or both sides could wait on
    /// each other.
    pub fn receive(&self, message: GameMessage) {
        let game = &self.game;
        match message {
            GameMessage::LuaResponse(response) => {
                let id = CallIds::from_wire(&response.id);
                let wire_id = response.id.clone();
                let answered = id.is_some_and(|id| self.session.pending.complete(id, response.into_result()));
                if !answered {
                    tracing::debug!(game = game.name(), id = %wire_id, "answer for no waiting call (late or unknown id)");
                }
            }
            GameMessage::LuaRegister { function, description, parameters } => {
                tracing::debug!(game = game.name(), function, "game function registered");
                let parameters = parameters.and_then(|schema| serde_json::from_str(schema.get()).ok());
                if let Err(full) = game.functions().register(FunctionInfo {
                    name: function,
                    description,
                    parameters,
                    annotations: None,
                    output_schema: None,
                }) {
                    // The game is not answered for a registration: the log says why a function is missing.
                    tracing::warn!(game = game.name(), %full, "game function registration refused");
                }
            }
            GameMessage::LuaUnregister { function } => {
                game.functions().unregister(&function);
            }
            GameMessage::LuaClear {} => game.functions().clear(),
            GameMessage::ExternalCall { id, function, args, .. } => {
                game.handle_external_call(&self.session, id, function, args);
            }
            GameMessage::GameEvent(event) => {
                track_active_player(game, &event);
                game.publish_event(event);
            }
        }
    }

    /// Whether `message` is still worth writing: a call whose caller has
    /// given up (deadline passed, agent hung up) is withdrawn before it
    /// reaches the game, so it can never run after its caller was told it failed.
    pub fn still_wanted(&self, message: &BridgeMessage) -> bool {
        message.call_id().is_none() || self.deadline(message).is_some()
    }

    /// When the caller of the call `message` starts stops waiting for it
    /// (`None` for messages that are not calls, and for calls given up).
    /// Links that can take a command back use it to withdraw one in time.
    pub fn deadline(&self, message: &BridgeMessage) -> Option<tokio::time::Instant> {
        let id = CallIds::from_wire(message.call_id()?)?;
        self.session.pending.deadline(id)
    }

    /// Fails the call `message` started, for a message the link could not
    /// write (too large for its framing, say): the caller learns at once
    /// instead of waiting out its deadline.
    pub fn fail_unsent(&self, message: &BridgeMessage, error: ErrorBody) {
        if let Some(id) = message.call_id().and_then(CallIds::from_wire) {
            self.session.pending.complete(id, Err(error));
        }
    }

    /// Counts a frame that could not be decoded or parsed.
    pub fn record_bad_frame(&self) {
        self.game.record_bad_frame();
    }
}

/// `PlayerDoTurn` / `PlayerDoneTurn` say whose turn it is, which decides
/// whether a paused player holds the game (`isGamePaused`).
fn track_active_player(game: &Game, event: &GameEvent) {
    let field = match event.event.as_str() {
        "PlayerDoTurn" => "PlayerID",
        "PlayerDoneTurn" => "NextPlayerID",
        _ => return,
    };
    let Some(payload) = &event.payload else { return };
    let payload: serde_json::Value = serde_json::from_str(payload.get()).unwrap_or_default();
    if let Some(player) = payload.get(field).and_then(serde_json::Value::as_i64) {
        game.pause().set_active_player(player);
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.game.detach(&self.session);
    }
}
