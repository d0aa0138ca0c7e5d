//! The owner's side of fleet calls: calls that other nodes send to this
//! node's games, answered by calling the game as an agent of this node
//! would. The call's deadline is what its caller had left, so a call never
//! outlives the agent waiting for it.

use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, Message, Subscriber};
use gamebridge_hub::Game;
use gamebridge_hub::Hub;
use gamebridge_protocol::{ErrorBody, ErrorCode, RawValue};
use tokio_util::sync::CancellationToken;

use crate::proxy::is_proxy;
use crate::receive;
use crate::subjects::untoken;
use crate::wire::{Control, FleetAnswer, FleetCall};

/// The longest deadline a fleet call may carry, as for calls over HTTP.
const MAX_DEADLINE: Duration = Duration::from_secs(24 * 60 * 60);

/// Answers the calls in `calls` until `stop`, each on a task of its own;
/// scripts only if `allow_execute`.
pub async fn answer_calls(
    client: Client,
    hub: Arc<Hub>,
    mut calls: Subscriber,
    allow_execute: bool,
    stop: CancellationToken,
) {
    while let Some(message) = receive::next(&mut calls, &stop).await {
        let (client, hub) = (client.clone(), hub.clone());
        tokio::spawn(async move { answer(client, hub, message, allow_execute).await });
    }
}

async fn answer(client: Client, hub: Arc<Hub>, message: Message, allow_execute: bool) {
    let Some(reply) = message.reply.clone() else {
        tracing::debug!(subject = %message.subject, "a fleet call without a reply subject: dropped");
        return;
    };
    let answer = match serde_json::from_slice::<FleetCall>(&message.payload) {
        Ok(FleetCall::Execute { .. }) if !allow_execute => FleetAnswer::from(Err(ErrorBody::new(
            ErrorCode::INVALID_SCRIPT,
            "this node runs no scripts for the fleet (--no-execute)",
        ))),
        Ok(call) => run(&hub, game_of(&message), call).await,
        Err(error) => FleetAnswer::from(Err(ErrorBody::new(
            ErrorCode::INVALID_ARGUMENTS,
            format!("not a fleet call: {error}"),
        ))),
    };
    let payload = serde_json::to_vec(&answer).expect("an answer serialises");
    if let Err(error) = client.publish(reply, payload.into()).await {
        tracing::warn!(%error, "could not send a fleet call's answer");
    }
}

/// The game token of `PREFIX.node.NODE.game.GAME.call`.
fn game_of(message: &Message) -> Option<&str> {
    let mut tokens = message.subject.rsplit('.');
    tokens.next().filter(|last| *last == "call")?;
    tokens.next()
}

async fn run(hub: &Hub, token: Option<&str>, call: FleetCall) -> FleetAnswer {
    let game = token.and_then(untoken).and_then(|name| hub.game(&name)).filter(|game| !is_proxy(game));
    let Some(game) = game else {
        let name = token.unwrap_or("?");
        return FleetAnswer::from(Err(ErrorBody::new(
            ErrorCode::DLL_DISCONNECTED,
            format!("no game '{name}' on this node (it left the fleet?)"),
        )));
    };
    let deadline = |ms: u64| Duration::from_millis(ms.max(1)).min(MAX_DEADLINE);
    let answered = match call {
        FleetCall::Call { function, args, timeout_ms } => {
            game.call_answered(function, args, deadline(timeout_ms)).await
        }
        FleetCall::Execute { script, timeout_ms } => {
            game.execute_answered(script, deadline(timeout_ms)).await
        }
        FleetCall::Control(control) => {
            apply(&game, control);
            return FleetAnswer::from(Ok(RawValue::from_string("true".to_owned()).expect("JSON")));
        }
    };
    FleetAnswer::from(answered.outcome)
}

/// A pause control from another node, applied as this node's agents would.
fn apply(game: &Game, control: Control) {
    match control {
        Control::PauseGame => game.set_game_paused(true),
        Control::ResumeGame => game.set_game_paused(false),
        Control::PausePlayer { player_id } => {
            game.set_player_paused(player_id, true);
        }
        Control::UnpausePlayer { player_id } => {
            game.set_player_paused(player_id, false);
        }
        Control::ClearPausedPlayers => game.clear_paused_players(),
        Control::ProductionMode { enabled } => game.set_production_mode(enabled),
    }
}
