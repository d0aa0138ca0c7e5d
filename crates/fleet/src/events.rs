//! Events across the fleet: each node publishes its own games' events, as
//! its SSE clients get them, and every other node hands them to the games
//! it serves for that node, so `/events` on any node streams the fleet's.
//!
//! Core NATS carries them at most once: a node that is away (or a NATS
//! server restarting) misses what is published meanwhile. Each node's own
//! ring and `--journal` keep its games' events for replay as before.

use std::sync::Arc;

use async_nats::Client;
use gamebridge_hub::{Delivery, Hub};
use tokio_util::sync::CancellationToken;

use crate::proxy::is_proxy;
use crate::subjects::Subjects;

/// Events read from the log at once.
const BATCH: usize = 256;

/// The link-status event a hub publishes itself: each node has its own
/// for the games it serves, so it does not travel.
const LINK_STATUS: &str = "dll_status";

/// Publishes the events of this node's games until `stop`.
pub async fn publish_events(
    client: Client,
    hub: Arc<Hub>,
    subjects: Subjects,
    node: String,
    stop: CancellationToken,
) {
    let mut cursor = hub.events().subscribe(None);
    loop {
        let delivery = tokio::select! {
            delivery = cursor.next(BATCH) => delivery,
            () = stop.cancelled() => return,
        };
        let events = match delivery {
            Delivery::Events(events) => events,
            Delivery::Lagged { missed, .. } => {
                tracing::warn!(missed, "events came faster than the fleet took them: {missed} not published");
                continue;
            }
        };
        for event in events.iter().filter(|event| event.event_type != LINK_STATUS) {
            // A game served for another node: its own node publishes its events.
            if hub.game(&event.game).is_none_or(|game| is_proxy(&game)) {
                continue;
            }
            let subject = subjects.event(&node, &event.game, &event.event_type);
            if let Err(error) = client.publish(subject, event.data.clone()).await {
                tracing::debug!(%error, "could not publish an event to the fleet");
            }
        }
    }
}
