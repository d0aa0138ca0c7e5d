//! What a bridge serves: the listen address and the games, from the command
//! line and an optional TOML file.
//!
//! ```toml
//! listen = "127.0.0.1:5000"
//! timeout_ms = 300000
//! event_ring = 10000
//! event_ring_bytes = 67108864
//! journal = "events.jsonl"
//! event_pipe = "vox-deorum-events"
//! games = ["civ5=vox-deorum", "lab=tcp:127.0.0.1:7000?framing=lines"]
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use gamebridge_api::server::ConnectionLimits;
use gamebridge_links::LinkSpec;
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:5000";
pub const DEFAULT_TIMEOUT: Duration = gamebridge_api::DEFAULT_CALL_TIMEOUT;
/// A smaller event ring would hold barely one ordinary event.
pub const MIN_EVENT_RING_BYTES: usize = 64 << 10;

/// One game: its name (used in `/games/{name}/…`) and how to reach it.
#[derive(Clone, Debug, PartialEq)]
pub struct GameConfig {
    pub name: String,
    pub spec: LinkSpec,
    /// The spec as the user wrote it, shown in `/games`.
    pub spec_text: String,
}

impl GameConfig {
    /// The spec as written, plus where it resolves to when that differs
    /// (a profile, a pipe id): `vox-deorum (unix:/tmp/app.vox-deorum-bridge)`.
    pub fn link_label(&self) -> String {
        let resolved = self.spec.to_string();
        if resolved == self.spec_text { resolved } else { format!("{} ({resolved})", self.spec_text) }
    }
}

impl std::str::FromStr for GameConfig {
    type Err = anyhow::Error;

    /// `NAME=SPEC`, or a bare profile name (`vox-deorum`), which names itself.
    fn from_str(text: &str) -> anyhow::Result<Self> {
        let (name, spec_text) = match text.split_once('=') {
            Some((name, spec)) if !name.contains(':') => (name, spec),
            _ if LinkSpec::expand_profile(text) != text => (text, text),
            _ => bail!(
                "--game expects NAME=SPEC (for example civ5=vox-deorum or lab=tcp:127.0.0.1:7000), got {text:?}"
            ),
        };
        let valid_name = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        if !valid_name {
            bail!("game name {name:?} must be non-empty and use only letters, digits, '-', '_' and '.'");
        }
        let spec = spec_text.parse::<LinkSpec>()?;
        Ok(GameConfig { name: name.to_owned(), spec, spec_text: spec_text.to_owned() })
    }
}

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    pub listen: SocketAddr,
    pub games: Vec<GameConfig>,
    pub default_timeout: Duration,
    /// Events kept in memory for replay.
    pub event_ring: usize,
    /// Bytes of events kept in memory for replay.
    pub event_ring_bytes: usize,
    /// A file every event is appended to.
    pub journal: Option<PathBuf>,
    /// Serve events on node-ipc pipe ID as well.
    pub event_pipe: Option<String>,
    /// How often SSE streams send `ping`.
    pub ping_interval: Duration,
    /// Host check, token, CORS, agent hosts, script execution.
    pub security: gamebridge_api::security::Security,
    /// Header timeout and connection cap of the agent API.
    pub limits: ConnectionLimits,
    /// The fleet this bridge joins, if any.
    pub fleet: Option<gamebridge_fleet::FleetOptions>,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("default address parses"),
            games: Vec::new(),
            default_timeout: DEFAULT_TIMEOUT,
            event_ring: gamebridge_hub::DEFAULT_EVENT_CAPACITY,
            event_ring_bytes: gamebridge_hub::DEFAULT_EVENT_RING_BYTES,
            journal: None,
            event_pipe: None,
            ping_interval: Duration::from_secs(5),
            security: gamebridge_api::security::Security::default(),
            limits: ConnectionLimits::default(),
            fleet: None,
        }
    }
}

