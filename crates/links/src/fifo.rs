//! FIFO pairs: `PREFIX_output` (game → bridge) and `PREFIX_input` (bridge →
//! game), the only IPC some emulator scripts have (plain `io.open`).
//!
//! The seed's FIFO version deadlocked because both sides opened the same end
//! first, and never recovered from an emulator restart. Here the bridge
//! opens its writing end read-write, which never blocks, and waits only for
//! the game to open `PREFIX_output`, so no open order on the game's side can
//! deadlock. When the game closes its end (emulator restart) the bridge
//! drops what it had written for the old game and waits for the next one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gamebridge_hub::{Game, LinkState};
use tokio_util::sync::CancellationToken;

use crate::StreamOptions;

pub async fn serve(game: Arc<Game>, prefix: PathBuf, options: StreamOptions, shutdown: CancellationToken) {
    let output = with_suffix(&prefix, "_output");
    let input = with_suffix(&prefix, "_input");
    if let Err(error) = imp::serve(&game, &output, &input, &options, &shutdown).await {
        tracing::error!(game = game.name(), %error, "the FIFO link stopped");
        game.set_state(LinkState::Stopped, Some(error.to_string()));
    }
    for fifo in [&output, &input] {
        let _ = std::fs::remove_file(fifo);
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
mod imp {
    use std::io;
    use std::path::{Path, PathBuf};
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use gamebridge_hub::{Game, LinkState};
    use nix::sys::stat::Mode;
    use tokio::io::AsyncWrite;
    use tokio::net::unix::pipe;
    use tokio_util::sync::CancellationToken;

    use crate::StreamOptions;
    use crate::stream::serve_halves;

    pub async fn serve(
        game: &Arc<Game>,
        output: &Path,
        input: &Path,
        options: &StreamOptions,
        shutdown: &CancellationToken,
    ) -> io::Result<()> {
        for fifo in [output, input] {
            // Replace a stale FIFO (or file) so nobody else's data is read.
            let _ = std::fs::remove_file(fifo);
            nix::unistd::mkfifo(fifo, Mode::S_IRUSR | Mode::S_IWUSR).map_err(io::Error::from)?;
        }
        tracing::info!(game = game.name(), output = %output.display(), input = %input.display(), "FIFO pair ready");
        // Holding the game's input open read-write means opening it never
        // blocks, and the game can open its end whenever it likes.
        let keep_input_open = pipe::OpenOptions::new().read_write(true).open_sender(input)?;
        loop {
            game.set_state(
                LinkState::Listening,
                Some(format!("waiting for the game to open {}", output.display())),
            );
            let reader = tokio::select! {
                opened = wait_for_writer(output) => opened?,
                () = shutdown.cancelled() => {
                    release_waiting_open(output);
                    return Ok(());
                }
            };
            let writer = InputWriter::open(input)?;
            let peer = format!("fifo:{}", output.display());
            let ended =
                serve_halves(game, Box::new(reader), Box::new(writer), &peer, options, shutdown).await;
            tracing::info!(game = game.name(), %ended, "the game closed the FIFO pair; waiting for it to reopen");
            if shutdown.is_cancelled() {
                break;
            }
        }
        drop(keep_input_open);
        Ok(())
    }

    /// Opens `output` for reading; the open returns once the game opens it
    /// for writing. It waits on a thread of its own rather than tokio's
    /// blocking pool, which a runtime waits for when it is dropped: a game
    /// that never comes back must not hold up the bridge's exit.
    async fn wait_for_writer(output: &Path) -> io::Result<pipe::Receiver> {
        let path = output.to_owned();
        let (opened, waiting) = tokio::sync::oneshot::channel();
        std::thread::Builder::new().name("gamebridge-fifo-open".into()).spawn(move || {
            let _ = opened.send(std::fs::File::open(path));
        })?;
        let file = waiting.await.map_err(|_| io::Error::other("the FIFO opener thread stopped"))??;
        pipe::Receiver::from_file(file)
    }

    /// A blocked `open` for reading returns when a writer appears: be that
    /// writer for a moment so the waiting thread can finish.
    fn release_waiting_open(output: &Path) {
        let _ = pipe::OpenOptions::new().open_sender(output);
    }

    /// The bridge's end of `PREFIX_input` for one game. `serve_halves`
    /// drops it when the game's session ends, before it detaches the
    /// session, and it then discards whatever the game left unread: the
    /// callers of those calls are about to be told the game disconnected, so
    /// the calls must never reach the next game to open the pair, which may
    /// well read its input before the bridge sees it open the other end.
    struct InputWriter {
        pipe: pipe::Sender,
        path: PathBuf,
    }

    impl InputWriter {
        fn open(path: &Path) -> io::Result<Self> {
            let pipe = pipe::OpenOptions::new().read_write(true).open_sender(path)?;
            Ok(Self { pipe, path: path.to_owned() })
        }
    }

    impl AsyncWrite for InputWriter {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.pipe).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.pipe).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.pipe).poll_shutdown(cx)
        }
    }

    impl Drop for InputWriter {
        fn drop(&mut self) {
            if let Err(error) = discard_unread(&self.path) {
                tracing::warn!(fifo = %self.path.display(), %error, "could not discard what the game left unread");
            }
        }
    }

    /// Reads and drops what waits in the FIFO now, with plain non-blocking
    /// `read`s: tokio's `try_read` reads nothing from a pipe the reactor has
    /// not yet seen become readable, which a freshly opened one never has.
    fn discard_unread(fifo: &Path) -> io::Result<()> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let mut unread = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(fifo)?;
        let mut buffer = [0u8; 4096];
        loop {
            match unread.read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use std::io;
    use std::path::Path;
    use std::sync::Arc;

    use gamebridge_hub::Game;
    use tokio_util::sync::CancellationToken;

    use crate::StreamOptions;

    pub async fn serve(
        _game: &Arc<Game>,
        _output: &Path,
        _input: &Path,
        _options: &StreamOptions,
        _shutdown: &CancellationToken,
    ) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "FIFO links need a Unix system; use pipe: on Windows"))
    }
}
