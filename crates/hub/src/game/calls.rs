//! The call path: agent → game calls with deadlines.

use std::sync::Arc;
use std::time::Duration;

use gamebridge_protocol::depth::{MAX_ARGS_DEPTH, nesting_depth};
use gamebridge_protocol::{BridgeMessage, CallResult, ErrorBody, ErrorCode, RawValue, WireId};
use tokio::sync::oneshot;
use tokio::time::timeout_at;

use super::Game;
use crate::pending::{CallIds, Refused};
use crate::session::{Outbound, Session};

/// A call's outcome, and the id the game answered it under, when it was the
/// game that answered (not the bridge: a timeout, a lost connection). Vox
/// Deorum clients log the DLL's own `type` and `id`, which the original
/// passed through.
#[derive(Debug)]
pub struct Answered {
    pub outcome: CallResult,
    pub id: Option<WireId>,
}

impl Answered {
    fn by_bridge(error: ErrorBody) -> Self {
        Self { outcome: Err(error), id: None }
    }
}

impl Game {
    /// Calls a game function (`lua_call`).
    pub async fn call(&self, function: String, args: Box<RawValue>, timeout: Duration) -> CallResult {
        self.call_answered(function, args, timeout).await.outcome
    }

    /// [`Game::call`], with the id the game answered under.
    pub async fn call_answered(&self, function: String, args: Box<RawValue>, timeout: Duration) -> Answered {
        if let Err(error) = check_depth(&args) {
            return Answered::by_bridge(error);
        }
        let started = std::time::Instant::now();
        let answered = self
            .request(timeout, function.as_str().into(), |id| {
                Outbound::One(BridgeMessage::LuaCall { id, function, args })
            })
            .await;
        self.stats.record_outcomes([&answered.outcome], started.elapsed());
        answered
    }

    /// Runs a Lua script in the game (`lua_execute`).
    pub async fn execute(&self, script: String, timeout: Duration) -> CallResult {
        self.execute_answered(script, timeout).await.outcome
    }

    /// [`Game::execute`], with the id the game answered under.
    pub async fn execute_answered(&self, script: String, timeout: Duration) -> Answered {
        let started = std::time::Instant::now();
        let answered = self
            .request(timeout, "lua_execute".into(), |id| {
                Outbound::One(BridgeMessage::LuaExecute { id, script })
            })
            .await;
        self.stats.record_outcomes([&answered.outcome], started.elapsed());
        answered
    }

    /// Calls several functions, written to the game in one go; each call
    /// succeeds or fails on its own, and all share one deadline.
    pub async fn batch(&self, calls: Vec<(String, Box<RawValue>)>, timeout: Duration) -> Vec<CallResult> {
        self.batch_answered(calls, timeout).await.into_iter().map(|answered| answered.outcome).collect()
    }

    /// [`Game::batch`], with the ids the game answered under.
    pub async fn batch_answered(
        &self,
        calls: Vec<(String, Box<RawValue>)>,
        timeout: Duration,
    ) -> Vec<Answered> {
        let checks: Vec<Result<(), ErrorBody>> = calls.iter().map(|(_, args)| check_depth(args)).collect();
        let valid = calls.into_iter().zip(&checks).filter(|(_, check)| check.is_ok()).map(|(call, _)| call);
        let mut answered = self.send_and_wait(valid.collect(), timeout).await.into_iter();
        checks
            .into_iter()
            .map(|check| match check {
                Err(error) => Answered::by_bridge(error),
                Ok(()) => answered.next().unwrap_or_else(|| {
                    Answered::by_bridge(ErrorBody::new(ErrorCode::INTERNAL_ERROR, "no answer"))
                }),
            })
            .collect()
    }

    async fn send_and_wait(&self, calls: Vec<(String, Box<RawValue>)>, timeout: Duration) -> Vec<Answered> {
        if calls.is_empty() {
            return Vec::new();
        }
        let started = tokio::time::Instant::now();
        let deadline = started + timeout;
        let count = calls.len();
        let answers = match self.send_batch(calls, deadline).await {
            Ok(waiting) => {
                let mut answers = Vec::with_capacity(count);
                for call in waiting {
                    answers.push(call.wait(deadline, self.name()).await);
                }
                answers
            }
            Err(error) => (0..count).map(|_| Answered::by_bridge(error.clone())).collect(),
        };
        self.stats.record_outcomes(answers.iter().map(|answered| &answered.outcome), started.elapsed());
        answers
    }