/// The flags of `gamebridge serve`; each overrides the config file.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ServeOptions {
    /// Address of the agent API (loopback only) [default: 127.0.0.1:5000].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// A game to serve, as NAME=SPEC or a profile name; repeat for several games.
    /// Without any, serves the vox-deorum profile.
    #[arg(long = "game", value_name = "NAME=SPEC")]
    pub games: Vec<String>,
    /// A TOML file with the same settings; flags add games to it and override the rest.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Default deadline of a call in milliseconds [default: 300000, as the Vox Deorum bridge].
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// Events kept in memory for clients that reconnect [default: 10000].
    #[arg(long, value_name = "EVENTS")]
    pub event_ring: Option<usize>,
    /// Bytes of events kept in memory for clients that reconnect; the oldest leave first
    /// [default: 67108864 (64 MiB)].
    #[arg(long, value_name = "BYTES")]
    pub event_ring_bytes: Option<usize>,
    /// Append every event to this file (JSON lines); history and replay survive restarts.
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Also serve events on node-ipc pipe ID (/tmp/app.ID; Windows \\.\pipe\tmp-app.ID).
    #[arg(long, value_name = "ID")]
    pub event_pipe: Option<String>,
    /// Require this token on agent-side requests (Authorization: Bearer TOKEN); needed to
    /// listen on a non-loopback address.
    #[arg(long, env = "GAMEBRIDGE_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Accept this Host name besides localhost/127.0.0.1/::1 (repeat for several).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// Let browser pages from this origin call the API (CORS); none by default.
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Option<String>,
    /// Allow agent function URLs on this host besides this machine (repeat for several).
    #[arg(long = "allow-agent-host", value_name = "HOST")]
    pub allow_agent_hosts: Vec<String>,
    /// Refuse /lua/execute (and MCP's execute_lua): agents may only call registered functions.
    #[arg(long)]
    pub no_execute: bool,
    /// An environment variable agents' LLM backends may name as their API key
    /// (api_key_env); repeat for several. Without it they may name none, and
    /// backends use GAMEBRIDGE_LLM_API_KEY.
    #[arg(long = "llm-key-env", value_name = "VAR")]
    pub llm_key_envs: Vec<String>,
    /// With --token: an address besides this machine from which an Agent Arena game may
    /// use its own routes (/tick, /observe, /health, …) without the token; repeat for several.
    #[arg(long = "allow-game-peer", value_name = "IP")]
    pub allow_game_peers: Vec<IpAddr>,
    /// Close a connection that sends no complete request head, or stays idle between
    /// requests, for this long [default: 30000].
    #[arg(long, value_name = "MS")]
    pub header_timeout_ms: Option<u64>,
    /// Connections open at once, at most; more wait until one closes [default: 1024].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Join a fleet through this NATS server (nats://HOST:PORT): agents of every bridge in
    /// the fleet reach this bridge's games, and agents here reach theirs. With it and no
    /// --game, the bridge serves only the fleet's games (docs/FLEET.md).
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// This bridge's name in the fleet, unique per bridge [default: HOSTNAME-PORT].
    #[arg(long, value_name = "NAME", requires = "nats")]
    pub node: Option<String>,
    /// A NATS credentials file (a JWT and NKey seed, as `nsc` writes it) to join the fleet
    /// with. A user and password, or a token, go in the URL: nats://USER:PASSWORD@HOST:4222.
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub nats_creds: Option<PathBuf>,
    /// Seconds to keep trying a NATS server that cannot be reached yet when the bridge
    /// starts (machines of a fleet start in any order); 0 fails at once [default: 30].
    #[arg(long, value_name = "SECONDS", requires = "nats")]
    pub nats_wait: Option<u64>,
    /// Bytes of the fleet's events its JetStream stream keeps, for replay from
    /// /fleet/events; the oldest leave first [default: 1073741824 (1 GiB)].
    #[arg(long, value_name = "BYTES", requires = "nats")]
    pub fleet_events_bytes: Option<u64>,
    /// Hours the fleet's JetStream stream keeps each event [default: 24].
    #[arg(long, value_name = "HOURS", requires = "nats")]
    pub fleet_events_hours: Option<u64>,
}

/// The TOML file's shape: the flags of `serve`, by the same names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<String>,
    #[serde(default)]
    pub games: Vec<String>,
    pub timeout_ms: Option<u64>,
    pub event_ring: Option<usize>,
    pub event_ring_bytes: Option<usize>,
    pub journal: Option<PathBuf>,
    pub event_pipe: Option<String>,
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    pub cors: Option<String>,
    #[serde(default)]
    pub allow_agent_hosts: Vec<String>,
    #[serde(default)]
    pub no_execute: bool,
    #[serde(default)]
    pub llm_key_envs: Vec<String>,
    #[serde(default)]
    pub allow_game_peers: Vec<IpAddr>,
    pub header_timeout_ms: Option<u64>,
    pub max_connections: Option<usize>,
    pub nats: Option<String>,
    pub node: Option<String>,
    pub fleet_events_bytes: Option<u64>,
    pub fleet_events_hours: Option<u64>,
    pub nats_creds: Option<PathBuf>,
    pub nats_wait: Option<u64>,
}

