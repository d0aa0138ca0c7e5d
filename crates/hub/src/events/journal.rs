//! The event journal: every event appended to a file as one JSON line, so
//! history and replay survive a bridge restart.
//!
//! Line format: `{"seq":N,"game":"civ5","type":"TurnStart","time":MS,"data":{…}}`.
//!
//! Reading from the middle: the journal keeps a sparse index in memory, the
//! byte offset of every 1024th line, so history and refills seek close to
//! where they start instead of scanning the file from its beginning.
//!
//! Durability: a background thread writes events in sequence order and
//! hands them to the operating system as soon as it gets to them (a crash of
//! the bridge loses nothing it has written), and `fsync`s at most once a
//! second while new events arrive, and at shutdown (a crash of the machine
//! can lose up to the last second). Events queue for the writer in memory,
//! so a game does not wait for the disk, up to [`BACKLOG_BYTES`]: a disk
//! that falls further behind makes the game's link wait for it, rather than
//! letting the queue grow without bound.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gamebridge_protocol::RawValue;
use serde::Deserialize;

use super::StoredEvent;

const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Bytes of events waiting for the writer, at most.
pub const BACKLOG_BYTES: usize = 64 << 20;
/// One index entry per this many lines: 16 bytes per 1024 events.
const INDEX_EVERY: u64 = 1024;

pub struct Journal {
    path: PathBuf,
    sender: Mutex<Option<mpsc::Sender<Arc<StoredEvent>>>>,
    backlog: Arc<Backlog>,
    writer: Mutex<Option<JoinHandle<()>>>,
    last_seq: u64,
    index: Arc<Mutex<Index>>,
}

/// Where some lines start: `(seq, byte offset)`, in order. An entry is
/// added only once its line is written out, so a reader never seeks past
/// what the file holds.
#[derive(Default)]
struct Index {
    entries: Vec<(u64, u64)>,
    lines: u64,
}

impl Index {
    fn line_at(&mut self, seq: u64, offset: u64) {
        if self.lines.is_multiple_of(INDEX_EVERY) {
            self.entries.push((seq, offset));
        }
        self.lines += 1;
    }

