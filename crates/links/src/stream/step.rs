//! The step protocol of lockstep games (Tempest on MAME): the game sends a
//! frame every tick and waits for one reply. Each frame is a call of the
//! agent function `step`; whatever happens, the game gets a reply within the
//! step deadline, so it never hangs.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use gamebridge_hub::{Outbound, SessionGuard};
use gamebridge_protocol::codec::{FrameError, LengthPrefixedCodec, PrefixWidth};
use gamebridge_protocol::{ErrorBody, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::connection::{Ended, GameReader, GameWriter, WarningLimiter};
use crate::StepOptions;

/// How long a game that connected has to send its handshake (the original
/// server's 5 s).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How frames are cut: a length prefix of this width, at most this long.
pub struct StepFraming {
    pub width: PrefixWidth,
    pub max_frame: usize,
}

pub async fn serve_steps(
    session: &SessionGuard,
    mut reader: GameReader,
    mut writer: GameWriter,
    framing: StepFraming,
    step: &StepOptions,
    mut calls: mpsc::Receiver<Outbound>,
    shutdown: &CancellationToken,
) -> Ended {
    let game = session.game();
    if step.handshake > 0 {
        let mut handshake = vec![0; step.handshake];
        tokio::select! {
            read = tokio::time::timeout(HANDSHAKE_TIMEOUT, reader.read_exact(&mut handshake)) => match read {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Ended::ReadFailed(error),
                // As the original server: a game that says nothing is let go
                // rather than held as an instance for ever.
                Err(_) => return Ended::ReadFailed(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no {}-byte handshake within {} s", step.handshake, HANDSHAKE_TIMEOUT.as_secs()),
                )),
            },
            () = shutdown.cancelled() => return Ended::Shutdown,
        }
    }
    let mut frames =
        FramedRead::with_capacity(reader, LengthPrefixedCodec::new(framing.width, framing.max_frame), 8192);
    let fallback = Bytes::from(step.fallback_reply());
    let mut out = BytesMut::with_capacity(256);
    let mut warnings = WarningLimiter::default();
    let mut seq = 0;
    loop {
        let frame = tokio::select! {
            item = frames.next() => match item {
                None => return Ended::ClosedByGame,
                Some(Err(error)) => return Ended::ReadFailed(error),
                Some(Ok(frame)) => frame,
            },
            Some(outbound) = calls.recv() => {
                refuse_calls(session, &outbound);
                continue;
            }
            () = shutdown.cancelled() => return Ended::Shutdown,
        };
        // The game left inside a frame: there is no one to reply to.
        if let Err(error @ FrameError::Truncated { .. }) = &frame {
            session.record_bad_frame();
            tracing::debug!(game = game.name(), %error, "the game closed inside a frame");
            return Ended::ClosedByGame;
        }
        seq += 1;
        // A frame that could not be read still gets a reply: the game waits for one.
        let answer = match frame.map_err(|error| error.to_string()).and_then(|frame| fits(step, frame)) {
            Ok(frame) => ask(session, seq, frame, deadline(session, step)).await,
            Err(why) => {
                session.record_bad_frame();
                Err(ErrorBody::new(ErrorCode::SERIALIZATION_ERROR, why))
            }
        };
        let reply = match answer {
            Ok(reply) if step.reply_size.is_none_or(|size| reply.len() == size) => {
                game.record_step(false);
                reply
            }
            Ok(reply) => {
                warnings.warn(|| {
                    tracing::warn!(game = game.name(), got = reply.len(), expected = ?step.reply_size, "the agent's reply has the wrong size; the default reply was sent")
                });
                let expected = step.reply_size.unwrap_or_default();
                let why = format!("the reply has {} bytes; the game takes {expected}", reply.len());
                defaulted(session, seq, ErrorBody::new(ErrorCode::INVALID_ARGUMENTS, why), &fallback)
            }
            Err(error) => {
                warnings.warn(|| tracing::warn!(game = game.name(), %error, "no reply from the agent; the default reply was sent"));
                defaulted(session, seq, error, &fallback)
            }
        };
        out.clear();
        if step.reply_size.is_none() {
            match framing.width {
                PrefixWidth::U16 => out.put_u16(reply.len().min(usize::from(u16::MAX)) as u16),
                PrefixWidth::U32 => out.put_u32(reply.len() as u32),
            }
        }
        out.extend_from_slice(&reply);
        if let Err(error) = writer.write_all(&out).await {
            return Ended::WriteFailed(error);
        }
    }
}

/// The default reply for frame `seq`, counted as a miss, and the agent
/// told of it.
fn defaulted(session: &SessionGuard, seq: u64, error: ErrorBody, fallback: &Bytes) -> Bytes {
    let game = session.game();
    game.record_step(true);
    game.step_defaulted(seq, error, fallback.clone());
    fallback.clone()
}

/// The frame, if it fits the game's frame spec (or there is none): a frame
/// that does not is the game's mistake, and the agent is not asked.
fn fits(step: &StepOptions, frame: Bytes) -> Result<Bytes, String> {
    match &step.frames {
        Some(spec) => spec.frame.check(&frame).map(|()| frame),
        None => Ok(frame),
    }
}

/// The step deadline, or the hold bound when the stepping agent asked to be
/// waited for.
fn deadline(session: &SessionGuard, step: &StepOptions) -> Duration {
    match step.hold {
        Some(hold) if session.game().step_held() => hold,
        _ => step.deadline,
    }
}

/// The agent's reply to one frame, within the step deadline.
async fn ask(
    session: &SessionGuard,
    seq: u64,
    frame: bytes::Bytes,
    deadline: Duration,
) -> Result<bytes::Bytes, ErrorBody> {
    match tokio::time::timeout(deadline, session.game().step(seq, frame)).await {
        Ok(answer) => answer,
        Err(_) => Err(ErrorBody::new(
            ErrorCode::CALL_TIMEOUT,
            format!("the agent missed the {} ms step deadline", deadline.as_millis()),
        )),
    }
}

/// A lockstep game runs no calls: agents get a clear error at once.
fn refuse_calls(session: &SessionGuard, outbound: &Outbound) {
    for message in outbound.messages() {
        let error =
            ErrorBody::new(ErrorCode::INVALID_FUNCTION, "a lockstep game (protocol=step) takes no calls");
        session.fail_unsent(message, error);
    }
}
