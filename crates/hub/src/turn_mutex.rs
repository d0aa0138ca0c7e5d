//! The Windows named mutex `TurnByTurn`, which the Vox Deorum DLL checks to
//! hold the game between turns: the original bridge paused the game by
//! holding it (it sent no pipe message), so the unchanged DLL only pauses
//! this way. The bridge holds it while the game is paused by hand.
//!
//! A Windows mutex belongs to the thread that took it and must be released
//! by that thread, so one thread takes it, waits until the pause ends, and
//! releases it. Elsewhere this does nothing: the DLL runs on Windows only,
//! and other games are paused by the `pause_game` message.
//!
//! Not tested on Windows: the project is built and tested on Linux only.

/// The mutex, held until this is dropped.
pub struct TurnMutex {
    #[cfg(windows)]
    release: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
}

/// The mutex's name, as the DLL opens it.
#[cfg_attr(not(windows), allow(dead_code))]
pub const NAME: &str = "TurnByTurn";

impl TurnMutex {
    /// Takes the mutex (on Windows); a failure is logged, not fatal: the
    /// `pause_game` message still goes to the game.
    pub fn hold() -> Self {
        #[cfg(windows)]
        {
            Self { release: windows::hold() }
        }
        #[cfg(not(windows))]
        {
            Self {}
        }
    }
}

#[cfg(windows)]
impl Drop for TurnMutex {
    fn drop(&mut self) {
        if let Some((release, thread)) = self.release.take() {
            drop(release);
            let _ = thread.join();
        }
    }
}

#[cfg(windows)]
mod windows {
    use std::sync::mpsc;
    use std::thread::JoinHandle;

    use windows_sys::Win32::Foundation::CloseHandle;
    use windows_sys::Win32::System::Threading::{CreateMutexW, ReleaseMutex};

    /// A thread that owns the mutex until its channel closes.
    pub fn hold() -> Option<(mpsc::Sender<()>, JoinHandle<()>)> {
        let (release, released) = mpsc::channel::<()>();
        let (taken, took) = mpsc::channel::<bool>();
        let thread = std::thread::Builder::new()
            .name("gamebridge-turn-mutex".into())
            .spawn(move || {
                let name: Vec<u16> = super::NAME.encode_utf16().chain(std::iter::once(0)).collect();
                // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives
                // the call; null attributes mean the default security.
                let handle = unsafe { CreateMutexW(std::ptr::null(), 1, name.as_ptr()) };
                let _ = taken.send(!handle.is_null());
                if handle.is_null() {
                    return;
                }
                let _ = released.recv();
                // SAFETY: this thread owns `handle`, created above and not closed.
                unsafe {
                    ReleaseMutex(handle);
                    CloseHandle(handle);
                }
            })
            .ok()?;
        if took.recv().unwrap_or(false) {
            Some((release, thread))
        } else {
            tracing::warn!("could not create the TurnByTurn mutex: the DLL will not see the manual pause");
            None
        }
    }
}
