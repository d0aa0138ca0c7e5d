//! Frames preceded by their length as a big-endian u16 or u32 (the MAME
//! scripts' framing).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::Decoder;

use super::FrameError;

/// Width of the length prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefixWidth {
    U16,
    U32,
}

impl PrefixWidth {
    fn bytes(self) -> usize {
        match self {
            PrefixWidth::U16 => 2,
            PrefixWidth::U32 => 4,
        }
    }

    fn max_len(self) -> usize {
        match self {
            PrefixWidth::U16 => usize::from(u16::MAX),
            PrefixWidth::U32 => u32::MAX as usize,
        }
    }
}

/// Cuts a stream into length-prefixed frames. A frame announced larger than
/// the maximum is skipped as its bytes arrive, never buffered.
#[derive(Debug)]
pub struct LengthPrefixedCodec {
    width: PrefixWidth,
    max_frame: usize,
    /// Bytes still to skip of an oversized frame.
    skipping: usize,
}

impl LengthPrefixedCodec {
    pub fn new(width: PrefixWidth, max_frame: usize) -> Self {
        Self { width, max_frame, skipping: 0 }
    }
}

impl Decoder for LengthPrefixedCodec {
    type Item = Result<Bytes, FrameError>;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        if self.skipping > 0 {
            let skip = self.skipping.min(buf.len());
            buf.advance(skip);
            self.skipping -= skip;
            if self.skipping > 0 {
                return Ok(None);
            }
        }
        let prefix = self.width.bytes();
        if buf.len() < prefix {
            return Ok(None);
        }
        let len = match self.width {
            PrefixWidth::U16 => usize::from(u16::from_be_bytes([buf[0], buf[1]])),
            PrefixWidth::U32 => u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize,
        };
        if len > self.max_frame {
            buf.advance(prefix);
            self.skipping = len;
            let skip = self.skipping.min(buf.len());
            buf.advance(skip);
            self.skipping -= skip;
            return Ok(Some(Err(FrameError::TooLarge { size: len, max: self.max_frame })));
        }
        if buf.len() < prefix + len {
            buf.reserve(prefix + len - buf.len());
            return Ok(None);
        }
        buf.advance(prefix);
        Ok(Some(Ok(buf.split_to(len).freeze())))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        self.skipping = 0;
        if buf.is_empty() {
            return Ok(None);
        }
        let len = buf.len();
        buf.clear();
        Ok(Some(Err(FrameError::Truncated { len })))
    }
}

impl LengthPrefixedCodec {
    pub fn encode(&self, payload: &[u8], dst: &mut BytesMut) -> Result<(), FrameError> {
        let max = self.max_frame.min(self.width.max_len());
        if payload.len() > max {
            return Err(FrameError::TooLarge { size: payload.len(), max });
        }
        dst.reserve(self.width.bytes() + payload.len());
        match self.width {
            PrefixWidth::U16 => dst.put_u16(payload.len() as u16),
            PrefixWidth::U32 => dst.put_u32(payload.len() as u32),
        }
        dst.extend_from_slice(payload);
        Ok(())
    }
}
