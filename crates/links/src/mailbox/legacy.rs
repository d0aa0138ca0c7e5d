//! The Transport Fever 2 mod's file pair, spoken unchanged: one command in
//! `PREFIX_cmd.json`, one answer in `PREFIX_resp.json`.
//!
//! The mod polls the command file every tick, runs the command, writes the
//! answer in place and deletes the command. Its own Python client let two
//! callers overwrite each other, delete each other's answers, and run a
//! timed-out command later. Here calls queue in the bridge and go to the
//! slot one at a time, each written atomically; a command not taken before
//! its deadline is withdrawn; an answered command the mod left in the slot
//! is taken out; an answer read half-written is read again.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

use super::deadline_margin;
use super::files::{read_if_exists, remove_if_exists, unix_millis, with_suffix, write_atomically};
use super::tail::LineTail;
use super::watch::FileWatcher;
use crate::MailboxOptions;

/// Calls waiting for the slot; callers beyond it wait within their deadlines.
const QUEUE: usize = 1024;

struct Slot {
    command: PathBuf,
    answer: PathBuf,
    watcher: FileWatcher,
    log: Option<LineTail>,
    next_id: u32,
}

pub async fn serve(game: Arc<Game>, options: MailboxOptions, shutdown: CancellationToken) -> io::Result<()> {
    let command = with_suffix(&options.path, "_cmd.json");
    let answer = with_suffix(&options.path, "_resp.json");
    let folder = command.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    // Leftovers from an earlier run must not run now, nor answer new calls.
    for leftover in [&command, &answer, &with_suffix(&command, ".tmp"), &with_suffix(&command, ".withdrawn")]
    {
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
            () = slot.watcher.changed() => slot.follow_log(&session),
            () = shutdown.cancelled() => break,
        }
    }
    game.set_state(LinkState::Stopped, None);
    Ok(())
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
        self.next_id = self.next_id.wrapping_add(1);
        let id = format!("{:08x}", self.next_id);
        let command = json!({ "id": id, "cmd": function, "ts": unix_millis().to_string(), "params": params });
        if let Err(error) = self.write_command(&command).await {
            let error = ErrorBody::new(
                ErrorCode::INTERNAL_ERROR,
                format!("could not write the command file: {error}"),
            );
            session.fail_unsent(message, error);
            return;
        }

        let withdraw_at = deadline - deadline_margin(deadline.saturating_duration_since(Instant::now()));
        let mut taken = false;
        loop {
            if let Some(response) = self.read_answer(&id) {
                let _ = remove_if_exists(&self.answer);
                // The mod deletes a command after answering it; one that dies
                // in between would run it again when it restarts.
                self.withdraw(&id);
                let original = message.call_id().cloned().unwrap_or(WireId::Number(0));
                session.receive(GameMessage::LuaResponse(Response { id: original, ..response }));
                return;
            }
            self.follow_log(session);
            tokio::select! {
                // Withdrawal first: when writing the command took so long
                // that both times have passed, a command the game has not
                // taken must be taken back, never left to run after its
                // caller was told it timed out.
                biased;
                () = sleep_until(withdraw_at), if !taken => {
                    if self.withdraw(&id) {
                        let error = ErrorBody::new(
                            ErrorCode::CALL_TIMEOUT,
                            "Function call timed out: the game did not take the command in time; it was withdrawn and will not run",
                        );
                        session.fail_unsent(message, error);
                        return;
                    }
                    // The game has it: it is running, its answer is coming.
                    taken = true;
                }
                () = self.watcher.changed() => {}
                () = sleep_until(deadline) => return,
                () = shutdown.cancelled() => return,
            }
        }
    }

    async fn write_command(&self, command: &Value) -> io::Result<()> {
        let bytes = serde_json::to_vec(command)?;
        let (answer, path) = (self.answer.clone(), self.command.clone());
        tokio::task::spawn_blocking(move || {
            // A stale answer must not be taken for this command's.
            remove_if_exists(&answer)?;
            write_atomically(&path, &bytes)
        })
        .await
        .map_err(io::Error::other)?
    }

    /// The answer to command `id`, once the whole file is there. A file that
    /// does not parse (yet) or answers another command is left alone.
    fn read_answer(&self, id: &str) -> Option<Response> {
        let bytes = read_if_exists(&self.answer).ok()??;
        let Value::Object(mut answer) = serde_json::from_slice::<Value>(&bytes).ok()? else { return None };
        if answer.get("id").and_then(Value::as_str) != Some(id) {
            return None;
        }
        answer.remove("id");
        let status = answer.remove("status");
        let data = answer.remove("data");
        let outcome = match status.as_ref().and_then(Value::as_str) {
            Some("ok") => Ok(with_extra_fields(data.unwrap_or(Value::Null), answer)),
            Some("pending") => {
                let mut pending = Map::from_iter([("status".to_owned(), json!("pending"))]);
                pending.insert("data".to_owned(), data.unwrap_or(Value::Null));
                Ok(with_extra_fields(Value::Object(pending), answer))
            }
            Some("error") => {
                let message =
                    answer.get("message").and_then(Value::as_str).unwrap_or("the game reported an error");
                Err(ErrorBody::new(ErrorCode::LUA_EXECUTION_ERROR, message))
            }
            other => Err(ErrorBody::new(
                ErrorCode::SERIALIZATION_ERROR,
                format!("the game answered with an unknown status {other:?}"),
            )),
        };
        let outcome =
            outcome.map(|result| RawValue::from_string(result.to_string()).unwrap_or_else(|_| null()));
        Some(Response::from_result(WireId::Text(id.to_owned()), outcome))
    }

    /// Takes command `id` back if it is still in the slot. The rename is
    /// atomic: the game sees the command whole or not at all.
    fn withdraw(&self, id: &str) -> bool {
        let ours = read_if_exists(&self.command)
            .ok()
            .flatten()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .is_some_and(|command| command["id"] == id);
        if !ours {
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

/// The mod sometimes answers with fields beside `data`; they are kept: added
/// to an object result, or next to any other result as `{data, …}`.
fn with_extra_fields(data: Value, extra: Map<String, Value>) -> Value {
    let extra: Map<String, Value> = extra.into_iter().filter(|(key, _)| key != "message").collect();
    if extra.is_empty() {
        return data;
    }
    match data {
        Value::Object(mut fields) => {
            for (key, value) in extra {
                fields.entry(key).or_insert(value);
            }
            Value::Object(fields)
        }
        other => {
            let mut fields = Map::from_iter([("data".to_owned(), other)]);
            fields.extend(extra);
            Value::Object(fields)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fields_are_kept() {
        let extra = Map::from_iter([("queued".to_owned(), json!("3"))]);
        assert_eq!(with_extra_fields(json!({"a": 1}), extra.clone()), json!({"a": 1, "queued": "3"}));
        assert_eq!(with_extra_fields(json!("pong"), extra), json!({"data": "pong", "queued": "3"}));
        assert_eq!(with_extra_fields(json!([1]), Map::new()), json!([1]));
    }
}
