//! Events across the fleet: each node publishes its own games' events, as
//! its SSE clients get them, and every other node hands them to the games
//! it serves for that node, so `/events` on any node streams the fleet's.
//!
//! Into the fleet's journal ([`crate::journal`]) when the NATS server runs
//! JetStream: each event is published until the stream acknowledges it,
//! with an id the stream recognises if it comes twice, so it is kept
//! exactly once. While the server is away, events wait in this node's own
//! event ring, which bounds the memory they take; what the ring drops
//! before the server is back is lost to the fleet (and logged) but still in
//! `--journal`. Without JetStream, events go out once, as core NATS
//! messages: a node that is away misses them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::Context;
use async_nats::jetstream::message::PublishMessage;
use gamebridge_hub::{Delivery, Hub, StoredEvent};
use tokio_util::sync::CancellationToken;

use crate::proxy::is_proxy;
use crate::subjects::Subjects;

/// Events read from the log at once, and awaiting the stream's acknowledgement at once.
const BATCH: usize = 256;

/// The link-status event a hub publishes itself: each node has its own
/// for the games it serves, so it does not travel.
const LINK_STATUS: &str = "dll_status";

/// Waits between attempts while the stream does not acknowledge.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MOST: Duration = Duration::from_secs(2);

/// Where events go: into the fleet's stream, or out once.
#[derive(Clone)]
pub enum Outlet {
    Stream(Context),
    Core(Client),
}

/// Publishes the events of this node's games until `stop`.
pub async fn publish_events(
    outlet: Outlet,
    hub: Arc<Hub>,
    subjects: Subjects,
    node: String,
    stop: CancellationToken,
) {
    // Distinguishes this run's event numbers from an earlier run's, which
    // start again at 1 without a journal, within the duplicate window.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let mut cursor = hub.events().subscribe(None);
    loop {
        let delivery = tokio::select! {
            delivery = cursor.next(BATCH) => delivery,
            () = stop.cancelled() => return,
        };
        let events = match delivery {
            Delivery::Events(events) => events,
            Delivery::Lagged { missed, .. } => {
                tracing::warn!(
                    missed,
                    "events were dropped from this node's ring before the fleet took them: {missed} not published"
                );
                continue;
            }
        };
        // A game served for another node: its own node publishes its events.
        // Looked up once per game and batch (a batch is mostly a few games).
        let mut served_here: HashMap<Arc<str>, bool> = HashMap::new();
        let own = |event: &&Arc<StoredEvent>| {
            event.event_type != LINK_STATUS
                && *served_here
                    .entry(event.game.clone())
                    .or_insert_with(|| hub.game(&event.game).is_some_and(|game| !is_proxy(&game)))
        };
        let batch: Vec<(String, &Arc<StoredEvent>)> = (events.iter().filter(own))
            .map(|event| (subjects.event(&node, &event.game, &event.event_type), event))
            .collect();
        match &outlet {
            Outlet::Core(client) => {
                for (subject, event) in batch {
                    if let Err(error) = client.publish(subject, event.data.clone()).await {
                        tracing::debug!(%error, "could not publish an event to the fleet");
                    }
                }
            }
            Outlet::Stream(context) => {
                let id = |event: &StoredEvent| format!("{node}:{run:x}:{}", event.seq);
                let batch: Vec<(String, String, &Arc<StoredEvent>)> =
                    batch.into_iter().map(|(subject, event)| (subject, id(event), event)).collect();
                if !store(context, &batch, &stop).await {
                    return;
                }
            }
        }
    }
}

/// Publishes `batch` into the stream until every event is acknowledged;
/// `false` if `stop` came first.
async fn store(
    context: &Context,
    batch: &[(String, String, &Arc<StoredEvent>)],
    stop: &CancellationToken,
) -> bool {
    let mut rest = batch;
    let mut wait = RETRY_FIRST;
    let mut warned = false;
    while !rest.is_empty() {
        let (stored, error) = publish_acknowledged(context, rest).await;
        rest = &rest[stored..];
        let Some(error) = error else { break };
        if !warned {
            tracing::warn!(%error, waiting = rest.len(), "the fleet's event stream does not acknowledge: retrying");
            warned = true;
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.cancelled() => return false,
        }
        wait = (wait * 2).min(RETRY_MOST);
    }
    if warned {
        tracing::info!("the fleet's event stream acknowledges again");
    }
    true
}

/// Publishes `events`, then awaits their acknowledgements in order: how
/// many in a row were acknowledged, and the error that stopped the rest.
async fn publish_acknowledged(
    context: &Context,
    events: &[(String, String, &Arc<StoredEvent>)],
) -> (usize, Option<String>) {
    let mut acks = Vec::with_capacity(events.len());
    let mut error = None;
    for (subject, id, event) in events {
        let publish = PublishMessage::build().payload(event.data.clone()).message_id(id);
        match context.send_publish(subject.clone(), publish).await {
            Ok(ack) => acks.push(ack),
            Err(failed) => {
                error = Some(failed.to_string());
                break;
            }
        }
    }
    let mut stored = 0;
    for ack in acks {
        match ack.await {
            Ok(_) => stored += 1,
            Err(failed) => return (stored, Some(failed.to_string())),
        }
    }
    (stored, error)
}
