//! A game of another node, served here as if its link were local: a hub
//! game whose session forwards calls to the game's node over NATS and
//! hands the answers back. Every route, MCP tool and dashboard view of this
//! node then reaches it unchanged; the pending call and its deadline stay
//! here, where the agent waits.

use std::sync::Arc;

use async_nats::{Client, RequestErrorKind};
use gamebridge_hub::{Game, Outbound, SessionGuard};
use gamebridge_protocol::message::Response;
use gamebridge_protocol::{BridgeMessage, ErrorBody, ErrorCode, GameMessage};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::subjects::Subjects;
use crate::wire::{Control, FleetAnswer, FleetCall, GameCard};

/// How the link of a game of another node starts: `fleet:NODE`.
pub const PROXY_LINK: &str = "fleet:";

/// Messages to a remote game queued at once, as for a local link.
const OUTBOUND_QUEUE: usize = 1024;

/// Whether `game` is another node's, served here.
pub fn is_proxy(game: &Game) -> bool {
    game.link().starts_with(PROXY_LINK)
}

/// A remote game served here while this lives.
pub struct Proxy {
    game: Arc<Game>,
    card: watch::Sender<GameCard>,
    _stop: DropGuard,
}

impl Proxy {
    /// Serves `game` (added to the hub for it) as `card` describes it.
    pub fn spawn(client: Client, subjects: &Subjects, node: &str, game: Arc<Game>, card: GameCard) -> Self {
        let (cards, watched) = watch::channel(card);
        let stop = CancellationToken::new();
        let subject = subjects.call(node, game.name());
        let remote = Remote { client, subject, node: node.to_owned(), stop: stop.clone() };
        // Attached now, not on the task's first turn: a game its node says
        // is connected does not answer `DLL_DISCONNECTED` here meanwhile.
        game.mirror_pause(watched.borrow().paused.game, &watched.borrow().paused.players);
        let link = mirror(&game, &watched.borrow(), None);
        tokio::spawn(serve(remote, game.clone(), watched, link, stop.clone()));
        Self { game, card: cards, _stop: stop.drop_guard() }
    }

    /// The game served here.
    pub fn game(&self) -> &Arc<Game> {
        &self.game
    }

    /// What the game's node says of it now. Its pause state is taken from
    /// every hello, changed or not: a pause set through this node shows
    /// here at once, and what the game's node made of it a hello later.
    pub fn update(&self, card: GameCard) {
        self.game.mirror_pause(card.paused.game, &card.paused.players);
        self.card.send_if_modified(|current| {
            let changed = *current != card;
            *current = card;
            changed
        });
    }
}

/// Where the remote game's calls go.
#[derive(Clone)]
struct Remote {
    client: Client,
    subject: String,
    node: String,
    /// Cancelled when the game leaves this node: calls in flight stop waiting.
    stop: CancellationToken,
}

/// The session of a remote game while it is connected, and its queue.
type Link = Option<(Arc<SessionGuard>, mpsc::Receiver<Outbound>)>;

/// Makes `game` what `card` says: its functions, and connected (`link`
/// attached) or not.
fn mirror(game: &Arc<Game>, card: &GameCard, link: Link) -> Link {
    if game.functions().list() != card.functions {
        game.functions().set_manifest(card.functions.clone());
    }
    if game.lockstep().as_deref() != card.lockstep.as_ref()
        && let Some(lockstep) = &card.lockstep
    {
        game.set_lockstep(lockstep.clone());
    }
    match (card.connected, link) {
        (true, None) => {
            let (outbound, queue) = mpsc::channel(OUTBOUND_QUEUE);
            Some((Arc::new(game.attach(outbound)), queue))
        }
        // Dropping the session fails its pending calls with DLL_DISCONNECTED.
        (false, Some(_)) => None,
        (_, link) => link,
    }
}

