//! Test support (feature `testing`): [`Broker`], a NATS server of the test's own that can be
//! killed and started again, for tests and benchmarks of broker outages.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test support: failing loudly is the point"
)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The variable naming the `nats-server` binary when it is not in a standard place.
pub const NATS_SERVER_VAR: &str = "WEKEZA_TEST_NATS_SERVER";

/// A `nats-server -js` child on its own port and storage directory; killed when dropped.
#[derive(Debug)]
pub struct Broker {
    port: u16,
    storage: tempfile::TempDir,
    child: Option<Child>,
}

impl Broker {
    /// The `nats-server` binary: [`NATS_SERVER_VAR`], else the usual install places; `None`
    /// when there is none.
    pub fn installed() -> Option<PathBuf> {
        std::env::var_os(NATS_SERVER_VAR)
            .map(PathBuf::from)
            .or_else(|| {
                [
                    "/usr/sbin/nats-server",
                    "/usr/bin/nats-server",
                    "/usr/local/bin/nats-server",
                ]
                .into_iter()
                .map(PathBuf::from)
                .find(|path| path.exists())
            })
    }

    /// The `nats-server` binary ([`Self::installed`]). Panics, saying so, when there is none: a
    /// caller asks for a broker only when NATS tests are on.
    pub fn binary() -> PathBuf {
        Self::installed().expect(
            "NATS is asked for, so nats-server must be installed (or named by WEKEZA_TEST_NATS_SERVER)",
        )
    }

    /// Starts a server with JetStream on a free port of 127.0.0.1 and a fresh storage
    /// directory, and waits until it listens.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut broker = Self {
            port,
            storage: tempfile::tempdir().unwrap(),
            child: None,
        };
        broker.restart();
        broker
    }

    /// Its client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and storage, and waits until it listens.
    pub fn restart(&mut self) {
        let child = Command::new(Self::binary())
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(self.storage.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not start on port {}", self.port);
    }

    /// Kills the server (SIGKILL: no goodbye to its clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}
