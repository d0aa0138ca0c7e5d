//! The command line: `serve`, `demo`, `call`, `status`, `events`, `sim`,
//! `mcp`, `bench`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::bridge::{RunningBridge, cancel_on_signals};
use crate::bridge_client::BridgeOptions;
use crate::config::{BridgeConfig, ServeOptions};

const AFTER_HELP: &str = "\
Link specs (SPEC in --game NAME=SPEC):
  pipe:ID            the game's named pipe: /tmp/app.ID (Windows: \\\\.\\pipe\\tmp-app.ID)
  unix:PATH          a Unix socket the game listens on
  tcp:HOST:PORT      a TCP port the game listens on (add ?listen to accept games: instances NAME/1, NAME/2, …)
  fifo:PREFIX        a FIFO pair PREFIX_output (game → bridge) / PREFIX_input (bridge → game)
  mailbox:DIR        a folder of request and answer files (docs/MAILBOX.md)
  mailbox:PREFIX?legacy[&log=PATH]  the TF2 files PREFIX_cmd.json / PREFIX_resp.json
  http               the game posts to the bridge's own listener (Agent Arena)
  any link: ?manifest=PATH  a JSON file describing the game's commands (typed MCP tools) or
                            frames (lockstep layout); `tf2` and `tempest` are built in
  options: ?framing=delimiter|delimiter:TEXT|lines|u16be|u32be&max_frame=BYTES&listen
           &protocol=bridge|step&handshake=N&reply=N&default=HEX&step_timeout_ms=MS&hold_ms=MS
Profiles:
  vox-deorum         pipe:vox-deorum-bridge (or $VOX_DEORUM_PIPE_NAME): Civilization V
  tf2                mailbox:/tmp/tf2?legacy: the Transport Fever 2 AI Builder mod
  tempest            tcp:127.0.0.1:9999?listen&framing=u16be&handshake=2&reply=5&protocol=step&manifest=tempest:
                     Tempest on MAME (its frame spec built in; hold_ms 3000)
  agent-arena        http: the Godot simulation posts /tick to the bridge
                     (options: decide_timeout_ms, backend=rules|llm, llm_url, llm_model, …)
Examples:
  gamebridge demo
  gamebridge serve --game civ5=vox-deorum
  gamebridge call GetGameTurn
  gamebridge call MoveUnit '[5, 10, 12]' --game civ5
  gamebridge events --types TurnStart
  GAMEBRIDGE_TOKEN=… gamebridge status   (a bridge started with --token; or pass --token)
  GAMEBRIDGE_URL=http://127.0.0.1:5001 gamebridge status   (a bridge on another port; or pass --url)";

/// gamebridge: one fast, reliable bridge between running games and AI agents.
#[derive(Debug, Parser)]
#[command(name = "gamebridge", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bridge: connect to games and serve the agent API.
    #[command(after_help = AFTER_HELP)]
    Serve(Box<ServeOptions>),
    /// Run a bridge with a simulated turn-based game, to try the API without a real game.
    Demo {
        /// The address the agent API listens on (IP:PORT; port 0 picks a free one, printed at start).
        #[arg(long, value_name = "ADDR", default_value = crate::config::DEFAULT_LISTEN)]
        listen: String,
    },
    /// Call a game function through a running bridge and print the result.
    Call {
        /// The function, as the game registered it.
        function: String,
        /// Arguments as JSON (an array is passed positionally).
        args: Option<String>,
        #[command(flatten)]
        bridge: BridgeOptions,
        /// Which game, when the bridge serves several.
        #[arg(long)]
        game: Option<String>,
        /// Deadline in milliseconds.
        #[arg(long, value_name = "MS")]
        timeout_ms: Option<u64>,
    },
    /// Print the event stream of a running bridge, one JSON line per event.
    Events {
        #[command(flatten)]
        bridge: BridgeOptions,
        /// Only these event types (comma-separated).
        #[arg(long)]
        types: Option<String>,
        /// Only events of this game.
        #[arg(long)]
        game: Option<String>,
        /// Replay events after this sequence number first.
        #[arg(long)]
        since: Option<u64>,
    },
    /// Run a game-side Lua script headless, calling its tick(n) at a fixed rate
    /// (the Lua SDK is built in: require "gamebridge").
    Sim(crate::sim::SimOptions),
    /// An MCP server on stdio forwarding to a running bridge's /mcp, for MCP
    /// clients that start servers as processes.
    Mcp {
        #[command(flatten)]
        bridge: BridgeOptions,
    },
    /// Show the games of a running bridge and their state.
    Status {
        #[command(flatten)]
        bridge: BridgeOptions,
    },
    /// Measure the bridge against the raw transports it sits on.
    Bench {
        #[command(subcommand)]
        scenario: crate::bench::Scenario,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Serve(options) => {
            runtime.block_on(serve(BridgeConfig::build(&options)?))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { listen } => {
            runtime.block_on(crate::demo::run(&listen))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Call { function, args, bridge, game, timeout_ms } => runtime.block_on(crate::client::call(
            &bridge,
            game.as_deref(),
            &function,
            args.as_deref(),
            timeout_ms,
        )),
        Command::Events { bridge, types, game, since } => {
            runtime.block_on(crate::client::events(&bridge, types.as_deref(), game.as_deref(), since))
        }
        Command::Sim(options) => {
            drop(runtime);
            crate::sim::run(options)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Mcp { bridge } => {
            runtime.block_on(crate::mcp_stdio::run(&bridge))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { bridge } => runtime.block_on(crate::client::status(&bridge)),
        Command::Bench { scenario } => {
            drop(runtime);
            crate::bench::run(scenario)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(config: BridgeConfig) -> anyhow::Result<()> {
    let bridge = RunningBridge::start(config).await?;
    cancel_on_signals(bridge.shutdown_token());
    bridge.wait().await?;
    tracing::info!("bridge stopped");
    Ok(())
}
