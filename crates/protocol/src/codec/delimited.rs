//! Frames terminated by a delimiter: Vox Deorum's `!@#$%^!`, or `\n` for JSON
//! lines.

use bytes::{Buf, Bytes, BytesMut};
use memchr::memmem::Finder;
use tokio_util::codec::Decoder;

use super::FrameError;

/// Cuts a stream at a (possibly multi-byte) delimiter.
///
/// The search resumes where the previous one stopped, so a large frame that
/// arrives in many reads is scanned once, not once per read. A frame that
/// grows past the maximum is discarded while it streams in, keeping memory
/// bounded, and reported when its delimiter finally arrives.
#[derive(Debug)]
pub struct DelimitedCodec {
    finder: Finder<'static>,
    max_frame: usize,
    /// Lines mode: strip a trailing `\r`, refuse payloads containing `\n`.
    lines: bool,
    /// Bytes of `buf` already known to hold no delimiter start.
    scanned: usize,
    /// Bytes dropped so far of a frame that is over the limit.
    discarded: Option<usize>,
}

impl DelimitedCodec {
    pub fn new(delimiter: &[u8], max_frame: usize) -> Self {
        assert!(!delimiter.is_empty(), "a delimiter has at least one byte");
        Self {
            finder: Finder::new(delimiter).into_owned(),
            max_frame,
            lines: false,
            scanned: 0,
            discarded: None,
        }
    }

    /// JSON lines: one frame per `\n`, blank lines ignored.
    pub fn lines(max_frame: usize) -> Self {
        Self { lines: true, ..Self::new(b"\n", max_frame) }
    }

    fn delimiter(&self) -> &[u8] {
        self.finder.needle()
    }
}

impl Decoder for DelimitedCodec {
    type Item = Result<Bytes, FrameError>;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        let delimiter_len = self.delimiter().len();
        loop {
            let Some(offset) = self.finder.find(&buf[self.scanned..]) else {
                // Keep the last delimiter_len - 1 bytes: they may begin a delimiter.
                let tail = delimiter_len - 1;
                if self.discarded.is_some() || buf.len() > self.max_frame + tail {
                    let drop = buf.len().saturating_sub(tail);
                    buf.advance(drop);
                    *self.discarded.get_or_insert(0) += drop;
                    self.scanned = 0;
                } else {
                    self.scanned = buf.len().saturating_sub(tail);
                }
                return Ok(None);
            };
            let end = self.scanned + offset;
            self.scanned = 0;
            let mut frame = buf.split_to(end).freeze();
            buf.advance(delimiter_len);
            if let Some(dropped) = self.discarded.take() {
                return Ok(Some(Err(FrameError::TooLarge { size: dropped + end, max: self.max_frame })));
            }
            if frame.len() > self.max_frame {
                return Ok(Some(Err(FrameError::TooLarge { size: frame.len(), max: self.max_frame })));
            }
            if self.lines && frame.last() == Some(&b'\r') {
                frame.truncate(frame.len() - 1);
            }
            if frame.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(Ok(frame)));
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        self.scanned = 0;
        if let Some(dropped) = self.discarded.take() {
            let size = dropped + buf.len();
            buf.clear();
            return Ok(Some(Err(FrameError::TooLarge { size, max: self.max_frame })));
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            buf.clear();
            return Ok(None);
        }
        let len = buf.len();
        buf.clear();
        Ok(Some(Err(FrameError::Truncated { len })))
    }
}

impl DelimitedCodec {
    /// Appends `payload` and the delimiter. A JSON payload that happens to
    /// contain the delimiter inside a string (an argument text, say) would
    /// otherwise be cut in two by the receiver; its first byte is written as
    /// the equivalent JSON escape `\u00XX` instead.
    pub fn encode(&self, payload: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        if payload.len() > self.max_frame {
            return Err(FrameError::TooLarge { size: payload.len(), max: self.max_frame });
        }
        let delimiter = self.delimiter();
        if self.finder.find(payload).is_none() {
            dst.reserve(payload.len() + delimiter.len());
            dst.extend_from_slice(payload);
        } else {
            // Only a punctuation byte that JSON never uses outside strings can
            // be escaped without changing the document.
            let first = delimiter[0];
            if self.lines || !first.is_ascii_punctuation() || b"\"\\{}[],:-+.".contains(&first) {
                return Err(FrameError::DelimiterInPayload);
            }
            let mut rest = payload;
            while let Some(at) = self.finder.find(rest) {
                dst.extend_from_slice(&rest[..at]);
                dst.extend_from_slice(format!("\\u{:04x}", first).as_bytes());
                rest = &rest[at + 1..];
            }
            dst.extend_from_slice(rest);
        }
        dst.extend_from_slice(self.finder.needle());
        Ok(())
    }
}
