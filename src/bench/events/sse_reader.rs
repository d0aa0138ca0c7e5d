//! A lean SSE client for the events benchmark: a raw TCP stream, a GET
//! written by hand, HTTP/1.1 chunked bodies undone as they stream by, and
//! of the events only their `id:` lines found, with memchr's vectorised
//! search for `\nid: `. A general HTTP client (reqwest, on hyper) costs
//! several times what the bridge spends per event, and so did handling the
//! stream line by line: with either, the benchmark measured its reader.
//! The ids must follow each other: a gap, whether the bridge skipped events
//! or reported them lagged (a lag notice carries no id), counts as lost.
//!
//! Every reader on a thread reads into that thread's one scratch buffer and
//! scans it at once, so what the kernel just copied is still in cache: with
//! a buffer per client, a hundred clients' buffers are more than the cache
//! holds, and scanning them costs a trip to memory per line.

use std::cell::RefCell;
use std::net::SocketAddr;

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes asked of the kernel per read, into the thread's scratch buffer.
const READ_SIZE: usize = 128 << 10;

/// The longest response head accepted.
const MAX_HEAD: usize = 16 << 10;

thread_local! {
    /// What the readers on this thread read into, one at a time.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_SIZE]);
}

/// What a reader has seen of the event stream so far.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    /// Events with an `id:` received.
    pub received: u64,
    /// Ids skipped between consecutive events (0 when the stream is complete).
    pub lost: u64,
    /// The last id received.
    pub last: Option<u64>,
}

/// One client of `/events`.
pub struct SseReader {
    stream: TcpStream,
    body: Body,
    /// The start of a line that the bytes read so far do not complete.
    partial: Vec<u8>,
    connected: bool,
    tally: Tally,
}

/// How the response body is framed.
enum Body {
    /// `Transfer-Encoding: chunked`: this many data bytes are left of the
    /// current chunk (then its CRLF), or a chunk-size line comes next, of
    /// which `size_line` holds what has arrived.
    Chunked { data_left: usize, crlf_left: usize, size_line: Vec<u8> },
    /// Until the connection closes.
    Identity,
}

impl SseReader {
    /// Connects, sends `GET path` and waits for the stream's `connected`
    /// event, so the client is subscribed when this returns.
    pub async fn connect(addr: SocketAddr, path: &str) -> anyhow::Result<Self> {
        let mut stream = TcpStream::connect(addr).await.context("could not connect to the bridge")?;
        stream.set_nodelay(true)?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut reader = Self {
            stream,
            body: Body::Identity,
            partial: Vec::new(),
            connected: false,
            tally: Tally::default(),
        };
        reader.read_head().await?;
        while !reader.connected {
            reader.read_more().await?;
        }
        Ok(reader)
    }

    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Reads until `count` events have arrived since the reader connected.
    pub async fn read_events(&mut self, count: u64) -> anyhow::Result<Tally> {
        while self.tally.received < count {
            self.read_more().await?;
        }
        Ok(self.tally)
    }

