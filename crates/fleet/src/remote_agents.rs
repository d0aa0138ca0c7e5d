//! Agents of other nodes serving this node's games. When a node's hello
//! says its agents serve a function of a game of this node ([`Served`]),
//! the function is registered here for the game, reaching the queue group
//! of every node that serves it ([`crate::agent_queues`]); when the last of
//! them stops (or leaves the fleet), it is unregistered. An agent of this
//! node that registered the function first keeps it: the fleet's is refused.
//!
//! Each frame is answered at most once: by the one node the queue group
//! gives it to. A node that dies holding a frame does not answer it, and
//! the game's link sends the default reply at the frame's deadline, as for
//! a local agent that is too slow.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{Client, RequestErrorKind};
use gamebridge_hub::{
    AgentChannel, AgentEndpoint, DispatchFuture, ExternalFunction, ExternalRequest, Hub, StepDefaulted,
    StepFuture, StepRequest,
};
use gamebridge_protocol::{ErrorBody, ErrorCode};

use crate::agent_queues::{frame_message, read_reply_message};
use crate::proxy::is_proxy;
use crate::subjects::Subjects;
use crate::wire::{AgentCall, FleetAnswer, Served, StepDefault};

/// One function of a game of this node registered for the fleet.
struct Registration {
    channel: Arc<dyn AgentChannel>,
    /// The nodes serving it (shown in `/external/functions`).
    nodes: Arc<Mutex<BTreeSet<String>>>,
}

pub struct RemoteAgents {
    client: Client,
    hub: Arc<Hub>,
    subjects: Subjects,
    registered: HashMap<(String, String), Registration>,
    /// Refused because an agent of this node has it: warned once.
    refused: HashSet<(String, String)>,
}

impl RemoteAgents {
    pub fn new(client: Client, hub: Arc<Hub>, subjects: Subjects) -> Self {
        Self { client, hub, subjects, registered: HashMap::new(), refused: HashSet::new() }
    }

    /// `node` now serves `serves` (nothing, once it left).
    pub fn update(&mut self, node: &str, serves: &[Served]) {
        let wanted: HashSet<(String, String)> =
            serves.iter().map(|served| (served.game.clone(), served.function.clone())).collect();
        for served in serves {
            self.serve(node, served);
        }
        let dropped: Vec<(String, String)> = (self.registered.iter())
            .filter(|(key, registration)| !wanted.contains(*key) && lock(&registration.nodes).contains(node))
            .map(|(key, _)| key.clone())
            .collect();
        for key in dropped {
            let registration = &self.registered[&key];
            let empty = {
                let mut nodes = lock(&registration.nodes);
                nodes.remove(node);
                nodes.is_empty()
            };
            if empty {
                let registration = self.registered.remove(&key).expect("listed above");
                if let Some(game) = self.hub.game(&key.0) {
                    game.unregister_channel(&registration.channel);
                }
                tracing::info!(
                    game = key.0,
                    function = key.1,
                    "no node of the fleet serves this agent function now"
                );
            }
        }
    }

