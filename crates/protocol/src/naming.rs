//! The node-ipc naming convention the Vox Deorum DLL and bridge use for
//! their pipes: id `vox-deorum-bridge` is the Windows named pipe
//! `\\.\pipe\tmp-app.vox-deorum-bridge`, and elsewhere the Unix socket
//! `/tmp/app.vox-deorum-bridge`.

use std::path::PathBuf;

/// The local socket path of node-ipc pipe `id` on this system.
pub fn node_ipc_path(id: &str) -> PathBuf {
    if cfg!(windows) { format!(r"\\.\pipe\tmp-app.{id}").into() } else { format!("/tmp/app.{id}").into() }
}
