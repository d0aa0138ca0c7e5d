//! The game's side of the modern mailbox (docs/MAILBOX.md), played by the
//! test step by step, so a test can make the game fail at any point of the
//! protocol. A game that behaves is the Lua SDK game under `gamebridge sim`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::support::within;

pub struct FolderGame {
    folder: PathBuf,
    started_ms: u64,
    /// How far into `requests.idx` the game has read.
    offset: u64,
    /// Ids read from the index and not yet taken.
    announced: std::collections::VecDeque<String>,
    /// Rewrites the heartbeat while the game runs.
    heart: Option<tokio::task::JoinHandle<()>>,
}

impl FolderGame {
    /// A game that started at `started_ms` and reads the index from its start.
    pub fn new(folder: &Path, started_ms: u64) -> Self {
        Self { folder: folder.to_owned(), started_ms, offset: 0, announced: Default::default(), heart: None }
    }

    /// The game runs: it writes its heartbeat now and about once a second.
    pub fn beat(&mut self) {
        let path = self.folder.join("heartbeat.json");
        let beat = json!({"started_ms": self.started_ms, "ticks": 1}).to_string();
        std::fs::write(&path, &beat).unwrap();
        let heart = tokio::spawn(async move {
            loop {
                // The game's own pace, not a wait for the bridge.
                tokio::time::sleep(Duration::from_secs(1)).await;
                std::fs::write(&path, &beat).unwrap();
            }
        });
        if let Some(previous) = self.heart.replace(heart) {
            previous.abort();
        }
    }

    /// The game stops (hangs, or dies): its last heartbeat is left to age.
    /// Rather than wait the 5 s it takes to go stale, the heartbeat is
    /// dated 10 s back, which is what the bridge sees after that wait.
    pub fn go_quiet(&mut self) {
        if let Some(heart) = self.heart.take() {
            heart.abort();
        }
        let heartbeat =
            std::fs::File::options().write(true).open(self.folder.join("heartbeat.json")).unwrap();
        heartbeat.set_modified(SystemTime::now() - Duration::from_secs(10)).unwrap();
    }

    /// The id of the next request in the index, once there is one. The game
    /// reads the index on from where it stopped, every tick; so does this.
    pub async fn next_request_id(&mut self) -> String {
        let index = self.folder.join("requests.idx");
        within("a request in the index", async {
            loop {
                if let Some(id) = self.announced.pop_front() {
                    return id;
                }
                if let Ok(mut file) = std::fs::File::open(&index) {
                    use std::io::{Read, Seek};
                    let mut text = String::new();
                    file.seek(std::io::SeekFrom::Start(self.offset)).unwrap();
                    file.read_to_string(&mut text).unwrap();
                    // Whole lines only: a partial last line is left for the next tick.
                    let whole = text.rfind('\n').map_or(0, |end| end + 1);
                    self.offset += whole as u64;
                    self.announced.extend(text[..whole].lines().map(str::to_owned));
                }
                if self.announced.is_empty() {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        })
        .await
    }

    /// The request `id`, or `None` when the bridge withdrew it.
    pub fn request(&self, id: &str) -> Option<Value> {
        let bytes = std::fs::read(self.folder.join("requests").join(format!("{id}.json"))).ok()?;
        Some(serde_json::from_slice(&bytes).expect("a request file is whole JSON"))
    }

    /// The next request the game would run: `(id, request)`.
    pub async fn take_request(&mut self) -> (String, Value) {
        let id = self.next_request_id().await;
        let request = self.request(&id).expect("the request file is there");
        (id, request)
    }

    /// Writes `bytes` as the answer to `id`, and its ready marker when `ready`.
    pub fn write_answer(&self, id: &str, bytes: &[u8], ready: bool) {
        let responses = self.folder.join("responses");
        std::fs::write(responses.join(format!("{id}.json")), bytes).unwrap();
        if ready {
            std::fs::write(responses.join(format!("{id}.ready")), b"").unwrap();
        }
    }

    /// Answers `id` with `result`, as the protocol says.
    pub fn answer(&self, id: &str, result: Value) {
        let answer = json!({"type": "lua_response", "id": id, "success": true, "result": result});
        self.write_answer(id, answer.to_string().as_bytes(), true);
    }

    /// Appends `text` to the outbox as it is (a whole line should end in `\n`).
    pub fn append_outbox(&self, text: &str) {
        let mut outbox = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.folder.join("outbox.jsonl"))
            .unwrap();
        outbox.write_all(text.as_bytes()).unwrap();
    }
}

impl Drop for FolderGame {
    fn drop(&mut self) {
        if let Some(heart) = self.heart.take() {
            heart.abort();
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as u64
}
