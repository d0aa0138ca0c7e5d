//! The fleet's journal: one JetStream stream holding every node's events,
//! within a byte and an age limit, on the NATS server's disk. Each node
//! publishes its games' events into it ([`crate::events`]); any node
//! streams it as `GET /fleet/events`, numbered by the stream, so a client
//! resumes after its last id on whichever node it reaches, after a restart
//! of any node (the local `--journal` does the same for one bridge).

use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::consumer::{DeliverPolicy, push};
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use futures::StreamExt;
use gamebridge_hub::{SharedEvent, SharedEvents, SharedFrom, SharedJournal};
use gamebridge_protocol::{ErrorBody, ErrorCode};
use tokio::sync::mpsc;

use crate::subjects::{Subjects, untoken};

/// How much of the fleet's events the stream keeps: the oldest leave first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalLimits {
    pub max_bytes: u64,
    pub max_age: Duration,
}

impl Default for JournalLimits {
    fn default() -> Self {
        Self { max_bytes: 1 << 30, max_age: Duration::from_secs(24 * 60 * 60) }
    }
}

/// How long the stream recognises an event published twice (a node that
/// publishes again what it is not sure landed): the event is kept once.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Events waiting for one follower, at most: a follower that stops reading
/// stops its consumer, not the stream.
const FOLLOW_QUEUE: usize = 256;

/// Errors in a row after which a follower's stream ends (it reconnects).
const MAX_ERRORS_IN_A_ROW: u32 = 8;

/// The stream's name for a fleet prefix: `gamebridge` → `GAMEBRIDGE_EVENTS`.
pub fn stream_name(prefix: &str) -> String {
    let name: String = prefix
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
        .collect();
    format!("{name}_EVENTS")
}

/// Creates the fleet's stream, or updates its limits to `limits`.
pub async fn open_stream(
    context: &Context,
    subjects: &Subjects,
    limits: JournalLimits,
) -> Result<stream::Info, jetstream::context::CreateStreamError> {
    let config = stream::Config {
        name: stream_name(subjects.prefix()),
        description: Some("gamebridge fleet events (docs/FLEET.md)".to_owned()),
        subjects: vec![subjects.every_event()],
        max_bytes: i64::try_from(limits.max_bytes).unwrap_or(i64::MAX),
        max_age: limits.max_age,
        discard: DiscardPolicy::Old,
        storage: StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    };
    context.create_or_update_stream(config).await
}

/// The fleet's stream as this node reads it.
pub struct FleetJournal {
    pub client: Client,
    pub context: Context,
    pub subjects: Subjects,
}

impl SharedJournal for FleetJournal {
    fn follow(&self, from: SharedFrom, game: Option<String>) -> SharedEvents {
        let (sender, receiver) = mpsc::channel(FOLLOW_QUEUE);
        let filter_subject = match &game {
            Some(game) => self.subjects.events_of_game(game),
            None => self.subjects.every_event(),
        };
        let config = push::OrderedConfig {
            deliver_subject: self.client.new_inbox(),
            filter_subject,
            deliver_policy: match from {
                SharedFrom::Now => DeliverPolicy::New,
                SharedFrom::After(0) => DeliverPolicy::All,
                SharedFrom::After(seq) => DeliverPolicy::ByStartSequence { start_sequence: seq + 1 },
            },
            ..Default::default()
        };
        let (context, subjects) = (self.context.clone(), self.subjects.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = follow(context, subjects, config, &sender) => {}
                () = sender.closed() => {}
            }
        });
        receiver
    }
}

/// Sends the stream's events to `sender` until it closes or the stream fails.
async fn follow(
    context: Context,
    subjects: Subjects,
    config: push::OrderedConfig,
    sender: &mpsc::Sender<Result<SharedEvent, ErrorBody>>,
) {
    let unavailable = |error: String| {
        ErrorBody::new(ErrorCode::NETWORK_ERROR, format!("the fleet's event stream is unavailable: {error}"))
    };
    let messages = async {
        let stream = context.get_stream(stream_name(subjects.prefix())).await.map_err(|e| e.to_string())?;
        let consumer = stream.create_consumer(config).await.map_err(|e| e.to_string())?;
        consumer.messages().await.map_err(|e| e.to_string())
    };
    let mut messages = match messages.await {
        Ok(messages) => messages,
        Err(error) => {
            let _ = sender.send(Err(unavailable(error))).await;
            return;
        }
    };
    let mut errors = 0;
    while let Some(message) = messages.next().await {
        let message = match message {
            Ok(message) => message,
            // The ordered consumer makes itself again after most errors.
            Err(error) => {
                errors += 1;
                tracing::debug!(%error, "the fleet's event stream stumbled");
                if errors >= MAX_ERRORS_IN_A_ROW {
                    let _ = sender.send(Err(unavailable(error.to_string()))).await;
                    return;
                }
                continue;
            }
        };
        errors = 0;
        let Some(event) = shared_event(&subjects, &message) else { continue };
        if sender.send(Ok(event)).await.is_err() {
            return;
        }
    }
}

/// A stream message as the event it carries; `None` for one that is not.
fn shared_event(subjects: &Subjects, message: &jetstream::Message) -> Option<SharedEvent> {
    let seq = message.info().ok()?.stream_sequence;
    let (node, game, kind) = subjects.event_parts(&message.subject)?;
    Some(SharedEvent {
        seq,
        node: untoken(node)?,
        game: untoken(game)?,
        event_type: untoken(kind)?,
        data: message.payload.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_named_after_the_prefix() {
        assert_eq!(stream_name("gamebridge"), "GAMEBRIDGE_EVENTS");
        assert_eq!(stream_name("lab.run-2"), "LAB_RUN_2_EVENTS");
    }
}
