//! Simulated games for the call benchmarks: each listens on its own Unix
//! socket, all served from one thread and runtime of their own, as real
//! games are processes of their own.

use std::path::PathBuf;
use std::thread::JoinHandle;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::demo::SimGame;

pub struct SimGames {
    pub sockets: Vec<PathBuf>,
    folder: PathBuf,
    stop: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl SimGames {
    /// Starts `count` games, returning once every socket is listening.
    pub fn start(count: usize) -> anyhow::Result<Self> {
        let folder = std::env::temp_dir().join(format!("gamebridge-bench-{}", std::process::id()));
        std::fs::create_dir_all(&folder)?;
        let sockets: Vec<PathBuf> =
            (0..count.max(1)).map(|index| folder.join(format!("game-{index}.sock"))).collect();
        let stop = CancellationToken::new();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (ready, started) = std::sync::mpsc::channel();
        let thread = {
            let sockets = sockets.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                runtime.block_on(async {
                    let listening: std::io::Result<()> =
                        sockets.iter().try_for_each(|socket| SimGame::start(socket, stop.clone()).map(drop));
                    let _ = ready.send(listening);
                    stop.cancelled().await;
                });
            })
        };
        let games = Self { sockets, folder, stop, thread: Some(thread) };
        started.recv().context("the simulated games' thread died")??;
        Ok(games)
    }

    /// `game-0`, `game-1`, …: the games' names on the bridge, with their link specs.
    pub fn links(&self) -> Vec<(String, String)> {
        (self.sockets.iter().enumerate())
            .map(|(index, socket)| (format!("game-{index}"), format!("unix:{}", socket.display())))
            .collect()
    }
}

impl Drop for SimGames {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}
