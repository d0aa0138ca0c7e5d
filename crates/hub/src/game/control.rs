//! Agent-side control of a game: the functions agents registered for the
//! game to call, the calls themselves, and pause control.

use std::sync::Arc;

use gamebridge_protocol::{BridgeMessage, CallResult, ErrorBody, ErrorCode, RawValue, Response, WireId};

use super::Game;
use bytes::Bytes;

use crate::external::{
    AgentChannel, AgentEndpoint, ExternalFunction, ExternalRequest, StepDefaulted, StepRequest,
};
use crate::session::{ExternalCallSlot, MAX_EXTERNAL_CALLS, Outbound, Session};

impl Game {
    /// Registers an agent function and tells the game (`external_register`).
    pub fn register_external(&self, function: ExternalFunction) -> Result<Arc<ExternalFunction>, ErrorBody> {
        let function = self.external.register(function)?;
        self.external_changed();
        self.send_control(BridgeMessage::ExternalRegister {
            name: function.name.clone(),
            is_async: function.is_async,
        });
        Ok(function)
    }

    /// Removes an agent function and tells the game (`external_unregister`).
    pub fn unregister_external(&self, name: &str) -> Result<(), ErrorBody> {
        self.external.unregister(name).ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::INVALID_FUNCTION,
                format!("External function '{name}' is not registered"),
            )
        })?;
        self.external_changed();
        self.send_control(BridgeMessage::ExternalUnregister { name: name.to_owned() });
        Ok(())
    }

    fn external_changed(&self) {
        self.shared.external_changes.send_modify(|version| *version += 1);
    }

    pub fn external_functions(&self) -> Vec<Arc<ExternalFunction>> {
        self.external.list()
    }

    /// The agent function `name` for this game: its own, or, for an
    /// instance of a listening game, the one registered for the game itself.
    pub fn find_external(&self, name: &str) -> Option<Arc<ExternalFunction>> {
        self.external.get(name).or_else(|| self.parent.as_ref()?.find_external(name))
    }

    /// Removes the functions a disconnected agent served, telling the game.
    pub fn unregister_channel(&self, channel: &Arc<dyn AgentChannel>) {
        let gone = self.external.unregister_channel(channel);
        if !gone.is_empty() {
            self.external_changed();
        }
        for name in gone {
            self.send_control(BridgeMessage::ExternalUnregister { name });
        }
    }

    /// Asks the agent that registered `step` for the reply to one frame of a
    /// lockstep game. The link bounds the wait with its step deadline.
    pub async fn step(&self, seq: u64, frame: Bytes) -> Result<Bytes, ErrorBody> {
        self.step_for(self.name.clone(), seq, frame).await
    }

    /// [`step`](Self::step) for a frame of `instance`, which this game's
    /// agent serves: an instance of it, or, for a game of another fleet
    /// node served here, an instance of that game.
    pub async fn step_for(&self, instance: Arc<str>, seq: u64, frame: Bytes) -> Result<Bytes, ErrorBody> {
        let Some(function) = self.find_external("step") else {
            return Err(ErrorBody::new(
                ErrorCode::INVALID_FUNCTION,
                "no agent registered the function 'step'",
            ));
        };
        match &function.endpoint {
            AgentEndpoint::Webhook { .. } => {
                let fields = self.decode_frame(&frame);
                let request = StepRequest { game: instance, seq, frame, fields };
                self.shared.dispatch.step(function.clone(), request).await
            }
            AgentEndpoint::Channel(channel) => {
                channel.step(StepRequest { game: instance, seq, frame, fields: None }).await
            }
        }
    }

    /// Tells the connected agent stepping this game that frame `seq` got
    /// `reply`, the default, instead of its answer (a webhook agent has no
    /// connection to hear it on).
    pub fn step_defaulted(&self, seq: u64, error: ErrorBody, reply: Bytes) {
        self.step_defaulted_for(self.name.clone(), seq, error, reply);
    }

    /// [`step_defaulted`](Self::step_defaulted) for a frame of `instance`,
    /// which this game's agent serves (see [`step_for`](Self::step_for)).
    pub fn step_defaulted_for(&self, instance: Arc<str>, seq: u64, error: ErrorBody, reply: Bytes) {
        if let Some(function) = self.find_external("step")
            && let AgentEndpoint::Channel(channel) = &function.endpoint
        {
            channel.step_defaulted(StepDefaulted { game: instance, seq, error, reply });
        }
    }

    /// Calls the agent function `name` registered for this game, within
    /// the function's timeout: the webhook or the connected agent.
    pub async fn call_agent(&self, name: &str, id: WireId, args: Box<RawValue>) -> CallResult {
        let Some(function) = self.find_external(name) else {
            return Err(ErrorBody::new(
                ErrorCode::INVALID_FUNCTION,
                format!("External function '{name}' is not registered"),
            ));
        };
        let request = ExternalRequest { game: self.name.clone(), id, args };
        let call = match &function.endpoint {
            AgentEndpoint::Webhook { .. } => self.shared.dispatch.call(function.clone(), request),
            AgentEndpoint::Channel(channel) => channel.call(&function.name, request),
        };
        let outcome = tokio::time::timeout(function.timeout, call).await.unwrap_or_else(|_| {
            Err(ErrorBody::new(
                ErrorCode::CALL_TIMEOUT,
                format!(
                    "external function '{name}' did not answer within {} ms",
                    function.timeout.as_millis()
                ),
            ))
        });
        self.stats.record_external(&outcome);
        outcome
    }

    /// Answers the game's `external_call` from the agent that registered the
    /// function. Runs in its own task: the link goes on reading while the
    /// agent thinks. Past [`MAX_EXTERNAL_CALLS`] in flight the call is
    /// answered at once with `TOO_MANY_CALLS`, if the game has room to read
    /// it (a game that reads nothing is not queued more answers).
    pub(crate) fn handle_external_call(
        self: &Arc<Self>,
        session: &Arc<Session>,
        id: WireId,
        function: String,
        args: Box<RawValue>,
    ) {
        let slot = match ExternalCallSlot::take(session) {
            Ok(slot) => slot,
            Err(first) => return self.refuse_external_call(session, id, &function, first),
        };
        let game = self.clone();
        tokio::spawn(async move {
            let outcome = game.call_agent(&function, id.clone(), args).await;
            if let Err(error) = &outcome {
                tracing::debug!(game = game.name(), function, %error, "external call failed");
            }
            // The place is held until the answer is queued: a game that does
            // not read its answers runs out of places instead of memory.
            let _ = slot.session().outbound.send(Outbound::One(external_response(id, outcome))).await;
        });
    }

    /// Answers an `external_call` past the bound with `TOO_MANY_CALLS`, if
    /// the game's queue has room; logs once per episode (`first`).
    fn refuse_external_call(&self, session: &Session, id: WireId, function: &str, first: bool) {
        if first {
            tracing::warn!(
                game = self.name(),
                function,
                max = MAX_EXTERNAL_CALLS,
                "external calls refused: as many as a connection may have are in flight"
            );
        }
        let error = ErrorBody::new(
            ErrorCode::TOO_MANY_CALLS,
            format!("{MAX_EXTERNAL_CALLS} external calls of this game are in flight, the most it may have"),
        );
        let _ = session.outbound.try_send(Outbound::One(external_response(id, Err(error))));
    }

    /// Adds or removes a player whose turn pauses the game; returns the
    /// paused players.
    pub fn set_player_paused(&self, player_id: i64, paused: bool) -> Vec<i64> {
        let players = self.pause.set_player(player_id, paused);
        self.send_control(if paused {
            BridgeMessage::PausePlayer { player_id }
        } else {
            BridgeMessage::UnpausePlayer { player_id }
        });
        players
    }

    pub fn clear_paused_players(&self) {
        self.pause.clear_players();
        self.send_control(BridgeMessage::ClearPausedPlayers {});
    }

    pub fn paused_players(&self) -> Vec<i64> {
        self.pause.players()
    }

    pub fn is_game_paused(&self) -> bool {
        self.pause.is_game_paused()
    }

    /// Takes the pause state another bridge reports for this game (a fleet
    /// node's game served here), telling the game nothing: that bridge has.
    pub fn mirror_pause(&self, paused: bool, players: &[i64]) {
        self.pause.mirror(paused, players);
    }

    /// Pauses (`pause_game`) or resumes (`resume_game`) the game by hand.
    pub fn set_game_paused(&self, paused: bool) {
        self.pause.set_manual(paused);
        self.send_control(if paused { BridgeMessage::PauseGame {} } else { BridgeMessage::ResumeGame {} });
    }

    pub fn set_production_mode(&self, enabled: bool) {
        self.pause.set_production_mode(enabled);
        self.send_control(BridgeMessage::SetProductionMode { enabled });
    }
}

fn external_response(id: WireId, outcome: CallResult) -> BridgeMessage {
    BridgeMessage::ExternalResponse(Response::from_result(id, outcome))
}
