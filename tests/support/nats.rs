//! A real `nats-server` (Debian's `nats-server` package; `.ci/deps` installs
//! it) on a free loopback port, with JetStream storing in a temporary
//! directory, stopped when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct NatsServer {
    pub url: String,
    port: u16,
    child: Option<Child>,
    store: tempfile::TempDir,
    extra: Vec<String>,
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server with `extra` arguments (`--user`, say).
    pub async fn start_with(extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let store = tempfile::tempdir().unwrap();
        let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
        let child = spawn(port, store.path(), &extra).await;
        Self { url: format!("nats://127.0.0.1:{port}"), port, child: Some(child), store, extra }
    }

    /// Kills the server and starts it again on the same port and store.
    pub async fn restart(&mut self) {
        self.stop();
        self.start_again().await;
    }

    /// Kills the server (SIGKILL).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the stopped server again on the same port and store.
    pub async fn start_again(&mut self) {
        self.child = Some(spawn(self.port, self.store.path(), &self.extra).await);
    }
}

async fn spawn(port: u16, store: &std::path::Path, extra: &[String]) -> Child {
    let child = Command::new(program())
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server runs (apt-get install nats-server, or bash .ci/deps)");
    super::within("nats-server to accept connections", async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            // Nothing to await but the server's start: poll its port.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    child
}

/// `nats-server` from the PATH, or where Debian puts it (`/usr/sbin`, not
/// on every user's PATH).
fn program() -> &'static str {
    const DEBIAN: &str = "/usr/sbin/nats-server";
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("nats-server").is_file()));
    if on_path || !std::path::Path::new(DEBIAN).is_file() { "nats-server" } else { DEBIAN }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
