//! The folder protocol of docs/MAILBOX.md: one file per request, one answer
//! file plus a ready marker per request, an outbox the game appends to, and
//! a heartbeat that says whether the game is alive.

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gamebridge_hub::{Game, LinkState, Outbound, SessionGuard};
use gamebridge_protocol::{ErrorBody, ErrorCode, GameMessage, Response, WireId};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::deadline_margin;
use super::files::{
    private_dir, private_file, read_if_exists, remove_if_exists, unix_millis, write_atomically,
    write_replacing,
};
use super::tail::LineTail;
use super::watch::FileWatcher;
use crate::MailboxOptions;

const QUEUE: usize = 1024;
/// A heartbeat older than this means the game is not running.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests that expect no answer are removed after this long.
const UNANSWERED_LIFETIME: Duration = Duration::from_secs(60);

struct Layout {
    requests: PathBuf,
    responses: PathBuf,
    index: PathBuf,
    outbox: PathBuf,
    /// Where the bridge says how much of the outbox it has read, so the game
    /// may start the file over (docs/MAILBOX.md, "Starting the outbox over").
    outbox_read: PathBuf,
    heartbeat: PathBuf,
}

struct Mailbox {
    layout: Layout,
    game: Arc<Game>,
    session: Option<SessionGuard>,
    queue: Option<mpsc::Receiver<Outbound>>,
    outbox: LineTail,
    /// The first line of the game's current outbox, and the acknowledgement
    /// last written for it.
    outbox_start: Option<OutboxStart>,
    outbox_acknowledged: Option<String>,
    /// The game's `started_ms`, once read; a change means a restart.
    game_started: Option<u64>,
    /// Whether the game was attached before (its old outbox is then known).
    attached_before: bool,
    started_ms: u64,
    /// Request files to remove once their time is up.
    expiries: HashMap<String, Instant>,
    /// The requests among them that are calls still waiting for an answer.
    calls: HashSet<String>,
    next_message: u64,
}

pub async fn serve(game: Arc<Game>, options: MailboxOptions, shutdown: CancellationToken) -> io::Result<()> {
    let folder = options.path;
    let layout = Layout {
        requests: folder.join("requests"),
        responses: folder.join("responses"),
        index: folder.join("requests.idx"),
        outbox: folder.join("outbox.jsonl"),
        outbox_read: folder.join("outbox.read"),
        heartbeat: folder.join("heartbeat.json"),
    };
    prepare(&folder, &layout)?;
    let watcher = FileWatcher::new(&[folder.as_path(), layout.responses.as_path()]);
    let mut mailbox = Mailbox {
        outbox: LineTail::at_start(&layout.outbox),
        outbox_start: None,
        outbox_acknowledged: None,
        layout,
        game: game.clone(),
        session: None,
        queue: None,
        game_started: None,
        attached_before: false,
        started_ms: unix_millis(),
        expiries: HashMap::new(),
        calls: HashSet::new(),
        next_message: 0,
    };
    game.set_state(
        LinkState::Connecting,
        Some(format!("waiting for the game's heartbeat in {}", folder.display())),
    );
    tracing::info!(game = game.name(), folder = %folder.display(), "serving the mailbox folder");
    loop {
        mailbox.check_heartbeat();
        mailbox.collect_answers();
        mailbox.read_outbox();
        mailbox.remove_expired();
        let next_expiry = mailbox.expiries.values().min().copied();
        tokio::select! {
            outbound = next_outbound(&mut mailbox.queue) => {
                if let Some(outbound) = outbound {
                    mailbox.send(&outbound).await;
                }
            }
            () = watcher.changed() => {}
            () = sleep_until_some(next_expiry) => {}
            () = shutdown.cancelled() => break,
        }
    }
    game.set_state(LinkState::Stopped, None);
    Ok(())
}

/// Creates the folder and clears what an earlier bridge left.
fn prepare(folder: &Path, layout: &Layout) -> io::Result<()> {
    for dir in [folder, &layout.requests, &layout.responses] {
        private_dir(dir)?;
    }
    for dir in [&layout.requests, &layout.responses] {
        for entry in std::fs::read_dir(dir)? {
            remove_if_exists(&entry?.path())?;
        }
    }
    remove_if_exists(&layout.index)?;
    // This bridge has read none of the outbox yet.
    remove_if_exists(&layout.outbox_read)?;
    let about =
        json!({ "protocol": 1, "session": format!("{:x}", unix_millis()), "started_ms": unix_millis() });
    write_atomically(&folder.join("bridge.json"), about.to_string().as_bytes())
}

