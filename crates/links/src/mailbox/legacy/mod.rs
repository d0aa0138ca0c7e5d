//! The Transport Fever 2 mod's file pair, spoken unchanged: one command in
//! `PREFIX_cmd.json`, one answer in `PREFIX_resp.json`.
//!
//! Each tick the mod reads the command file, skips it if it ran that id
//! last, runs the handler (the game waits for it), writes the answer in
//! place, writes its log, and only then deletes the command file. Its own
//! Python client let two callers overwrite each other, and ran timed-out
//! commands later. Here:
//!
//! - calls queue in the bridge and go to the slot one at a time, each
//!   written atomically, and never before the mod has deleted the command
//!   before it: that delete comes after the answer, and would take a new
//!   command with it;
//! - a command deleted without an answer was deleted unread by such a late
//!   delete, and is written again;
//! - a command whose deadline passed while it queued is never written;
//! - a command not answered by its deadline is taken back, but the mod may
//!   have read it already (it deletes only after running), so the caller
//!   hears that it *may* have run; its answer, if one comes, is published
//!   as a `late_answer` event;
//! - a lock file beside the pair keeps a second bridge off it.
//!
//! What the pair cannot promise is in docs/MAILBOX.md.

mod answer;

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gamebridge_hub::{Game, LinkState, SessionGuard};
use gamebridge_protocol::message::null;
use gamebridge_protocol::strings::stringify_values;
use gamebridge_protocol::{
    BridgeMessage, ErrorBody, ErrorCode, GameEvent, GameMessage, RawValue, Response, WireId,
};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use self::answer::Answer;
use super::deadline_margin;
use super::files::{
    private_file, read_if_exists, remove_if_exists, unix_millis, with_suffix, write_replacing,
};
use super::tail::LineTail;
use super::watch::FileWatcher;
use crate::MailboxOptions;

/// Calls waiting for the slot; callers beyond it wait within their deadlines.
const QUEUE: usize = 1024;
/// How long the mod may take from its answer to its delete of the command
/// (a few log lines): past it, the mod is taken to have stopped there, and
/// the answered command is taken out, so that a restarted mod does not run
/// it again. A mod that was only slow loses nothing by it: its late delete
/// finds the slot empty, or takes a next command, which is written again.
const SETTLE: Duration = Duration::from_secs(1);
/// Times a command deleted unread is written again before its call fails.
const MAX_REWRITES: u32 = 3;
/// Timed-out commands whose late answers are still watched for: many
/// queued calls can time out while the mod is busy with one slow command.
const IN_DOUBT: usize = 4096;
/// How often a bridge waiting for another's lock on the files tries again.
const LOCK_RETRY: Duration = Duration::from_secs(1);

struct Slot {
    command: PathBuf,
    answer: PathBuf,
    watcher: FileWatcher,
    log: Option<LineTail>,
    next_id: u32,
    /// The command last answered: its answer may still be in the file.
    answered: Option<String>,
    /// When it was answered, while the mod has yet to delete it.
    answered_at: Option<Instant>,
    /// Commands that timed out after the mod may have read them, newest last.
    in_doubt: VecDeque<InDoubt>,
    /// The last id of another writer's warned about.
    foreign: Option<String>,
    /// Held while serving: a second bridge on the same files is refused.
    _lock: File,
}

