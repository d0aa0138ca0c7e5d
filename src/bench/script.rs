//! A helper process of a benchmark (a Python baseline server or agent):
//! it says it is ready on a line of its own, and ends when its standard
//! input closes (killed if it does not within a few seconds).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long a helper may take to say it is ready (an interpreter's first
/// imports can take seconds on a loaded machine).
pub const READY_WITHIN: Duration = Duration::from_secs(30);

/// A running helper process.
pub struct Script {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Script {
    pub fn start(name: &'static str, mut command: Command) -> anyhow::Result<Self> {
        let mut child = (command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()))
            .spawn()
            .with_context(|| format!("cannot start {name}: {command:?}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Self { name, child, stdin, lines })
    }

    /// The script's line that starts with `word`, once it is ready (lines
    /// before it, of a wrapper around the interpreter, are passed on).
    pub fn ready(&mut self, word: &str) -> anyhow::Result<String> {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(wait) {
                Ok(line) if line.starts_with(word) => return Ok(line),
                Ok(line) => eprintln!("{line}"),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    bail!("{} was not ready within {} s", self.name, READY_WITHIN.as_secs())
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait()?;
                    bail!("{} stopped before it was ready ({status}); its error is above", self.name)
                }
            }
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
