//! Tells the fleet which games this node runs, and which functions its
//! agents serve for other nodes' games: a [`Hello`] every [`HEARTBEAT`],
//! and at once when a game, its functions or an agent's registrations change. A node
//! whose hellos stop is gone once [`HELLO_EXPIRES`] passes.

use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, RequestErrorKind, Subscriber};
use gamebridge_hub::Hub;
use tokio_util::sync::CancellationToken;

use crate::agent_queues::AgentQueues;
use crate::proxy::is_proxy;
use crate::receive;
use crate::subjects::Subjects;
use crate::wire::{GameCard, Hello, Paused, Served};

/// How often a node says hello.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a node's games stay in the fleet after its last hello: a node
/// killed without a goodbye leaves within this, and its pending calls fail.
pub const HELLO_EXPIRES: Duration = Duration::from_secs(3);

/// This node's hello: its own games (not the fleet's, which it also
/// serves), and the functions its agents serve for the fleet's.
pub fn hello(hub: &Hub, node: &str, serves: Vec<Served>) -> Hello {
    let games = hub
        .games()
        .iter()
        .filter(|game| !is_proxy(game))
        .map(|game| GameCard {
            name: game.name().to_owned(),
            connected: game.is_connected(),
            functions: game.functions().list(),
            lockstep: game.lockstep().as_deref().cloned(),
            paused: Paused { game: game.is_game_paused(), players: game.paused_players() },
        })
        .collect();
    Hello { node: node.to_owned(), games, serves }
}

/// Says hello until `stop`, then goodbye.
pub async fn announce(
    client: Client,
    hub: Arc<Hub>,
    subjects: Subjects,
    node: String,
    stop: CancellationToken,
) {
    let mut changes = hub.function_changes();
    let mut agents_changes = hub.external_changes();
    let mut queues = AgentQueues::new(client.clone(), subjects.clone());
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let subject = subjects.hello(&node);
    loop {
        tokio::select! {
            _ = beat.tick() => {}
            changed = changes.changed() => if changed.is_err() { break },
            changed = agents_changes.changed() => if changed.is_err() { break },
            () = stop.cancelled() => break,
        }
        let serves = queues.follow(&hub).await;
        let payload = serde_json::to_vec(&hello(&hub, &node, serves)).expect("a hello serialises");
        if let Err(error) = client.publish(subject.clone(), payload.into()).await {
            tracing::debug!(%error, "could not say hello to the fleet");
        }
    }
    // Best effort: a node that cannot say goodbye expires instead.
    let _ = client.publish(subjects.bye(&node), node.clone().into()).await;
    let _ = client.flush().await;
}

/// How long a joining bridge waits for a node of its name to answer.
const ROLL_CALL_TIMEOUT: Duration = Duration::from_millis(500);

/// Whether a live node of the fleet is called `node` already.
pub async fn name_is_taken(client: &Client, subjects: &Subjects, node: &str) -> bool {
    let request = async_nats::Request::new().payload(node.to_owned().into()).timeout(Some(ROLL_CALL_TIMEOUT));
    match client.send_request(subjects.roll_call(node), request).await {
        Ok(_) => true,
        Err(error) if error.kind() == RequestErrorKind::NoResponders => false,
        Err(error) => {
            tracing::debug!(%error, "no answer to the roll call: the name is taken to be free");
            false
        }
    }
}

/// Answers bridges asking whether this node's name is taken, until `stop`.
pub async fn answer_roll_calls(client: Client, mut roll_calls: Subscriber, stop: CancellationToken) {
    while let Some(message) = receive::next(&mut roll_calls, &stop).await {
        if let Some(reply) = message.reply {
            tracing::error!("a bridge tried to join the fleet under this node's name; it was refused");
            let _ = client.publish(reply, "taken".into()).await;
        }
    }
}
