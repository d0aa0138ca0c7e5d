//! This node's agents serving other nodes' games. An agent registers a
//! function (`step`, say) for a game of another node as for a game of its
//! own: on the game served here. This node then joins the queue group of
//! that game's function ([`Subjects::agents`]) and says so in its hello
//! ([`Served`]); the game's node registers the function for the fleet
//! ([`crate::remote_agents`]) and sends each call or frame to the group, so
//! N nodes' agents share a game's frames, each frame going to one of them.
//!
//! When a frame gets the default reply instead of the answer (the agent was
//! late), the game's node tells every node serving `step`; the one whose
//! agent was handed that frame passes the `step_default` notice on to it.
//!
//! A frame travels as its instance and number, then its bytes
//! ([`frame_message`]); the reply as one status byte, then the reply's
//! bytes or the error the agent's side gave ([`reply_message`]). Headers
//! would say the same at a greater cost per frame, on both nodes and on
//! the NATS server.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_nats::{Client, Message};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use gamebridge_hub::{Game, Hub};
use gamebridge_protocol::{ErrorBody, ErrorCode};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::proxy::is_proxy;
use crate::receive;
use crate::subjects::{AGENT_QUEUE, Subjects};
use crate::webhook_decide;
use crate::wire::{AgentCall, FleetAnswer, Served, StepDefault};

/// A frame for the fleet: `u16` instance name length (big-endian), the
/// name, `u64` frame number, the frame.
pub fn frame_message(instance: &str, seq: u64, frame: &[u8]) -> Bytes {
    let name = &instance.as_bytes()[..instance.len().min(usize::from(u16::MAX))];
    let mut message = BytesMut::with_capacity(10 + name.len() + frame.len());
    message.put_u16(name.len() as u16);
    message.put_slice(name);
    message.put_u64(seq);
    message.put_slice(frame);
    message.freeze()
}

/// The instance, number and bytes of a [`frame_message`].
pub fn read_frame_message(mut message: Bytes) -> Option<(String, u64, Bytes)> {
    let length = usize::from(u16::from_be_bytes(message.get(..2)?.try_into().ok()?));
    message.advance(2);
    let name = String::from_utf8(message.get(..length)?.to_vec()).ok()?;
    message.advance(length);
    let seq = u64::from_be_bytes(message.get(..8)?.try_into().ok()?);
    message.advance(8);
    Some((name, seq, message))
}

/// A reply to a [`frame_message`]: `0` and the reply's bytes, or `1` and
/// the error as JSON.
pub fn reply_message(outcome: &Result<Bytes, ErrorBody>) -> Bytes {
    let mut message = BytesMut::new();
    match outcome {
        Ok(reply) => {
            message.put_u8(0);
            message.put_slice(reply);
        }
        Err(error) => {
            message.put_u8(1);
            message.put_slice(&serde_json::to_vec(error).expect("an error serialises"));
        }
    }
    message.freeze()
}

/// What a [`reply_message`] says.
pub fn read_reply_message(message: Bytes) -> Result<Bytes, ErrorBody> {
    let unreadable = |why: String| ErrorBody::new(ErrorCode::SERIALIZATION_ERROR, why);
    match message.first() {
        Some(0) => Ok(message.slice(1..)),
        Some(1) => Err(serde_json::from_slice::<ErrorBody>(&message[1..])
            .unwrap_or_else(|error| unreadable(format!("the fleet's agent failed unreadably: {error}")))),
        _ => Err(unreadable("the fleet's agent answered an empty or unknown reply".to_owned())),
    }
}

/// The queue groups this node has joined, by game and function.
pub struct AgentQueues {
    client: Client,
    subjects: Subjects,
    /// With the game served here whose agent answers: a game that left and
    /// came back is a new game, and its queue is joined again.
    joined: HashMap<(String, String), (Arc<Game>, DropGuard)>,
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
        self.joined.retain(|key, (game, _)| wanted.get(key).is_some_and(|wanted| Arc::ptr_eq(wanted, game)));
        for (key, game) in wanted {
            if self.joined.contains_key(&key) {
                continue;
            }
            let subject = self.subjects.agents(&key.0, &key.1);
            match self.client.queue_subscribe(subject.clone(), AGENT_QUEUE.to_owned()).await {
                Ok(requests) => {
                    let stop = CancellationToken::new();
                    let handed = Arc::new(HandedFrames::default());
                    if key.1 == "step" {
                        self.follow_defaults(&game, handed.clone(), stop.clone()).await;
                    }
                    tokio::spawn(answer(
                        self.client.clone(),
                        game.clone(),
                        key.1.clone(),
                        requests,
                        handed,
                        stop.clone(),
                    ));
                    self.joined.insert(key, (game, stop.drop_guard()));
                }
                Err(error) => {
                    tracing::warn!(subject, %error, "could not serve an agent function to the fleet")
                }
            }
        }
        served
    }

    /// Passes on to the agent stepping `game` here the fleet's notices of
    /// frames that got the default, those it was handed, until `stop`.
    async fn follow_defaults(&self, game: &Arc<Game>, handed: Arc<HandedFrames>, stop: CancellationToken) {
        let subject = self.subjects.step_defaults(game.name());
        let mut notices = match self.client.subscribe(subject.clone()).await {
            Ok(notices) => notices,
            Err(error) => {
                tracing::warn!(subject, %error, "the agent will not hear of frames that got the default");
                return;
            }
        };
        let game = game.clone();
        tokio::spawn(async move {
            while let Some(message) = receive::next(&mut notices, &stop).await {
                let Ok(notice) = serde_json::from_slice::<StepDefault>(&message.payload) else { continue };
                if handed.take(&notice.instance, notice.seq) {
                    game.step_defaulted_for(
                        notice.instance.into(),
                        notice.seq,
                        notice.error,
                        notice.reply.into(),
                    );
                }
            }
        });
    }
}

