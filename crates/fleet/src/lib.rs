//! Fleet mode: bridges on many machines joined through a NATS server, so
//! that an agent connected to any of them reaches every game of all.
//!
//! Each bridge (a *node*) says hello to the fleet every second with its
//! games and their functions ([`announce`]). Every other node serves those
//! games as if they were its own ([`proxy`]): a hub game whose link is the
//! fleet, so `/games`, `/games/{name}/lua/call`, MCP and the dashboard list
//! and reach it unchanged. A call waits on the node the agent called, with
//! its deadline; it travels as a NATS request to the game's node, which
//! calls the game and answers ([`serve`]). A node that leaves, or is
//! silent for three seconds, takes its games with it, and the calls
//! waiting for them fail at once with `DLL_DISCONNECTED`.
//!
//! Agents registering functions for another node's game do so on their own
//! node, which joins a queue group for them ([`agent_queues`]); the game's
//! node registers them for the fleet ([`remote_agents`]), so several nodes'
//! agents share a lockstep game's frames or an arena's ticks, each going to
//! one of them. Each node publishes its games' events into a JetStream
//! stream ([`events`], [`journal`]): the others add them to their own event
//! logs, so `/events` on any node streams the fleet's, and `/fleet/events`
//! replays the stream itself, numbered by it.
//!
//! Subjects are listed in [`subjects`]; what is carried, in [`wire`];
//! the guarantees, in docs/FLEET.md.

pub mod agent_queues;
pub mod announce;
mod directory;
mod events;
pub mod journal;
mod orphans;
pub mod proxy;
mod receive;
mod remote_agents;
mod serve;
pub mod subjects;
mod webhook_decide;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use gamebridge_hub::Hub;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use events::Outlet;
use journal::FleetJournal;
pub use journal::JournalLimits;
pub use proxy::is_proxy;
use subjects::Subjects;

/// The subject prefix unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "gamebridge";

/// How a bridge joins a fleet.
#[derive(Clone, Debug)]
pub struct FleetOptions {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// This bridge's name in the fleet: unique per bridge.
    pub node: String,
    /// What every subject of the fleet starts with.
    pub prefix: String,
    /// Whether other nodes may run Lua scripts in this node's games (off
    /// with `--no-execute`, as for this node's own agents).
    pub allow_execute: bool,
    /// How much of the fleet's events its JetStream stream keeps.
    pub journal: JournalLimits,
    /// A NATS credentials file (JWT and NKey seed) to connect with; a
    /// user and password or a token go in the URL instead
    /// (`nats://USER:PASSWORD@HOST:4222`).
    pub credentials: Option<std::path::PathBuf>,
    /// How long joining waits for a NATS server that is not reachable yet
    /// (fleet machines start in any order); a refused login fails at once.
    pub start_wait: Duration,
}

/// [`FleetOptions::start_wait`] unless set.
pub const DEFAULT_START_WAIT: Duration = Duration::from_secs(30);

impl FleetOptions {
    /// Joining the fleet of the NATS server at `url` as `node`, with the
    /// default prefix and stream limits, scripts allowed, no credentials.
    pub fn new(url: impl Into<String>, node: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            node: node.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            allow_execute: true,
            journal: JournalLimits::default(),
            credentials: None,
            start_wait: DEFAULT_START_WAIT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// `why` names the NATS client's error, with a hint for a refused login.
    #[error("could not reach the NATS server at {url}: {why}")]
    Connect { url: String, why: String },
    #[error("could not subscribe to {subject}: {error}")]
    Subscribe { subject: String, error: async_nats::SubscribeError },
    #[error("could not read the NATS credentials file {path}: {error}")]
    Credentials { path: std::path::PathBuf, error: std::io::Error },
    #[error(
        "another bridge of the fleet is already called {node:?} (node names must be unique): \
         give this one its own --node NAME"
    )]
    NodeNameTaken { node: String },
}

/// Why connecting failed; for a refused login, where credentials go.
fn connect_failure(error: &async_nats::ConnectError) -> String {
    match error.kind() {
        async_nats::ConnectErrorKind::AuthorizationViolation => format!(
            "{error} (credentials go in the URL, nats://USER:PASSWORD@HOST:4222 or \
             nats://TOKEN@HOST:4222, or in a --nats-creds file)"
        ),
        _ => error.to_string(),
    }
}

