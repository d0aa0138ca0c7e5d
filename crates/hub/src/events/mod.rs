//! The event stream: every game event and connection notice, numbered by
//! the bridge, kept in a ring bounded by count and bytes (and optionally a
//! journal on disk), and read by any number of clients through cursors.
//!
//! Clients do not get a queue each. A client is a position in the stream
//! ([`EventCursor`]) and pulls events from the shared ring when it is ready.
//! So publishing never waits for a client, a slow client costs no memory
//! beyond its position, and one mechanism gives both live delivery and
//! replay from an id. A client that falls further behind than the ring holds
//! is refilled from the journal when there is one; the rest is reported as
//! a lag, never skipped silently.
//!
//! Each event is rendered once, when it is published: its JSON data and
//! its whole SSE frame, in one buffer every client shares. Serving a client
//! is then copying those bytes, with no encoding per client, and a client
//! that stops reading stops costing anything but its position.

mod journal;
mod render;
mod ring;
mod shared;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gamebridge_protocol::GameEvent;
use tokio::sync::watch;

pub use journal::Journal;
pub use ring::DEFAULT_EVENT_RING_BYTES;
pub use shared::{SharedEvent, SharedEvents, SharedFrom, SharedJournal};

use ring::{Ring, Visited};

/// Frames a cursor copies under one hold of the ring's read lock, at most.
const LOCKED_VISIT_BYTES: usize = 16 << 10;

/// What a game produced, before the log numbers and renders it.
#[derive(Clone, Debug)]
pub enum HubEventKind {
    /// A `game_event` frame from the game.
    Game(GameEvent),
    /// The game connected or disconnected (`dll_status` to Vox Deorum clients).
    LinkStatus { connected: bool },
}

/// One event as clients receive it.
#[derive(Debug, PartialEq)]
pub struct StoredEvent {
    /// The bridge's sequence number: increasing, never reused, even across
    /// restarts when a journal is kept.
    pub seq: u64,
    pub game: Arc<str>,
    /// The event's name (`TurnStart`, `dll_status`, …).
    pub event_type: String,
    /// Milliseconds since the Unix epoch when the bridge received it.
    pub time_ms: u64,
    /// The JSON sent as SSE `data`: `{id, type, payload, extraPayload,
    /// visibility, game?}`. Compact, without raw line breaks, rendered once
    /// and shared by every client. A slice of `buffer`.
    pub data: Bytes,
    /// The type (its first `type_len` bytes), then the frame `id: SEQ\n
    /// event: message\ndata: DATA\n\n` from `frame_start` on.
    buffer: Bytes,
    type_len: usize,
    frame_start: usize,
    /// What keeping the event costs in bytes (see [`StoredEvent::footprint`]).
    footprint: usize,
}

impl StoredEvent {
    /// An event whose data was rendered before (read back from a journal,
    /// say); line breaks in it are dropped, as at publish time.
    pub fn new(seq: u64, game: Arc<str>, event_type: String, time_ms: u64, data: &[u8]) -> Self {
        render::rendered_data(event_type, data).into_event(seq, game, time_ms)
    }

    /// The whole SSE `message` event: what every client of `/events` whose
    /// filter keeps the event receives, byte for byte.
    pub fn sse_frame(&self) -> &[u8] {
        &self.buffer[self.frame_start..]
    }

    /// [`event_type`](Self::event_type) as bytes, kept just before the
    /// frame: a filter that checks it reads the memory that copying the
    /// frame reads, not the type's own allocation.
    pub fn type_bytes(&self) -> &[u8] {
        &self.buffer[..self.type_len]
    }

    /// The data as a JSON value (for tests and tools; the hot path keeps bytes).
    pub fn data_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.data).unwrap_or_default()
    }
}

/// What a cursor reads next.
#[derive(Debug)]
pub enum Delivery {
    Events(Vec<Arc<StoredEvent>>),
    /// Events `first..first + missed` are gone (evicted from the ring by its
    /// count or byte bound, and not in a journal); the cursor resumes after them.
    Lagged {
        first: u64,
        missed: u64,
    },
}

