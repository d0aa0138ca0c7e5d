//! The event journal: every event appended to a file as one JSON line, so
//! history and replay survive a bridge restart.
//!
//! Line format: `{"seq":N,"game":"civ5","type":"TurnStart","time":MS,"data":{…}}`.
//!
//! Durability: a background thread writes events in sequence order and
//! hands them to the operating system as soon as it gets to them (a crash of
//! the bridge loses nothing it has written), and `fsync`s at most once a
//! second while new events arrive, and at shutdown (a crash of the machine
//! can lose up to the last second). Writing never blocks the game: events
//! queue for the writer in memory.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gamebridge_protocol::RawValue;
use serde::Deserialize;

use super::StoredEvent;

const SYNC_INTERVAL: Duration = Duration::from_secs(1);

pub struct Journal {
    path: PathBuf,
    sender: Mutex<Option<mpsc::Sender<Arc<StoredEvent>>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    last_seq: u64,
}

#[derive(Deserialize)]
struct Line<'a> {
    seq: u64,
    game: String,
    #[serde(rename = "type")]
    event_type: String,
    time: u64,
    #[serde(borrow)]
    data: &'a RawValue,
}

impl Journal {
    /// Opens (or creates, private to the user) the journal at `path` and
    /// returns it with its last `keep` events. Lines that do not parse — a
    /// line cut short by a crash, say — are skipped.
    pub fn open(path: &Path, keep: usize) -> io::Result<(Self, Vec<StoredEvent>)> {
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;

        let mut tail = VecDeque::with_capacity(keep.min(1 << 16));
        let mut last_seq = 0;
        let mut skipped = 0usize;
        for line in BufReader::new(&file).split(b'\n') {
            match parse_line(&line?) {
                Some(event) if event.seq > last_seq => {
                    last_seq = event.seq;
                    if tail.len() == keep {
                        tail.pop_front();
                    }
                    tail.push_back(event);
                }
                _ => skipped += 1,
            }
        }
        if skipped > 0 {
            tracing::warn!(path = %path.display(), skipped, "skipped journal lines that do not parse");
        }
        end_with_newline(&mut file)?;

        let (sender, receiver) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("gamebridge-journal".into())
            .spawn(move || write_events(file, receiver))?;
        let journal = Self {
            path: path.to_owned(),
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(writer)),
            last_seq,
        };
        Ok((journal, tail.into()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last sequence number found when the journal was opened.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub(crate) fn append(&self, event: Arc<StoredEvent>) {
        if let Some(sender) = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref() {
            let _ = sender.send(event);
        }
    }

    /// Events with `since < seq < until`, at most `limit`, in order. Scans
    /// the file from the start.
    pub fn read(&self, since: u64, until: u64, limit: usize) -> io::Result<Vec<StoredEvent>> {
        let mut events = Vec::new();
        for line in BufReader::new(File::open(&self.path)?).split(b'\n') {
            let Some(event) = parse_line(&line?) else { continue };
            if event.seq >= until || events.len() == limit {
                break;
            }
            if event.seq > since {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// Writes what is queued, syncs it to disk, and stops the writer.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(writer) = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
            let _ = writer.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}

fn parse_line(line: &[u8]) -> Option<StoredEvent> {
    let line: Line<'_> = serde_json::from_slice(line).ok()?;
    Some(StoredEvent {
        seq: line.seq,
        game: line.game.into(),
        event_type: line.event_type,
        time_ms: line.time,
        data: Bytes::copy_from_slice(line.data.get().as_bytes()),
    })
}

/// After a crash the last line may be cut short; new lines must not join it.
fn end_with_newline(file: &mut File) -> io::Result<()> {
    let length = file.metadata()?.len();
    if length == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(length - 1))?;
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

fn write_line(out: &mut impl Write, event: &StoredEvent) -> io::Result<()> {
    write!(out, "{{\"seq\":{},\"game\":", event.seq)?;
    serde_json::to_writer(&mut *out, &*event.game)?;
    out.write_all(b",\"type\":")?;
    serde_json::to_writer(&mut *out, &event.event_type)?;
    write!(out, ",\"time\":{},\"data\":", event.time_ms)?;
    out.write_all(&event.data)?;
    out.write_all(b"}\n")
}

fn write_events(file: File, events: mpsc::Receiver<Arc<StoredEvent>>) {
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    let mut unsynced = false;
    let mut last_sync = Instant::now();
    let mut failing = false;
    loop {
        let first = match events.recv_timeout(SYNC_INTERVAL) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if let Some(first) = first {
            let written = std::iter::once(first)
                .chain(std::iter::from_fn(|| events.try_recv().ok()))
                .try_for_each(|event| write_line(&mut out, &event))
                .and_then(|()| out.flush());
            report(&mut failing, written);
            unsynced = true;
        }
        if unsynced && last_sync.elapsed() >= SYNC_INTERVAL {
            report(&mut failing, out.get_ref().sync_data());
            unsynced = false;
            last_sync = Instant::now();
        }
    }
    report(&mut failing, out.flush().and_then(|()| out.get_ref().sync_data()));
}

/// Logs the first failure of a run of failures, and the recovery.
fn report(failing: &mut bool, outcome: io::Result<()>) {
    match outcome {
        Err(error) if !*failing => {
            tracing::error!(%error, "could not write the event journal; events stay in memory only");
            *failing = true;
        }
        Ok(()) if *failing => {
            tracing::info!("the event journal is being written again");
            *failing = false;
        }
        _ => {}
    }
}