pub async fn serve(game: Arc<Game>, options: MailboxOptions, shutdown: CancellationToken) -> io::Result<()> {
    let command = with_suffix(&options.path, "_cmd.json");
    let answer = with_suffix(&options.path, "_resp.json");
    let folder = command.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    let Some(lock) = wait_for_lock(&game, &options.path, &command, &shutdown).await? else { return Ok(()) };
    // Leftovers from an earlier run must not run now, nor answer new calls.
    let leftovers = [".tmp", ".withdrawn"].map(|suffix| with_suffix(&command, suffix));
    for leftover in [&command, &answer, &with_suffix(&answer, ".taken"), &leftovers[0], &leftovers[1]] {
        remove_if_exists(leftover)?;
    }
    let mut watched = vec![folder.to_owned()];
    let log = options.log.as_deref().map(|path| {
        if let Some(log_folder) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            watched.push(log_folder.to_owned());
        }
        LineTail::at_end(path)
    });
    let folders: Vec<&Path> = watched.iter().map(PathBuf::as_path).collect();
    let mut slot = Slot {
        command,
        answer,
        watcher: FileWatcher::new(&folders),
        log,
        next_id: (unix_millis() as u32).wrapping_mul(2_654_435_761),
        answered: None,
        answered_at: None,
        in_doubt: VecDeque::new(),
        foreign: None,
        _lock: lock,
    };

    let (outbound, mut queue) = mpsc::channel(QUEUE);
    let session = game.attach(outbound);
    game.set_state(
        LinkState::Connected,
        Some(format!("files {} and {}", slot.command.display(), slot.answer.display())),
    );
    tracing::info!(game = game.name(), command = %slot.command.display(), "serving the TF2 file pair");
    loop {
        tokio::select! {
            outbound = queue.recv() => {
                let Some(outbound) = outbound else { break };
                for message in outbound.messages() {
                    slot.deliver(&session, message, &shutdown).await;
                }
            }
            () = slot.watcher.changed() => slot.look_around(&session),
            () = sleep_until(slot.settle_by()), if slot.answered_at.is_some() => slot.take_out_answered(&session),
            () = shutdown.cancelled() => break,
        }
    }
    game.set_state(LinkState::Stopped, None);
    Ok(())
}

/// Takes `PREFIX.lock`, an advisory lock the system releases when the
/// bridge exits, however it exits. While another bridge holds it, this one
/// says so (in its log and in `/games`) and takes over once it is free;
/// `None` when the bridge stops first.
async fn wait_for_lock(
    game: &Game,
    prefix: &Path,
    command: &Path,
    shutdown: &CancellationToken,
) -> io::Result<Option<File>> {
    let path = with_suffix(prefix, ".lock");
    let file = private_file(&path, true)?;
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
        if !said {
            let why = format!(
                "another gamebridge serves {} (it holds {}): two bridges on one file pair would take each \
                 other's answers; this one waits until the other stops",
                command.display(),
                path.display()
            );
            tracing::error!(game = game.name(), "{why}");
            game.set_state(LinkState::Stopped, Some(why));
            said = true;
        }
        tokio::select! {
            () = tokio::time::sleep(LOCK_RETRY) => {}
            () = shutdown.cancelled() => return Ok(None),
        }
    }
}

