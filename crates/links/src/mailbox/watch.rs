//! Waking up when files change: file-system notification (inotify,
//! FSEvents, ReadDirectoryChangesW through the notify crate), with a
//! polling fallback for file systems that do not notify.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
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
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok() {
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
