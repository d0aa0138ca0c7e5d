//! TCP listeners with a deep accept queue.
//!
//! `TcpListener::bind` asks for the standard library's backlog (128
//! connections). When more games or clients connect at once than the queue
//! holds (a training run starting 500 emulators, say), Linux falls back to
//! SYN cookies, and a connection whose first segment was dropped with the
//! full queue can start after it: the emulator's 2-byte handshake was lost
//! this way and its first frame's length read as the handshake. A queue as
//! deep as the system allows (`net.core.somaxconn`) keeps every
//! connection's first bytes.

use std::io;

use tokio::net::{TcpListener, TcpSocket};

/// The accept queue asked for; the system caps it at its `somaxconn`.
const BACKLOG: u32 = 4096;

/// Binds the first address `address` (`HOST:PORT`) resolves to.
pub async fn bind_tcp(address: impl tokio::net::ToSocketAddrs) -> io::Result<TcpListener> {
    let mut last_error = None;
    for address in tokio::net::lookup_host(address).await? {
        let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(address).and_then(|()| socket.listen(BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the address resolves to nothing")))
}
