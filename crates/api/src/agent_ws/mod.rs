//! `GET /agent`: agents over one WebSocket (docs/WEBSOCKET.md). One
//! connection registers agent functions (`step` for lockstep games), answers
//! the calls and frames the bridge sends it, subscribes to events, and calls
//! game functions. Frames travel as binary messages, batched across
//! instances; everything else as JSON text.

mod connection;
mod sender;
pub mod wire;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::StreamExt;
use gamebridge_hub::{AgentChannel, AgentEndpoint, Delivery, ExternalFunction, Game};
use gamebridge_protocol::{CallResult, ErrorBody, ErrorCode, RawValue};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::connection::{AgentConnection, ConnectionChannel, Out};
use self::sender::Batching;
use crate::ApiState;
use crate::routes::events::EventFilter;
use crate::server::ConnectionSlot;

/// Messages waiting for the agent's socket; a full queue makes the hub wait
/// (within each call's deadline) rather than grow without bound.
const QUEUE: usize = 4096;

/// The connection's slot under the cap (absent in tests that route without
/// the server loop) is held until the socket closes.
pub async fn upgrade(
    State(state): State<ApiState>,
    slot: Option<Extension<ConnectionSlot>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade.max_message_size(crate::BODY_LIMIT).on_upgrade(move |socket| async move {
        serve(state, socket).await;
        drop(slot);
    })
}

/// What one connection has set up.
struct Agent {
    state: ApiState,
    connection: Arc<AgentConnection>,
    channel: Arc<dyn AgentChannel>,
    batching: Arc<Mutex<Batching>>,
    /// Games whose `step` this agent serves, for batching.
    step_games: Arc<Mutex<Vec<String>>>,
    /// Ends the connection's subscriptions and calls.
    done: CancellationToken,
}

async fn serve(state: ApiState, socket: WebSocket) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let (sink, mut stream) = socket.split();
    let (out, queue) = mpsc::channel(QUEUE);
    let connection = AgentConnection::new(NEXT.fetch_add(1, Ordering::Relaxed), out);
    let channel: Arc<dyn AgentChannel> = Arc::new(ConnectionChannel(connection.clone()));
    let agent = Agent {
        done: state.shutdown.child_token(),
        state,
        connection,
        channel,
        batching: Arc::default(),
        step_games: Arc::default(),
    };
    tracing::info!(agent = agent.connection.number, "WebSocket agent connected");
    let hub = agent.state.hub.clone();
    let step_games = agent.step_games.clone();
    let expected: sender::Expected = Arc::new(move || {
        let games = step_games.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        games.iter().map(|game| hub.connected_instances(game).max(1)).sum()
    });
    let writer = tokio::spawn(sender::run(sink, queue, agent.batching.clone(), expected));
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            () = agent.done.cancelled() => break,
        };
        match message {
            Some(Ok(Message::Text(text))) => agent.handle_text(text.as_str()).await,
            Some(Ok(Message::Binary(bytes))) => agent.handle_replies(bytes).await,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    agent.disconnect();
    drop(agent);
    let _ = writer.await;
}

#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FunctionSpec {
    Name(String),
    Full {
        name: String,
        description: Option<String>,
        timeout_ms: Option<u64>,
        #[serde(rename = "async")]
        is_async: Option<bool>,
        /// For `step`: wait for this agent up to the game's hold bound.
        hold: Option<bool>,
    },
}

#[derive(Deserialize)]
struct BatchSpec {
    max: Option<usize>,
    wait_ms: Option<u64>,
}

#[derive(Deserialize)]
struct Register {
    game: Option<String>,
    functions: Vec<FunctionSpec>,
    batch: Option<BatchSpec>,
}

#[derive(Deserialize)]
struct Unregister {
    game: Option<String>,
    functions: Vec<String>,
}

#[derive(Deserialize)]
struct Subscribe {
    types: Option<String>,
    game: Option<String>,
    since: Option<u64>,
}

#[derive(Deserialize)]
struct Call {
    id: Value,
    game: Option<String>,
    function: String,
    args: Option<Box<RawValue>>,
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
struct Answer {
    id: u64,
    success: bool,
    result: Option<Box<RawValue>>,
    error: Option<ErrorBody>,
}

impl Agent {
    fn send(&self, message: Value) {
        let _ = self.connection.out.try_send(Out::Text(message.to_string()));
    }

