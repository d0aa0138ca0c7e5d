//! Where a stream link connects: a local socket (Unix socket, or Windows
//! named pipe) or a TCP address.

use std::fmt;
use std::io;
use std::path::PathBuf;

use interprocess::local_socket::tokio::Stream as LocalStream;
use interprocess::local_socket::{ConnectOptions, GenericFilePath, ToFsName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A connected byte stream to a game.
pub trait GameStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> GameStream for T {}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket path, or on Windows a named pipe path (`\\.\pipe\…`).
    /// Both go through `interprocess`, so one code path serves both systems.
    Local(PathBuf),
    /// `HOST:PORT`.
    Tcp(String),
}

impl Endpoint {
    /// The node-ipc naming the Vox Deorum DLL uses for pipe id `id`.
    pub fn pipe(id: &str) -> Self {
        Endpoint::Local(gamebridge_protocol::naming::node_ipc_path(id))
    }

    pub async fn connect(&self) -> io::Result<Box<dyn GameStream>> {
        match self {
            Endpoint::Local(path) => {
                let name = path.as_os_str().to_fs_name::<GenericFilePath>()?;
                let stream: LocalStream = ConnectOptions::new().name(name).connect_tokio().await?;
                Ok(Box::new(stream))
            }
            Endpoint::Tcp(address) => {
                let stream = TcpStream::connect(address).await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream))
            }
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Local(path) if cfg!(windows) => write!(f, "pipe:{}", path.display()),
            Endpoint::Local(path) => write!(f, "unix:{}", path.display()),
            Endpoint::Tcp(address) => write!(f, "tcp:{address}"),
        }
    }
}
