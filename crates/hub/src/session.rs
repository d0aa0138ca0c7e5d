//! One live connection between the bridge and a game, as a link sees it.

use std::sync::Arc;

use gamebridge_protocol::{BridgeMessage, ErrorBody, ErrorCode, GameMessage, Response};
use tokio::sync::mpsc;

use crate::events::HubEventKind;
use crate::game::Game;
use crate::pending::{CallIds, PendingCalls};

/// What the hub asks a link to write to its game. A batch is written in one
/// go, as the Vox Deorum bridge does for `/lua/batch`.
#[derive(Debug)]
pub enum Outbound {
    One(BridgeMessage),
    Batch(Vec<BridgeMessage>),
}

impl Outbound {
    pub fn messages(&self) -> &[BridgeMessage] {
        match self {
            Outbound::One(message) => std::slice::from_ref(message),
            Outbound::Batch(messages) => messages,
        }
    }
}

pub(crate) struct Session {
    pub outbound: mpsc::Sender<Outbound>,
    pub pending: PendingCalls,
}

/// Held by a link while its game is connected. Dropping it detaches the
/// session: every call still waiting fails at once with `DLL_DISCONNECTED`.
pub struct SessionGuard {
    game: Arc<Game>,
    session: Arc<Session>,
}

impl SessionGuard {
    pub(crate) fn new(game: Arc<Game>, outbound: mpsc::Sender<Outbound>) -> Self {
        let session = Arc::new(Session { outbound, pending: PendingCalls::default() });
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
            GameMessage::LuaRegister { function, description } => {
                tracing::debug!(game = game.name(), function, "game function registered");
                game.functions().register(function, description);
            }
            GameMessage::LuaUnregister { function } => {
                game.functions().unregister(&function);
            }
            GameMessage::LuaClear {} => game.functions().clear(),
            GameMessage::ExternalCall { id, function, .. } => {
                let error = ErrorBody::new(
                    ErrorCode::INVALID_FUNCTION,
                    format!("External function '{function}' is not registered"),
                );
                self.send_detached(BridgeMessage::ExternalResponse(Response::from_result(id, Err(error))));
            }
            GameMessage::GameEvent(event) => {
                game.stats().record_event();
                game.publish(HubEventKind::Game(event));
            }
        }
    }

    /// Whether `message` is still worth writing: a call whose caller has
    /// given up (deadline passed, agent hung up) is withdrawn before it
    /// reaches the game, so it can never run after its caller was told it failed.
    pub fn still_wanted(&self, message: &BridgeMessage) -> bool {
        match message.call_id() {
            Some(id) => CallIds::from_wire(id).is_some_and(|id| self.session.pending.contains(id)),
            None => true,
        }
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
        self.game.stats().record_bad_frame();
    }

    /// Queues a message without waiting: answers to the game must not stall
    /// the reader (see [`SessionGuard::receive`]).
    fn send_detached(&self, message: BridgeMessage) {
        let outbound = self.session.outbound.clone();
        match outbound.try_send(Outbound::One(message)) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(message)) => {
                tokio::spawn(async move {
                    let _ = outbound.send(message).await;
                });
            }
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.game.detach(&self.session);
    }
}