async fn next_outbound(queue: &mut Option<mpsc::Receiver<Outbound>>) -> Option<Outbound> {
    match queue {
        Some(queue) => queue.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl Mailbox {
    /// Attaches while the heartbeat is fresh, detaches when it goes stale,
    /// and attaches anew when the game restarted.
    fn check_heartbeat(&mut self) {
        let fresh = std::fs::metadata(&self.layout.heartbeat)
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok().or(Some(Duration::ZERO)))
            .is_some_and(|age| age < HEARTBEAT_TIMEOUT);
        // The heartbeat is rewritten in place: a read may catch it half done
        // and know no start time; only two known, different times mean a restart.
        let started = fresh.then(|| self.game_started_ms()).flatten();
        let restarted = matches!((started, self.game_started), (Some(now), Some(before)) if now != before);
        match (self.session.is_some(), fresh) {
            (false, true) => self.attach(started),
            (true, false) => self.detach("the game's heartbeat stopped"),
            (true, true) if restarted => {
                self.detach("the game restarted");
                self.attach(started);
            }
            _ => {}
        }
        if started.is_some() {
            self.game_started = started;
        }
    }

    fn game_started_ms(&self) -> Option<u64> {
        let bytes = read_if_exists(&self.layout.heartbeat).ok()??;
        serde_json::from_slice::<Value>(&bytes).ok()?.get("started_ms")?.as_u64()
    }

    fn attach(&mut self, game_started: Option<u64>) {
        let (outbound, queue) = mpsc::channel(QUEUE);
        let session = self.game.attach(outbound);
        self.game.set_state(LinkState::Connected, Some("heartbeat is fresh".into()));
        tracing::info!(game = self.game.name(), "game alive (heartbeat)");
        // A game that started before the bridge wrote its outbox earlier:
        // of that, only its registrations still matter.
        if !self.attached_before && game_started.is_some_and(|started| started < self.started_ms) {
            for line in self.outbox.read_lines().unwrap_or_default() {
                if let Some(start) = OutboxStart::parse(&line) {
                    self.outbox_start = Some(start);
                } else if let Ok(
                    message @ (GameMessage::LuaRegister { .. }
                    | GameMessage::LuaUnregister { .. }
                    | GameMessage::LuaClear {}),
                ) = GameMessage::parse(line.as_bytes())
                {
                    session.receive(message);
                }
            }
            self.acknowledge_outbox();
        }
        self.attached_before = true;
        self.session = Some(session);
        self.queue = Some(queue);
    }

    fn detach(&mut self, why: &str) {
        tracing::warn!(game = self.game.name(), why, "game gone");
        // The calls still waiting fail with DLL_DISCONNECTED as the session
        // goes. Their requests go first: a game that comes back (it only
        // hung) must not run calls whose callers were told they failed.
        for id in self.calls.drain() {
            let _ = remove_if_exists(&self.layout.requests.join(format!("{id}.json")));
            self.expiries.remove(&id);
        }
        self.session = None;
        self.queue = None;
        self.game.set_state(LinkState::Disconnected, Some(why.to_owned()));
    }

    /// Writes each message as a request file and announces it in the index.
    async fn send(&mut self, outbound: &Outbound) {
        let Some(session) = &self.session else { return };
        let mut files = Vec::new();
        let mut sent = Vec::new();
        for message in outbound.messages() {
            let Ok(Value::Object(mut request)) = serde_json::to_value(message) else { continue };
            let (id, expiry) = match message.call_id() {
                Some(call_id) => {
                    // A call its caller gave up on is not sent at all.
                    let Some(deadline) = session.deadline(message) else { continue };
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    let for_game = remaining.saturating_sub(deadline_margin(remaining));
                    request.insert("deadline_ms".into(), json!(unix_millis() + for_game.as_millis() as u64));
                    (call_id.to_string(), deadline)
                }
                None => {
                    self.next_message += 1;
                    (format!("m{}", self.next_message), Instant::now() + UNANSWERED_LIFETIME)
                }
            };
            self.expiries.insert(id.clone(), expiry);
            if message.call_id().is_some() {
                self.calls.insert(id.clone());
            }
            files.push((id, Value::Object(request).to_string()));
            sent.push(message);
        }
        let (folder, index) = (self.layout.requests.clone(), self.layout.index.clone());
        let written = tokio::task::spawn_blocking(move || write_requests(&folder, &index, &files)).await;
        if let Err(error) = written.map_err(io::Error::other).and_then(|written| written) {
            let error = gamebridge_protocol::ErrorBody::new(
                gamebridge_protocol::ErrorCode::INTERNAL_ERROR,
                format!("could not write the request files: {error}"),
            );
            for message in sent {
                session.fail_unsent(message, error.clone());
            }
        }
    }

    /// Delivers every answer whose ready marker exists.
    fn collect_answers(&mut self) {
        let Some(session) = &self.session else { return };
        let Ok(entries) = std::fs::read_dir(&self.layout.responses) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|extension| extension.to_str()) != Some("ready") {
                continue;
            }
            let Some(id) = path.file_stem().and_then(|stem| stem.to_str()).map(str::to_owned) else {
                continue;
            };
            let answer = self.layout.responses.join(format!("{id}.json"));
            match read_if_exists(&answer).ok().flatten().map(|bytes| GameMessage::parse(&bytes)) {
                Some(Ok(message @ GameMessage::LuaResponse(_))) => session.receive(message),
                Some(Ok(_)) | Some(Err(_)) => {
                    tracing::warn!(
                        game = self.game.name(),
                        id,
                        "an answer file is not a lua_response; its call fails"
                    );
                    session.record_bad_frame();
                    // The file's name says which call it answers: that call
                    // fails now rather than wait out its deadline.
                    let error = ErrorBody::new(
                        ErrorCode::SERIALIZATION_ERROR,
                        format!("the game's answer to request {id} is not a lua_response"),
                    );
                    let failed = Response::from_result(WireId::Text(id.clone()), Err(error));
                    session.receive(GameMessage::LuaResponse(failed));
                }
                None => continue,
            }
            for done in [answer, path, self.layout.requests.join(format!("{id}.json"))] {
                let _ = remove_if_exists(&done);
            }
            self.expiries.remove(&id);
            self.calls.remove(&id);
        }
    }

    /// Hands the game's new outbox lines to the hub.
    fn read_outbox(&mut self) {
        let Some(session) = &self.session else { return };
        match self.outbox.read_lines() {
            Ok(lines) => {
                for line in lines {
                    if let Some(start) = OutboxStart::parse(&line) {
                        self.outbox_start = Some(start);
                        continue;
                    }
                    match GameMessage::parse(line.as_bytes()) {
                        Ok(message) => session.receive(message),
                        Err(error) => {
                            session.record_bad_frame();
                            tracing::warn!(game = self.game.name(), %error, "dropped an outbox line that is not a message");
                        }
                    }
                }
                self.acknowledge_outbox();
            }
            Err(error) => tracing::debug!(%error, "could not read the outbox"),
        }
    }

    /// Tells the game how much of its current outbox the bridge has read:
    /// once it is all, the game may start the file over.
    fn acknowledge_outbox(&mut self) {
        let Some(start) = &self.outbox_start else { return };
        let note = json!({
            "started_ms": start.started_ms, "generation": start.generation, "offset": self.outbox.consumed(),
        })
        .to_string();
        if self.outbox_acknowledged.as_deref() == Some(note.as_str()) {
            return;
        }
        match write_replacing(&self.layout.outbox_read, note.as_bytes()) {
            Ok(()) => self.outbox_acknowledged = Some(note),
            Err(error) => tracing::debug!(%error, "could not acknowledge the outbox"),
        }
    }

    /// Removes request files whose time is up; the game would not run them.
    fn remove_expired(&mut self) {
        let now = Instant::now();
        self.expiries.retain(|id, expiry| {
            if *expiry > now {
                return true;
            }
            let _ = remove_if_exists(&self.layout.requests.join(format!("{id}.json")));
            self.calls.remove(id);
            false
        });
    }
}

