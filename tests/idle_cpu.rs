//! A bridge whose games are live but idle costs (almost) no CPU: a folder
//! mailbox game (the Lua SDK under `gamebridge sim`) and the TF2 stand-in
//! mod, both polling their files every 5 ms, with no calls at all. The
//! bridge runs as its own process, so only its CPU time is counted (from
//! /proc; Linux only).

#![cfg(target_os = "linux")]

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::{SimProcess, within};
use tokio::io::{AsyncBufReadExt, BufReader};

/// User and system CPU seconds of process `pid` so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the bridge is running");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // /proc counts in USER_HZ, 100 per second on every Linux.
    ticks / 100.0
}

#[tokio::test]
async fn live_mailbox_games_at_rest_cost_the_bridge_no_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let (folder, prefix) = (dir.path().join("game"), dir.path().join("tf2"));
    let mut bridge = tokio::process::Command::new(env!("CARGO_BIN_EXE_gamebridge"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--game", &format!("m=mailbox:{}", folder.display())])
        .args(["--game", &format!("tf2=mailbox:{}?legacy", prefix.display())])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut log = BufReader::new(bridge.stderr.take().unwrap()).lines();
    let url = within("the bridge to listen", async {
        loop {
            let line = log.next_line().await.unwrap().expect("the bridge logs its address");
            if let Some(at) = line.find("listening on http://") {
                return line[at + "listening on ".len()..].trim().to_owned();
            }
        }
    })
    .await;
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
    let runs = dir.path().join("runs");
    let _game = SimProcess::start("sdk_game.lua", &[("GAME_DIR", &folder), ("GAME_RUNS", &runs)]);
    let _mod = SimProcess::start("tf2_mod.lua", &[("TF2_PREFIX", &prefix)]);
    let http = reqwest::Client::new();
    within("the folder game to connect", async {
        loop {
            let games: serde_json::Value =
                http.get(format!("{url}/games")).send().await.unwrap().json().await.unwrap();
            if games["result"]["games"].as_array().unwrap().iter().all(|game| game["state"] == "connected") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    let pid = bridge.id().unwrap();
    let before = cpu_seconds(pid);
    // A measurement, not a wait for an event: three seconds of a game at rest.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let used = cpu_seconds(pid) - before;
    // Busy-waking on its own reads cost a whole core (3 s of CPU here).
    assert!(used < 0.3, "the idle bridge used {used:.2} s of CPU in 3 s");
    bridge.kill().await.unwrap();
}