pub struct EventLog {
    ring: RwLock<Ring>,
    latest: watch::Sender<u64>,
    journal: Option<Journal>,
    /// Whether event data names its game (more than one game attached).
    tag_games: AtomicBool,
}

impl EventLog {
    /// A log keeping the last `capacity` events in memory only, within the
    /// default byte budget.
    pub fn new(capacity: usize) -> Self {
        Self::bounded(capacity, DEFAULT_EVENT_RING_BYTES)
    }

    /// A log keeping at most the last `capacity` events and `bytes` bytes
    /// of them (as [`StoredEvent::footprint`] counts) in memory only.
    pub fn bounded(capacity: usize, bytes: usize) -> Self {
        Self::build(Ring::new(capacity, bytes, 1), None, Vec::new())
    }

    /// A log bounded as [`bounded`](Self::bounded) that also appends every
    /// event to the journal at `path`. Numbering continues after the
    /// journal's last event and the ring starts filled with its tail (within
    /// both bounds), so replay works across a restart.
    pub fn with_journal(capacity: usize, bytes: usize, path: &std::path::Path) -> std::io::Result<Self> {
        let (journal, tail) = Journal::open(path, capacity.max(1), bytes)?;
        let ring = Ring::new(capacity, bytes, journal.last_seq() + 1);
        Ok(Self::build(ring, Some(journal), tail))
    }

    fn build(mut ring: Ring, journal: Option<Journal>, tail: Vec<StoredEvent>) -> Self {
        tail.into_iter().for_each(|event| ring.push(Arc::new(event)));
        let last = ring.next_seq - 1;
        Self {
            ring: RwLock::new(ring),
            latest: watch::Sender::new(last),
            journal,
            tag_games: AtomicBool::new(false),
        }
    }

    pub(crate) fn tag_games(&self, tag: bool) {
        self.tag_games.store(tag, Ordering::Relaxed);
    }

    /// Numbers, renders, stores and announces one event.
    pub fn publish(&self, game: &Arc<str>, kind: &HubEventKind) -> u64 {
        let tag = self.tag_games.load(Ordering::Relaxed).then_some(&**game);
        let rendered = render::event_data(kind, tag);
        let time_ms =
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
        // Room in the journal's backlog first, outside the ring's lock.
        if let Some(journal) = &self.journal {
            journal.reserve(rendered.data_len());
        }
        let seq = {
            let mut ring = self.ring_write();
            let seq = ring.next_seq;
            ring.next_seq += 1;
            let event = Arc::new(rendered.into_event(seq, game.clone(), time_ms));
            ring.push(event.clone());
            // Inside the lock, so the journal is in sequence order.
            if let Some(journal) = &self.journal {
                journal.append(event);
            }
            seq
        };
        self.latest.send_replace(seq);
        seq
    }

    /// A cursor after event `since` (replaying what is still available), or
    /// at the live end when `since` is `None` or names an event this log has
    /// not numbered yet (an id from another bridge, say, or `u64::MAX`):
    /// such a client gets every new event rather than waiting for the
    /// numbering to catch up with it.
    pub fn subscribe(self: &Arc<Self>, since: Option<u64>) -> EventCursor {
        let changes = self.latest.subscribe();
        let live = *changes.borrow() + 1;
        let next = since.map_or(live, |since| since.saturating_add(1).min(live));
        EventCursor { log: self.clone(), next, changes }
    }

    /// The newest sequence number (0 before the first event).
    pub fn latest(&self) -> u64 {
        *self.latest.borrow()
    }

    pub fn capacity(&self) -> usize {
        self.ring_read().capacity()
    }

    /// The most bytes of events the ring keeps (but for one larger event).
    pub fn byte_budget(&self) -> usize {
        self.ring_read().byte_budget()
    }

