//! `gamebridge sim SCRIPT.lua`: a headless game host. It runs a game-side
//! Lua script in an embedded Lua 5.4 (no system Lua needed) and calls its
//! `tick` function at a fixed rate, so a modder can try a mod, and we can
//! test the Lua SDK, without the game.
//!
//! The script gets the standard libraries (with `io` and `os`), the SDK
//! built in (`require "gamebridge"`), its own folder on `package.path`, and
//! a table `gamebridge_host` with `now_ms()` (a millisecond clock, which
//! plain Lua lacks), `tick_ms`, and `stop()`. It may define `init()`,
//! called once, and must define `tick(n)`, called every tick with the tick
//! number.

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use mlua::{Function, Lua, Table};

/// The SDK, compiled into the binary.
const SDK: &[(&str, &str)] = &[
    ("gamebridge", include_str!("../lua/gamebridge/init.lua")),
    ("gamebridge.json", include_str!("../lua/gamebridge/json.lua")),
    ("gamebridge.core", include_str!("../lua/gamebridge/core.lua")),
    ("gamebridge.mailbox", include_str!("../lua/gamebridge/mailbox.lua")),
];

#[derive(Debug, Args)]
pub struct SimOptions {
    /// The game-side script; it defines `tick(n)` (and optionally `init()`).
    script: PathBuf,
    /// Milliseconds between ticks.
    #[arg(long, default_value_t = 16, value_name = "MS")]
    tick_ms: u64,
    /// Stop after this many ticks (default: run until Ctrl-C or `gamebridge_host.stop()`).
    #[arg(long, value_name = "N")]
    ticks: Option<u64>,
}

pub fn run(options: SimOptions) -> anyhow::Result<()> {
    if options.tick_ms == 0 {
        bail!("--tick-ms must be at least 1");
    }
    let source = std::fs::read_to_string(&options.script)
        .with_context(|| format!("could not read {}", options.script.display()))?;
    let lua = Lua::new();
    let stop = Rc::new(Cell::new(false));
    prepare(&lua, &options, stop.clone()).map_err(lua_error)?;
    lua.load(&source).set_name(format!("@{}", options.script.display())).exec().map_err(lua_error)?;
    let globals = lua.globals();
    if let Ok(init) = globals.get::<Function>("init") {
        init.call::<()>(()).map_err(lua_error)?;
    }
    let tick: Function = globals
        .get("tick")
        .map_err(|_| anyhow::anyhow!("{} defines no global function tick(n)", options.script.display()))?;

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut clock = tokio::time::interval(Duration::from_millis(options.tick_ms));
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        let mut n: u64 = 0;
        while options.ticks.is_none_or(|ticks| n < ticks) && !stop.get() {
            tokio::select! {
                _ = clock.tick() => {}
                _ = &mut interrupted => break,
            }
            n += 1;
            tick.call::<()>(n).map_err(lua_error)?;
        }
        anyhow::Ok(())
    })
}

/// Installs the SDK, the script's folder on `package.path`, and `gamebridge_host`.
fn prepare(lua: &Lua, options: &SimOptions, stop: Rc<Cell<bool>>) -> mlua::Result<()> {
    let package: Table = lua.globals().get("package")?;
    let preload: Table = package.get("preload")?;
    for (name, source) in SDK {
        let loader = lua.load(*source).set_name(format!("={name}")).into_function()?;
        preload.set(*name, loader)?;
    }
    if let Some(folder) = options.script.parent().filter(|folder| !folder.as_os_str().is_empty()) {
        let path: String = package.get("path")?;
        let folder = folder.display();
        package.set("path", format!("{folder}/?.lua;{folder}/?/init.lua;{path}"))?;
    }
    let host = lua.create_table()?;
    host.set("tick_ms", options.tick_ms)?;
    host.set(
        "now_ms",
        lua.create_function(|_, ()| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            Ok(now.as_millis() as f64)
        })?,
    )?;
    host.set(
        "stop",
        lua.create_function(move |_, ()| {
            stop.set(true);
            Ok(())
        })?,
    )?;
    lua.globals().set("gamebridge_host", host)
}

/// Lua errors carry their traceback; show it as it is.
fn lua_error(error: mlua::Error) -> anyhow::Error {
    anyhow::anyhow!("Lua: {error}")
}
