//! Assertions shared by the test modules.

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Asserts a status has `code` and carries `reason` as its ErrorInfo reason.
#[track_caller]
pub fn assert_reason(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    let details = status.get_error_details();
    let actual = details.error_info().map(|info| info.reason.clone());
    assert_eq!(actual.as_deref(), Some(reason), "{status:?}");
}

/// The fields a status's `google.rpc.BadRequest` names, in order.
pub fn field_violations(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|bad| {
            bad.field_violations
                .iter()
                .map(|v| v.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The path of a test tool `make test` installs into `.tools/venv/bin` (grpcurl, schemathesis,
/// python with openapi-spec-validator): from `env_var` when set, else the bundled one. A missing
/// tool fails the test — it is never skipped.
pub fn tool(env_var: &str, name: &str) -> String {
    std::env::var(env_var).unwrap_or_else(|_| {
        let bundled = format!(
            "{}/../../.tools/venv/bin/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        assert!(
            std::path::Path::new(&bundled).exists(),
            "{name} is not installed: run `make test` (it installs the test tools into .tools/)"
        );
        bundled
    })
}

/// Runs a tool to completion off the async runtime (the server under test keeps serving).
pub async fn run_tool(program: String, args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(&program)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    })
    .await
    .unwrap()
}

/// A Wekeza server the tests talk to over HTTP: the in-process [`TestServer`], or the `wekeza`
/// binary running as its own process ([`crate::process::ServerProcess`]).
pub trait Api {
    /// `http://127.0.0.1:<port>` of its public listener.
    fn base_url(&self) -> &str;
    /// The client to call it with.
    fn http(&self) -> &reqwest::Client;
}

impl Api for wekeza_testkit::TestServer {
    fn base_url(&self) -> &str {
        &self.base_url
    }

    fn http(&self) -> &reqwest::Client {
        &self.http
    }
}