    /// How many events, and how many bytes of them, the ring holds now.
    pub fn held(&self) -> (usize, usize) {
        let ring = self.ring_read();
        (ring.len(), ring.bytes())
    }

    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Up to `limit` events after `since`, from the ring and, for older
    /// ones, the journal (blocking file I/O when it is used). When events
    /// right after `since` are gone, returns none and how many are missing,
    /// so the caller can report the gap and resume after it.
    pub fn read(&self, since: u64, limit: usize) -> (Vec<Arc<StoredEvent>>, u64) {
        let first = since.saturating_add(1);
        let (oldest, in_ring) = self.ring_slice(first, limit, usize::MAX);
        let Some(oldest) = oldest else { return (Vec::new(), 0) };
        if first >= oldest {
            return (in_ring, 0);
        }
        let wanted = (oldest - first).min(limit as u64);
        let older = match &self.journal {
            Some(journal) => {
                journal.read(since, first + wanted, limit, self.byte_budget()).unwrap_or_else(|error| {
                    tracing::warn!(%error, "could not read the event journal");
                    Vec::new()
                })
            }
            None => Vec::new(),
        };
        // Keep only what continues the stream without a hole.
        let contiguous = older.iter().zip(first..).take_while(|(event, seq)| event.seq == *seq).count();
        if contiguous == 0 {
            let resume = older.first().map_or(first + wanted, |event| event.seq);
            return (Vec::new(), resume - first);
        }
        let mut events: Vec<Arc<StoredEvent>> = older.into_iter().take(contiguous).map(Arc::new).collect();
        if contiguous as u64 == wanted {
            events.extend(in_ring.into_iter().take(limit - contiguous));
        }
        (events, 0)
    }

    /// Events from `first` on that are still in the ring (as many as
    /// `limit` and `max_bytes` of frames allow), and the ring's oldest seq.
    fn ring_slice(&self, first: u64, limit: usize, max_bytes: usize) -> (Option<u64>, Vec<Arc<StoredEvent>>) {
        let ring = self.ring_read();
        (ring.oldest_seq(), ring.read_from(first, limit, max_bytes))
    }

    /// Hands `visit` the events from `first` on that the ring holds, as
    /// [`Ring::visit_from`] does, under the ring's read lock, taken anew for
    /// every [`LOCKED_VISIT_BYTES`]: a publisher waits for one short visit at
    /// most, never for a client's whole batch. Once a visit reaches the
    /// newest event, it ends: chasing events as they are published would
    /// take the lock from the publisher for each. Returns the seq after the
    /// last event visited, or `None` when `first` is no longer in the ring.
    fn visit_ring(
        &self,
        first: u64,
        limit: usize,
        max_bytes: usize,
        visit: &mut impl FnMut(&StoredEvent),
    ) -> Option<u64> {
        let mut done = Visited { next: first, events: 0, bytes: 0, full: false };
        loop {
            let budget = max_bytes.saturating_sub(done.bytes).min(LOCKED_VISIT_BYTES);
            let at_least_one = done.events == 0;
            let Some(visited) =
                self.ring_read().visit_from(done.next, limit - done.events, budget, at_least_one, visit)
            else {
                // Evicted after a first part was visited: the cursor learns
                // of the gap on its next read.
                return (done.events > 0).then_some(done.next);
            };
            done = Visited {
                next: visited.next,
                events: done.events + visited.events,
                bytes: done.bytes + visited.bytes,
                full: visited.full,
            };
            // Not full: it reached the newest event. Full but empty: the next
            // event does not fit in what is left of `max_bytes`.
            if !visited.full || visited.events == 0 || done.events >= limit || done.bytes >= max_bytes {
                return Some(done.next);
            }
        }
    }

    /// Flushes and closes the journal (at shutdown).
    pub fn close(&self) {
        if let Some(journal) = &self.journal {
            journal.close();
        }
    }

    fn ring_read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn ring_write(&self) -> std::sync::RwLockWriteGuard<'_, Ring> {
        self.ring.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A client's position in the event stream.
pub struct EventCursor {
    log: Arc<EventLog>,
    next: u64,
    changes: watch::Receiver<u64>,
}

impl EventCursor {
    /// The sequence number this cursor reads next.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Waits for events at the cursor and returns up to `max` of them, or
    /// the report of a gap.
    pub async fn next(&mut self, max: usize) -> Delivery {
        loop {
            if let Some(delivery) = self.poll_available(max).await {
                return delivery;
            }
            if self.changes.changed().await.is_err() {
                // The log is gone (the bridge is stopping): nothing more will come.
                std::future::pending::<()>().await;
            }
        }
    }

