//! A journal of events kept outside this bridge and shared by many: the
//! fleet's JetStream stream. `GET /fleet/events` streams from it, numbered
//! by the shared journal, so a client may resume on any bridge of the fleet,
//! after any of them restarted. The hub only holds it; the fleet crate
//! implements it.

use bytes::Bytes;
use gamebridge_protocol::ErrorBody;
use tokio::sync::mpsc;

/// One event as the shared journal keeps it.
#[derive(Clone, Debug)]
pub struct SharedEvent {
    /// Its number in the shared journal: the same on every bridge.
    pub seq: u64,
    /// The node whose game sent it.
    pub node: String,
    pub game: String,
    pub event_type: String,
    /// Its data, as the node's own SSE clients got it.
    pub data: Bytes,
}

/// Where a follower of the shared journal starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedFrom {
    /// With the next event published.
    Now,
    /// After event `seq` (0: with the oldest kept).
    After(u64),
}

/// Events of the shared journal for one follower, in order; an error ends them.
pub type SharedEvents = mpsc::Receiver<Result<SharedEvent, ErrorBody>>;

pub trait SharedJournal: Send + Sync + 'static {
    /// Follows the journal from `from`, only `game`'s events if named,
    /// until the receiver is dropped.
    fn follow(&self, from: SharedFrom, game: Option<String>) -> SharedEvents;
}