/// The fleet stream's limits, as configured.
fn fleet_journal_limits(
    bytes: Option<u64>,
    hours: Option<u64>,
) -> anyhow::Result<gamebridge_fleet::JournalLimits> {
    let defaults = gamebridge_fleet::JournalLimits::default();
    let max_bytes = match bytes {
        Some(bytes) if bytes < MIN_EVENT_RING_BYTES as u64 => {
            bail!("fleet_events_bytes must be at least {MIN_EVENT_RING_BYTES} (64 KiB)")
        }
        Some(bytes) => bytes,
        None => defaults.max_bytes,
    };
    let max_age = match hours {
        Some(0) => bail!("fleet_events_hours must be at least 1"),
        Some(hours) => Duration::from_secs(hours.saturating_mul(3600)),
        None => defaults.max_age,
    };
    Ok(gamebridge_fleet::JournalLimits { max_bytes, max_age })
}

impl ConfigFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

impl BridgeConfig {
    /// Merges the config file named by the flags (if any) with the flags,
    /// which win; with no game at all, serves the Vox Deorum profile.
    pub fn build(options: &ServeOptions) -> anyhow::Result<Self> {
        let file = options.config.as_deref().map(ConfigFile::load).transpose()?.unwrap_or_default();
        let listen_text = options.listen.clone().or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse().with_context(|| {
            format!("listen address {listen_text:?} is not IP:PORT (for example 127.0.0.1:5000)")
        })?;
        let mut games = Vec::new();
        for text in file.games.iter().chain(&options.games) {
            let game: GameConfig = text.parse()?;
            if games.iter().any(|existing: &GameConfig| existing.name == game.name) {
                bail!("two games are named {:?}; names must be unique", game.name);
            }
            games.push(game);
        }
        let nats = options.nats.clone().or(file.nats.clone());
        // A fleet node may serve no game of its own: its agents use the fleet's.
        if games.is_empty() && nats.is_none() {
            games.push("vox-deorum".parse()?);
        }
        let default_timeout = match options.timeout_ms.or(file.timeout_ms) {
            Some(0) => bail!("timeout_ms must be positive"),
            Some(millis) => Duration::from_millis(millis),
            None => DEFAULT_TIMEOUT,
        };
        let event_ring = match options.event_ring.or(file.event_ring) {
            Some(0) => bail!("event_ring must be at least 1"),
            Some(events) => events,
            None => gamebridge_hub::DEFAULT_EVENT_CAPACITY,
        };
        let event_ring_bytes = match options.event_ring_bytes.or(file.event_ring_bytes) {
            Some(bytes) if bytes < MIN_EVENT_RING_BYTES => {
                bail!("event_ring_bytes must be at least {MIN_EVENT_RING_BYTES} (64 KiB)")
            }
            Some(bytes) => bytes,
            None => gamebridge_hub::DEFAULT_EVENT_RING_BYTES,
        };
        // The token comes from the command line or GAMEBRIDGE_TOKEN, never from a file.
        // An empty token is none, as for the client commands (an exported but empty variable).
        let token =
            options.token.as_deref().filter(|token| !token.is_empty()).map(check_token).transpose()?;
        let security = gamebridge_api::security::Security {
            token,
            allowed_hosts: file.allow_hosts.into_iter().chain(options.allow_hosts.iter().cloned()).collect(),
            cors_origin: options.cors.clone().or(file.cors),
            agent_hosts: file
                .allow_agent_hosts
                .into_iter()
                .chain(options.allow_agent_hosts.iter().cloned())
                .collect(),
            no_execute: options.no_execute || file.no_execute,
            llm_key_envs: file.llm_key_envs.into_iter().chain(options.llm_key_envs.iter().cloned()).collect(),
            game_peers: file
                .allow_game_peers
                .into_iter()
                .chain(options.allow_game_peers.iter().copied())
                .collect(),
        };
        let fleet = match nats {
            Some(url) => Some(gamebridge_fleet::FleetOptions {
                url,
                node: options.node.clone().or(file.node).unwrap_or_else(|| default_node(listen)),
                prefix: gamebridge_fleet::DEFAULT_PREFIX.to_owned(),
                allow_execute: !security.no_execute,
                credentials: options.nats_creds.clone().or(file.nats_creds),
                start_wait: options
                    .nats_wait
                    .or(file.nats_wait)
                    .map_or(gamebridge_fleet::DEFAULT_START_WAIT, Duration::from_secs),
                journal: fleet_journal_limits(
                    options.fleet_events_bytes.or(file.fleet_events_bytes),
                    options.fleet_events_hours.or(file.fleet_events_hours),
                )?,
            }),
            None => None,
        };
        let defaults = ConnectionLimits::default();
        let limits = ConnectionLimits {
            header_timeout: match options.header_timeout_ms.or(file.header_timeout_ms) {
                Some(0) => bail!("header_timeout_ms must be positive"),
                Some(millis) => Duration::from_millis(millis),
                None => defaults.header_timeout,
            },
            max_connections: match options.max_connections.or(file.max_connections) {
                Some(0) => bail!("max_connections must be at least 1"),
                Some(connections) => connections,
                None => defaults.max_connections,
            },
        };
        Ok(Self {
            listen,
            games,
            default_timeout,
            event_ring,
            event_ring_bytes,
            journal: options.journal.clone().or(file.journal),
            event_pipe: options.event_pipe.clone().or(file.event_pipe),
            security,
            limits,
            fleet,
            ..Self::default()
        })
    }
}