/// The frames this node's agent was handed lately, so that of the fleet's
/// notices of defaulted frames it passes on its own only.
#[derive(Default)]
struct HandedFrames(Mutex<VecDeque<(String, u64)>>);

/// Frames [`HandedFrames`] remembers: far more than are ever in flight.
const HANDED_KEPT: usize = 4096;

impl HandedFrames {
    fn record(&self, instance: &str, seq: u64) {
        let mut handed = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if handed.len() == HANDED_KEPT {
            handed.pop_front();
        }
        handed.push_back((instance.to_owned(), seq));
    }

    /// Whether frame `seq` of `instance` was handed here; forgets it.
    fn take(&self, instance: &str, seq: u64) -> bool {
        let mut handed = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let found = handed.iter().rposition(|(name, number)| name == instance && *number == seq);
        found.map(|index| handed.remove(index)).is_some()
    }
}

/// Answers the calls of `function` of `game` (served here) with the agent
/// that registered it here, until `stop`.
async fn answer(
    client: Client,
    game: Arc<Game>,
    function: String,
    mut requests: async_nats::Subscriber,
    handed: Arc<HandedFrames>,
    stop: CancellationToken,
) {
    while let Some(request) = receive::next(&mut requests, &stop).await {
        let (client, game, function, handed) =
            (client.clone(), game.clone(), function.clone(), handed.clone());
        tokio::spawn(async move {
            let Some(reply_to) = request.reply.clone() else { return };
            let payload = if function == "step" {
                reply_message(&step(&game, request.payload, &handed).await)
            } else {
                call(&game, &function, &request).await
            };
            if let Err(error) = client.publish(reply_to, payload).await {
                tracing::debug!(%error, "could not answer the fleet");
            }
        });
    }
}

/// One frame for the agent stepping `game`: its reply, or why not.
async fn step(game: &Game, message: Bytes, handed: &HandedFrames) -> Result<Bytes, ErrorBody> {
    let Some((instance, seq, frame)) = read_frame_message(message) else {
        return Err(ErrorBody::new(ErrorCode::INVALID_ARGUMENTS, "not a fleet frame"));
    };
    handed.record(&instance, seq);
    game.step_for(instance.into(), seq, frame).await
}

/// One call of an agent function: the [`FleetAnswer`] to send back.
async fn call(game: &Game, function: &str, request: &Message) -> Bytes {
    let answer = match serde_json::from_slice::<AgentCall>(&request.payload) {
        Ok(AgentCall { args, .. }) if webhook_decide::applies(game, function) => {
            FleetAnswer::from(webhook_decide::decide_each(game, &args).await)
        }
        Ok(AgentCall { id, args }) => FleetAnswer::from(game.call_agent(function, id, args).await),
        Err(error) => FleetAnswer::from(Err(ErrorBody::new(
            ErrorCode::INVALID_ARGUMENTS,
            format!("not a fleet agent call: {error}"),
        ))),
    };
    serde_json::to_vec(&answer).expect("an answer serialises").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_replies_read_back_as_written() {
        let message = frame_message("tempest/3", 42, b"frame");
        assert_eq!(
            read_frame_message(message),
            Some(("tempest/3".to_owned(), 42, Bytes::from_static(b"frame")))
        );
        assert_eq!(read_frame_message(Bytes::from_static(&[0, 9, b'a'])), None, "cut short");
        assert_eq!(
            read_reply_message(reply_message(&Ok(Bytes::from_static(b"\0\x01")))).unwrap(),
            &b"\0\x01"[..]
        );
        let error = ErrorBody::new(ErrorCode::CALL_TIMEOUT, "late");
        assert_eq!(read_reply_message(reply_message(&Err(error))).unwrap_err().code, ErrorCode::CALL_TIMEOUT);
        assert!(read_reply_message(Bytes::new()).is_err());
    }

    #[test]
    fn a_handed_frame_is_found_once_and_the_oldest_are_forgotten() {
        let handed = HandedFrames::default();
        handed.record("tempest/1", 7);
        handed.record("tempest/2", 7);
        assert!(handed.take("tempest/1", 7));
        assert!(!handed.take("tempest/1", 7), "forgotten once found");
        assert!(!handed.take("tempest/3", 7), "never handed");
        for seq in 0..HANDED_KEPT as u64 {
            handed.record("tempest/4", seq);
        }
        assert!(!handed.take("tempest/2", 7), "pushed out by newer frames");
        assert!(handed.take("tempest/4", 0) && handed.take("tempest/4", HANDED_KEPT as u64 - 1));
    }
}
