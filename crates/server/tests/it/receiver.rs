//! The webhook receiver of the tests: `tests/webhook-receiver/receiver.py`, a child process that
//! verifies every delivery with the `standardwebhooks` package and deduplicates by `webhook-id`.

use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::tool;

/// How long a test waits for the receiver to see something.
pub const WAIT: Duration = Duration::from_secs(30);

/// What the receiver saw.
#[derive(Debug, Clone, Deserialize)]
pub struct Seen {
    /// Every request, in arrival order.
    pub attempts: Vec<SeenAttempt>,
    /// The first receipt of each `webhook-id`, verified.
    pub received: Vec<Received>,
    /// Repeats of a `webhook-id` already received.
    pub duplicates: u64,
    /// Deliveries no secret verified.
    pub rejected: u64,
}

/// One request.
#[derive(Debug, Clone, Deserialize)]
pub struct SeenAttempt {
    /// Its `webhook-id`.
    pub id: String,
    /// How the receiver answered it: ok, 500, 410, timeout.
    pub mode: String,
}

/// One verified delivery.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    /// Its `webhook-id`: the event id.
    pub id: String,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// The event envelope, as JSON.
    pub body: Value,
    /// The indexes of the configured secrets whose signature verified.
    pub verified_with: Vec<usize>,
}

impl Seen {
    /// The received events of type `kind`.
    pub fn of_type(&self, kind: &str) -> Vec<&Received> {
        self.received
            .iter()
            .filter(|event| event.kind == kind)
            .collect()
    }
}

/// A running receiver.
pub struct Receiver {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    http: reqwest::Client,
}

impl Receiver {
    /// A receiver on a free port.
    pub async fn start() -> Self {
        Self::on(0).await
    }

    /// A receiver on `port` (0: any free port).
    pub async fn on(port: u16) -> Self {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/webhook-receiver/receiver.py"
        );
        let mut child = Command::new(tool("WEKEZA_PYTHON", "python"))
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the webhook receiver starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .expect("the receiver says where it listens");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the receiver did not start: {line:?}"));
        Self {
            child,
            port,
            http: reqwest::Client::new(),
        }
    }

    /// The URL to register as the endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    async fn control(&self, what: &str, body: Value) {
        let response = self
            .http
            .post(format!("http://127.0.0.1:{}/_control/{what}", self.port))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// The secrets each delivery is verified against.
    pub async fn trust(&self, secrets: &[&str]) {
        self.control("secrets", json!({ "secrets": secrets })).await;
    }

    /// How the receiver answers from now on: "ok", "500", "410", or "timeout" (after
    /// `delay_ms`).
    pub async fn answer(&self, mode: &str, delay_ms: u64) {
        self.control("mode", json!({ "mode": mode, "delay_ms": delay_ms }))
            .await;
    }

    /// What it has seen so far.
    pub async fn seen(&self) -> Seen {
        self.http
            .get(format!("http://127.0.0.1:{}/_control/state", self.port))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits until what it has seen satisfies `done` (failing after [`WAIT`] with `what`).
    pub async fn wait_until(&self, what: &str, done: impl Fn(&Seen) -> bool) -> Seen {
        self.wait_within(WAIT, what, done).await
    }

    /// As [`Self::wait_until`], waiting at most `within`.
    pub async fn wait_within(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&Seen) -> bool,
    ) -> Seen {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let seen = self.seen().await;
            if done(&seen) {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver did not see {what} within {within:?}; it saw {seen:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops it: its port refuses connections.
    pub async fn stop(mut self) {
        self.child.kill().await.unwrap();
    }
}
