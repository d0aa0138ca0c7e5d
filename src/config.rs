//! What a bridge serves: the listen address and the games, from the command
//! line and an optional TOML file.
//!
//! ```toml
//! listen = "127.0.0.1:5000"
//! timeout_ms = 60000
//! games = ["civ5=vox-deorum", "lab=tcp:127.0.0.1:7000?framing=lines"]
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use gamebridge_links::LinkSpec;
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:5000";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

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
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("default address parses"),
            games: Vec::new(),
            default_timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The TOML file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<String>,
    #[serde(default)]
    pub games: Vec<String>,
    pub timeout_ms: Option<u64>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

impl BridgeConfig {
    /// Merges the file (if any) with command-line values, which win; with no
    /// game at all, serves the Vox Deorum profile.
    pub fn build(
        file: Option<ConfigFile>,
        listen: Option<&str>,
        games: &[String],
        timeout_ms: Option<u64>,
    ) -> anyhow::Result<Self> {
        let file = file.unwrap_or_default();
        let listen_text =
            listen.map(str::to_owned).or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse().with_context(|| {
            format!("listen address {listen_text:?} is not IP:PORT (for example 127.0.0.1:5000)")
        })?;
        let mut configs = Vec::new();
        for text in file.games.iter().chain(games) {
            let game: GameConfig = text.parse()?;
            if configs.iter().any(|existing: &GameConfig| existing.name == game.name) {
                bail!("two games are named {:?}; names must be unique", game.name);
            }
            configs.push(game);
        }
        if configs.is_empty() {
            configs.push("vox-deorum".parse()?);
        }
        let default_timeout = match timeout_ms.or(file.timeout_ms) {
            Some(0) => bail!("timeout_ms must be positive"),
            Some(millis) => Duration::from_millis(millis),
            None => DEFAULT_TIMEOUT,
        };
        Ok(Self { listen, games: configs, default_timeout })
    }
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

    #[test]
    fn command_line_wins_over_the_file_and_games_add_up() {
        let file: ConfigFile =
            toml::from_str("listen = \"127.0.0.1:6000\"\ngames = [\"a=pipe:a\"]\ntimeout_ms = 5000").unwrap();
        let config =
            BridgeConfig::build(Some(file), Some("127.0.0.1:7000"), &["b=pipe:b".into()], None).unwrap();
        assert_eq!(config.listen.port(), 7000);
        assert_eq!(config.games.iter().map(|game| game.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(config.default_timeout, Duration::from_secs(5));
    }

    #[test]
    fn without_games_the_vox_deorum_profile_is_served() {
        let config = BridgeConfig::build(None, None, &[], None).unwrap();
        assert_eq!(config.games[0].name, "vox-deorum");
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let error = BridgeConfig::build(None, Some("localhost"), &[], None).unwrap_err();
        assert!(error.to_string().contains("is not IP:PORT"));
        let error =
            BridgeConfig::build(None, None, &["a=pipe:a".into(), "a=pipe:b".into()], None).unwrap_err();
        assert!(error.to_string().contains("unique"));
        assert!(toml::from_str::<ConfigFile>("colour = 1").is_err());
    }
}