/// Mirrors the card as it changes and forwards calls while connected.
async fn serve(
    remote: Remote,
    game: Arc<Game>,
    mut card: watch::Receiver<GameCard>,
    mut link: Link,
    stop: CancellationToken,
) {
    loop {
        let next = async {
            match &mut link {
                Some((_, queue)) => queue.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            outbound = next => match (outbound, &link) {
                (Some(outbound), Some((session, _))) => forward(&remote, session, outbound),
                _ => link = None,
            },
            changed = card.changed() => match changed {
                Ok(()) => link = mirror(&game, &card.borrow_and_update(), link),
                Err(_) => return,
            },
            () = stop.cancelled() => return,
        }
    }
}

/// How long the game's node has to take a pause control.
const CONTROL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Sends the calls and pause controls among `outbound` to the game's node.
/// Agent function registrations travel in hellos instead (see
/// [`crate::remote_agents`]).
fn forward(remote: &Remote, session: &Arc<SessionGuard>, outbound: Outbound) {
    let Outbound::One(message) = outbound else {
        if let Outbound::Batch(messages) = outbound {
            messages.into_iter().for_each(|message| forward(remote, session, Outbound::One(message)));
        }
        return;
    };
    if let Some(control) = control_of(&message) {
        return send_control(remote, session.game().name(), control);
    }
    // `None`: not a call, or its caller has given up already.
    let Some(deadline) = session.deadline(&message) else {
        tracing::debug!(game = session.game().name(), ?message, "not forwarded to the game's node");
        return;
    };
    let remaining = move || deadline.saturating_duration_since(tokio::time::Instant::now());
    // While the NATS server is away the client would hold the call until
    // its deadline: say so at once instead (the client reconnects by itself).
    if remote.client.connection_state() != async_nats::connection::State::Connected
        && let Some(id) = message.call_id()
    {
        let error = ErrorBody::new(
            ErrorCode::NETWORK_ERROR,
            "the fleet's NATS server is unreachable now (this node reconnects by itself); try again",
        );
        session.receive(GameMessage::LuaResponse(Response::from_result(id.clone(), Err(error))));
        return;
    }
    let timeout_ms = remaining().as_millis().max(1) as u64;
    let (id, call) = match message {
        BridgeMessage::LuaCall { id, function, args } => (id, FleetCall::Call { function, args, timeout_ms }),
        BridgeMessage::LuaExecute { id, script } => (id, FleetCall::Execute { script, timeout_ms }),
        _ => return,
    };
    // Weak: a call in flight must not keep the session, whose end fails
    // the calls waiting on it, alive once the game has left.
    let (remote, session, game) = (remote.clone(), Arc::downgrade(session), session.game().name().to_owned());
    tokio::spawn(async move {
        let payload = serde_json::to_vec(&call).expect("a fleet call serialises");
        let request = async_nats::Request::new().payload(payload.into()).timeout(Some(remaining()));
        let reply = tokio::select! {
            reply = remote.client.send_request(remote.subject.clone(), request) => reply,
            () = remote.stop.cancelled() => return,
        };
        let answer = match reply {
            Ok(reply) => serde_json::from_slice::<FleetAnswer>(&reply.payload).unwrap_or_else(|error| {
                failed(
                    ErrorCode::SERIALIZATION_ERROR,
                    format!("node {} answered garbage: {error}", remote.node),
                )
            }),
            // The pending call fails with CALL_TIMEOUT at its deadline by itself.
            Err(error) if error.kind() == RequestErrorKind::TimedOut => return,
            Err(error) if error.kind() == RequestErrorKind::NoResponders => failed(
                ErrorCode::DLL_DISCONNECTED,
                format!("node {} does not answer for '{game}' (it left the fleet?)", remote.node),
            ),
            Err(error) => {
                failed(ErrorCode::NETWORK_ERROR, format!("the fleet could not carry the call: {error}"))
            }
        };
        let response = Response { id, success: answer.success, result: answer.result, error: answer.error };
        if let Some(session) = session.upgrade() {
            session.receive(GameMessage::LuaResponse(response));
        }
    });
}

/// The pause control a message to the game carries, if it is one.
fn control_of(message: &BridgeMessage) -> Option<Control> {
    Some(match message {
        BridgeMessage::PauseGame {} => Control::PauseGame,
        BridgeMessage::ResumeGame {} => Control::ResumeGame,
        BridgeMessage::PausePlayer { player_id } => Control::PausePlayer { player_id: *player_id },
        BridgeMessage::UnpausePlayer { player_id } => Control::UnpausePlayer { player_id: *player_id },
        BridgeMessage::ClearPausedPlayers {} => Control::ClearPausedPlayers,
        BridgeMessage::SetProductionMode { enabled } => Control::ProductionMode { enabled: *enabled },
        _ => return None,
    })
}

/// Hands a pause control to the game's node, which applies it as its own
/// agents' (its pause state is the game's); failures are logged.
fn send_control(remote: &Remote, game: &str, control: Control) {
    let (remote, game) = (remote.clone(), game.to_owned());
    tokio::spawn(async move {
        let payload = serde_json::to_vec(&FleetCall::Control(control.clone())).expect("a control serialises");
        let request = async_nats::Request::new().payload(payload.into()).timeout(Some(CONTROL_TIMEOUT));
        let answer = match remote.client.send_request(remote.subject.clone(), request).await {
            Ok(reply) => {
                serde_json::from_slice::<FleetAnswer>(&reply.payload).map_err(|error| error.to_string())
            }
            Err(error) => Err(error.to_string()),
        };
        match answer {
            Ok(answer) if answer.success => {}
            Ok(answer) => {
                tracing::warn!(game, ?control, error = ?answer.error, "the game's node refused a pause control")
            }
            Err(error) => {
                tracing::warn!(game, ?control, node = remote.node, %error, "a pause control did not reach the game's node")
            }
        }
    });
}

fn failed(code: ErrorCode, message: String) -> FleetAnswer {
    FleetAnswer::from(Err(ErrorBody::new(code, message)))
}