impl Slot {
    /// Sends one message through the slot and waits for its answer.
    async fn deliver(
        &mut self,
        session: &SessionGuard,
        message: &BridgeMessage,
        shutdown: &CancellationToken,
    ) {
        let (function, args) = match message {
            BridgeMessage::LuaCall { function, args, .. } => (function, args),
            BridgeMessage::LuaExecute { .. } => {
                let error = ErrorBody::new(
                    ErrorCode::INVALID_SCRIPT,
                    "the TF2 mod cannot run scripts; call its commands",
                );
                session.fail_unsent(message, error);
                return;
            }
            other => {
                tracing::debug!(?other, "the TF2 mod has no counterpart for this message; not sent");
                return;
            }
        };
        // A call whose caller gave up while it queued never reaches the game.
        let Some(deadline) = session.deadline(message) else { return };
        let params = match serde_json::from_str::<Value>(args.get()) {
            Ok(Value::Null) => Value::Object(Map::new()),
            Ok(object @ Value::Object(_)) => stringify_values(&object),
            _ => {
                let error =
                    ErrorBody::new(ErrorCode::INVALID_ARGUMENTS, "TF2 commands take an object of parameters");
                session.fail_unsent(message, error);
                return;
            }
        };
        // The answer must reach the caller before its own deadline does.
        let withdraw_at = deadline - deadline_margin(deadline.saturating_duration_since(Instant::now()));
        let settled = self.settle(session, withdraw_at, shutdown).await;
        if !settled || Instant::now() >= withdraw_at {
            if settled || !shutdown.is_cancelled() {
                let error = ErrorBody::new(
                    ErrorCode::CALL_TIMEOUT,
                    "Function call timed out: the slot was not free before the deadline; the command was not sent and did not run",
                );
                session.fail_unsent(message, error);
            }
            return;
        }
        self.next_id = self.next_id.wrapping_add(1);
        let id = format!("{:08x}", self.next_id);
        let command = json!({ "id": id, "cmd": function, "ts": unix_millis().to_string(), "params": params });
        let mut rewrites = 0;
        loop {
            if let Err(error) = self.write_command(session, &command).await {
                let error = ErrorBody::new(
                    ErrorCode::INTERNAL_ERROR,
                    format!("could not write the command file: {error}"),
                );
                session.fail_unsent(message, error);
                return;
            }
            match self.await_answer(session, &id, withdraw_at, shutdown).await {
                Awaited::Answer(outcome) => {
                    self.answered = Some(id.clone());
                    self.answered_at = Some(Instant::now());
                    let outcome = outcome
                        .map(|result| RawValue::from_string(result.to_string()).unwrap_or_else(|_| null()));
                    let original = message.call_id().cloned().unwrap_or(WireId::Number(0));
                    session.receive(GameMessage::LuaResponse(Response::from_result(original, outcome)));
                    return;
                }
                // Deleted unread, and its time is up: it did not run.
                Awaited::TimedOut { maybe_ran: false } | Awaited::DeletedUnread
                    if Instant::now() >= withdraw_at =>
                {
                    let error = ErrorBody::new(
                        ErrorCode::CALL_TIMEOUT,
                        "Function call timed out: the command was deleted unread at the deadline; it did not run",
                    );
                    session.fail_unsent(message, error);
                    return;
                }
                Awaited::DeletedUnread if rewrites < MAX_REWRITES => {
                    rewrites += 1;
                    tracing::debug!(
                        id,
                        rewrites,
                        "the command was deleted unread (by the mod's late delete of the one before); written again"
                    );
                }
                Awaited::DeletedUnread => {
                    let error = ErrorBody::new(
                        ErrorCode::INTERNAL_ERROR,
                        format!(
                            "the command was deleted unread {} times; something else clears {}",
                            rewrites + 1,
                            self.command.display()
                        ),
                    );
                    session.fail_unsent(message, error);
                    return;
                }
                Awaited::TimedOut { maybe_ran: true } => {
                    self.remember_in_doubt(&id, function, &command["params"]);
                    let error = ErrorBody::new(
                        ErrorCode::CALL_TIMEOUT,
                        format!(
                            "Function call timed out: no answer before the deadline. The command was taken back, but \
                             the mod may have read it already (the TF2 file pair cannot tell), so it may have run: if \
                             it did, its answer is published as a late_answer event (id {id})"
                        ),
                    );
                    session.fail_unsent(message, error);
                    return;
                }
                Awaited::TimedOut { maybe_ran: false } | Awaited::Stopped => return,
            }
        }
    }

    /// Waits for the answer to command `id`, until `withdraw_at`.
    async fn await_answer(
        &mut self,
        session: &SessionGuard,
        id: &str,
        withdraw_at: Instant,
        shutdown: &CancellationToken,
    ) -> Awaited {
        loop {
            // The command first, then the answer: the mod writes the answer
            // before it deletes the command, so a command gone with no
            // answer after it was never run.
            let in_slot = self.command_id().as_deref() == Some(id);
            if let Some(outcome) = self.answer_to(session, id) {
                return Awaited::Answer(outcome);
            }
            if !in_slot {
                return Awaited::DeletedUnread;
            }
            self.follow_log(session);
            tokio::select! {
                biased;
                () = sleep_until(withdraw_at) => {
                    // Still in the slot: taken back, though the mod may have
                    // read it. Gone: answered just now, or deleted unread.
                    let maybe_ran = self.withdraw(id);
                    return match self.answer_to(session, id) {
                        Some(outcome) => Awaited::Answer(outcome),
                        None => Awaited::TimedOut { maybe_ran },
                    };
                }
                () = self.watcher.changed() => {}
                () = shutdown.cancelled() => return Awaited::Stopped,
            }
        }
    }