/// Connects to the server, trying again while it cannot be reached (not up
/// yet) for up to `options.start_wait`, with a warning each time. A bad
/// address, a refused login or a TLS failure is reported at once: waiting
/// would not change them.
async fn connect_when_reachable(
    connect: async_nats::ConnectOptions,
    options: &FleetOptions,
) -> Result<async_nats::Client, FleetError> {
    use async_nats::ConnectErrorKind::{Io, TimedOut};
    let give_up = tokio::time::Instant::now() + options.start_wait;
    let mut pause = Duration::from_millis(100);
    loop {
        let error = match connect.clone().connect(&options.url).await {
            Ok(client) => return Ok(client),
            Err(error) => error,
        };
        let url = without_secret(&options.url);
        let now = tokio::time::Instant::now();
        if !matches!(error.kind(), Io | TimedOut) || now + pause > give_up {
            return Err(FleetError::Connect { url, why: connect_failure(&error) });
        }
        tracing::warn!(%url, %error, retry_in_ms = pause.as_millis() as u64, left_s = (give_up - now).as_secs(),
            "the NATS server cannot be reached yet; trying again");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// `url` with the user, password or token in it replaced by `***`, for logs.
pub fn without_secret(url: &str) -> String {
    match url.split_once("://").and_then(|(scheme, rest)| Some((scheme, rest.split_once('@')?.1))) {
        Some((scheme, host)) => format!("{scheme}://***@{host}"),
        None => url.to_owned(),
    }
}

/// A bridge's membership of a fleet; [`Fleet::leave`] ends it.
pub struct Fleet {
    hub: Arc<Hub>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Fleet {
    /// Connects to NATS, answers calls for this node's games, serves the
    /// fleet's games here, and says hello. NATS connections that drop
    /// later are made again by the client on its own.
    pub async fn join(hub: Arc<Hub>, options: FleetOptions) -> Result<Self, FleetError> {
        let mut connect = async_nats::ConnectOptions::new().name(format!("gamebridge {}", options.node));
        // The NATS client reads no credentials from the URL: they are passed on here.
        if let Ok(address) = options.url.parse::<async_nats::ServerAddr>() {
            match (address.username(), address.password()) {
                (Some(user), Some(password)) => {
                    connect = connect.user_and_password(user.to_owned(), password.to_owned())
                }
                (Some(token), None) => connect = connect.token(token.to_owned()),
                _ => {}
            }
        }
        if let Some(path) = &options.credentials {
            connect = (connect.credentials_file(path).await)
                .map_err(|error| FleetError::Credentials { path: path.clone(), error })?;
        }
        let client = connect_when_reachable(connect, &options).await?;
        let subjects = Subjects::new(&options.prefix);
        if announce::name_is_taken(&client, &subjects, &options.node).await {
            return Err(FleetError::NodeNameTaken { node: options.node });
        }
        let subscribe = |subject: String| {
            let client = client.clone();
            async move {
                client
                    .subscribe(subject.clone())
                    .await
                    .map_err(|error| FleetError::Subscribe { subject, error })
            }
        };
        // Answering before saying hello: no node calls a game it has not heard of.
        let calls = subscribe(subjects.calls_to(&options.node)).await?;
        let roll_calls = subscribe(subjects.roll_call(&options.node)).await?;
        let hellos = subscribe(subjects.every_hello()).await?;
        let byes = subscribe(subjects.every_bye()).await?;
        let events = subscribe(subjects.every_event()).await?;
        hub.name_games_in_events();
        let outlet = Self::open_journal(&hub, &client, &subjects, options.journal).await;
        let stop = CancellationToken::new();
        let directory =
            directory::Directory::new(client.clone(), hub.clone(), subjects.clone(), options.node.clone());
        let tasks = vec![
            tokio::spawn(serve::answer_calls(
                client.clone(),
                hub.clone(),
                calls,
                options.allow_execute,
                stop.clone(),
            )),
            tokio::spawn(directory.follow(hellos, byes, events, stop.clone())),
            tokio::spawn(events::publish_events(
                outlet,
                hub.clone(),
                subjects.clone(),
                options.node.clone(),
                stop.clone(),
            )),
            tokio::spawn(announce::answer_roll_calls(client.clone(), roll_calls, stop.clone())),
            tokio::spawn(announce::announce(
                client,
                hub.clone(),
                subjects,
                options.node.clone(),
                stop.clone(),
            )),
        ];
        tracing::info!(node = options.node, url = without_secret(&options.url), "joined the fleet");
        Ok(Self { hub, stop, tasks })
    }

    /// Opens the fleet's event stream and makes it this hub's shared
    /// journal; without JetStream, events travel as core messages only.
    async fn open_journal(
        hub: &Hub,
        client: &async_nats::Client,
        subjects: &Subjects,
        limits: JournalLimits,
    ) -> Outlet {
        let context = async_nats::jetstream::new(client.clone());
        match journal::open_stream(&context, subjects, limits).await {
            Ok(info) => {
                tracing::info!(
                    stream = info.config.name,
                    events = info.state.messages,
                    last = info.state.last_sequence,
                    "the fleet's event stream is open"
                );
                let journal = FleetJournal {
                    client: client.clone(),
                    context: context.clone(),
                    subjects: subjects.clone(),
                };
                hub.set_shared_journal(Some(Arc::new(journal)));
                Outlet::Stream(context)
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    "no event stream for the fleet (does the NATS server run JetStream, `nats-server -js`?): \
                     events reach nodes that are connected, and /fleet/events is unavailable"
                );
                Outlet::Core(client.clone())
            }
        }
    }

    /// Says goodbye (the fleet drops this node's games at once) and stops
    /// serving the fleet's games here.
    pub async fn leave(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.hub.set_shared_journal(None);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_in_the_url_stay_out_of_logs() {
        assert_eq!(super::without_secret("nats://bridge:s3cret@10.0.0.2:4222"), "nats://***@10.0.0.2:4222");
        assert_eq!(super::without_secret("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }
}