    fn error(&self, code: ErrorCode, message: impl Into<String>, id: Option<&Value>) {
        let mut error = json!({ "type": "error", "code": code, "message": message.into() });
        if let Some(id) = id {
            error["id"] = id.clone();
        }
        self.send(error);
    }

    fn game(&self, name: Option<&str>) -> Result<Arc<Game>, ErrorBody> {
        match name {
            Some(name) => self.state.hub.game(name),
            None => self.state.hub.default_game(),
        }
        .ok_or_else(|| {
            let games: Vec<String> =
                self.state.hub.games().iter().map(|game| game.name().to_owned()).collect();
            let why = match name {
                Some(name) => format!("no game named '{name}'"),
                None => "name the game: this bridge serves several".to_owned(),
            };
            ErrorBody::new(ErrorCode::NOT_FOUND, format!("{why}; games: {}", games.join(", ")))
        })
    }

    async fn handle_text(&self, text: &str) {
        let kind = match serde_json::from_str::<Kind>(text) {
            Ok(kind) => kind.kind,
            Err(error) => {
                return self.error(ErrorCode::INVALID_ARGUMENTS, format!("not a message: {error}"), None);
            }
        };
        let outcome = match kind.as_str() {
            "register" => serde_json::from_str(text).map(|message| self.register(message)),
            "unregister" => serde_json::from_str(text).map(|message| self.unregister(message)),
            "subscribe" => serde_json::from_str(text).map(|message| self.subscribe(message)),
            "call" => serde_json::from_str(text).map(|message| self.call(message)),
            "result" => serde_json::from_str(text).map(|message| self.answer(message)),
            other => {
                return self.error(
                    ErrorCode::INVALID_ARGUMENTS,
                    format!("unknown message type {other:?}; expected register, unregister, subscribe, call or result"),
                    None,
                );
            }
        };
        if let Err(error) = outcome {
            self.error(ErrorCode::INVALID_ARGUMENTS, format!("malformed {kind} message: {error}"), None);
        }
    }

    fn register(&self, message: Register) {
        let game = match self.game(message.game.as_deref()) {
            Ok(game) => game,
            Err(error) => return self.error(error.code, error.message, None),
        };
        if let Some(batch) = message.batch {
            let mut batching = self.batching.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            batching.max = batch.max.unwrap_or(batching.max).clamp(1, usize::from(u16::MAX));
            batching.wait = batch.wait_ms.map_or(batching.wait, Duration::from_millis);
        }
        let mut registered = Vec::new();
        for spec in message.functions {
            let (name, description, timeout_ms, is_async, hold) = match spec {
                FunctionSpec::Name(name) => (name, None, None, None, None),
                FunctionSpec::Full { name, description, timeout_ms, is_async, hold } => {
                    (name, description, timeout_ms, is_async, hold)
                }
            };
            let function = ExternalFunction {
                name: name.clone(),
                endpoint: AgentEndpoint::Channel(self.channel.clone()),
                is_async: is_async.unwrap_or(false),
                timeout: Duration::from_millis(timeout_ms.unwrap_or(5000).max(1)),
                description,
                hold: hold.unwrap_or(false),
            };
            match game.register_external(function) {
                Ok(_) => {
                    if name == "step" {
                        self.step_games
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .push(game.name().to_owned());
                    }
                    registered.push(name);
                }
                Err(error) => self.error(error.code, error.message, None),
            }
        }
        tracing::info!(
            agent = self.connection.number,
            game = game.name(),
            ?registered,
            "agent registered functions"
        );
        let mut answer = json!({ "type": "registered", "game": game.name(), "functions": registered });
        // A stepping agent learns the frame layout, deadline and hold bound.
        if let Some(lockstep) = game.lockstep() {
            answer["lockstep"] = json!(lockstep);
        }
        self.send(answer);
    }