    /// Waits until the slot is free: the mod deletes a command only after
    /// answering it, and a new command written before that delete would go
    /// with it. `false` when the bridge stops first, or `until` comes.
    async fn settle(&mut self, session: &SessionGuard, until: Instant, shutdown: &CancellationToken) -> bool {
        let give_up = if self.answered_at.is_some() { self.settle_by() } else { Instant::now() + SETTLE };
        loop {
            let Some(left) = self.command_id() else { return true };
            if !self.is_ours(&left) {
                self.warn_foreign(session, &left, "command");
            }
            self.look_around(session);
            tokio::select! {
                biased;
                () = sleep_until(give_up) => {
                    self.take_out(session, &left);
                    return true;
                }
                () = sleep_until(until) => return false,
                () = self.watcher.changed() => {}
                () = shutdown.cancelled() => return false,
            }
        }
    }

    /// When the mod should have deleted the command last answered.
    fn settle_by(&self) -> Instant {
        self.answered_at.map_or_else(Instant::now, |at| at + SETTLE)
    }

    /// The answered command, if the mod has not deleted it by now.
    fn take_out_answered(&mut self, session: &SessionGuard) {
        self.answered_at = None;
        if let Some(left) = self.command_id().filter(|left| self.answered.as_deref() == Some(left.as_str())) {
            self.take_out(session, &left);
        }
    }

    /// Takes a command the mod left in the slot out of it.
    fn take_out(&mut self, session: &SessionGuard, left: &str) {
        self.answered_at = None;
        if self.withdraw(left) {
            tracing::warn!(
                game = session.game().name(),
                id = left,
                "the mod did not delete a command within 1 s of answering it (it stopped there?); taken out, so that a restarted mod does not run it again"
            );
        }
    }

    /// Writes a command into the free slot. The answer file is cleared
    /// first (a stale answer must not be taken for this command's), but
    /// what it holds is read, not lost: it may be the late answer of a
    /// command that timed out a moment ago.
    async fn write_command(&mut self, session: &SessionGuard, command: &Value) -> io::Result<()> {
        let bytes = serde_json::to_vec(command)?;
        let (answer, path) = (self.answer.clone(), self.command.clone());
        let taken = with_suffix(&self.answer, ".taken");
        let cleared = tokio::task::spawn_blocking(move || {
            let cleared = match std::fs::rename(&answer, &taken) {
                Ok(()) => read_whole_answer(&taken)?,
                Err(error) if error.kind() == io::ErrorKind::NotFound => None,
                Err(error) => return Err(error),
            };
            let _ = remove_if_exists(&taken);
            // No fsync: the command is worth nothing after a crash of the
            // machine, and it is in the caller's time.
            write_replacing(&path, &bytes)?;
            Ok(cleared)
        })
        .await
        .map_err(io::Error::other)??;
        if let Some(answer) = cleared.as_deref().and_then(Answer::parse) {
            self.other_answer(session, answer);
        }
        Ok(())
    }

    /// The id of the command in the slot, if there is one.
    fn command_id(&self) -> Option<String> {
        let bytes = read_if_exists(&self.command).ok()??;
        let command = serde_json::from_slice::<Value>(&bytes).ok()?;
        Some(command["id"].as_str().map_or_else(|| command["id"].to_string(), str::to_owned))
    }

    /// The outcome of command `id`, if its answer is in the file; another
    /// answer found there is looked at (a late one, or another writer's).
    fn answer_to(&mut self, session: &SessionGuard, id: &str) -> Option<Result<Value, ErrorBody>> {
        let answer = Answer::parse(&read_if_exists(&self.answer).ok()??)?;
        if answer.id == id {
            return Some(answer.outcome);
        }
        self.other_answer(session, answer);
        None
    }

    /// What the files say while no call waits: late answers, the log.
    fn look_around(&mut self, session: &SessionGuard) {
        if let Some(answer) =
            read_if_exists(&self.answer).ok().flatten().and_then(|bytes| Answer::parse(&bytes))
        {
            self.other_answer(session, answer);
        }
        self.follow_log(session);
    }

