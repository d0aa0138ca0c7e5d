//! Game events and connection notices, broadcast to every subscriber.

use std::sync::Arc;

use gamebridge_protocol::GameEvent;
use tokio::sync::broadcast;

/// Something agents may want to hear about, tagged with the game it came from.
#[derive(Clone, Debug)]
pub struct HubEvent {
    pub game: Arc<str>,
    pub kind: HubEventKind,
}

#[derive(Clone, Debug)]
pub enum HubEventKind {
    /// A `game_event` frame from the game.
    Game(GameEvent),
    /// The game connected or disconnected (`dll_status` to Vox Deorum clients).
    LinkStatus { connected: bool },
}

/// A bounded broadcast of hub events. A subscriber that falls behind loses
/// the oldest events and is told how many (tokio's `Lagged`), never silently.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<HubEvent>>,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        Self { sender: broadcast::channel(capacity).0 }
    }

    pub fn publish(&self, event: HubEvent) {
        // No subscribers is fine: events are not stored in this layer yet.
        let _ = self.sender.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<HubEvent>> {
        self.sender.subscribe()
    }
}
