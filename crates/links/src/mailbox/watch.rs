//! Waking up when files change: file-system notification (inotify,
//! FSEvents, ReadDirectoryChangesW through the notify crate), with a
//! polling fallback for file systems that do not notify.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

/// Safety net while notification works: a change it missed is still seen.
const SAFETY_POLL: Duration = Duration::from_millis(250);
/// Without notification, look this often.
const FALLBACK_POLL: Duration = Duration::from_millis(10);

pub struct FileWatcher {
    _watcher: Option<RecommendedWatcher>,
    changes: Arc<Notify>,
    poll: Duration,
}

impl FileWatcher {
    /// Watches the given folders (not their subfolders).
    pub fn new(folders: &[&Path]) -> Self {
        let changes = Arc::new(Notify::new());
        let notifier = changes.clone();
        let watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
            if event.is_ok_and(|event| is_change(&event.kind)) {
                notifier.notify_one();
            }
        })
        .and_then(|mut watcher| {
            for folder in folders {
                watcher.watch(folder, RecursiveMode::NonRecursive)?;
            }
            Ok(watcher)
        });
        match watcher {
            Ok(watcher) => Self { _watcher: Some(watcher), changes, poll: SAFETY_POLL },
            Err(error) => {
                tracing::warn!(%error, "file notification is unavailable; polling every 10 ms instead");
                Self { _watcher: None, changes, poll: FALLBACK_POLL }
            }
        }
    }

    /// Resolves when something in the watched folders may have changed.
    pub async fn changed(&self) {
        let _ = tokio::time::timeout(self.poll, self.changes.notified()).await;
    }
}

/// Whether an event may mean new content. Opening and reading a file are
/// events too (inotify reports them): the link's own reads would wake it
/// to read again, for ever, and an idle game would cost a whole core. A
/// file closed after writing is a change (the TF2 mod writes its answer in
/// place).
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RemoveKind};

    #[test]
    fn reads_are_not_changes_and_writes_are() {
        assert!(!is_change(&EventKind::Access(AccessKind::Open(AccessMode::Any))));
        assert!(!is_change(&EventKind::Access(AccessKind::Read)));
        assert!(!is_change(&EventKind::Access(AccessKind::Close(AccessMode::Read))));
        assert!(is_change(&EventKind::Access(AccessKind::Close(AccessMode::Write))));
        assert!(is_change(&EventKind::Create(CreateKind::File)));
        assert!(is_change(&EventKind::Modify(ModifyKind::Any)));
        assert!(is_change(&EventKind::Remove(RemoveKind::File)));
    }
}