    /// One read from the socket, with every complete line in it handled.
    /// Cancel-safe: it reads only once the socket is ready, and then
    /// without waiting.
    pub async fn read_more(&mut self) -> anyhow::Result<()> {
        loop {
            self.stream.readable().await?;
            let read = SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                match self.stream.try_read(&mut scratch) {
                    Ok(0) => bail!("the event stream ended early"),
                    Ok(read) => self.take(&scratch[..read]).map(|()| true),
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => Ok(false),
                    Err(error) => Err(error.into()),
                }
            })?;
            if read {
                return Ok(());
            }
        }
    }

    /// Gives up the stream without reading any more of it: what a stalled
    /// client does.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    /// Reads the status line and headers, and takes whatever body bytes came with them.
    async fn read_head(&mut self) -> anyhow::Result<()> {
        let mut head = Vec::new();
        let end = loop {
            if let Some(end) = head.windows(4).position(|window| window == b"\r\n\r\n") {
                break end;
            }
            ensure!(head.len() < MAX_HEAD, "the response head is too long");
            let read = self.stream.read_buf(&mut head).await?;
            ensure!(read > 0, "the bridge closed the connection before answering");
        };
        let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
        ensure!(
            text.starts_with("http/1.1 200"),
            "the bridge answered {}",
            text.lines().next().unwrap_or("")
        );
        if text.lines().any(|line| line.starts_with("transfer-encoding:") && line.contains("chunked")) {
            self.body = Body::Chunked { data_left: 0, crlf_left: 0, size_line: Vec::new() };
        }
        self.take(&head[end + 4..])
    }

    /// Takes bytes as they came from the socket: steps over the chunk
    /// framing and scans the body's lines.
    fn take(&mut self, mut bytes: &[u8]) -> anyhow::Result<()> {
        while !bytes.is_empty() {
            let body = match &mut self.body {
                Body::Identity => std::mem::take(&mut bytes),
                Body::Chunked { data_left, .. } if *data_left > 0 => {
                    let (body, rest) = bytes.split_at((*data_left).min(bytes.len()));
                    *data_left -= body.len();
                    bytes = rest;
                    body
                }
                Body::Chunked { crlf_left, .. } if *crlf_left > 0 => {
                    let skipped = (*crlf_left).min(bytes.len());
                    *crlf_left -= skipped;
                    bytes = &bytes[skipped..];
                    continue;
                }
                Body::Chunked { data_left, crlf_left, size_line } => {
                    let Some(end) = memchr::memchr(b'\n', bytes) else {
                        ensure!(size_line.len() + bytes.len() < MAX_HEAD, "a malformed chunk size");
                        size_line.extend_from_slice(bytes);
                        return Ok(());
                    };
                    size_line.extend_from_slice(&bytes[..end]);
                    let size = chunk_size(size_line)?;
                    ensure!(size > 0, "the event stream ended");
                    (*data_left, *crlf_left) = (size, 2);
                    size_line.clear();
                    bytes = &bytes[end + 1..];
                    continue;
                }
            };
            if self.connected {
                scan_ids(body, &mut self.partial, &mut self.tally)?;
            } else {
                let Self { partial, connected, tally, .. } = self;
                scan_lines(body, partial, &mut |line| handle_line(line, connected, tally))?;
            }
        }
        Ok(())
    }
}

/// Hands `handle` every line completed in `body`, the first one joined to
/// what `partial` held; keeps the incomplete end in `partial`.
fn scan_lines(
    body: &[u8],
    partial: &mut Vec<u8>,
    handle: &mut impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body) {
        if start == 0 && !partial.is_empty() {
            partial.extend_from_slice(&body[..end]);
            handle(partial)?;
            partial.clear();
        } else {
            handle(&body[start..end])?;
        }
        start = end + 1;
    }
    partial.extend_from_slice(&body[start..]);
    Ok(())
}

/// Counts the `id:` lines completed in `body`, the first one joined to what
/// `partial` held; keeps the incomplete last line in `partial`. Lines of
/// any other kind are stepped over unread.
fn scan_ids(body: &[u8], partial: &mut Vec<u8>, tally: &mut Tally) -> anyhow::Result<()> {
    let Some(first_end) = memchr::memchr(b'\n', body) else {
        partial.extend_from_slice(body);
        return Ok(());
    };
    if partial.is_empty() {
        count_id_line(&body[..first_end], tally)?;
    } else {
        partial.extend_from_slice(&body[..first_end]);
        count_id_line(partial, tally)?;
        partial.clear();
    }
    // From the first line's end to the last line's: every line in it is whole.
    let last_end = memchr::memrchr(b'\n', body).expect("a newline was found");
    let whole = &body[first_end..=last_end];
    for at in memchr::memmem::find_iter(whole, ID_LINE) {
        let digits = &whole[at + ID_LINE.len()..];
        let end = memchr::memchr(b'\n', digits).expect("whole lines end in a newline");
        record(tally, parse_id(&digits[..end])?);
    }
    partial.extend_from_slice(&body[last_end + 1..]);
    Ok(())
}

/// What starts every `id:` line, with the line break before it.
const ID_LINE: &[u8] = b"\nid: ";