/// A fleet node's name unless given: this machine's name and the API's
/// port, unique for every bridge of a machine.
fn default_node(listen: SocketAddr) -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "gamebridge".to_owned());
    format!("{host}-{}", listen.port())
}

/// Shortest token `serve` accepts: 16 characters is 96 bits in base64, more
/// than anyone can guess against a bridge.
const MIN_TOKEN_LENGTH: usize = 16;

/// A token must be long enough not to be guessed, and printable without
/// spaces, so that it travels in a header unchanged.
fn check_token(token: &str) -> anyhow::Result<String> {
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("the token must not contain spaces or control characters");
    }
    if token.chars().count() < MIN_TOKEN_LENGTH {
        bail!(
            "the token is shorter than {MIN_TOKEN_LENGTH} characters, too easy to guess; make one with \
             `openssl rand -hex 16`"
        );
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn game_arguments() {
        let game: GameConfig = "civ5=vox-deorum".parse().unwrap();
        assert_eq!(game.name, "civ5");
        let bare: GameConfig = "vox-deorum".parse().unwrap();
        assert_eq!(bare.name, "vox-deorum");
        assert!("tcp:127.0.0.1:1".parse::<GameConfig>().unwrap_err().to_string().contains("NAME=SPEC"));
        assert!("a/b=pipe:x".parse::<GameConfig>().unwrap_err().to_string().contains("letters, digits"));
        assert!("x=warp:1".parse::<GameConfig>().unwrap_err().to_string().contains("unknown link scheme"));
    }

    fn options(listen: Option<&str>, games: &[&str]) -> ServeOptions {
        ServeOptions {
            listen: listen.map(str::to_owned),
            games: games.iter().map(|game| (*game).to_owned()).collect(),
            ..ServeOptions::default()
        }
    }

    #[test]
    fn command_line_wins_over_the_file_and_games_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bridge.toml");
        let text = "listen = \"127.0.0.1:6000\"\ngames = [\"a=pipe:a\"]\ntimeout_ms = 5000\nevent_ring = 50\nevent_ring_bytes = 1048576\njournal = \"j.jsonl\"";
        std::fs::write(&path, text).unwrap();
        let mut options = options(Some("127.0.0.1:7000"), &["b=pipe:b"]);
        options.config = Some(path);
        let config = BridgeConfig::build(&options).unwrap();
        assert_eq!((config.event_ring, config.journal.unwrap().to_str()), (50, Some("j.jsonl")));
        assert_eq!(config.event_ring_bytes, 1 << 20);
        assert_eq!(config.listen.port(), 7000);
        assert_eq!(config.games.iter().map(|game| game.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(config.default_timeout, Duration::from_secs(5));
    }

    #[test]
    fn without_games_the_vox_deorum_profile_is_served() {
        let config = BridgeConfig::build(&ServeOptions::default()).unwrap();
        assert_eq!(config.games[0].name, "vox-deorum");
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.event_ring_bytes, 64 << 20, "the event ring's default byte budget");
    }

    #[test]
    fn tokens_too_easy_to_guess_or_to_mangle_are_refused() {
        let with_token = |token: &str| ServeOptions { token: Some(token.into()), ..ServeOptions::default() };
        for (token, why) in
            [(" ", "spaces"), ("hunter2", "shorter than 16"), ("a b c d e f g h i j", "spaces")]
        {
            let error = BridgeConfig::build(&with_token(token)).unwrap_err().to_string();
            assert!(error.contains(why), "{token:?}: {error}");
        }
        let config = BridgeConfig::build(&with_token("0123456789abcdef")).unwrap();
        assert_eq!(config.security.token.as_deref(), Some("0123456789abcdef"));
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let error = BridgeConfig::build(&options(Some("localhost"), &[])).unwrap_err();
        assert!(error.to_string().contains("is not IP:PORT"));
        let error = BridgeConfig::build(&options(None, &["a=pipe:a", "a=pipe:b"])).unwrap_err();
        assert!(error.to_string().contains("unique"));
        assert!(toml::from_str::<ConfigFile>("colour = 1").is_err());
        let tiny = ServeOptions { event_ring_bytes: Some(100), ..ServeOptions::default() };
        let error = BridgeConfig::build(&tiny).unwrap_err();
        assert!(error.to_string().contains("event_ring_bytes must be at least"), "{error}");
    }
}