    /// An offset from which every line with a sequence above `since` is
    /// still ahead.
    fn start_after(&self, since: u64) -> u64 {
        let before = self.entries.partition_point(|&(seq, _)| seq <= since);
        before.checked_sub(1).map_or(0, |entry| self.entries[entry].1)
    }
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
    /// returns it with its last `keep` events, fewer when they would hold
    /// more than `keep_bytes` (the newest is always returned). Lines that do not parse — a
    /// line cut short by a crash, say — are skipped.
    pub fn open(path: &Path, keep: usize, keep_bytes: usize) -> io::Result<(Self, Vec<StoredEvent>)> {
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        // `mode` applies only when the file is created: an existing journal
        // is made private too.
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;

        let mut tail = VecDeque::with_capacity(keep.min(1 << 16));
        let mut tail_bytes = 0;
        let mut last_seq = 0;
        let mut skipped = 0usize;
        let mut index = Index::default();
        let mut offset = 0;
        for line in BufReader::new(&file).split(b'\n') {
            let line = line?;
            match parse_line(&line) {
                Some(event) if event.seq > last_seq => {
                    last_seq = event.seq;
                    index.line_at(event.seq, offset);
                    tail_bytes += event.footprint();
                    tail.push_back(event);
                    while tail.len() > 1 && (tail.len() > keep || tail_bytes > keep_bytes) {
                        tail_bytes -= tail.pop_front().map_or(0, |oldest| oldest.footprint());
                    }
                }
                _ => skipped += 1,
            }
            offset += line.len() as u64 + 1;
        }
        if skipped > 0 {
            tracing::warn!(path = %path.display(), skipped, "skipped journal lines that do not parse");
        }
        let length = end_with_newline(&mut file)?;

        let index = Arc::new(Mutex::new(index));
        let (sender, receiver) = mpsc::channel();
        let backlog = Arc::new(Backlog::default());
        let writer = {
            let (index, backlog) = (index.clone(), backlog.clone());
            std::thread::Builder::new()
                .name("gamebridge-journal".into())
                .spawn(move || write_events(file, length, &index, receiver, &backlog))?
        };
        let journal = Self {
            path: path.to_owned(),
            sender: Mutex::new(Some(sender)),
            backlog,
            writer: Mutex::new(Some(writer)),
            last_seq,
            index,
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

    /// Waits, if the disk is [`BACKLOG_BYTES`] behind, until the writer has
    /// taken enough; call it before [`Journal::append`], outside any lock the
    /// writer or readers need.
    pub(crate) fn reserve(&self, bytes: usize) {
        self.backlog.reserve(bytes);
    }

    /// Queues an event whose bytes were reserved.
    pub(crate) fn append(&self, event: Arc<StoredEvent>) {
        if let Some(sender) = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref() {
            let bytes = event.data.len();
            if sender.send(event).is_err() {
                self.backlog.release(bytes);
            }
        }
    }

    /// Events with `since < seq < until`, at most `limit`, in order, and
    /// no more than fit in `max_bytes` (but at least one): a refill of a
    /// client far behind costs no more memory than the ring itself. Reads
    /// from the indexed line nearest before `since`.
    pub fn read(
        &self,
        since: u64,
        until: u64,
        limit: usize,
        max_bytes: usize,
    ) -> io::Result<Vec<StoredEvent>> {
        let start = lock(&self.index).start_after(since);
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(start))?;
        let (mut events, mut bytes) = (Vec::new(), 0);
        for line in BufReader::new(file).split(b'\n') {
            let Some(event) = parse_line(&line?) else { continue };
            if event.seq >= until || events.len() == limit {
                break;
            }
            if event.seq > since {
                bytes += event.footprint();
                if bytes > max_bytes && !events.is_empty() {
                    break;
                }
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
    Some(StoredEvent::new(line.seq, line.game.into(), line.event_type, line.time, line.data.get().as_bytes()))
}

/// After a crash the last line may be cut short; new lines must not join
/// it. Returns the file's length after.
fn end_with_newline(file: &mut File) -> io::Result<u64> {
    let length = file.metadata()?.len();
    if length == 0 {
        return Ok(0);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(length - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(length);
    }
    file.write_all(b"\n")?;
    Ok(length + 1)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// Appends events from `length` on, indexing the lines once they are out.
/// The bytes of events queued for the writer, and a wait for room.
#[derive(Default)]
struct Backlog {
    bytes: Mutex<usize>,
    room: Condvar,
}

impl Backlog {
    fn reserve(&self, bytes: usize) {
        let mut queued = lock(&self.bytes);
        // An event larger than the whole backlog waits for an empty queue.
        while *queued > 0 && *queued + bytes > BACKLOG_BYTES {
            queued = self.room.wait(queued).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        *queued += bytes;
    }

    fn release(&self, bytes: usize) {
        let mut queued = lock(&self.bytes);
        *queued = queued.saturating_sub(bytes);
        self.room.notify_all();
    }
}

fn write_events(
    file: File,
    mut length: u64,
    index: &Mutex<Index>,
    events: mpsc::Receiver<Arc<StoredEvent>>,
    backlog: &Backlog,
) {
    let taken = |event: Arc<StoredEvent>| {
        backlog.release(event.data.len());
        event
    };
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    let mut line = Vec::with_capacity(1024);
    let mut written_lines = Vec::new();
    let mut indexing = true;
    let mut unsynced = false;
    let mut last_sync = Instant::now();
    let mut failing = false;
    loop {
        let first = match events.recv_timeout(SYNC_INTERVAL) {
            Ok(event) => Some(taken(event)),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if let Some(first) = first {
            let written = std::iter::once(first)
                .chain(std::iter::from_fn(|| events.try_recv().ok().map(taken)))
                .try_for_each(|event| {
                    line.clear();
                    write_line(&mut line, &event)?;
                    out.write_all(&line)?;
                    written_lines.push((event.seq, length));
                    length += line.len() as u64;
                    Ok(())
                })
                .and_then(|()| out.flush());
            // After a failed write, where later lines start is no longer
            // known: reads then scan on from the last good entry.
            indexing &= written.is_ok();
            if indexing {
                let mut index = lock(index);
                for (seq, offset) in written_lines.drain(..) {
                    index.line_at(seq, offset);
                }
            }
            written_lines.clear();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_points_at_the_last_indexed_line_not_after_the_wanted_one() {
        let mut index = Index::default();
        (1..=3_000).for_each(|seq| index.line_at(seq, seq * 100));
        assert_eq!(index.entries, [(1, 100), (1_025, 102_500), (2_049, 204_900)]);
        assert_eq!(index.start_after(0), 0, "before every line: the file's start");
        assert_eq!(index.start_after(1), 100);
        assert_eq!(index.start_after(1_024), 100);
        assert_eq!(index.start_after(1_025), 102_500);
        assert_eq!(index.start_after(9_999), 204_900);
    }
}

#[cfg(test)]
mod backlog_tests {
    use super::*;

    #[test]
    fn the_backlog_waits_for_room_and_lets_a_large_event_through_alone() {
        let backlog = Arc::new(Backlog::default());
        backlog.reserve(BACKLOG_BYTES - 10);
        let waiting = {
            let backlog = backlog.clone();
            std::thread::spawn(move || backlog.reserve(20))
        };
        // The reservation cannot finish until the writer takes bytes out.
        backlog.release(BACKLOG_BYTES - 10);
        waiting.join().unwrap();
        assert_eq!(*lock(&backlog.bytes), 20);
        backlog.release(20);
        backlog.reserve(BACKLOG_BYTES * 2);
        assert_eq!(*lock(&backlog.bytes), BACKLOG_BYTES * 2, "an event larger than the backlog goes alone");
    }
}
