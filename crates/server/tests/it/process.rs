//! The `wekeza` binary as its own process, for tests that must kill it: started on a database
//! and a configuration file, killed with SIGKILL (no shutdown, no goodbye), and started again
//! on the same database, ports and configuration — or whose disk must fill up: the process's
//! file-size limit (`RLIMIT_FSIZE`, set with `prlimit`) can be lowered and raised while it runs,
//! and it ignores `SIGXFSZ`, so that a write past the limit fails as on a full disk instead of
//! killing it. Its log goes through a pipe, which no file-size limit stops.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Api;

/// How long `wekeza serve` may take to answer `/readyz` (it migrates and seeds first).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a running server answers; cheap to clone into concurrent tasks.
#[derive(Debug, Clone)]
pub struct Remote {
    base_url: String,
    http: reqwest::Client,
}

impl Api for Remote {
    fn base_url(&self) -> &str {
        &self.base_url
    }

    fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// `wekeza serve` as a child process; killed when dropped.
pub struct ServerProcess {
    child: Option<Child>,
    remote: Remote,
    admin_url: String,
    listen: String,
    admin_listen: String,
    database_url: String,
    /// Holds `wekeza.toml` and `wekeza.log` (the server's log across restarts).
    dir: tempfile::TempDir,
}

/// A free port of 127.0.0.1 (free when asked: the server binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServerProcess {
    /// Starts `wekeza serve` on `database_url` with `config` as its `wekeza.toml`, and waits
    /// until it is ready.
    pub async fn start(database_url: &str, config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("wekeza.toml"), config).unwrap();
        let (port, admin_port) = (free_port(), free_port());
        let mut server = Self {
            child: None,
            remote: Remote {
                base_url: format!("http://127.0.0.1:{port}"),
                http: reqwest::Client::new(),
            },
            admin_url: format!("http://127.0.0.1:{admin_port}"),
            listen: format!("127.0.0.1:{port}"),
            admin_listen: format!("127.0.0.1:{admin_port}"),
            database_url: database_url.to_owned(),
            dir,
        };
        server.restart().await;
        server
    }

    /// `GET /metrics` of its admin listener: the Prometheus text of this process alone.
    pub async fn metrics(&self) -> String {
        let response = self
            .remote
            .http
            .get(format!("{}/metrics", self.admin_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Where it answers, for concurrent tasks.
    pub fn remote(&self) -> Remote {
        self.remote.clone()
    }

    /// Starts the binary (again) and waits until `/readyz` answers 200. No `WEKEZA_*` variable
    /// of the test's own environment reaches it: only what is set here and in `wekeza.toml`.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        // Through `sh`, which ignores SIGXFSZ before it becomes the server (an ignored signal
        // stays ignored across `exec`).
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "trap '' XFSZ; exec \"$0\" serve",
            env!("CARGO_BIN_EXE_wekeza"),
        ]);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("WEKEZA_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .current_dir(self.dir.path())
            .env("WEKEZA_DATABASE_URL", &self.database_url)
            .env("WEKEZA_LISTEN", &self.listen)
            .env("WEKEZA_ADMIN_LISTEN", &self.admin_listen)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("`wekeza serve` starts");
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut stderr, &mut log);
            let _ = log.flush();
        });
        self.child = Some(child);
        let ready = format!("{}/readyz", self.admin_url);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("`wekeza serve` exited ({status}); its log:\n{}", self.log());
            }
            if let Ok(answer) = self.remote.http.get(&ready).send().await
                && answer.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`wekeza serve` was not ready within {START_TIMEOUT:?}; its log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets the largest file the running process may write to `bytes` (`None`: no limit): a
    /// write past it fails with `EFBIG`, as one on a full disk fails with `ENOSPC`.
    pub fn limit_file_size(&self, bytes: Option<u64>) {
        let pid = self.child.as_ref().expect("the server is running").id();
        let soft = bytes.map_or_else(|| "unlimited".to_owned(), |bytes| bytes.to_string());
        let status = Command::new("prlimit")
            .arg(format!("--pid={pid}"))
            .arg(format!("--fsize={soft}:unlimited"))
            .status()
            .expect("prlimit (util-linux) runs");
        assert!(status.success(), "prlimit --pid={pid} --fsize={soft}");
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn log_path(&self) -> std::path::PathBuf {
        self.dir.path().join("wekeza.log")
    }

    /// Its log so far, across restarts (for failure messages).
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(self.log_path()) {
            std::io::Read::read_to_string(&mut file, &mut text).unwrap();
        }
        text
    }
}

impl Api for ServerProcess {
    fn base_url(&self) -> &str {
        self.remote.base_url()
    }

    fn http(&self) -> &reqwest::Client {
        self.remote.http()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
