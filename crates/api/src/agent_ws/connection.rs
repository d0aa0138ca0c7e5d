//! One connected WebSocket agent, as the hub sees it: an [`AgentChannel`]
//! that delivers calls and frames on the connection and matches the answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use dashmap::DashMap;
use gamebridge_hub::{AgentChannel, DispatchFuture, ExternalRequest, StepDefaulted, StepFuture, StepRequest};
use gamebridge_protocol::{CallResult, ErrorBody, ErrorCode};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use super::wire::StepItem;

/// What the sender task writes to the socket.
pub enum Out {
    Text(String),
    Step(StepItem),
}

pub struct AgentConnection {
    pub number: u64,
    pub out: mpsc::Sender<Out>,
    next_id: AtomicU64,
    calls: DashMap<u64, oneshot::Sender<CallResult>>,
    steps: DashMap<u64, oneshot::Sender<Bytes>>,
    closed: AtomicBool,
}

impl AgentConnection {
    pub fn new(number: u64, out: mpsc::Sender<Out>) -> Arc<Self> {
        Arc::new(Self {
            number,
            out,
            next_id: AtomicU64::new(1),
            calls: DashMap::new(),
            steps: DashMap::new(),
            closed: AtomicBool::new(false),
        })
    }

    /// Delivers the agent's answer to call `id`.
    pub fn complete_call(&self, id: u64, outcome: CallResult) -> bool {
        self.calls.remove(&id).is_some_and(|(_, waiting)| waiting.send(outcome).is_ok())
    }

    /// Delivers the agent's reply to frame `id`.
    pub fn complete_step(&self, id: u64, reply: Bytes) -> bool {
        self.steps.remove(&id).is_some_and(|(_, waiting)| waiting.send(reply).is_ok())
    }

    /// The agent left: everything waiting on it fails now.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.calls.clear();
        self.steps.clear();
    }

    fn gone(&self) -> ErrorBody {
        ErrorBody::new(ErrorCode::NETWORK_ERROR, format!("WebSocket agent #{} disconnected", self.number))
    }
}

/// Removes an abandoned wait (deadline passed, game gone) from its map.
struct Forget<'a, T> {
    map: &'a DashMap<u64, T>,
    id: u64,
}

impl<T> Drop for Forget<'_, T> {
    fn drop(&mut self) {
        self.map.remove(&self.id);
    }
}

/// The channel the hub holds; clones of one connection.
#[derive(Clone)]
pub struct ConnectionChannel(pub Arc<AgentConnection>);

impl AgentChannel for ConnectionChannel {
    fn call(&self, function: &str, request: ExternalRequest) -> DispatchFuture {
        let connection = self.0.clone();
        let function = function.to_owned();
        Box::pin(async move {
            let id = connection.next_id.fetch_add(1, Ordering::Relaxed);
            let (answer, waiting) = oneshot::channel();
            connection.calls.insert(id, answer);
            let _forget = Forget { map: &connection.calls, id };
            if connection.closed.load(Ordering::SeqCst) {
                return Err(connection.gone());
            }
            let message = json!({
                "type": "call", "id": id, "game": &*request.game, "function": function,
                "args": request.args, "callId": request.id,
            });
            connection.out.send(Out::Text(message.to_string())).await.map_err(|_| connection.gone())?;
            waiting.await.map_err(|_| connection.gone())?
        })
    }

    fn step(&self, request: StepRequest) -> StepFuture {
        let connection = self.0.clone();
        Box::pin(async move {
            let id = connection.next_id.fetch_add(1, Ordering::Relaxed);
            let (reply, waiting) = oneshot::channel();
            connection.steps.insert(id, reply);
            let _forget = Forget { map: &connection.steps, id };
            if connection.closed.load(Ordering::SeqCst) {
                return Err(connection.gone());
            }
            let item = StepItem { id, game: request.game, seq: request.seq, frame: request.frame };
            connection.out.send(Out::Step(item)).await.map_err(|_| connection.gone())?;
            waiting.await.map_err(|_| connection.gone())
        })
    }

    /// `{type: "step_default", game, seq, code, message, reply}`, the reply
    /// in hex. Queued behind the frames already sent and ahead of the next,
    /// without waiting: if the agent is so far behind that its queue is
    /// full, the notice is dropped (and logged) rather than stall the game.
    fn step_defaulted(&self, notice: StepDefaulted) {
        let reply: String = notice.reply.iter().map(|byte| format!("{byte:02x}")).collect();
        let message = json!({
            "type": "step_default", "game": &*notice.game, "seq": notice.seq,
            "code": notice.error.code, "message": notice.error.message, "reply": reply,
        });
        if self.0.out.try_send(Out::Text(message.to_string())).is_err() {
            tracing::debug!(
                agent = self.0.number,
                game = &*notice.game,
                seq = notice.seq,
                "a step_default notice was dropped: the agent's queue is full"
            );
        }
    }

    fn describe(&self) -> String {
        format!("websocket agent #{}", self.0.number)
    }

    fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::SeqCst)
    }
}
