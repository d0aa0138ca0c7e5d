//! `gamebridge demo`: a bridge and a simulated game on a real Unix socket,
//! so a newcomer can try the API with nothing else installed.

mod sim_game;
mod world;

pub use sim_game::SimGame;
pub use world::{FUNCTIONS, World};

use crate::bridge::{RunningBridge, cancel_on_signals};
use crate::config::{BridgeConfig, GameConfig};

pub async fn run(listen: &str) -> anyhow::Result<()> {
    let socket = std::env::temp_dir().join(format!("gamebridge-demo-{}.sock", std::process::id()));
    let config = BridgeConfig {
        listen: listen.parse().map_err(|_| anyhow::anyhow!("--listen {listen:?} is not IP:PORT"))?,
        games: vec![format!("demo=unix:{}", socket.display()).parse::<GameConfig>()?],
        ..BridgeConfig::default()
    };
    let game_shutdown = tokio_util::sync::CancellationToken::new();
    SimGame::start(&socket, game_shutdown.clone())?;
    let bridge = RunningBridge::start(config).await?;
    cancel_on_signals(bridge.shutdown_token());
    let url = bridge.url();
    println!(
        "\ngamebridge demo: a simulated turn-based game is connected over unix:{socket}\n\
         Agent API: {url}   (Ctrl-C to stop)\n\
         Dashboard: {url}/ui   API description: {url}/openapi.json\n\n\
         Try:\n  \
         curl -s {url}/lua/functions\n  \
         curl -s {url}/lua/call --json '{{\"function\":\"MoveUnit\",\"args\":[1,3,3]}}'\n  \
         curl -s {url}/lua/call --json '{{\"function\":\"EndTurn\"}}'\n",
        socket = socket.display()
    );
    let stopped = bridge.wait().await;
    game_shutdown.cancel();
    stopped
}
