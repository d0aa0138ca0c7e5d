//! The events kept in memory for replay, bounded by count and by bytes.
//!
//! A count alone does not bound memory: the game decides how large an event
//! is (up to the link's frame limit, 16 MiB), so 10,000 events could be
//! 160 GB. The ring therefore also keeps the bytes it holds under a budget
//! and evicts its oldest events when either bound is reached. An evicted
//! event is gone from memory exactly as one evicted by count: a cursor that
//! still wanted it is refilled from the journal, or told it lagged.
//!
//! An event larger than the whole budget is still kept, alone: the newest
//! event is always in the ring, so live clients never miss it, and memory
//! stays within one frame (bounded by the link) above the budget.

use std::collections::VecDeque;
use std::sync::Arc;

use super::StoredEvent;

/// Bytes the ring holds unless configured otherwise.
pub const DEFAULT_EVENT_RING_BYTES: usize = 64 << 20;

pub(super) struct Ring {
    events: VecDeque<Arc<StoredEvent>>,
    /// Most events kept.
    capacity: usize,
    /// Most bytes kept (see [`StoredEvent::footprint`]), but for the newest event.
    byte_budget: usize,
    /// What the kept events cost, by the same measure.
    bytes: usize,
    pub(super) next_seq: u64,
}

impl Ring {
    pub(super) fn new(capacity: usize, byte_budget: usize, next_seq: u64) -> Self {
        Self {
            events: VecDeque::new(),
            capacity: capacity.max(1),
            byte_budget: byte_budget.max(1),
            bytes: 0,
            next_seq,
        }
    }

    /// Adds the newest event, evicting the oldest ones it no longer has room for.
    pub(super) fn push(&mut self, event: Arc<StoredEvent>) {
        let cost = event.footprint();
        if cost > self.byte_budget {
            tracing::warn!(
                seq = event.seq,
                bytes = cost,
                budget = self.byte_budget,
                "an event larger than the event ring's byte budget is kept alone; raise --event-ring-bytes to keep more"
            );
        }
        while !self.events.is_empty()
            && (self.events.len() >= self.capacity || self.bytes + cost > self.byte_budget)
        {
            self.evict_oldest();
        }
        self.bytes += cost;
        self.events.push_back(event);
    }

    fn evict_oldest(&mut self) {
        if let Some(oldest) = self.events.pop_front() {
            self.bytes -= oldest.footprint();
        }
    }

    pub(super) fn oldest_seq(&self) -> Option<u64> {
        self.events.front().map(|event| event.seq)
    }

    /// Up to `limit` events from `first` on.
    pub(super) fn from(&self, first: u64, limit: usize) -> Vec<Arc<StoredEvent>> {
        let Some(oldest) = self.oldest_seq() else { return Vec::new() };
        let skip = first.saturating_sub(oldest) as usize;
        self.events.iter().skip(skip).take(limit).cloned().collect()
    }

    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(super) fn byte_budget(&self) -> usize {
        self.byte_budget
    }

    /// The bytes the kept events cost.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn len(&self) -> usize {
        self.events.len()
    }
}

impl StoredEvent {
    /// What keeping this event costs, in bytes: its rendered data and name,
    /// plus the record itself. The game name is shared by every event of a
    /// game and not counted.
    pub fn footprint(&self) -> usize {
        self.data.len() + self.event_type.len() + std::mem::size_of::<StoredEvent>()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn event(seq: u64, size: usize) -> Arc<StoredEvent> {
        let data = Bytes::from(vec![b'x'; size]);
        Arc::new(StoredEvent { seq, game: "g".into(), event_type: String::new(), time_ms: 0, data })
    }

    fn seqs(ring: &Ring) -> Vec<u64> {
        ring.from(0, usize::MAX).iter().map(|event| event.seq).collect()
    }

    #[test]
    fn the_oldest_events_leave_when_the_bytes_would_exceed_the_budget() {
        let cost = event(0, 1000).footprint();
        let mut ring = Ring::new(100, 3 * cost, 1);
        (1..=5).for_each(|seq| ring.push(event(seq, 1000)));
        assert_eq!(seqs(&ring), [3, 4, 5]);
        assert_eq!(ring.bytes(), 3 * cost);
    }

    #[test]
    fn the_count_still_bounds_small_events() {
        let mut ring = Ring::new(2, 1 << 20, 1);
        (1..=5).for_each(|seq| ring.push(event(seq, 10)));
        assert_eq!(seqs(&ring), [4, 5]);
    }

    #[test]
    fn an_event_larger_than_the_budget_is_kept_alone_and_the_next_replaces_it() {
        let mut ring = Ring::new(100, 4096, 1);
        ring.push(event(1, 100));
        ring.push(event(2, 100_000));
        assert_eq!(seqs(&ring), [2], "the newest event is always kept");
        ring.push(event(3, 100));
        assert_eq!(seqs(&ring), [3], "and leaves as soon as a newer one needs its room");
        assert_eq!(ring.bytes(), event(3, 100).footprint());
    }
}
