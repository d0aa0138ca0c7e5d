//! Calls sent to a game and not yet answered, at most
//! [`MAX_PENDING_CALLS`] per connection.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

/// Calls one connection may have in flight. Each waiting call costs its
/// entry and its caller's request; a game that stops answering while agents
/// keep calling would otherwise grow the bridge without end. Far above
/// what a game answers in time (the fault suite runs 10,000 at once).
pub const MAX_PENDING_CALLS: usize = 65_536;

/// The calls in flight on one connection.
///
/// Closing is race-free without a lock: `close` sets the flag before draining,
/// and `register` checks the flag after inserting, so a call either sees the
/// connection closed or is drained by it. The bound is an atomic count,
/// taken before inserting and given back by whoever removes the entry, so
/// the call path gains no lock.
pub(crate) struct PendingCalls {
    calls: DashMap<u64, Waiting>,
    closed: AtomicBool,
    /// Entries in `calls`, plus registrations about to insert or be refused.
    count: AtomicUsize,
    max: usize,
    /// Whether the bound was hit since a call was last accepted (one log line per episode).
    full: AtomicBool,
}

impl Default for PendingCalls {
    fn default() -> Self {
        Self::with_limit(MAX_PENDING_CALLS)
    }
}

/// A caller waiting for an answer, and until when it waits.
struct Waiting {
    answer: oneshot::Sender<CallResult>,
    deadline: Instant,
    /// What was asked and when, for those who look at what is in flight.
    function: Box<str>,
    sent: Instant,
}

/// One call in flight, as `/lua/pending` and the dashboard show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct PendingCallInfo {
    pub id: u64,
    /// The function called; `lua_execute` for a script.
    pub function: String,
    /// Milliseconds since the call was sent.
    pub age_ms: u64,
    /// Milliseconds until its caller stops waiting.
    pub deadline_ms: u64,
}

/// Why a call could not be registered.
#[derive(Debug, PartialEq)]
pub(crate) enum Refused {
    /// The connection closed.
    Closed,
    /// As many calls as the connection takes are in flight.
    Full { max: usize },
}

impl PendingCalls {
    pub fn with_limit(max: usize) -> Self {
        Self {
            calls: DashMap::new(),
            closed: AtomicBool::new(false),
            count: AtomicUsize::new(0),
            max,
            full: AtomicBool::new(false),
        }
    }