    async fn send_batch(
        &self,
        calls: Vec<(String, Box<RawValue>)>,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<PendingCall>, ErrorBody> {
        let session = self.current_session()?;
        let mut waiting = Vec::with_capacity(calls.len());
        let mut messages = Vec::with_capacity(calls.len());
        for (function, args) in calls {
            let (call, id) =
                PendingCall::register(&session, &self.shared.ids, function.as_str().into(), deadline)?;
            messages.push(BridgeMessage::LuaCall { id, function, args });
            waiting.push(call);
        }
        self.send(&session, Outbound::Batch(messages), deadline).await?;
        Ok(waiting)
    }

    async fn request(
        &self,
        timeout: Duration,
        function: Box<str>,
        message: impl FnOnce(WireId) -> Outbound,
    ) -> Answered {
        let deadline = tokio::time::Instant::now() + timeout;
        let sent = async {
            let session = self.current_session()?;
            let (call, id) = PendingCall::register(&session, &self.shared.ids, function, deadline)?;
            self.send(&session, message(id), deadline).await?;
            Ok(call)
        };
        match sent.await {
            Ok(call) => call.wait(deadline, self.name()).await,
            Err(error) => Answered::by_bridge(error),
        }
    }

    pub(crate) fn current_session(&self) -> Result<Arc<Session>, ErrorBody> {
        self.session.load_full().ok_or_else(|| self.not_connected())
    }

    async fn send(
        &self,
        session: &Session,
        outbound: Outbound,
        deadline: tokio::time::Instant,
    ) -> Result<(), ErrorBody> {
        match timeout_at(deadline, session.outbound.send(outbound)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_closed)) => Err(self.not_connected()),
            Err(_elapsed) => Err(call_timeout("the game's write queue stayed full")),
        }
    }

    fn not_connected(&self) -> ErrorBody {
        ErrorBody::new(ErrorCode::DLL_DISCONNECTED, format!("game '{}' is not connected", self.name))
    }
}

/// A registered call waiting for its answer. Dropping it before the answer
/// (the agent hung up, the deadline passed) removes it from the pending map,
/// so abandoned calls never accumulate.
struct PendingCall {
    session: Arc<Session>,
    id: u64,
    answer: Option<oneshot::Receiver<CallResult>>,
}

impl PendingCall {
    fn register(
        session: &Arc<Session>,
        ids: &CallIds,
        function: Box<str>,
        deadline: tokio::time::Instant,
    ) -> Result<(Self, WireId), ErrorBody> {
        let id = ids.next();
        let answer = session.pending.register(id, function, deadline).map_err(|refused| match refused {
            Refused::Closed => ErrorBody::new(ErrorCode::DLL_DISCONNECTED, "the game disconnected"),
            Refused::Full { max } => ErrorBody::new(
                ErrorCode::TOO_MANY_CALLS,
                format!(
                    "{max} calls to this game are in flight, the most it takes; retry once some are answered"
                ),
            ),
        })?;
        Ok((Self { session: session.clone(), id, answer: Some(answer) }, CallIds::to_wire(id)))
    }

    async fn wait(mut self, deadline: tokio::time::Instant, game: &str) -> Answered {
        let answer = self.answer.take().expect("a pending call is awaited once");
        match timeout_at(deadline, answer).await {
            // A link fails a call it could not deliver through the same
            // channel; those codes are the bridge's, not the game's answer.
            Ok(Ok(Err(error)))
                if error.code == ErrorCode::DLL_DISCONNECTED || error.code == ErrorCode::CALL_TIMEOUT =>
            {
                Answered::by_bridge(error)
            }
            Ok(Ok(outcome)) => Answered { outcome, id: Some(CallIds::to_wire(self.id)) },
            Ok(Err(_dropped)) => Answered::by_bridge(lost_connection(game)),
            Err(_elapsed) => Answered::by_bridge(call_timeout("the game did not answer in time")),
        }
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        self.session.pending.forget(self.id);
    }
}

/// Arguments nested deeper than a game's decoder can take are refused here,
/// the one path every agent API's calls take.
fn check_depth(args: &RawValue) -> Result<(), ErrorBody> {
    let depth = nesting_depth(args.get());
    if depth > MAX_ARGS_DEPTH {
        return Err(ErrorBody::new(
            ErrorCode::INVALID_ARGUMENTS,
            format!("args nest {depth} levels deep; a game takes at most {MAX_ARGS_DEPTH}"),
        ));
    }
    Ok(())
}

pub(crate) fn lost_connection(game: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::DLL_DISCONNECTED,
        format!("lost connection to game '{game}' while waiting for a response"),
    )
}

fn call_timeout(why: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::CALL_TIMEOUT, format!("Function call timed out: {why}"))
}
