//! One connection to a game: frames in, frames out, until either side stops.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::StreamExt;
use gamebridge_hub::{Game, Outbound, SessionGuard};
use gamebridge_protocol::{ErrorBody, ErrorCode, FrameCodec, Framing, GameMessage};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::GameStream;
use crate::{Protocol, StreamOptions};

/// Messages waiting to be written; a full queue makes callers wait (each
/// within its own deadline) instead of dropping messages.
const OUTBOUND_QUEUE: usize = 1024;
/// Writes are coalesced up to this many bytes.
const WRITE_BATCH: usize = 256 * 1024;

/// Why a connection ended.
#[derive(Debug)]
pub enum Ended {
    ClosedByGame,
    ReadFailed(std::io::Error),
    WriteFailed(std::io::Error),
    Shutdown,
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::ClosedByGame => f.write_str("closed by the game"),
            Ended::ReadFailed(error) => write!(f, "read failed: {error}"),
            Ended::WriteFailed(error) => write!(f, "write failed: {error}"),
            Ended::Shutdown => f.write_str("bridge shutting down"),
        }
    }
}

/// The game's side of a link, as two halves.
pub type GameReader = Box<dyn AsyncRead + Send + Unpin>;
pub type GameWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// Serves one connected stream until it ends. While it runs the game is
/// attached to the hub; when it returns, every call still pending on it has
/// already failed with `DLL_DISCONNECTED`.
pub async fn serve_connection(
    game: &Arc<Game>,
    stream: Box<dyn GameStream>,
    peer: &(dyn fmt::Display + Sync),
    options: &StreamOptions,
    shutdown: &CancellationToken,
) -> Ended {
    let (reader, writer) = tokio::io::split(stream);
    serve_halves(game, Box::new(reader), Box::new(writer), peer, options, shutdown).await
}

/// [`serve_connection`] for a reader and writer that are separate already
/// (a FIFO pair). Both are dropped before the session is detached, so a
/// half's `Drop` can clean up before the hub hears the game left.
pub async fn serve_halves(
    game: &Arc<Game>,
    reader: GameReader,
    writer: GameWriter,
    peer: &(dyn fmt::Display + Sync),
    options: &StreamOptions,
    shutdown: &CancellationToken,
) -> Ended {
    let (outbound, queue) = mpsc::channel(OUTBOUND_QUEUE);
    let session = game.attach(outbound);
    // Logged once calls can flow, so the line is true when someone reads it.
    tracing::info!(game = game.name(), %peer, "game connected");
    let ended = match &options.protocol {
        Protocol::Bridge => {
            let codec = FrameCodec::new(&options.framing, options.max_frame);
            let write_codec = FrameCodec::new(&options.framing, options.max_frame);
            tokio::select! {
                ended = read_frames(reader, codec, &session) => ended,
                ended = write_frames(writer, write_codec, queue, &session) => ended,
                () = shutdown.cancelled() => Ended::Shutdown,
            }
        }
        Protocol::Step(step) => {
            let Framing::LengthPrefixed(width) = options.framing else {
                unreachable!("the spec parser requires a length prefix for protocol=step")
            };
            let frames = super::step::StepFraming { width, max_frame: options.max_frame };
            super::step::serve_steps(&session, reader, writer, frames, step, queue, shutdown).await
        }
    };
    drop(session);
    ended
}

async fn read_frames(reader: GameReader, codec: FrameCodec, session: &SessionGuard) -> Ended {
    let mut frames = FramedRead::with_capacity(reader, codec, 64 * 1024);
    let mut warnings = WarningLimiter::default();
    let game = session.game().name();
    while let Some(item) = frames.next().await {
        match item {
            Ok(Ok(frame)) => match GameMessage::parse(&frame) {
                Ok(message) => session.receive(message),
                Err(error) => {
                    session.record_bad_frame();
                    warnings.warn(|| {
                        let preview = String::from_utf8_lossy(&frame[..frame.len().min(120)]).into_owned();
                        tracing::warn!(game, %error, preview, "dropped a frame that is not a valid message");
                    });
                }
            },
            Ok(Err(error)) => {
                session.record_bad_frame();
                warnings.warn(|| tracing::warn!(game, %error, "dropped a frame"));
            }
            Err(error) => return Ended::ReadFailed(error),
        }
    }
    Ended::ClosedByGame
}

async fn write_frames(
    mut writer: GameWriter,
    codec: FrameCodec,
    mut queue: mpsc::Receiver<Outbound>,
    session: &SessionGuard,
) -> Ended {
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    let mut json = Vec::with_capacity(1024);
    let mut barriers = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        while let Some(outbound) = next.take() {
            if let Outbound::Barrier(written) = outbound {
                barriers.push(written);
                next = queue.try_recv().ok();
                continue;
            }
            for message in outbound.messages().iter().filter(|message| session.still_wanted(message)) {
                json.clear();
                serde_json::to_writer(&mut json, message).expect("bridge messages always serialize");
                if let Err(error) = codec.encode(&json, &mut buffer) {
                    tracing::warn!(game = session.game().name(), %error, "a message could not be framed; not sent");
                    let reason = format!("the message could not be sent to the game: {error}");
                    session.fail_unsent(message, ErrorBody::new(ErrorCode::SERIALIZATION_ERROR, reason));
                }
            }
            if buffer.len() < WRITE_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if let Err(error) = writer.write_all(&buffer).await {
            return Ended::WriteFailed(error);
        }
        if let Err(error) = writer.flush().await {
            return Ended::WriteFailed(error);
        }
        buffer.clear();
        // What came before each barrier is written now.
        barriers.clear();
    }
    Ended::Shutdown
}

/// Logs at most one warning per second, so a game spewing garbage cannot
/// flood the log; every dropped frame is still counted in `/stats`.
#[derive(Default)]
pub(super) struct WarningLimiter {
    last: Option<Instant>,
}

impl WarningLimiter {
    pub(super) fn warn(&mut self, log: impl FnOnce()) {
        if self.last.is_none_or(|last| last.elapsed() >= Duration::from_secs(1)) {
            self.last = Some(Instant::now());
            log();
        }
    }
}
