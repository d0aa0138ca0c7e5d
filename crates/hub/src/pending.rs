//! Calls sent to a game and not yet answered.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use gamebridge_protocol::{CallResult, ErrorBody, WireId};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Unique call ids. The high bits are a per-process salt so that an answer a
/// game still holds for a previous bridge process can never complete a call
/// of this one.
pub struct CallIds {
    salt: u64,
    next: AtomicU64,
}

impl CallIds {
    pub fn new() -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
        let salt = ((nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)) & 0xF_FFFF;
        Self { salt: salt << 40, next: AtomicU64::new(1) }
    }

    pub fn next(&self) -> u64 {
        self.salt | (self.next.fetch_add(1, Ordering::Relaxed) & 0xFF_FFFF_FFFF)
    }

    /// The wire form of an id: a decimal string, as the Node bridge's uuids were strings.
    pub fn to_wire(id: u64) -> WireId {
        WireId::Text(id.to_string())
    }

    /// The id a game echoed back, if it is one of ours.
    pub fn from_wire(id: &WireId) -> Option<u64> {
        match id {
            WireId::Text(text) => text.parse().ok(),
            WireId::Number(number) => u64::try_from(*number).ok(),
        }
    }
}

impl Default for CallIds {
    fn default() -> Self {
        Self::new()
    }
}

/// The calls in flight on one connection.
///
/// Closing is race-free without a lock: `close` sets the flag before draining,
/// and `register` checks the flag after inserting, so a call either sees the
/// connection closed or is drained by it.
#[derive(Default)]
pub(crate) struct PendingCalls {
    calls: DashMap<u64, Waiting>,
    closed: AtomicBool,
}

/// A caller waiting for an answer, and until when it waits.
struct Waiting {
    answer: oneshot::Sender<CallResult>,
    deadline: Instant,
}

/// The connection closed before the call could be registered.
pub(crate) struct Closed;

impl PendingCalls {
    pub fn register(&self, id: u64, deadline: Instant) -> Result<oneshot::Receiver<CallResult>, Closed> {
        let (answer, receiver) = oneshot::channel();
        self.calls.insert(id, Waiting { answer, deadline });
        if self.closed.load(Ordering::SeqCst) {
            self.calls.remove(&id);
            return Err(Closed);
        }
        Ok(receiver)
    }

    /// Delivers an answer; false when no call waits for this id (unknown,
    /// timed out, or abandoned by its caller).
    pub fn complete(&self, id: u64, result: CallResult) -> bool {
        match self.calls.remove(&id) {
            Some((_, waiting)) => waiting.answer.send(result).is_ok(),
            None => false,
        }
    }

    /// When the caller of `id` stops waiting; `None` once it has.
    pub fn deadline(&self, id: u64) -> Option<Instant> {
        self.calls.get(&id).map(|waiting| waiting.deadline)
    }

    pub fn forget(&self, id: u64) {
        self.calls.remove(&id);
    }

    /// Fails every call at once and refuses new ones.
    pub fn close(&self, error: &ErrorBody) -> usize {
        self.closed.store(true, Ordering::SeqCst);
        let ids: Vec<u64> = self.calls.iter().map(|entry| *entry.key()).collect();
        let mut failed = 0;
        for id in ids {
            if let Some((_, waiting)) = self.calls.remove(&id) {
                failed += usize::from(waiting.answer.send(Err(error.clone())).is_ok());
            }
        }
        failed
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gamebridge_protocol::ErrorCode;

    fn later() -> Instant {
        Instant::now() + std::time::Duration::from_secs(60)
    }

    #[test]
    fn ids_are_unique_and_round_trip_through_the_wire() {
        let ids = CallIds::new();
        let first = ids.next();
        let second = ids.next();
        assert_ne!(first, second);
        assert_eq!(CallIds::from_wire(&CallIds::to_wire(first)), Some(first));
        assert_eq!(CallIds::from_wire(&WireId::Text("not-ours".into())), None);
    }

    #[tokio::test]
    async fn close_fails_every_pending_call_and_refuses_new_ones() {
        let pending = PendingCalls::default();
        let waiting: Vec<_> = (1..=3).map(|id| pending.register(id, later()).ok().unwrap()).collect();
        let error = ErrorBody::new(ErrorCode::DLL_DISCONNECTED, "gone");
        assert_eq!(pending.close(&error), 3);
        for receiver in waiting {
            assert_eq!(receiver.await.unwrap().unwrap_err().code, ErrorCode::DLL_DISCONNECTED);
        }
        assert!(pending.register(4, later()).is_err());
        assert_eq!(pending.len(), 0);
    }

    #[tokio::test]
    async fn an_answer_reaches_only_its_own_call() {
        let pending = PendingCalls::default();
        let first = pending.register(1, later()).ok().unwrap();
        let _second = pending.register(2, later()).ok().unwrap();
        assert!(pending.complete(1, Ok(gamebridge_protocol::message::null())));
        assert!(!pending.complete(1, Ok(gamebridge_protocol::message::null())), "answered twice");
        assert!(first.await.unwrap().is_ok());
        assert_eq!(pending.len(), 1);
    }
}