    pub fn register(
        &self,
        id: u64,
        function: Box<str>,
        deadline: Instant,
    ) -> Result<oneshot::Receiver<CallResult>, Refused> {
        if self.count.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.count.fetch_sub(1, Ordering::AcqRel);
            if !self.full.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    max = self.max,
                    "calls refused: as many calls as a connection takes are in flight"
                );
            }
            return Err(Refused::Full { max: self.max });
        }
        if self.full.load(Ordering::Relaxed) {
            self.full.store(false, Ordering::Relaxed);
        }
        let (answer, receiver) = oneshot::channel();
        self.calls.insert(id, Waiting { answer, deadline, function, sent: Instant::now() });
        if self.closed.load(Ordering::SeqCst) {
            self.take(id);
            return Err(Refused::Closed);
        }
        Ok(receiver)
    }

    /// Removes the call `id`, giving its place back.
    fn take(&self, id: u64) -> Option<Waiting> {
        let (_, waiting) = self.calls.remove(&id)?;
        self.count.fetch_sub(1, Ordering::AcqRel);
        Some(waiting)
    }

    /// Delivers an answer; false when no call waits for this id (unknown,
    /// timed out, or abandoned by its caller).
    pub fn complete(&self, id: u64, result: CallResult) -> bool {
        match self.take(id) {
            Some(waiting) => waiting.answer.send(result).is_ok(),
            None => false,
        }
    }

    /// When the caller of `id` stops waiting; `None` once it has.
    pub fn deadline(&self, id: u64) -> Option<Instant> {
        self.calls.get(&id).map(|waiting| waiting.deadline)
    }

    pub fn forget(&self, id: u64) {
        self.take(id);
    }

    /// Fails every call at once and refuses new ones.
    pub fn close(&self, error: &ErrorBody) -> usize {
        self.closed.store(true, Ordering::SeqCst);
        let ids: Vec<u64> = self.calls.iter().map(|entry| *entry.key()).collect();
        let mut failed = 0;
        for id in ids {
            if let Some(waiting) = self.take(id) {
                failed += usize::from(waiting.answer.send(Err(error.clone())).is_ok());
            }
        }
        failed
    }

    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire).min(self.calls.len())
    }

    /// The `limit` oldest calls in flight, oldest first.
    pub fn oldest(&self, limit: usize) -> Vec<PendingCallInfo> {
        let now = Instant::now();
        let mut calls: Vec<(Instant, PendingCallInfo)> = (self.calls.iter())
            .map(|entry| {
                let waiting = entry.value();
                let info = PendingCallInfo {
                    id: *entry.key(),
                    function: waiting.function.to_string(),
                    age_ms: now.duration_since(waiting.sent).as_millis() as u64,
                    deadline_ms: waiting.deadline.saturating_duration_since(now).as_millis() as u64,
                };
                (waiting.sent, info)
            })
            .collect();
        calls.sort_unstable_by_key(|(sent, info)| (*sent, info.id));
        calls.into_iter().take(limit).map(|(_, info)| info).collect()
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
        let waiting: Vec<_> =
            (1..=3).map(|id| pending.register(id, "f".into(), later()).ok().unwrap()).collect();
        let error = ErrorBody::new(ErrorCode::DLL_DISCONNECTED, "gone");
        assert_eq!(pending.close(&error), 3);
        for receiver in waiting {
            assert_eq!(receiver.await.unwrap().unwrap_err().code, ErrorCode::DLL_DISCONNECTED);
        }
        assert!(pending.register(4, "f".into(), later()).is_err());
        assert_eq!(pending.len(), 0);
    }

    #[tokio::test]
    async fn calls_past_the_bound_are_refused_until_one_leaves() {
        let pending = PendingCalls::with_limit(2);
        let first = pending.register(1, "f".into(), later()).ok().unwrap();
        let _second = pending.register(2, "f".into(), later()).ok().unwrap();
        assert_eq!(pending.register(3, "f".into(), later()).unwrap_err(), Refused::Full { max: 2 });
        assert!(pending.complete(1, Ok(gamebridge_protocol::message::null())));
        assert!(first.await.unwrap().is_ok());
        let _third = pending.register(3, "f".into(), later()).expect("an answered call gives its place back");
        pending.forget(2);
        let _fourth = pending.register(4, "f".into(), later()).expect("a forgotten call too");
        assert_eq!(pending.len(), 2);
    }

    #[tokio::test]
    async fn an_answer_reaches_only_its_own_call() {
        let pending = PendingCalls::default();
        let first = pending.register(1, "f".into(), later()).ok().unwrap();
        let _second = pending.register(2, "f".into(), later()).ok().unwrap();
        assert!(pending.complete(1, Ok(gamebridge_protocol::message::null())));
        assert!(!pending.complete(1, Ok(gamebridge_protocol::message::null())), "answered twice");
        assert!(first.await.unwrap().is_ok());
        assert_eq!(pending.len(), 1);
    }

    #[tokio::test]
    async fn the_oldest_calls_in_flight_are_listed_first_and_answered_ones_leave() {
        let pending = PendingCalls::default();
        let _first = pending.register(7, "GetCity".into(), later()).ok().unwrap();
        let _second = pending.register(8, "lua_execute".into(), later()).ok().unwrap();
        let _third = pending.register(9, "EndTurn".into(), later()).ok().unwrap();
        assert!(pending.complete(8, Ok(gamebridge_protocol::RawValue::from_string("1".into()).unwrap())));
        let listed = pending.oldest(10);
        let names: Vec<(u64, &str)> = listed.iter().map(|call| (call.id, call.function.as_str())).collect();
        assert_eq!(names, [(7, "GetCity"), (9, "EndTurn")]);
        assert!(listed.iter().all(|call| (59_000..=60_000).contains(&call.deadline_ms)));
        assert_eq!(pending.oldest(1).len(), 1);
    }
}