    /// What is available now, without waiting for new events.
    pub async fn poll_available(&mut self, max: usize) -> Option<Delivery> {
        self.poll_available_within(max, usize::MAX).await
    }

    /// As [`poll_available`](Self::poll_available), but no more events
    /// than fill `max_bytes` of SSE frames (at least one), so a client's
    /// batch is bounded in bytes however large the game's events are.
    pub async fn poll_available_within(&mut self, max: usize, max_bytes: usize) -> Option<Delivery> {
        if self.next > *self.changes.borrow_and_update() {
            return None;
        }
        let (oldest, events) = self.log.ring_slice(self.next, max, max_bytes);
        if oldest.is_some_and(|oldest| self.next >= oldest) && !events.is_empty() {
            self.next = events.last().map_or(self.next, |event| event.seq + 1);
            return Some(Delivery::Events(events));
        }
        self.refill(max, max_bytes).await
    }

    /// Waits for events at the cursor, as [`next`](Self::next) does (and
    /// bounded in bytes as [`poll_available_within`](Self::poll_available_within)
    /// is), but hands them to `visit` while the ring is read-locked instead
    /// of returning them. Many clients reading the same events then write no
    /// reference count and allocate nothing per event, so they share the
    /// events' memory read-only. Returns `None` once events were visited,
    /// or the gap (a [`Delivery::Lagged`]) when those at the cursor are gone.
    /// `visit` runs under the lock: it must be quick (a filter and a copy).
    pub async fn next_visiting(
        &mut self,
        max: usize,
        max_bytes: usize,
        mut visit: impl FnMut(&StoredEvent),
    ) -> Option<Delivery> {
        loop {
            if let Some(gap) = self.visit_available(max, max_bytes, &mut visit).await {
                return gap;
            }
            if self.changes.changed().await.is_err() {
                // The log is gone (the bridge is stopping): nothing more will come.
                std::future::pending::<()>().await;
            }
        }
    }

    /// `None` when nothing is available now; else what
    /// [`next_visiting`](Self::next_visiting) returns.
    async fn visit_available(
        &mut self,
        max: usize,
        max_bytes: usize,
        visit: &mut impl FnMut(&StoredEvent),
    ) -> Option<Option<Delivery>> {
        if self.next > *self.changes.borrow_and_update() {
            return None;
        }
        if let Some(next) = self.log.visit_ring(self.next, max, max_bytes, visit)
            && next > self.next
        {
            self.next = next;
            return Some(None);
        }
        match self.refill(max, max_bytes).await? {
            Delivery::Events(events) => {
                events.iter().for_each(|event| visit(event));
                Some(None)
            }
            gap => Some(Some(gap)),
        }
    }

    /// For a cursor behind the ring: its events from the journal (read off
    /// the async threads), or the gap where they are gone.
    async fn refill(&mut self, max: usize, max_bytes: usize) -> Option<Delivery> {
        let log = self.log.clone();
        let since = self.next - 1;
        let (mut events, missed) = tokio::task::spawn_blocking(move || log.read(since, max))
            .await
            .unwrap_or_else(|_| (Vec::new(), 0));
        if missed > 0 {
            let first = self.next;
            self.next += missed;
            return Some(Delivery::Lagged { first, missed });
        }
        events.truncate(within_bytes(&events, max_bytes));
        let last = events.last()?.seq;
        self.next = last + 1;
        Some(Delivery::Events(events))
    }
}

/// How many of `events`, from the first, fit in `max_bytes` of SSE frames (at least one).
fn within_bytes(events: &[Arc<StoredEvent>], max_bytes: usize) -> usize {
    let mut bytes = 0;
    let fitting = events.iter().take_while(|event| {
        bytes += event.sse_frame().len();
        bytes <= max_bytes
    });
    fitting.count().max(1)
}

#[cfg(test)]
mod tests;