/// The first line of an outbox the game (re)started:
/// `{"type":"outbox_start","started_ms":…,"generation":…}`.
#[derive(serde::Deserialize)]
struct OutboxStart {
    started_ms: u64,
    generation: u64,
}

impl OutboxStart {
    fn parse(line: &str) -> Option<Self> {
        #[derive(serde::Deserialize)]
        struct Tagged {
            #[serde(rename = "type")]
            kind: String,
            #[serde(flatten)]
            start: OutboxStart,
        }
        // Most lines are messages: look closer only at those that may be a start.
        if !line.contains("outbox_start") {
            return None;
        }
        let tagged: Tagged = serde_json::from_str(line).ok()?;
        (tagged.kind == "outbox_start").then_some(tagged.start)
    }
}

/// Writes request files, then appends their ids to the index in one write,
/// so the game never finds an id whose file is not complete.
fn write_requests(folder: &Path, index: &Path, requests: &[(String, String)]) -> io::Result<()> {
    let mut ids = String::new();
    for (id, body) in requests {
        write_atomically(&folder.join(format!("{id}.json")), body.as_bytes())?;
        ids.push_str(id);
        ids.push('\n');
    }
    if !ids.is_empty() {
        private_file(index, true)?.write_all(ids.as_bytes())?;
    }
    Ok(())
}