    fn serve(&mut self, node: &str, served: &Served) {
        let key = (served.game.clone(), served.function.clone());
        if let Some(registration) = self.registered.get(&key) {
            lock(&registration.nodes).insert(node.to_owned());
            return;
        }
        let Some(game) = self.hub.game(&served.game).filter(|game| !is_proxy(game)) else { return };
        let nodes = Arc::new(Mutex::new(BTreeSet::from([node.to_owned()])));
        let timeout = Duration::from_millis(served.timeout_ms.max(1));
        let channel: Arc<dyn AgentChannel> = Arc::new(FleetAgent {
            client: self.client.clone(),
            subject: self.subjects.agents(&served.game, &served.function).into(),
            defaults: self.subjects.step_defaults(&served.game).into(),
            timeout,
            nodes: nodes.clone(),
        });
        let function = ExternalFunction {
            name: served.function.clone(),
            endpoint: AgentEndpoint::Channel(channel.clone()),
            is_async: served.is_async,
            timeout,
            description: served.description.clone(),
            hold: served.hold,
        };
        match game.register_external(function) {
            Ok(_) => {
                tracing::info!(
                    game = key.0,
                    function = key.1,
                    node,
                    "agents of the fleet serve this function"
                );
                self.refused.remove(&key);
                self.registered.insert(key, Registration { channel, nodes });
            }
            Err(error) => {
                if self.refused.insert(key) {
                    tracing::warn!(
                        game = served.game,
                        function = served.function,
                        node,
                        %error,
                        "the fleet's agents do not serve this function: an agent here does"
                    );
                }
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The agents of the fleet serving one function of one game.
#[derive(Clone)]
struct FleetAgent {
    client: Client,
    /// Cloned for every call and frame: a `Subject` clones without allocating.
    subject: async_nats::Subject,
    /// Where frames of the game that got the default reply are told of.
    defaults: async_nats::Subject,
    timeout: Duration,
    nodes: Arc<Mutex<BTreeSet<String>>>,
}

impl FleetAgent {
    fn unreachable(&self, error: async_nats::RequestError) -> ErrorBody {
        match error.kind() {
            RequestErrorKind::NoResponders => ErrorBody::new(
                ErrorCode::NETWORK_ERROR,
                format!("no node of the fleet serves {} now", self.subject),
            ),
            RequestErrorKind::TimedOut => ErrorBody::new(
                ErrorCode::CALL_TIMEOUT,
                format!("the fleet's agent did not answer within {} ms", self.timeout.as_millis()),
            ),
            _ => ErrorBody::new(
                ErrorCode::NETWORK_ERROR,
                format!("the fleet could not carry the call: {error}"),
            ),
        }
    }
}

impl AgentChannel for FleetAgent {
    fn call(&self, _function: &str, request: ExternalRequest) -> DispatchFuture {
        let payload =
            serde_json::to_vec(&AgentCall { id: request.id, args: request.args }).expect("a call serialises");
        let request = async_nats::Request::new().payload(payload.into()).timeout(Some(self.timeout));
        let agent = self.clone();
        Box::pin(async move {
            let reply = (agent.client.send_request(agent.subject.clone(), request).await)
                .map_err(|error| agent.unreachable(error))?;
            let answer = serde_json::from_slice::<FleetAnswer>(&reply.payload).map_err(|error| {
                ErrorBody::new(
                    ErrorCode::SERIALIZATION_ERROR,
                    format!("the fleet's agent answered garbage: {error}"),
                )
            })?;
            match (answer.success, answer.result, answer.error) {
                (true, Some(result), _) => Ok(result),
                (_, _, Some(error)) => Err(error),
                _ => Err(ErrorBody::new(
                    ErrorCode::SERIALIZATION_ERROR,
                    "the fleet's agent answered neither a result nor an error",
                )),
            }
        })
    }

    fn step(&self, request: StepRequest) -> StepFuture {
        let payload = frame_message(&request.game, request.seq, &request.frame);
        // No timeout of its own: the game's link bounds the wait with the frame's deadline.
        let message = async_nats::Request::new().payload(payload).timeout(None);
        let agent = self.clone();
        Box::pin(async move {
            let reply = (agent.client.send_request(agent.subject.clone(), message).await)
                .map_err(|error| agent.unreachable(error))?;
            read_reply_message(reply.payload)
        })
    }

    /// Which node's agent held the frame is not known here: every node
    /// serving the game hears of it, and the one that held it tells its
    /// agent ([`crate::agent_queues`]). Sent without waiting, as the game's
    /// loop calls it.
    fn step_defaulted(&self, notice: StepDefaulted) {
        let notice = StepDefault {
            instance: notice.game.to_string(),
            seq: notice.seq,
            error: notice.error,
            reply: notice.reply.to_vec(),
        };
        let payload = serde_json::to_vec(&notice).expect("a notice serialises");
        let (client, subject) = (self.client.clone(), self.defaults.clone());
        tokio::spawn(async move {
            if let Err(error) = client.publish(subject, payload.into()).await {
                tracing::debug!(%error, "could not tell the fleet of a defaulted frame");
            }
        });
    }

    fn describe(&self) -> String {
        let nodes: Vec<String> = lock(&self.nodes).iter().cloned().collect();
        format!("fleet: {}", nodes.join(", "))
    }
}