    /// An answer to a command no call waits for: one that timed out after
    /// the mod read it (published, once, as `late_answer`), the last one
    /// answered (nothing to do), or another writer's.
    fn other_answer(&mut self, session: &SessionGuard, answer: Answer) {
        if self.answered.as_deref() == Some(answer.id.as_str()) {
            return;
        }
        let Some(at) = self.in_doubt.iter().position(|doubtful| doubtful.id == answer.id) else {
            self.warn_foreign(session, &answer.id, "answer");
            return;
        };
        let InDoubt { id, function, params } = self.in_doubt.remove(at).expect("found above");
        tracing::warn!(
            game = session.game().name(),
            id,
            function,
            "a command reported as timed out ran after all; its answer is published as a late_answer event"
        );
        let outcome = match answer.outcome {
            Ok(result) => json!({ "success": true, "result": result }),
            Err(error) => json!({ "success": false, "error": error }),
        };
        let payload = json!({ "id": id, "function": function, "params": params, "outcome": outcome });
        let payload = RawValue::from_string(payload.to_string()).expect("JSON");
        session.receive(GameMessage::GameEvent(GameEvent::named("late_answer", payload)));
        self.answered = Some(id);
    }

    fn is_ours(&self, id: &str) -> bool {
        self.answered.as_deref() == Some(id) || self.in_doubt.iter().any(|doubtful| doubtful.id == id)
    }

    fn remember_in_doubt(&mut self, id: &str, function: &str, params: &Value) {
        if self.in_doubt.len() == IN_DOUBT {
            self.in_doubt.pop_front();
        }
        let params = (params.to_string().len() <= KEPT_PARAMS).then(|| params.clone());
        self.in_doubt.push_back(InDoubt { id: id.to_owned(), function: function.to_owned(), params });
    }

    /// Another program uses the same files (the seed's Python client, say):
    /// said once per id it writes, since answers would be mixed.
    fn warn_foreign(&mut self, session: &SessionGuard, id: &str, what: &str) {
        if self.foreign.as_deref() == Some(id) {
            return;
        }
        self.foreign = Some(id.to_owned());
        tracing::warn!(
            game = session.game().name(),
            id,
            file = %self.command.display(),
            "a {what} this bridge did not write: another program (the mod's own Python client?) uses the same files, and its answers and this bridge's would be mixed; stop it"
        );
    }

    /// Takes command `id` back if it is still in the slot. The rename is
    /// atomic: the mod sees the command whole or not at all.
    fn withdraw(&self, id: &str) -> bool {
        if self.command_id().as_deref() != Some(id) {
            return false;
        }
        let withdrawn = with_suffix(&self.command, ".withdrawn");
        let taken_back = std::fs::rename(&self.command, &withdrawn).is_ok();
        let _ = remove_if_exists(&withdrawn);
        taken_back
    }

    /// Publishes new lines of the mod's log as `log` events.
    fn follow_log(&mut self, session: &SessionGuard) {
        let Some(log) = &mut self.log else { return };
        match log.read_lines() {
            Ok(lines) => {
                for line in lines {
                    let payload = RawValue::from_string(json!({ "line": line }).to_string()).expect("JSON");
                    session.receive(GameMessage::GameEvent(GameEvent::named("log", payload)));
                }
            }
            Err(error) => tracing::debug!(%error, "could not read the mod log"),
        }
    }
}

/// The answer file taken out of the slot: the mod writes it in place, so
/// one taken while it wrote is read again until it parses (briefly).
fn read_whole_answer(path: &Path) -> io::Result<Option<Vec<u8>>> {
    for _ in 0..10 {
        match read_if_exists(path)? {
            Some(bytes) if !bytes.is_empty() && Answer::parse(&bytes).is_none() => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return Ok(other),
        }
    }
    read_if_exists(path)
}

/// A command that timed out after the mod may have read it.
struct InDoubt {
    id: String,
    function: String,
    /// Its parameters as sent, so that the caller can tell which call a
    /// late answer belongs to; left out past [`KEPT_PARAMS`] bytes.
    params: Option<Value>,
}

/// Bytes of parameters kept for a late answer's event.
const KEPT_PARAMS: usize = 4096;

/// How waiting for one command's answer ended.
enum Awaited {
    Answer(Result<Value, ErrorBody>),
    /// The command left the slot with no answer: deleted unread.
    DeletedUnread,
    /// No answer by the deadline; `maybe_ran`: it was still in the slot,
    /// where the mod may have read it (else it was deleted unread).
    TimedOut {
        maybe_ran: bool,
    },
    Stopped,
}