    fn unregister(&self, message: Unregister) {
        let game = match self.game(message.game.as_deref()) {
            Ok(game) => game,
            Err(error) => return self.error(error.code, error.message, None),
        };
        for name in &message.functions {
            if let Err(error) = game.unregister_external(name) {
                self.error(error.code, error.message, None);
            }
        }
        self.step_games.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).retain(|step_game| {
            step_game != game.name() || !message.functions.iter().any(|name| name == "step")
        });
        self.send(json!({ "type": "unregistered", "game": game.name(), "functions": message.functions }));
    }

    /// Streams events as `{type:"event", seq, event, game, data}` until the
    /// connection ends; a gap is reported as `{type:"lagged", …}`.
    fn subscribe(&self, message: Subscribe) {
        let filter = EventFilter::new(message.types.as_deref(), message.game);
        let mut cursor = self.state.hub.events().subscribe(message.since);
        let (out, done) = (self.connection.out.clone(), self.done.clone());
        tokio::spawn(async move {
            loop {
                let delivery = tokio::select! {
                    delivery = cursor.next(100) => delivery,
                    () = done.cancelled() => return,
                };
                let texts: Vec<String> = match delivery {
                    Delivery::Events(events) => events
                        .iter()
                        .filter(|event| filter.accepts(event))
                        .map(|event| {
                            format!(
                                r#"{{"type":"event","seq":{},"event":{},"game":{},"data":{}}}"#,
                                event.seq,
                                Value::from(event.event_type.as_str()),
                                Value::from(&*event.game),
                                String::from_utf8_lossy(&event.data)
                            )
                        })
                        .collect(),
                    Delivery::Lagged { first, missed } => {
                        vec![json!({ "type": "lagged", "first": first, "missed": missed }).to_string()]
                    }
                };
                for text in texts {
                    if out.send(Out::Text(text)).await.is_err() {
                        return;
                    }
                }
            }
        });
        self.send(json!({ "type": "subscribed" }));
    }

    /// A call from the agent to a game function; the answer comes back as
    /// `{type:"result", id, success, result | error}` with the agent's id.
    fn call(&self, message: Call) {
        let game = match self.game(message.game.as_deref()) {
            Ok(game) => game,
            Err(error) => return self.error(error.code, error.message, Some(&message.id)),
        };
        let timeout = message
            .timeout_ms
            .map_or(self.state.default_timeout, |millis| Duration::from_millis(millis.max(1)));
        let args = message.args.unwrap_or_else(|| RawValue::from_string("{}".into()).expect("JSON"));
        let (out, id) = (self.connection.out.clone(), message.id);
        tokio::spawn(async move {
            let outcome = game.call(message.function, args, timeout).await;
            let _ = out.send(Out::Text(result_message(&id, &outcome))).await;
        });
    }

    /// The agent's answer to a JSON call the bridge sent it.
    fn answer(&self, message: Answer) {
        let outcome = if message.success {
            Ok(message.result.unwrap_or_else(gamebridge_protocol::message::null))
        } else {
            Err(message
                .error
                .unwrap_or_else(|| ErrorBody::new(ErrorCode::CALL_FAILED, "the agent reported a failure")))
        };
        if !self.connection.complete_call(message.id, outcome) {
            tracing::debug!(agent = self.connection.number, id = message.id, "answer for no waiting call");
        }
    }

    async fn handle_replies(&self, bytes: bytes::Bytes) {
        match wire::decode_replies(bytes) {
            Ok(replies) => {
                for (id, reply) in replies {
                    self.connection.complete_step(id, reply);
                }
            }
            Err(error) => self.error(ErrorCode::SERIALIZATION_ERROR, error, None),
        }
    }

    /// The agent left: its functions are unregistered everywhere, and
    /// everything waiting on it fails now.
    fn disconnect(&self) {
        self.done.cancel();
        self.connection.close();
        for game in self.state.hub.games().iter() {
            game.unregister_channel(&self.channel);
        }
        tracing::info!(agent = self.connection.number, "WebSocket agent disconnected");
    }
}

fn result_message(id: &Value, outcome: &CallResult) -> String {
    match outcome {
        Ok(result) => format!(r#"{{"type":"result","id":{id},"success":true,"result":{}}}"#, result.get()),
        Err(error) => json!({ "type": "result", "id": id, "success": false, "error": error }).to_string(),
    }
}