/// Counts `line` if it is an `id:` line.
fn count_id_line(line: &[u8], tally: &mut Tally) -> anyhow::Result<()> {
    if let Some(id) = line.strip_prefix(&ID_LINE[1..]) {
        record(tally, parse_id(id)?);
    }
    Ok(())
}

/// Counts an `id:` line, fails on a lag notice, notes the greeting.
#[inline]
fn handle_line(line: &[u8], connected: &mut bool, tally: &mut Tally) -> anyhow::Result<()> {
    match line.first() {
        Some(b'i') => {
            if let Some(id) = line.strip_prefix(b"id: ") {
                record(tally, parse_id(id)?);
            }
        }
        Some(b'e') if line == b"event: lagged" => bail!("a client that kept up was told it lagged"),
        Some(b'e') if line == b"event: connected" => *connected = true,
        _ => {}
    }
    Ok(())
}

/// Counts one more event and any ids skipped before it.
fn record(tally: &mut Tally, id: u64) {
    if let Some(previous) = tally.last {
        tally.lost += id.saturating_sub(previous + 1);
    }
    tally.last = Some(id);
    tally.received += 1;
}

/// The hex size at the start of a chunk-size line (`1a2b;ext\r`).
fn chunk_size(line: &[u8]) -> anyhow::Result<usize> {
    let digits = line.iter().take_while(|byte| byte.is_ascii_hexdigit()).count();
    ensure!(digits > 0 && digits <= 15, "a malformed chunk size");
    let text = std::str::from_utf8(&line[..digits])?;
    Ok(usize::from_str_radix(text, 16)?)
}

/// A decimal id, without allocating.
fn parse_id(digits: &[u8]) -> anyhow::Result<u64> {
    ensure!(!digits.is_empty() && digits.len() <= 19, "a malformed event id");
    let mut id = 0;
    for &digit in digits {
        let value = digit.wrapping_sub(b'0');
        ensure!(value <= 9, "a malformed event id");
        id = id * 10 + u64::from(value);
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cut_anywhere_are_joined_again() {
        let stream = b"id: 1\nevent: message\ndata: {}\n\nid: 2\nevent: message\ndata: {\"a\":1}\n\n";
        for cut in 0..stream.len() {
            let (mut partial, mut lines) = (Vec::new(), Vec::new());
            for piece in [&stream[..cut], &stream[cut..]] {
                scan_lines(piece, &mut partial, &mut |line| {
                    lines.push(line.to_vec());
                    Ok(())
                })
                .unwrap();
            }
            assert_eq!(lines.len(), 8, "cut at {cut}");
            assert_eq!(lines[4], b"id: 2");
            assert!(partial.is_empty());
        }
    }

    #[test]
    fn ids_are_counted_wherever_the_stream_is_cut() {
        let stream =
            b"id: 1\nevent: message\ndata: {\"id: 7\"}\n\nid: 2\nevent: message\ndata: {}\n\nid: 3\n";
        for cut in 0..=stream.len() {
            for second_cut in cut..=stream.len() {
                let (mut partial, mut tally) = (Vec::new(), Tally::default());
                for piece in [&stream[..cut], &stream[cut..second_cut], &stream[second_cut..]] {
                    scan_ids(piece, &mut partial, &mut tally).unwrap();
                }
                assert_eq!(
                    (tally.received, tally.lost, tally.last),
                    (3, 0, Some(3)),
                    "cut at {cut}, {second_cut}"
                );
            }
        }
    }

    #[test]
    fn gaps_in_the_ids_are_counted() {
        let mut tally = Tally::default();
        [5, 6, 9, 10].into_iter().for_each(|id| record(&mut tally, id));
        assert_eq!((tally.received, tally.lost, tally.last), (4, 2, Some(10)));
    }

    #[test]
    fn ids_and_chunk_sizes_parse_without_panicking_on_junk() {
        assert_eq!(parse_id(b"12345").unwrap(), 12345);
        assert!(
            parse_id(b"12a").is_err() && parse_id(b"").is_err() && parse_id(b"99999999999999999999").is_err()
        );
        assert_eq!(chunk_size(b"1a2b;name=value\r").unwrap(), 0x1a2b);
        assert!(chunk_size(b"\r").is_err() && chunk_size(b"ffffffffffffffffff\r").is_err());
    }
}
