//! This node's agents serving other nodes' games. An agent registers a
//! function (`step`, say) for a game of another node as for a game of its
//! own: on the game served here. This node then joins the queue group of
//! that game's function ([`Subjects::agents`]) and says so in its hello
//! ([`Served`]); the game's node registers the function for the fleet
//! ([`crate::remote_agents`]) and sends each call or frame to the group, so
//! N nodes' agents share a game's frames, each frame going to one of them.
//!
//! A frame travels as its bytes, with its instance and number in headers;
//! the reply as its bytes, or, with the header [`ERROR_HEADER`], as the
//! error the agent's side gave.

use std::collections::HashMap;
use std::sync::Arc;

use async_nats::{Client, HeaderMap, Message};
use bytes::Bytes;
use futures::StreamExt;
use gamebridge_hub::{Game, Hub};
use gamebridge_protocol::{ErrorBody, ErrorCode};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::proxy::is_proxy;
use crate::subjects::{AGENT_QUEUE, Subjects};
use crate::wire::{AgentCall, FleetAnswer, Served};

/// The instance a frame is of (`tempest/3`).
pub const INSTANCE_HEADER: &str = "Gamebridge-Instance";
/// The frame's number on its connection.
pub const SEQ_HEADER: &str = "Gamebridge-Seq";
/// On a reply: the payload is an [`ErrorBody`], not the reply's bytes.
pub const ERROR_HEADER: &str = "Gamebridge-Error";

/// The queue groups this node has joined, by game and function.
pub struct AgentQueues {
    client: Client,
    subjects: Subjects,
    joined: HashMap<(String, String), DropGuard>,
}

impl AgentQueues {
    pub fn new(client: Client, subjects: Subjects) -> Self {
        Self { client, subjects, joined: HashMap::new() }
    }

    /// Joins the queue group of every function this node's agents serve
    /// for another node's game, leaves the others, and returns them all
    /// for the hello (joined first: no frame is sent to a group before it
    /// has this node in it).
    pub async fn follow(&mut self, hub: &Hub) -> Vec<Served> {
        let mut served = Vec::new();
        let mut wanted = HashMap::new();
        for game in hub.games().iter().filter(|game| is_proxy(game)) {
            for function in game.external_functions() {
                let key = (game.name().to_owned(), function.name.clone());
                served.push(Served {
                    game: key.0.clone(),
                    function: key.1.clone(),
                    is_async: function.is_async,
                    timeout_ms: function.timeout.as_millis() as u64,
                    hold: function.hold,
                    description: function.description.clone(),
                });
                wanted.insert(key, game.clone());
            }
        }
        self.joined.retain(|key, _| wanted.contains_key(key));
        for (key, game) in wanted {
            if self.joined.contains_key(&key) {
                continue;
            }
            let subject = self.subjects.agents(&key.0, &key.1);
            match self.client.queue_subscribe(subject.clone(), AGENT_QUEUE.to_owned()).await {
                Ok(requests) => {
                    let stop = CancellationToken::new();
                    tokio::spawn(answer(self.client.clone(), game, key.1.clone(), requests, stop.clone()));
                    self.joined.insert(key, stop.drop_guard());
                }
                Err(error) => {
                    tracing::warn!(subject, %error, "could not serve an agent function to the fleet")
                }
            }
        }
        served
    }
}

/// Answers the calls of `function` of `game` (served here) with the agent
/// that registered it here, until `stop`.
async fn answer(
    client: Client,
    game: Arc<Game>,
    function: String,
    mut requests: async_nats::Subscriber,
    stop: CancellationToken,
) {
    loop {
        let request = tokio::select! {
            request = requests.next() => request,
            () = stop.cancelled() => None,
        };
        let Some(request) = request else { return };
        let (client, game, function) = (client.clone(), game.clone(), function.clone());
        tokio::spawn(async move {
            let Some(reply_to) = request.reply.clone() else { return };
            let (headers, payload) = if function == "step" {
                step(&game, &request).await
            } else {
                (HeaderMap::new(), call(&game, &function, &request).await)
            };
            if let Err(error) = client.publish_with_headers(reply_to, headers, payload).await {
                tracing::debug!(%error, "could not answer the fleet");
            }
        });
    }
}

/// One frame for the agent stepping `game`: its reply, or why not.
async fn step(game: &Game, request: &Message) -> (HeaderMap, Bytes) {
    let header = |name: &str| request.headers.as_ref()?.get(name).map(|value| value.as_str().to_owned());
    let (instance, seq) = (header(INSTANCE_HEADER), header(SEQ_HEADER).and_then(|seq| seq.parse().ok()));
    let outcome = match instance {
        Some(instance) => game.step_for(instance.into(), seq.unwrap_or(0), request.payload.clone()).await,
        None => Err(ErrorBody::new(ErrorCode::INVALID_ARGUMENTS, "a fleet frame names no instance")),
    };
    match outcome {
        Ok(reply) => (HeaderMap::new(), reply),
        Err(error) => {
            let mut headers = HeaderMap::new();
            headers.insert(ERROR_HEADER, "1");
            (headers, serde_json::to_vec(&error).expect("an error serialises").into())
        }
    }
}

/// One call of an agent function: the [`FleetAnswer`] to send back.
async fn call(game: &Game, function: &str, request: &Message) -> Bytes {
    let answer = match serde_json::from_slice::<AgentCall>(&request.payload) {
        Ok(AgentCall { id, args }) => FleetAnswer::from(game.call_agent(function, id, args).await),
        Err(error) => FleetAnswer::from(Err(ErrorBody::new(
            ErrorCode::INVALID_ARGUMENTS,
            format!("not a fleet agent call: {error}"),
        ))),
    };
    serde_json::to_vec(&answer).expect("an answer serialises").into()
}
