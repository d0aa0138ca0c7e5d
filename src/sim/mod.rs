//! `gamebridge sim SCRIPT.lua`: a headless game host. It runs a game-side
//! Lua script in an embedded Lua 5.4 (no system Lua needed) and calls its
//! `tick` function at a fixed rate, so a modder can try a mod, and we can
//! test the Lua SDK, without the game.
//!
//! The script gets the standard libraries (with `io` and `os`), the SDK
//! built in (`require "gamebridge"`), its own folder on `package.path`, and
//! a table `gamebridge_host` with `now_ms()` (a millisecond clock, which
//! plain Lua lacks), `sleep_ms(n)` (blocks the game, as a slow handler in a
//! real game does), `tick_ms`, and `stop()`. It may define `init()`,
//! called once, and must define `tick(n)`, called every tick with the tick
//! number.
//!
//! With `--emu` the script also gets MAME's `emu` table ([`emu`]): sockets
//! through `emu.file`, and frame and stop notifiers. Each tick then runs
//! every frame notifier, then `tick(n)` if the script defines one (it need
//! not), so a MAME script runs here unchanged.
//!
//! Ctrl-C stops the run after the current tick. A tick blocked in I/O (a
//! lockstep game waiting for its reply on a FIFO) cannot notice it; a
//! second Ctrl-C then exits at once.

mod emu;

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use mlua::{Function, Lua, Table};

/// The SDK, compiled into the binary.
const SDK: &[(&str, &str)] = &[
    ("gamebridge", include_str!("../../lua/gamebridge/init.lua")),
    ("gamebridge.json", include_str!("../../lua/gamebridge/json.lua")),
    ("gamebridge.core", include_str!("../../lua/gamebridge/core.lua")),
    ("gamebridge.mailbox", include_str!("../../lua/gamebridge/mailbox.lua")),
    ("gamebridge.lockstep", include_str!("../../lua/gamebridge/lockstep.lua")),
    ("gamebridge.fifo", include_str!("../../lua/gamebridge/fifo.lua")),
    ("gamebridge.mame", include_str!("../../lua/gamebridge/mame.lua")),
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
    /// Emulate MAME's Lua `emu` API: `emu.file` sockets (`socket.HOST:PORT`,
    /// `domain./PATH`, non-blocking reads), `emu.add_machine_frame_notifier`
    /// (run every tick) and `emu.add_machine_stop_notifier`. `tick(n)` becomes optional.
    #[arg(long)]
    emu: bool,
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
    let machine = if options.emu { Some(emu::install(&lua).map_err(lua_error)?) } else { None };
    lua.load(&source).set_name(format!("@{}", options.script.display())).exec().map_err(lua_error)?;
    let globals = lua.globals();
    if let Ok(init) = globals.get::<Function>("init") {
        init.call::<()>(()).map_err(lua_error)?;
    }
    let tick = match globals.get::<Option<Function>>("tick") {
        Ok(Some(tick)) => Some(tick),
        Ok(None) if machine.is_some() => None,
        _ => bail!("{} defines no global function tick(n)", options.script.display()),
    };

    // One worker runs the Ctrl-C watcher while the Lua runs on this thread,
    // so a second Ctrl-C works even while a tick blocks.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let interrupt = Arc::new(tokio::sync::Notify::new());
    runtime.spawn(watch_ctrl_c(interrupted.clone(), interrupt.clone()));
    runtime.block_on(async {
        let mut clock = tokio::time::interval(Duration::from_millis(options.tick_ms));
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u64 = 0;
        while options.ticks.is_none_or(|ticks| n < ticks)
            && !stop.get()
            && !interrupted.load(Ordering::SeqCst)
        {
            tokio::select! {
                _ = clock.tick() => {}
                _ = interrupt.notified() => break,
            }
            n += 1;
            if let Some(machine) = &machine {
                machine.run_frame_notifiers().map_err(lua_error)?;
            }
            if let Some(tick) = &tick {
                tick.call::<()>(n).map_err(lua_error)?;
            }
        }
        anyhow::Ok(())
    })?;
    if let Some(machine) = &machine {
        machine.run_stop_notifiers().map_err(lua_error)?;
    }
    Ok(())
}

/// The first Ctrl-C asks the tick loop to stop; a second one exits at once.
async fn watch_ctrl_c(interrupted: Arc<AtomicBool>, interrupt: Arc<tokio::sync::Notify>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    interrupted.store(true, Ordering::SeqCst);
    interrupt.notify_one();
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("gamebridge sim: interrupted twice; exiting without finishing the tick");
        std::process::exit(130);
    }
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
        "sleep_ms",
        lua.create_function(|_, millis: f64| {
            std::thread::sleep(Duration::from_secs_f64(millis.max(0.0) / 1000.0));
            Ok(())
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
