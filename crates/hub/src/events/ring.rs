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

/// What one visit of the ring handed over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Visited {
    /// The seq after the last event visited.
    pub(super) next: u64,
    pub(super) events: usize,
    /// Of SSE frames.
    pub(super) bytes: usize,
    /// Whether the visit stopped at `max_bytes`, before the newest event.
    pub(super) full: bool,
}

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
    #[cfg(test)]
    pub(super) fn from(&self, first: u64, limit: usize) -> Vec<Arc<StoredEvent>> {
        self.read_from(first, limit, usize::MAX)
    }

    /// Up to `limit` events from `first` on, no more than fill `max_bytes`
    /// of SSE frames (but at least one).
    pub(super) fn read_from(&self, first: u64, limit: usize, max_bytes: usize) -> Vec<Arc<StoredEvent>> {
        let Some(oldest) = self.oldest_seq() else { return Vec::new() };
        let skip = (first.saturating_sub(oldest) as usize).min(self.events.len());
        let mut events = Vec::with_capacity(limit.min(self.events.len() - skip));
        let mut bytes = 0;
        for event in self.events.range(skip..).take(limit) {
            bytes += event.sse_frame().len();
            if bytes > max_bytes && !events.is_empty() {
                break;
            }
            events.push(event.clone());
        }
        events
    }

    /// Hands `visit` the events from `first` on, up to `limit` of them and
    /// `max_bytes` of SSE frames (and the first one however large, when
    /// `at_least_one`), without taking a reference to any. `None` when
    /// `first` is older than what the ring holds (or it holds nothing).
    pub(super) fn visit_from(
        &self,
        first: u64,
        limit: usize,
        max_bytes: usize,
        at_least_one: bool,
        visit: &mut impl FnMut(&StoredEvent),
    ) -> Option<Visited> {
        let oldest = self.oldest_seq()?;
        if first < oldest {
            return None;
        }
        let skip = ((first - oldest) as usize).min(self.events.len());
        let mut visited = Visited { next: first, events: 0, bytes: 0, full: false };
        for event in self.events.range(skip..).take(limit) {
            let bytes = visited.bytes + event.sse_frame().len();
            if bytes > max_bytes && !(at_least_one && visited.events == 0) {
                visited.full = true;
                break;
            }
            visit(event);
            visited = Visited { next: event.seq + 1, events: visited.events + 1, bytes, full: false };
        }
        Some(visited)
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
    /// What keeping this event costs, in bytes: the buffer holding its
    /// rendered data and SSE frame, its name, plus the record itself. The
    /// game name is shared by every event of a game and not counted.
    pub fn footprint(&self) -> usize {
        self.footprint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, size: usize) -> Arc<StoredEvent> {
        Arc::new(StoredEvent::new(seq, "g".into(), String::new(), 0, &vec![b'x'; size]))
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
    fn reads_stop_at_their_byte_bound_but_return_at_least_one_event() {
        let mut ring = Ring::new(100, 1 << 20, 1);
        (1..=10).for_each(|seq| ring.push(event(seq, 100)));
        let frame = ring.from(1, 1)[0].sse_frame().len();
        let seqs = |events: Vec<Arc<StoredEvent>>| events.iter().map(|event| event.seq).collect::<Vec<_>>();
        assert_eq!(seqs(ring.read_from(2, 100, 3 * frame + 1)), [2, 3, 4]);
        assert_eq!(seqs(ring.read_from(2, 100, 1)), [2]);
        assert_eq!(seqs(ring.read_from(9, 100, usize::MAX)), [9, 10]);
        assert!(ring.read_from(11, 100, usize::MAX).is_empty());
    }

    #[test]
    fn visits_see_what_reads_return_and_say_where_to_go_on() {
        let mut ring = Ring::new(5, 1 << 20, 1);
        (1..=8).for_each(|seq| ring.push(event(seq, 100)));
        let frame = ring.from(4, 1)[0].sse_frame().len();
        let mut seen = Vec::new();
        let mut visit = |first, max_bytes, at_least_one| {
            ring.visit_from(first, 100, max_bytes, at_least_one, &mut |event| seen.push(event.seq))
                .map(|visited| (visited.next, visited.events, visited.bytes, visited.full))
        };
        assert_eq!(visit(5, 2 * frame, true), Some((7, 2, 2 * frame, true)));
        assert_eq!(visit(7, 0, true), Some((8, 1, frame, true)), "at least one");
        assert_eq!(visit(8, 0, false), Some((8, 0, 0, true)), "none when asked for none");
        assert_eq!(visit(8, usize::MAX, true), Some((9, 1, frame, false)), "the newest");
        assert_eq!(visit(9, usize::MAX, true), Some((9, 0, 0, false)), "nothing new");
        assert_eq!(visit(3, usize::MAX, true), None, "evicted");
        assert_eq!(seen, [5, 6, 7, 8]);
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
